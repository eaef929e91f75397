"""Check the catalogue's products, tiers, partners and people, one entry at a time (pure).

Each check returns (key, message) pairs; `core.catalog` adds the line and the section.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

import pycountry
from email_validator import EmailNotValidError, validate_email

_CODE = re.compile(r"^[a-z][a-z0-9_]{0,59}$")


def _dec(entry: dict[str, Any], key: str, lo: int, hi: int | None) -> list[tuple[str, str]]:
    raw = entry.get(key)
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        return [(key, f"{raw!r} is not a number")]
    if not value.is_finite() or value < lo or (hi is not None and value > hi):
        return [(key, f"{raw!r} must be between {lo} and {hi}" if hi else f"must be >= {lo}")]
    return []


def _currency(value: Any, key: str) -> list[tuple[str, str]]:
    if not isinstance(value, str) or pycountry.currencies.get(alpha_3=value.upper()) is None:
        return [(key, f"{value!r} is not an ISO 4217 currency code")]
    return []


def _required(entry: Any, keys: tuple[str, ...]) -> list[tuple[str, str]]:
    if not isinstance(entry, dict):
        return [("entry", "must be a table")]
    return [(k, "is required") for k in keys if entry.get(k) in (None, "")]


def check_product(entry: Any, _tiers: set[Any]) -> list[tuple[str, str]]:
    problems = _required(entry, ("code", "name", "unit_price", "currency"))
    if problems:
        return problems
    if not _CODE.match(str(entry["code"])):
        problems.append(("code", f"{entry['code']!r} must be lower-case letters, digits and _"))
    problems += _dec(entry, "unit_price", 0, None) + _currency(entry["currency"], "currency")
    term = entry.get("term_months", 12)
    if not isinstance(term, int) or not 1 <= term <= 120:
        problems.append(("term_months", f"{term!r} must be a whole number of months, 1 to 120"))
    aliases = entry.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        problems.append(("aliases", "must be a list of strings"))
    prices = entry.get("prices", {})
    if not isinstance(prices, dict):
        problems.append(("prices", 'must be a table of CURRENCY = "price"'))
    else:
        for cur, value in prices.items():
            problems += [("prices", m) for _, m in _currency(cur, "prices")]
            problems += [("prices", f"{cur}: {m}") for _, m in _dec({"p": value}, "p", 0, None)]
    return problems


def check_tier(entry: Any, _tiers: set[Any]) -> list[tuple[str, str]]:
    problems = _required(entry, ("name", "discount_pct"))
    if problems:
        return problems
    problems += _dec(entry, "discount_pct", 0, 100)
    if entry.get("reward_margin_pct") is not None:
        problems += _dec(entry, "reward_margin_pct", 0, 100)
    return problems


def _email(value: Any, key: str) -> list[tuple[str, str]]:
    try:
        validate_email(str(value), check_deliverability=False)
    except EmailNotValidError as exc:
        return [(key, f"{value!r} is not a valid email address ({exc})")]
    return []


def check_person(entry: Any, _tiers: set[Any]) -> list[tuple[str, str]]:
    problems = _required(entry, ("name", "email"))
    return problems or _email(entry["email"], "email")


def check_partner(entry: Any, tiers: set[Any]) -> list[tuple[str, str]]:
    problems = _required(entry, ("name", "tier", "country", "currency"))
    if problems:
        return problems
    if entry["tier"] not in tiers:
        problems.append(("tier", f"{entry['tier']!r} is not a tier in this file"))
    if pycountry.countries.get(alpha_2=str(entry["country"]).upper()) is None:
        problems.append(("country", f"{entry['country']!r} is not an ISO 3166-1 alpha-2 code"))
    problems += _currency(entry["currency"], "currency")
    contacts = entry.get("contacts", [])
    if not isinstance(contacts, list):
        return [*problems, ("contacts", "must be a list of { name, email } tables")]
    for j, contact in enumerate(contacts, start=1):
        problems += [("contacts", f"[{j}] {k}: {m}") for k, m in check_person(contact, tiers)]
    return problems
