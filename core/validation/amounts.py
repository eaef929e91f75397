"""Numbers, money and dates as people type them."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from babel import Locale, UnknownLocaleError
from babel.languages import get_official_languages
from babel.numbers import format_decimal, get_currency_precision, is_currency, parse_decimal
from dateutil.parser import parserinfo

from core.validation._common import _Bad, _is_blank, _show, _single_line

if TYPE_CHECKING:
    from core.validation.context import _Env


# -- numbers and money ----------------------------------------------------------------------------

MAX_AMOUNT = Decimal("1000000000000")
MAX_USERS = 1_000_000
_SPACE_GROUPS = re.compile(r"[0-9]{1,3}(?:[ \u00a0\u202f][0-9]{3})+(?:[.,][0-9]+)?", re.ASCII)
_SHORTHAND = re.compile(r"[0-9.,]+\s*(?:k|m|mm|bn|b|thousand|million|billion)\.?", re.I)
_PLAIN_DECIMAL = re.compile(r"[0-9]+\.[0-9]+", re.ASCII)
_NUMBER_CHARS = re.compile(r"[0-9.,'’ \u00a0\u202f]+", re.ASCII)

_SYMBOLS = {"€": "EUR", "£": "GBP", "₹": "INR", "₩": "KRW", "₪": "ILS", "₺": "TRY", "₱": "PHP"}
# fmt: off
_DOLLAR_PREFIXES = {
    "US": "USD", "C": "CAD", "CA": "CAD", "A": "AUD", "AU": "AUD", "NZ": "NZD",
    "S": "SGD", "SG": "SGD", "HK": "HKD", "R": "BRL", "MX": "MXN", "NT": "TWD",
}
# Currencies whose own people write them with a bare `$`.
_DOLLAR_CURRENCIES = frozenset({
    "USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN", "TWD", "ARS", "CLP", "COP", "UYU", "BSD",
    "BBD", "BZD", "BMD", "BND", "FJD", "GYD", "JMD", "KYD", "LRD", "NAD", "SBD", "SRD", "TTD",
    "XCD",
})
# fmt: on
_CURRENCY = r"(?:[A-Za-z]{3}|[A-Z]{1,2}\$|\$|¥|[€£₹₩₪₺₱])"
_AT_START = re.compile(rf"(?P<cur>{_CURRENCY})(?![A-Za-z])\s*(?P<rest>.*)", re.S)
_AT_END = re.compile(rf"(?P<rest>.*?)\s*(?<![A-Za-z])(?P<cur>{_CURRENCY})", re.S)


def _currency_of(mark: str, default_currency: str) -> str:
    """Return the ISO 4217 code a symbol or code stands for."""
    if mark == "$":
        return default_currency if default_currency in _DOLLAR_CURRENCIES else "USD"
    if mark == "¥":
        return "CNY" if default_currency == "CNY" else "JPY"
    if mark.endswith("$"):
        if mark[:-1] not in _DOLLAR_PREFIXES:
            raise _Bad(f"{_show(mark)} is not a currency we know; use its code, e.g. USD")
        return _DOLLAR_PREFIXES[mark[:-1]]
    if mark in _SYMBOLS:
        return _SYMBOLS[mark]
    if not is_currency(mark.upper()):
        raise _Bad(f"{_show(mark)} is not a currency code (use ISO 4217, e.g. USD, EUR, GBP)")
    return mark.upper()


def _split_currency(text: str, default_currency: str) -> tuple[str | None, str]:
    """Split a currency symbol or code off either end of an amount."""
    marks: list[str] = []
    if (m := _AT_START.fullmatch(text)) and m["rest"]:
        marks.append(_currency_of(m["cur"], default_currency))
        text = m["rest"]
    if (m := _AT_END.fullmatch(text)) and m["rest"]:
        marks.append(_currency_of(m["cur"], default_currency))
        text = m["rest"]
    if len(set(marks)) > 1:
        raise _Bad(f"names two currencies ({' and '.join(marks)})")
    return (marks[0] if marks else None), text.strip()


def _parse_number(text: str, locale: str, example: Decimal) -> Decimal:
    """Parse a number strictly in the locale's format (grouping by spaces is accepted)."""
    hint = format_decimal(example, locale=locale)
    if _SHORTHAND.fullmatch(text):
        raise _Bad(f"{_show(text)} is ambiguous: write the number in full, e.g. {hint}")
    if not _NUMBER_CHARS.fullmatch(text) or not re.search("[0-9]", text):
        raise _Bad(f"{_show(text)} is not a number (write it like {hint})")
    if _SPACE_GROUPS.fullmatch(text):
        text = re.sub(r"[ \u00a0\u202f]", "", text)
    try:
        number = parse_decimal(text, locale=locale, strict=True)
    except ValueError:
        if not _PLAIN_DECIMAL.fullmatch(text):
            raise _Bad(f"{_show(text)} is not a clear number here (write it like {hint})") from None
        number = Decimal(text)  # the JSON form, "85000.50", in a locale that groups with "."
    if not number.is_finite():
        raise _Bad(f"{_show(text)} is not a number (write it like {hint})")
    return number


def _check_amount(amount: Decimal, currency: str) -> Decimal:
    if not amount.is_finite():
        raise _Bad("is not a number")
    if amount < 0:
        raise _Bad("must be 0 or more")
    if amount >= MAX_AMOUNT:
        raise _Bad(f"must be less than {MAX_AMOUNT:,}")
    places = get_currency_precision(currency)
    exact = amount.quantize(Decimal(1).scaleb(-places))
    if amount != exact:
        raise _Bad(f"has more decimal places than {currency} allows ({places})")
    exponent = amount.as_tuple().exponent
    return exact if isinstance(exponent, int) and exponent < -places else amount  # only zeros go


def parse_money(value: str, default_currency: str, locale: str) -> tuple[Decimal, str]:
    """Parse an amount with an optional currency symbol or code; raise ValueError if unclear."""
    text = _single_line(value)
    if not text:
        raise _Bad("is required")
    negative = text[0] in "-−"
    currency, number = _split_currency(text.lstrip("-−").strip(), default_currency.upper())
    if number[:1] in ("-", "−"):
        negative, number = True, number[1:].strip()
    currency = currency or default_currency.upper()
    amount = _parse_number(number, _locale_name(locale), Decimal(120000))
    if negative and amount:
        raise _Bad("must be 0 or more")
    return _check_amount(amount, currency), currency


def _money(value: Any, env: _Env) -> tuple[Decimal, str]:
    given = _currency_field(env)
    default = given or env.ctx.partner_currency.upper()
    if isinstance(value, str):
        amount, currency = parse_money(value, default, env.locale)
        if given and currency != given:
            raise _Bad(f"is in {currency} but the currency given is {given}")
        return amount, currency
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return _check_amount(Decimal(str(value)), default), default
    raise _Bad("must be an amount, e.g. 120000.00")


_USERS_WORDS = re.compile(
    r"\s*(?:users?|seats?|mailbox(?:es)?|licen[cs]es?|people|employees)\.?$", re.I
)


def _users(value: Any, env: _Env) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise _Bad("must be a whole number, e.g. 1500")
    if isinstance(value, str):
        text = _USERS_WORDS.sub("", _single_line(value)).strip()
        number = _parse_number(text, env.locale, Decimal(1500))
    else:
        number = Decimal(str(value))
    if not number.is_finite() or number != number.to_integral_value():
        raise _Bad("must be a whole number, e.g. 1500")
    if not 1 <= number <= MAX_USERS:
        raise _Bad(f"must be between 1 and {MAX_USERS:,}")
    return int(number)


# -- dates and yes/no -----------------------------------------------------------------------------

_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")
_NUMERIC_DATE = re.compile(r"([0-9]{1,2})([/.-])([0-9]{1,2})\2([0-9]{4})")
_DAY_MONTH = re.compile(r"([0-9]{1,2})(?:st|nd|rd|th)?\.? ([A-Za-z]+)\.?,? ([0-9]{4})", re.I)
_MONTH_DAY = re.compile(r"([A-Za-z]+)\.? ([0-9]{1,2})(?:st|nd|rd|th)?,? ([0-9]{4})", re.I)
_MONTHS = parserinfo()


def _date_parts(text: str, month_first: bool) -> tuple[str, int | None, str] | None:
    """Return (year, month, day) text parts of a date in one of the accepted formats."""
    if m := _ISO_DATE.fullmatch(text):
        return m[1], int(m[2]), m[3]
    if m := _NUMERIC_DATE.fullmatch(text):
        month, day = (m[1], m[3]) if month_first else (m[3], m[1])
        return m[4], int(month), day
    if m := _DAY_MONTH.fullmatch(text):
        return m[3], _MONTHS.month(m[2]), m[1]
    if m := _MONTH_DAY.fullmatch(text):
        return m[3], _MONTHS.month(m[1]), m[2]
    return None


def parse_date(value: str, *, month_first: bool = False) -> date:
    """Parse ISO, numeric (day-first unless `month_first`) or month-name dates; else ValueError.

    Accepted: 2027-03-31, 31/03/2027 (also with . or -), Dec 31, 2027, 31 Dec 2027,
    December 31 2027. Two-digit years and free text are refused, not guessed.
    """
    text = " ".join(value.split())
    parts = _date_parts(text, month_first)
    if parts is not None and parts[1] is not None:
        try:
            return date(int(parts[0]), parts[1], int(parts[2]))
        except ValueError:
            pass
    raise _Bad(f"{_show(text)} is not a date (use YYYY-MM-DD, e.g. 2027-03-31)")


def _date(value: Any, env: _Env) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return parse_date(value, month_first=env.month_first)
    raise _Bad("must be a date (use YYYY-MM-DD, e.g. 2027-03-31)")


def _close_date(value: Any, env: _Env) -> date:
    day = _date(value, env)
    if day <= env.ctx.today:
        raise _Bad(f"must be a date after {env.ctx.today.isoformat()}")
    return day


_YES = frozenset({"yes", "y", "true", "t", "1"})
_NO = frozenset({"no", "n", "false", "f", "0"})


def _yes_no(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    word = value.strip().casefold() if isinstance(value, str) else ""
    if word in _YES or word in _NO:
        return word in _YES
    raise _Bad("must be yes or no")


@lru_cache(maxsize=64)
def _locale_name(locale: str) -> str:
    try:
        return str(Locale.parse(locale.replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError):
        return "en_US"


@lru_cache(maxsize=64)
def _default_locale(country: str) -> str:
    for language in (*get_official_languages(country), "en"):
        try:
            return str(Locale.parse(f"{language}_{country}"))
        except (UnknownLocaleError, ValueError):
            continue
    return "en_US"


@lru_cache(maxsize=64)
def _writes_month_first(locale: str) -> bool:
    pattern = Locale.parse(locale).date_formats["short"].pattern
    return not pattern.startswith("y") and pattern.find("M") < pattern.find("d")


def _currency_field(env: _Env) -> str | None:
    """Return the separately given currency code, if any."""
    if _is_blank(env.currency):
        return None
    code = env.currency.strip().upper() if isinstance(env.currency, str) else ""
    if not is_currency(code):
        raise _Bad(f"{_show(str(env.currency))} is not a currency code (e.g. USD, EUR, GBP)")
    return code
