"""Turn loose registration values into a typed, validated `Registration` (pure: no I/O, no clock).

Values come from a Slack modal, an email form or a JSON file: already typed (`date`, `int`,
`bool`, `Decimal`) or loose strings. Every bad field is reported at once, in `FIELDS` order.

Decisions:
- Phones: `contact_phone` is parsed with the partner's region (the SPEC's rule);
  `end_user_phone` with the end user's `country` when that is valid (the number belongs to
  the end user's address), else with the partner's region. A number typed with `+` and its
  country code parses the same either way. Numbers are checked with `is_valid_number` and
  stored in E.164.
- State: required when the country has ISO 3166-2 subdivisions, except GB. British postal
  addresses do not need a county, and most counties are not top-level ISO subdivisions, so
  for GB the state is optional and any GB subdivision (name or code, e.g. "Kent" or
  "GB-KEN") is accepted. Elsewhere any subdivision of the country is accepted by code
  ("CA", "US-CA") or name ("California"); `states_for` lists the top-level ones.
- Money: a symbol or an ISO 4217 code sets the currency, else the partner's currency. `$`
  means the partner's currency when that is itself a dollar (or peso) written `$` (CAD, AUD,
  MXN, ...), else USD; `¥` means CNY for a CNY partner, else JPY. `US$`, `C$`, `A$` ... are
  explicit. Shorthand such as `12k` is refused as ambiguous. A separate `currency` value (the
  JSON form) applies to a bare amount and must agree with any symbol or code in it.
- Numbers and numeric dates follow the locale (`ctx.locale`, else the partner country's
  official language): `85.000,50` in de, `31/03/2027` day-first unless the locale writes
  dates month-first (en_US). A plain `85000.50` is also read as the JSON decimal string in a
  locale where it is not a valid number (de), so `to_json` output validates again.
- `parse_money` and `parse_date` know no field, so they raise `ValueError` with a message fit
  for the user; the other helpers raise `Invalid` for their field.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import email_validator
import phonenumbers
import pycountry
from babel import Locale, UnknownLocaleError
from babel.languages import get_official_languages
from babel.numbers import format_decimal, get_currency_precision, is_currency, parse_decimal
from dateutil.parser import parserinfo

from core.domains import normalise_domain
from core.errors import FieldError, Invalid
from core.fields import END_USER_ROLES, FIELDS, MIGRATING_TO, PRIORITIES, FieldSpec, label_for


@dataclass(frozen=True)
class ProductRef:
    code: str
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class ValidationContext:
    partner_country: str
    partner_currency: str
    products: tuple[ProductRef, ...]
    today: date
    locale: str | None = None


@dataclass(frozen=True)
class Registration:
    company_name: str
    domain: str
    contact_name: str
    contact_phone: str
    partner_sales_lead_name: str | None
    partner_sales_lead_email: str | None
    end_user_first_name: str
    end_user_last_name: str
    end_user_position: str
    end_user_email: str
    end_user_phone: str
    end_user_role: str
    address_line1: str
    address_line2: str | None
    country: str
    state: str | None
    postcode: str
    product: str
    number_of_users: int
    projected_value: Decimal
    currency: str
    close_date: date
    budget_approved: bool
    project_priority: str
    problems_to_solve: str
    meeting_date: date | None
    migrating_to: str

    def to_json(self) -> dict[str, Any]:
        """Return the SPEC JSON form: ISO dates, decimal string, currency beside it."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, Decimal):
                value = format(value, "f")
            out[f.name] = value
        return out


class _Bad(ValueError):
    """A value the user must correct; the message is fit to show."""


# -- choices --------------------------------------------------------------------------------------

ROLE_SYNONYMS: dict[str, str] = {
    "dm": "decision_maker",
    "decider": "decision_maker",
    "economic": "economic_buyer",
    "eb": "economic_buyer",
    "budget holder": "economic_buyer",
    "tech buyer": "technical_buyer",
    "technical": "technical_buyer",
    "tb": "technical_buyer",
    "it buyer": "technical_buyer",
    "champion": "influencer",
    "user": "end_user",
}
PRIORITY_SYNONYMS: dict[str, str] = {
    "urgent": "critical",
    "highest": "critical",
    "top": "critical",
    "med": "medium",
    "normal": "medium",
    "lowest": "low",
}
# fmt: off
MIGRATING_TO_SYNONYMS: dict[str, str] = {
    **dict.fromkeys(["office 365", "o365", "m365", "microsoft 365", "exchange online", "exo",
                     "microsoft"], "microsoft_365"),
    **dict.fromkeys(["exchange", "exchange server", "on-prem exchange", "on-premises exchange",
                     "exchange on-prem", "exchange 2010", "exchange 2013", "exchange 2016",
                     "exchange 2019", "exchange se"], "exchange_on_premises"),
    **dict.fromkeys(["g suite", "gmail", "google workspace", "google apps", "google"],
                    "google_workspace"),
    **dict.fromkeys(["lotus notes", "lotus domino", "domino", "notes", "hcl notes", "hcl domino",
                     "ibm notes"], "hcl_domino"),
    **dict.fromkeys(["n/a", "no migration", "not migrating", "nothing"], "none"),
}
# fmt: on


def _key(text: str) -> str:
    """Fold text to lower-case ASCII letters and digits, for loose comparison."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed.casefold() if ch.isascii() and ch.isalnum())


def match_choice(value: str, choices: dict[str, str], synonyms: dict[str, str]) -> str | None:
    """Return the key of `choices` that `value` names by key, label or synonym, else None."""
    wanted = _key(value) if isinstance(value, str) else ""
    if not wanted:
        return None
    for key, label in choices.items():
        if wanted in (_key(key), _key(label)):
            return key
    for synonym, key in synonyms.items():
        if wanted == _key(synonym) and key in choices:
            return key
    return None


def _choice(value: Any, choices: dict[str, str], synonyms: dict[str, str]) -> str:
    text = _single_line(_as_text(value))
    key = match_choice(text, choices, synonyms)
    if key is None:
        labels = list(choices.values())
        shown = ", ".join(labels[:8]) + (f", … ({len(labels) - 8} more)" if len(labels) > 8 else "")
        raise _Bad(f"{_show(text)} is not one of: {shown}" if labels else "nothing to choose from")
    return key


def _product(value: Any, products: tuple[ProductRef, ...]) -> str:
    choices = {p.code: p.name for p in products}
    synonyms = {alias: p.code for p in products for alias in p.aliases}
    return _choice(value, choices, synonyms)


# -- text -----------------------------------------------------------------------------------------

_KEEP_FORMAT = {"\u200c", "\u200d"}  # joiners some scripts and emoji need


def _strip_controls(text: str, keep: str = "") -> str:
    """Remove control, format and surrogate characters, except those in `keep`."""
    return "".join(
        ch
        for ch in text
        if ch in keep or ch in _KEEP_FORMAT or unicodedata.category(ch) not in ("Cc", "Cf", "Cs")
    )


def _single_line(text: str) -> str:
    return _strip_controls(" ".join(text.split()))


def _long_text(text: str) -> str:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cleaned = "\n".join(_strip_controls(line, keep="\t").rstrip() for line in lines)
    return re.sub(r"\n{3,}", "\n\n", cleaned).strip()


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    raise _Bad("must be text")


def _show(text: str, limit: int = 40) -> str:
    """Quote a user's value for a message, shortened if long."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _text(value: Any, spec: FieldSpec) -> str:
    raw = _as_text(value)
    text = _long_text(raw) if spec.kind == "longtext" else _single_line(raw)
    if len(text) > spec.max_length:
        raise _Bad(f"is too long ({len(text):,} characters; at most {spec.max_length:,})")
    return text.upper() if spec.name == "postcode" else text


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not _long_text(value))


# -- email and phone ------------------------------------------------------------------------------


def normalise_email(value: str, field: str) -> str:
    """Return the normalised form of an email address (syntax only; IDN allowed)."""
    text = _single_line(value) if isinstance(value, str) else ""
    if not text:
        raise Invalid([FieldError(field, "is required")])
    try:
        result = email_validator.validate_email(text, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise Invalid([FieldError(field, f"is not a valid email address ({exc})")]) from None
    return str(result.normalized)


def _phone_hint(region: str) -> str:
    example = phonenumbers.example_number(region)
    if example is None:
        return "include the country code, e.g. +44 20 7946 0000"
    shown = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return f"e.g. {shown}"


def normalise_phone(value: str, region: str, field: str) -> str:
    """Return a phone number in E.164, parsed with `region` when it has no country code."""
    text = _single_line(value) if isinstance(value, str) else ""
    if not text:
        raise Invalid([FieldError(field, "is required")])
    region = region.upper()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise Invalid(
            [FieldError(field, f"{_show(text)} is not a phone number ({_phone_hint(region)})")]
        ) from None
    if not phonenumbers.is_valid_number(number):
        message = f"{_show(text)} is not a valid phone number ({_phone_hint(region)})"
        raise Invalid([FieldError(field, message)])
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


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


# -- country and state ----------------------------------------------------------------------------

COUNTRY_SYNONYMS: dict[str, str] = {
    **dict.fromkeys(
        ["uk", "britain", "great britain", "england", "scotland", "wales", "northern ireland"],
        "GB",
    ),
    **dict.fromkeys(["america", "united states of america"], "US"),
    **dict.fromkeys(["uae", "emirates"], "AE"),
    "russia": "RU",
    "turkey": "TR",
    "holland": "NL",
    "vatican": "VA",
    "ivory coast": "CI",
    "cape verde": "CV",
    "swaziland": "SZ",
    "macedonia": "MK",
    "brunei": "BN",
    "drc": "CD",
    "dr congo": "CD",
}


@lru_cache(maxsize=1)
def _country_index() -> dict[str, str]:
    """Map folded codes, names and common names to alpha-2 codes."""
    index: dict[str, str] = {}
    short: dict[str, set[str]] = {}
    for c in pycountry.countries:
        for name in (c.alpha_2, c.alpha_3, c.name, *_optional_names(c)):
            index.setdefault(_key(name), c.alpha_2)
        short.setdefault(_key(c.name.split(",")[0]), set()).add(c.alpha_2)
    for name, codes in short.items():  # "Moldova" for "Moldova, Republic of", when unique
        if len(codes) == 1:
            index.setdefault(name, codes.pop())
    index.update({_key(k): v for k, v in COUNTRY_SYNONYMS.items()})
    return index


def _optional_names(country: Any) -> list[str]:
    return [n for n in (getattr(country, a, None) for a in ("common_name", "official_name")) if n]


def _country(value: Any) -> str:
    text = _single_line(_as_text(value))
    code = _country_index().get(_key(text))
    if code is None:
        raise _Bad(f"{_show(text)} is not a country (use a name or a code such as GB or US)")
    return code


def _country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    return str(country.name) if country else code


def _country_or_none(value: Any) -> str | None:
    try:
        return None if _is_blank(value) else _country(value)
    except _Bad:
        return None


def _subdivisions(country: str) -> list[Any]:
    found = pycountry.subdivisions.get(country_code=country.upper())  # type: ignore[no-untyped-call]
    return list(found or [])


def states_for(country: str) -> list[tuple[str, str]]:
    """Return the top-level subdivisions of a country as (code, name), sorted by name."""
    subs = _subdivisions(country)
    return sorted(((s.code, s.name) for s in subs if s.parent_code is None), key=lambda s: s[1])


STATE_OPTIONAL = frozenset({"GB"})


def _state_required(country: str | None) -> bool:
    return country is not None and country not in STATE_OPTIONAL and bool(states_for(country))


@lru_cache(maxsize=64)
def _state_index(country: str) -> tuple[dict[str, str], dict[str, str]]:
    """A country's subdivisions by upper-case code and by folded name, built once."""
    subs = sorted(_subdivisions(country), key=lambda s: (s.parent_code is not None, s.code))
    by_code: dict[str, str] = {s.code.upper(): s.code for s in subs}
    by_name: dict[str, str] = {}
    for sub in subs:
        by_name.setdefault(_key(sub.name), str(sub.code))  # the first in order wins, as before
    return by_code, by_name


def _state(value: Any, country: str | None) -> str | None:
    if country is None:
        return None  # the country's own error says what to fix
    text = _single_line(_as_text(value))
    by_code, by_name = _state_index(country)
    upper = text.upper().replace(" ", "")
    for code in (upper, f"{country}-{upper}"):
        if code in by_code:
            return by_code[code]
    if _key(text) in by_name:
        return by_name[_key(text)]
    if not by_code:
        return None  # nothing to choose from: a state is not part of this address
    word = label_for("state", country).lower()
    name = _country_name(country)
    example = f"{states_for(country)[0][1]} or {states_for(country)[0][0]}"
    raise _Bad(f"{_show(text)} is not a {word} of {name} (e.g. {example})")


# -- the registration -----------------------------------------------------------------------------


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


@dataclass(frozen=True)
class _Env:
    ctx: ValidationContext
    locale: str
    month_first: bool
    country: str | None  # the end user's country, when valid
    currency: Any  # a separate `currency` value, as given


def _env(raw: Mapping[str, Any], ctx: ValidationContext) -> _Env:
    country = ctx.partner_country.upper()
    locale = _locale_name(ctx.locale) if ctx.locale else _default_locale(country)
    end_user_country = _country_or_none(raw.get("country"))
    return _Env(ctx, locale, _writes_month_first(locale), end_user_country, raw.get("currency"))


def _currency_field(env: _Env) -> str | None:
    """Return the separately given currency code, if any."""
    if _is_blank(env.currency):
        return None
    code = env.currency.strip().upper() if isinstance(env.currency, str) else ""
    if not is_currency(code):
        raise _Bad(f"{_show(str(env.currency))} is not a currency code (e.g. USD, EUR, GBP)")
    return code


Parser = Callable[[Any, _Env], Any]
_PARSERS: dict[str, Parser] = {
    "domain": lambda v, env: normalise_domain(_as_text(v)),
    "contact_phone": lambda v, env: normalise_phone(
        _as_text(v), env.ctx.partner_country, "contact_phone"
    ),
    "partner_sales_lead_email": lambda v, env: normalise_email(
        _as_text(v), "partner_sales_lead_email"
    ),
    "end_user_email": lambda v, env: normalise_email(_as_text(v), "end_user_email"),
    "end_user_phone": lambda v, env: normalise_phone(
        _as_text(v), env.country or env.ctx.partner_country, "end_user_phone"
    ),
    "end_user_role": lambda v, env: _choice(v, END_USER_ROLES, ROLE_SYNONYMS),
    "country": lambda v, env: _country(v),
    "state": lambda v, env: _state(v, env.country),
    "product": lambda v, env: _product(v, env.ctx.products),
    "number_of_users": _users,
    "projected_value": _money,
    "close_date": _close_date,
    "meeting_date": _date,
    "budget_approved": lambda v, env: _yes_no(v),
    "project_priority": lambda v, env: _choice(v, PRIORITIES, PRIORITY_SYNONYMS),
    "migrating_to": lambda v, env: _choice(v, MIGRATING_TO, MIGRATING_TO_SYNONYMS),
}


def _field(spec: FieldSpec, value: Any, env: _Env) -> Any:
    """Return the clean value of one field; raise _Bad or Invalid."""
    if _is_blank(value):
        required = _state_required(env.country) if spec.name == "state" else spec.required
        if required:
            raise _Bad("is required")
        return None
    parser = _PARSERS.get(spec.name)
    return parser(value, env) if parser else _text(value, spec)


def validate_registration(raw: Mapping[str, Any], ctx: ValidationContext) -> Registration:
    """Return the typed registration, or raise Invalid listing every bad field in order."""
    env = _env(raw, ctx)
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    for spec in FIELDS:
        try:
            values[spec.name] = _field(spec, raw.get(spec.name), env)
        except Invalid as exc:
            errors.extend(FieldError(spec.name, e.message) for e in exc.errors)
        except _Bad as exc:
            errors.append(FieldError(spec.name, str(exc)))
    if errors:
        raise Invalid(errors)
    amount, values["currency"] = values["projected_value"]
    values["projected_value"] = amount
    return Registration(**values)
