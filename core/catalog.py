"""Load the catalogue TOML (products, tiers, partners, reviewers, rules): all or nothing."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.catalog_checks import check_partner, check_person, check_product, check_tier
from core.errors import CatalogError
from core.models import Contact, Partner, Product, ProductPrice, Reviewer, Rule, Tier
from core.rule_parse import catalogue_rule_problems, known_of
from core.rules import RuleSpec, parse_rules, rules_version


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
        ("products", check_product),
        ("tiers", check_tier),
        ("partners", check_partner),
        ("reviewers", check_person),
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
    for problem in catalogue_rule_problems(data):
        where = loc.line("rules", problem.index - 1, problem.key.split(".")[0])
        problems.append(f"line {where}: {problem.text()}" if where else problem.text())
    if problems:
        raise CatalogError(problems)
    return data


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
    _store_rules(session, parse_rules(data.get("rules", []), known_of(data)), report)
    session.flush()
    return report


def _store_rules(session: Session, specs: list[RuleSpec], report: LoadReport) -> None:
    """Make the stored rules the file's, in its order: the file is the truth."""
    version = rules_version(specs)
    have = {row.name: row for row in session.scalars(select(Rule))}
    for name in sorted(have.keys() - {s.name for s in specs}):
        session.delete(have.pop(name))
        report.changed.append(f"rule {name} removed")
    session.flush()
    for position, spec in enumerate(specs):
        new = spec.name not in have
        row = have.get(spec.name) or Rule(name=spec.name)
        session.add(row)
        values = {"position": position, **spec.stored()}
        _apply(row, values, f"rule {spec.name}", report, new)
        row.version = version


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
            "removed_at": None,  # listed again: back in the catalogue
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
