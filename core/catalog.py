"""Load the catalogue TOML (products, tiers, partners, reviewers): all or nothing."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import pycountry
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import CatalogError
from core.models import Contact, Partner, Product, ProductPrice, Reviewer, Tier

_CODE = re.compile(r"^[a-z][a-z0-9_]{0,59}$")


@dataclass
class LoadReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0


class _Locator:
    """Find the line of `[[section]]` number N and of a key inside it, for error messages."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def line(self, section: str, index: int, key: str | None) -> int | None:
        seen = -1
        start = None
        for no, line in enumerate(self.lines, start=1):
            stripped = line.strip()
            if stripped == f"[[{section}]]":
                seen += 1
                if seen == index:
                    start = no
                    if key is None:
                        return no
                    continue
            if start is not None:
                if stripped.startswith("["):
                    break
                if re.match(rf"{re.escape(key or '')}\s*=", stripped):
                    return no
        return start


def parse(text: str) -> dict[str, Any]:
    """Parse and check the whole file; raise CatalogError listing every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError([f"not valid TOML: {exc}"]) from None
    loc = _Locator(text)
    problems: list[str] = []
    tiers = {t.get("name") for t in data.get("tiers", []) if isinstance(t, dict)}
    for section, check in (
        ("products", _check_product),
        ("tiers", _check_tier),
        ("partners", _check_partner),
        ("reviewers", _check_person),
    ):
        entries = data.get(section, [])
        if not isinstance(entries, list):
            problems.append(f"{section}: must be an array of tables ([[{section}]])")
            continue
        for i, entry in enumerate(entries):
            for key, message in check(entry, tiers):
                where = loc.line(section, i, key)
                at = f"line {where}: " if where else ""
                problems.append(f"{at}{section}[{i + 1}].{key}: {message}")
    if problems:
        raise CatalogError(problems)
    return data


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


def _check_product(entry: Any, _tiers: set[Any]) -> list[tuple[str, str]]:
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


def _check_tier(entry: Any, _tiers: set[Any]) -> list[tuple[str, str]]:
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


def _check_person(entry: Any, _tiers: set[Any]) -> list[tuple[str, str]]:
    problems = _required(entry, ("name", "email"))
    return problems or _email(entry["email"], "email")


def _check_partner(entry: Any, tiers: set[Any]) -> list[tuple[str, str]]:
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
        problems += [("contacts", f"[{j}] {k}: {m}") for k, m in _check_person(contact, tiers)]
    return problems


def load(session: Session, text: str) -> LoadReport:
    """Upsert the catalogue in the caller's transaction; nothing changes if any entry is bad."""
    data = parse(text)
    report = LoadReport()
    tiers = {t["name"]: _upsert_tier(session, t, report) for t in data.get("tiers", [])}
    for entry in data.get("products", []):
        _upsert_product(session, entry, report)
    for entry in data.get("partners", []):
        _upsert_partner(session, entry, tiers, report)
    for entry in data.get("reviewers", []):
        _upsert_reviewer(session, entry, report)
    session.flush()
    return report


def _apply(obj: Any, values: dict[str, Any], label: str, report: LoadReport, new: bool) -> None:
    changes = []
    for key, value in values.items():
        old = getattr(obj, key, None)
        if old != value:
            changes.append(f"{key} {old} -> {value}")
            setattr(obj, key, value)
    if new:
        report.added.append(label)
    elif changes:
        report.changed.append(f"{label}: " + ", ".join(changes))
    else:
        report.unchanged += 1


def _upsert_tier(session: Session, entry: dict[str, Any], report: LoadReport) -> Tier:
    tier = session.scalar(select(Tier).where(Tier.name == entry["name"]))
    new = tier is None
    tier = tier or Tier(name=entry["name"])
    session.add(tier)
    margin = entry.get("reward_margin_pct")
    values = {
        "discount_pct": Decimal(str(entry["discount_pct"])),
        "reward_margin_pct": None if margin is None else Decimal(str(margin)),
    }
    _apply(tier, values, f"tier {entry['name']}", report, new)
    session.flush()
    return tier


def _upsert_product(session: Session, entry: dict[str, Any], report: LoadReport) -> None:
    product = session.scalar(select(Product).where(Product.code == entry["code"]))
    new = product is None
    product = product or Product(code=entry["code"], prices=[])
    session.add(product)
    values = {
        "name": entry["name"],
        "aliases": list(entry.get("aliases", [])),
        "unit_price": Decimal(str(entry["unit_price"])),
        "currency": entry["currency"].upper(),
        "term_months": entry.get("term_months", 12),
    }
    _apply(product, values, f"product {entry['code']}", report, new)
    wanted = {c.upper(): Decimal(str(v)) for c, v in entry.get("prices", {}).items()}
    have = {p.currency: p for p in product.prices}
    for cur, price in wanted.items():
        if cur not in have:
            product.prices.append(ProductPrice(currency=cur, unit_price=price))
            if not new:
                report.changed.append(f"product {entry['code']}: price {cur} added ({price})")
        elif have[cur].unit_price != price:
            report.changed.append(
                f"product {entry['code']}: price {cur} {have[cur].unit_price} -> {price}"
            )
            have[cur].unit_price = price
    for cur, row in have.items():
        if cur not in wanted:
            product.prices.remove(row)
            report.changed.append(f"product {entry['code']}: price {cur} removed")


def _upsert_partner(
    session: Session, entry: dict[str, Any], tiers: dict[str, Tier], report: LoadReport
) -> None:
    partner = session.scalar(select(Partner).where(Partner.name == entry["name"]))
    new = partner is None
    partner = partner or Partner(name=entry["name"])
    session.add(partner)
    values = {
        "tier_id": tiers[entry["tier"]].id,
        "country": entry["country"].upper(),
        "currency": entry["currency"].upper(),
        "locale": entry.get("locale"),
    }
    _apply(partner, values, f"partner {entry['name']}", report, new)
    session.flush()
    for c in entry.get("contacts", []):
        email = c["email"].strip().lower()
        contact = session.scalar(select(Contact).where(Contact.email == email))
        is_new = contact is None
        contact = contact or Contact(email=email)
        session.add(contact)
        vals = {
            "partner_id": partner.id,
            "name": c["name"],
            "slack_user_id": c.get("slack_user_id"),
        }
        _apply(contact, vals, f"contact {email}", report, is_new)


def _upsert_reviewer(session: Session, entry: dict[str, Any], report: LoadReport) -> None:
    email = entry["email"].strip().lower()
    reviewer = session.scalar(select(Reviewer).where(Reviewer.email == email))
    new = reviewer is None
    reviewer = reviewer or Reviewer(email=email)
    session.add(reviewer)
    values = {"name": entry["name"], "slack_user_id": entry.get("slack_user_id")}
    _apply(reviewer, values, f"reviewer {email}", report, new)


__all__ = ["CatalogError", "LoadReport", "load", "parse"]
