"""Numbers, money, percentages and dates for a reader's locale: one module for every
document that shows them (emails, quote PDFs, Slack messages), so each reads the same.

Babel does the formatting; this module only caches it. An email's text and HTML bodies,
and the quote PDF beside them, show the same values: each is formatted once per process.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent

log = logging.getLogger(__name__)

DEFAULT_LOCALE = "en_GB"
UTC = ZoneInfo("UTC")


@lru_cache(maxsize=64)
def _parsed(locale: str) -> Locale | None:
    """One Locale per id and process (Babel builds a new one, data and all, per parse)."""
    try:
        return Locale.parse(locale.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return None


def parse_locale(locale: str | Locale) -> Locale:
    """Parse "en_GB" or "en-GB"; fall back to the default rather than lose the document."""
    if isinstance(locale, Locale):
        return locale
    parsed = _parsed(locale)
    if parsed is None:
        log.warning("unknown locale %r, using %s", locale, DEFAULT_LOCALE)
        return Locale.parse(DEFAULT_LOCALE)
    return parsed


# Numbers are keyed by their text, since Decimal("0") and Decimal("-0") are equal but print
# apart (Babel reads any number as Decimal(str(number)) anyway).
@lru_cache(maxsize=1024)
def _number_text(kind: str, number: str, currency: str, locale: Locale) -> str:
    value = Decimal(number)
    if kind == "money":
        return format_currency(value, currency, locale=locale)
    if kind == "pct":
        return format_percent(value / 100, "#,##0.##%", locale=locale)
    return format_decimal(value, locale=locale)


@lru_cache(maxsize=256, typed=True)
def _date_text(value: date, locale: Locale) -> str:
    return format_date(value, "medium", locale=locale)


def money(amount: Decimal | int | str, currency: str, locale: str | Locale) -> str:
    """`1234.5, "GBP"` -> "£1,234.50" in en_GB; the currency's own minor unit (JPY none,
    BHD three)."""
    return _number_text("money", str(amount), currency, parse_locale(locale))


def pct(value: Decimal | int | str | None, locale: str | Locale) -> str:
    """A percentage given as a number of percent: 15 -> "15%", 12.5 -> "12.5%"."""
    if value is None:
        return ""
    return _number_text("pct", str(value), "", parse_locale(locale))


def number(value: int | Decimal, locale: str | Locale) -> str:
    """A count, grouped: 1500 -> "1,500" in en_GB."""
    return _number_text("number", str(value), "", parse_locale(locale))


def day(value: date | datetime | None, locale: str | Locale, tz: ZoneInfo = UTC) -> str:
    """A date ("1 Dec 2026" in en_GB); a datetime as the date it is in `tz`."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(tz).date()
    return _date_text(value, parse_locale(locale))


def moment(value: datetime | None, locale: str | Locale, tz: ZoneInfo = UTC) -> str:
    """A date and time in `tz` ("1 Dec 2026, 14:05:00")."""
    if value is None:
        return ""
    return format_datetime(value, "medium", tzinfo=tz, locale=parse_locale(locale))
