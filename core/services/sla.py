"""The review's service-level clock: when a decision is due, in business hours.

`start_clock` sets a registration's due time from now (on registration, and again when the
partner answers a return); `stop_clock` clears it (decided, returned, withdrawn) and adds the
wait to the desk's time, so a return's wait for the partner never counts against the desk:
the first decision records the desk's business hours in all (`Review.decision_hours`), which
the report and the digest read. `step_due`
says which of the clock's notices a moment has reached: the reminders at 50% and 90% of the
business time, then the escalation once it is due.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.core import get_global
from babel.dates import format_skeleton, format_time, get_timezone_name

from core import formatting
from core.business_time import add_business_hours, business_hours_between
from core.config import Settings
from core.locales import locale_for
from core.models import Partner, Review

# The clock's notices, in order: the value `Review.sla_notified` takes once each is sent.
REMINDER_50, REMINDER_90, ESCALATED = 1, 2, 3
PERCENT = {REMINDER_50: 50, REMINDER_90: 90}
STEP_NAMES = {REMINDER_50: "reminder 50%", REMINDER_90: "reminder 90%", ESCALATED: "escalated"}

# The zone most of a multi-zone country's people live in (the CLDR lists them unordered).
_MAIN_ZONE = {
    "US": "America/New_York",
    "CA": "America/Toronto",
    "AU": "Australia/Sydney",
    "BR": "America/Sao_Paulo",
    "RU": "Europe/Moscow",
    "MX": "America/Mexico_City",
    "ES": "Europe/Madrid",
    "PT": "Europe/Lisbon",
    "CL": "America/Santiago",
    "ID": "Asia/Jakarta",
    "KZ": "Asia/Almaty",
    "EC": "America/Guayaquil",
    "MN": "Asia/Ulaanbaatar",
    "CD": "Africa/Kinshasa",
}


def start_clock(review: Review, now: datetime, settings: Settings) -> None:
    """Due `REVIEW_SLA_HOURS` business hours from `now`; no reminder sent yet."""
    calendar = settings.business_calendar
    review.review_due_at = add_business_hours(now, settings.review_sla_hours, calendar)
    review.sla_notified = 0
    review.waited_since = now
    if review.desk_hours is None:  # a new review: the column's default is not applied yet
        review.desk_hours = 0.0


def stop_clock(review: Review, now: datetime, settings: Settings, *, decided: bool = False) -> None:
    """No decision is awaited from the desk: no due time, no reminders. The wait's business
    hours are added to the desk's time; the first decision records the total."""
    review.review_due_at = None
    if review.waited_since is not None:
        waited = business_hours_between(review.waited_since, now, settings.business_calendar)
        review.desk_hours = (review.desk_hours or 0.0) + waited
        review.waited_since = None
    if decided and review.decided_at is None:
        review.decided_at = now
        review.decision_hours = round(review.desk_hours or 0.0, 1)


def step_due(due_at: datetime, now: datetime, settings: Settings) -> int:
    """The last notice reached at `now`: 0 none, then REMINDER_50, REMINDER_90, ESCALATED."""
    if now >= due_at:
        return ESCALATED
    total = settings.review_sla_hours
    left = business_hours_between(now, due_at, settings.business_calendar)
    used = (total - left) / total
    # A hair's tolerance: a clock read at exactly 90% is at 90%, float sums or not.
    if used >= 0.9 - 1e-9:
        return REMINDER_90
    if used >= 0.5 - 1e-9:
        return REMINDER_50
    return 0


@lru_cache(maxsize=256)
def country_zone(country: str | None, fallback: str) -> ZoneInfo:
    """The main time zone of `country` (ISO code), else the zone named `fallback`."""
    zones: list[str] = get_global("territory_zones").get((country or "").upper(), [])
    name = _MAIN_ZONE.get((country or "").upper(), zones[0] if zones else fallback)
    return ZoneInfo(name)


def due_line(review: Review | None, partner: Partner, settings: Settings) -> str | None:
    """The due time as the partner reads it ("Tue, 1 Dec 2026, 17:30 GMT"), or None."""
    if review is None or review.review_due_at is None:
        return None
    zone = country_zone(partner.country, settings.business_timezone)
    locale = formatting.parse_locale(locale_for(partner.country, partner.locale))
    at = review.review_due_at.astimezone(zone)
    day = format_skeleton("yMMMEd", at, tzinfo=zone, locale=locale)
    clock = format_time(at, "short", tzinfo=zone, locale=locale)
    return f"{day}, {clock} {get_timezone_name(at, 'short', locale=locale)}"
