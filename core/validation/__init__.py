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

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from typing import Any

from core.domains import normalise_domain
from core.errors import FieldError, Invalid
from core.fields import END_USER_ROLES, FIELDS, MIGRATING_TO, PRIORITIES, FieldSpec
from core.validation._common import (
    MIGRATING_TO_SYNONYMS,
    PRIORITY_SYNONYMS,
    ROLE_SYNONYMS,
    _as_text,
    _Bad,
    _choice,
    _is_blank,
    _product,
    _text,
    match_choice,
)
from core.validation.amounts import (
    MAX_AMOUNT,
    MAX_USERS,
    _close_date,
    _date,
    _default_locale,
    _locale_name,
    _money,
    _users,
    _writes_month_first,
    _yes_no,
    parse_date,
    parse_money,
)
from core.validation.contact import normalise_email, normalise_phone
from core.validation.context import ProductRef, ValidationContext, _Env
from core.validation.places import (
    COUNTRY_SYNONYMS,
    STATE_OPTIONAL,
    _country,
    _country_or_none,
    _state,
    _state_required,
    states_for,
)


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


# -- the registration -----------------------------------------------------------------------------


def _env(raw: Mapping[str, Any], ctx: ValidationContext) -> _Env:
    country = ctx.partner_country.upper()
    locale = _locale_name(ctx.locale) if ctx.locale else _default_locale(country)
    end_user_country = _country_or_none(raw.get("country"))
    return _Env(ctx, locale, _writes_month_first(locale), end_user_country, raw.get("currency"))


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


__all__ = [
    "COUNTRY_SYNONYMS",
    "MAX_AMOUNT",
    "MAX_USERS",
    "MIGRATING_TO_SYNONYMS",
    "PRIORITY_SYNONYMS",
    "ROLE_SYNONYMS",
    "STATE_OPTIONAL",
    "ProductRef",
    "Registration",
    "ValidationContext",
    "match_choice",
    "normalise_email",
    "normalise_phone",
    "parse_date",
    "parse_money",
    "states_for",
    "validate_registration",
]
