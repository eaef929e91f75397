"""Business time: the deal desk's open hours on business days in its zone, holidays skipped.

Pure: aware datetimes in, aware UTC datetimes out, no clock. A calendar comes from three
settings (`BUSINESS_HOURS`, `BUSINESS_TIMEZONE`, `BUSINESS_HOLIDAYS`); each parser raises
`ValueError` with a message fit for the operator, which the settings report under the
setting's name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(
    r"^\s*(?P<days>[A-Za-z ,\-]+?)\s+(?P<open>\d\d?:\d\d)\s*-\s*(?P<close>\d\d?:\d\d)\s*$"
)
_REGION = re.compile(r"^(?P<country>[A-Z]{2})(?:-(?P<subdiv>[A-Z0-9]{1,4}))?$")
_LONGEST_GAP = 400  # days: no calendar of open days and holidays closes for longer


@dataclass(frozen=True)
class Hours:
    """Open from `opens` to `closes` (local wall-clock times) on `days` (0 is Monday)."""

    days: frozenset[int]
    opens: time
    closes: time


@dataclass(frozen=True)
class BusinessCalendar:
    """When the desk is open: its hours, in its zone, except on its region's holidays."""

    hours: Hours
    zone: ZoneInfo
    country: str
    subdiv: str | None = None

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The open hours of local `day` in UTC, or None when closed all day."""
        if day.weekday() not in self.hours.days or day in holiday_dates(
            self.country, self.subdiv, day.year
        ):
            return None
        opens = datetime.combine(day, self.hours.opens, self.zone).astimezone(UTC)
        closes = datetime.combine(day, self.hours.closes, self.zone).astimezone(UTC)
        return opens, closes

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()


def parse_hours(spec: str) -> Hours:
    """Parse `Mon-Fri 09:00-17:30` (days: `Mon`, `Mon-Fri`, `Sun-Thu`, comma-separated)."""
    found = _HOURS.match(spec)
    if found is None:
        raise ValueError(f"{spec!r} is not like 'Mon-Fri 09:00-17:30'")
    days: set[int] = set()
    for part in found["days"].split(","):
        ends = [_day(d, spec) for d in part.split("-")]
        if len(ends) not in (1, 2):
            raise ValueError(f"{spec!r}: {part.strip()!r} is not a day or a range of days")
        first, last = ends[0], ends[-1]
        days.update((first + i) % 7 for i in range((last - first) % 7 + 1))
    opens, closes = _clock(found["open"], spec), _clock(found["close"], spec)
    if opens >= closes:
        raise ValueError(f"{spec!r}: opening time must come before closing time")
    return Hours(frozenset(days), opens, closes)


def _day(name: str, spec: str) -> int:
    key = name.strip().lower()[:3]
    if key not in DAYS or len(name.strip()) < 3:
        raise ValueError(f"{spec!r}: {name.strip()!r} is not a day (Mon, Tue, ... Sun)")
    return DAYS.index(key)


def _clock(text: str, spec: str) -> time:
    hour, minute = (int(n) for n in text.split(":"))
    if hour > 23 or minute > 59:
        raise ValueError(f"{spec!r}: {text!r} is not a time of day")
    return time(hour, minute)


def parse_zone(name: str) -> ZoneInfo:
    """The IANA zone `name` (`Europe/London`)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a known time zone (e.g. 'Europe/London')") from None


def parse_region(spec: str) -> tuple[str, str | None]:
    """`GB` or `GB-ENG` as (country, subdivision), both known to the `holidays` package."""
    found = _REGION.match(spec.strip().upper())
    if found is None:
        raise ValueError(f"{spec!r} is not a country code, optionally with a subdivision")
    country, subdiv = found["country"], found["subdiv"]
    import holidays  # here: its import costs every command that reads the settings

    supported = holidays.list_supported_countries()
    if country not in supported:
        raise ValueError(f"{spec!r}: no public holidays known for country {country!r}")
    if subdiv is not None and subdiv not in supported[country]:
        known = ", ".join(f"{country}-{s}" for s in supported[country]) or "none"
        raise ValueError(f"{spec!r}: unknown subdivision {subdiv!r} (known: {known})")
    return country, subdiv


@lru_cache(maxsize=64)
def holiday_dates(country: str, subdiv: str | None, year: int) -> frozenset[date]:
    """The public holidays of a country (and subdivision) in one year, substitute days too."""
    import holidays

    return frozenset(holidays.country_holidays(country, subdiv=subdiv, years=year))


@lru_cache(maxsize=16)
def calendar(hours: str, zone: str, region: str) -> BusinessCalendar:
    """The calendar the three settings describe (raises ValueError naming the bad one)."""
    country, subdiv = parse_region(region)
    return BusinessCalendar(parse_hours(hours), parse_zone(zone), country, subdiv)


def add_business_hours(start: datetime, hours: float, cal: BusinessCalendar) -> datetime:
    """The moment `hours` of open business time after `start` (UTC); `start` for 0."""
    if start.tzinfo is None:
        raise ValueError("start must be an aware datetime")
    left = timedelta(hours=hours)
    if left <= timedelta(0):
        return start.astimezone(UTC)
    day = cal.local_day(start)
    for _ in range(_LONGEST_GAP * (1 + int(hours) // 24)):
        window = cal.window(day)
        if window is not None:
            begin = max(start, window[0])
            if begin < window[1]:
                if left <= window[1] - begin:
                    return (begin + left).astimezone(UTC)
                left -= window[1] - begin
        day += timedelta(days=1)
    raise ValueError("the business calendar has no open hours")


def business_hours_between(start: datetime, end: datetime, cal: BusinessCalendar) -> float:
    """The open business hours from `start` to `end`; 0 when `end` is not after `start`."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be aware datetimes")
    total = timedelta(0)
    day, last = cal.local_day(start), cal.local_day(end)
    while day <= last:
        window = cal.window(day)
        if window is not None:
            begin, finish = max(start, window[0]), min(end, window[1])
            if begin < finish:
                total += finish - begin
        day += timedelta(days=1)
    return total.total_seconds() / 3600
