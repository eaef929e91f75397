"""Check the catalogue's `[[rules]]` entries and put them in their stored form (pure).

Each problem names the rule (its position and its name) and the key at fault, so that a
malformed rule refuses the whole file as every other catalogue error does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import pycountry

RULE_KEYS = ("name", "route", "reviewers", "approve", "shadow", "second_approval", "when")
FLAGS = ("approve", "shadow", "second_approval")
# The `when` keys in the order a rule's explanation lists them.
LIST_KEYS = ("countries", "tiers", "partners", "products", "channels")
COUNT_KEYS = ("min_users", "max_users")
MONEY_KEYS = ("min_value", "max_value")
WHEN_KEYS = (*LIST_KEYS, *COUNT_KEYS, *MONEY_KEYS)
CHANNELS = ("slack", "email", "cli")
MAX_NAME = 100


@dataclass(frozen=True)
class Known:
    """What the catalogue holds, for validation: reviewer emails lower-case; product codes."""

    tiers: frozenset[str]
    partners: frozenset[str]
    products: frozenset[str]
    reviewers: frozenset[str]


@dataclass(frozen=True)
class RuleProblem:
    """One problem with one key of one rule."""

    index: int  # 1-based position among the rules
    name: str | None
    key: str
    message: str

    def text(self) -> str:
        if self.index == 0:  # the rules as a whole
            return f"{self.key}: {self.message}"
        named = f' "{self.name}"' if self.name else ""
        return f"rules[{self.index}]{named} {self.key}: {self.message}"


def money_of(text: str) -> tuple[Decimal, str]:
    """Split a stored amount, "50000 USD", into its amount and its currency."""
    amount, currency = text.split()
    return Decimal(amount), currency.upper()


def check_rules(raw: Sequence[Any], known: Known) -> tuple[list[dict[str, Any]], list[RuleProblem]]:
    """Every rule in its stored form (name, route, reviewers, flags, when), and every problem."""
    entries: list[dict[str, Any]] = []
    problems: list[RuleProblem] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(raw, start=1):
        name = entry.get("name") if isinstance(entry, dict) else None
        label = name if isinstance(name, str) and name else None
        found = _check_rule(entry, known)
        if label is not None and label in seen:
            found.append(("name", f"is used by rules[{seen[label]}] too; names must be unique"))
        elif label is not None:
            seen[label] = index
        problems += [RuleProblem(index, label, key, message) for key, message in found]
        if not found:
            entries.append(_stored(entry))
    return entries, problems


def _check_rule(entry: Any, known: Known) -> list[tuple[str, str]]:
    if not isinstance(entry, dict):
        return [("entry", "must be a table")]
    keys = ", ".join(RULE_KEYS)
    problems = [(k, f"is not a rule key ({keys})") for k in entry if k not in RULE_KEYS]
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(("name", "is required: a unique name for the rule"))
    elif len(name) > MAX_NAME:
        problems.append(("name", f"must be at most {MAX_NAME} characters"))
    route = entry.get("route")
    if route is not None and (not isinstance(route, str) or not route.strip()):
        problems.append(("route", 'must be a channel name, e.g. "#deal-desk-emea"'))
    elif isinstance(route, str) and len(route) > MAX_NAME:
        problems.append(("route", f"must be at most {MAX_NAME} characters"))
    problems += _check_reviewers(entry, known)
    for flag in FLAGS:
        if not isinstance(entry.get(flag, False), bool):
            problems.append((flag, f"must be true or false, not {entry[flag]!r}"))
    if entry.get("shadow") is True and entry.get("approve") is not True:
        problems.append(("shadow", "only applies to a rule with approve = true"))
    when = entry.get("when", {})
    if not isinstance(when, dict):
        return [*problems, ("when", 'must be a table, e.g. when = { tiers = ["gold"] }')]
    return problems + [(f"when.{k}", m) for k, m in _check_when(when, known)]


def _check_reviewers(entry: dict[str, Any], known: Known) -> list[tuple[str, str]]:
    reviewers = entry.get("reviewers")
    if reviewers is None:
        return []
    if not isinstance(reviewers, list) or not all(isinstance(r, str) for r in reviewers):
        return [("reviewers", "must be a list of reviewer emails")]
    if not reviewers:
        return [("reviewers", "must name at least one reviewer (leave it out for all)")]
    problems = [
        ("reviewers", f"{r!r} is not a reviewer in the catalogue")
        for r in reviewers
        if r.strip().lower() not in known.reviewers
    ]
    if entry.get("route") is None:
        problems.append(("reviewers", "only applies to a rule with a route"))
    return problems


def _check_when(when: dict[str, Any], known: Known) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for key, value in when.items():
        if key not in WHEN_KEYS:
            problems.append((key, f"is not a condition ({', '.join(WHEN_KEYS)})"))
        elif key in LIST_KEYS:
            problems += [(key, m) for m in _check_list(key, value, known)]
        elif key in COUNT_KEYS:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                problems.append((key, f"{value!r} must be a whole number of users, 0 or more"))
        else:
            problems += [(key, m) for m in _check_money(value)]
    if not problems:
        problems += _check_bounds(when)
    return problems


def _member_checks(known: Known) -> dict[str, tuple[Callable[[str], bool], str]]:
    """Per list key: whether a value is known, and what it should have been."""
    return {
        "countries": (
            lambda v: pycountry.countries.get(alpha_2=v.upper()) is not None,
            "an ISO 3166-1 alpha-2 country code",
        ),
        "tiers": (lambda v: v in known.tiers, "a tier in the catalogue"),
        "partners": (lambda v: v in known.partners, "a partner in the catalogue"),
        "products": (lambda v: v in known.products, "a product code in the catalogue"),
        "channels": (lambda v: v.lower() in CHANNELS, "a channel (" + ", ".join(CHANNELS) + ")"),
    }


def _check_list(key: str, value: Any, known: Known) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return [f'must be a list of strings, e.g. {key} = ["..."]']
    if not value:
        return ["must list at least one (leave the key out to match any)"]
    ok, what = _member_checks(known)[key]
    return [f"{v!r} is not {what}" for v in value if not ok(v)]


def _check_money(value: Any) -> list[str]:
    if not isinstance(value, str):
        return [f'{value!r} needs a currency: an amount and its currency, e.g. "50000 USD"']
    parts = value.split()
    if len(parts) != 2:
        return [f'{value!r} must be an amount and its currency, e.g. "50000 USD"']
    try:
        amount = Decimal(parts[0])
    except InvalidOperation:
        return [f"{parts[0]!r} is not an amount (digits, with an optional decimal point)"]
    problems = [] if amount.is_finite() and amount >= 0 else [f"{parts[0]!r} must be 0 or more"]
    if pycountry.currencies.get(alpha_3=parts[1].upper()) is None:
        problems.append(f"{parts[1]!r} is not an ISO 4217 currency code")
    return problems


def _check_bounds(when: dict[str, Any]) -> list[tuple[str, str]]:
    """A lower bound above the upper one, or amounts in two currencies, never match."""
    problems = []
    low_users, high_users = when.get("min_users"), when.get("max_users")
    if low_users is not None and high_users is not None and low_users > high_users:
        problems.append(("min_users", f"{low_users} is more than max_users {high_users}"))
    if "min_value" in when and "max_value" in when:
        low, high = money_of(when["min_value"]), money_of(when["max_value"])
        if low[1] != high[1]:
            problems.append(("max_value", f"must be in {low[1]}, as min_value is"))
        elif low[0] > high[0]:
            problems.append(("min_value", "is more than max_value"))
    return problems


def _stored(entry: dict[str, Any]) -> dict[str, Any]:
    """A checked rule as RuleSpec's fields: emails lower-case, codes upper-case, `when` in
    the order explanations list it, amounts as "50000 USD"."""
    reviewers = entry.get("reviewers")
    when: dict[str, Any] = {}
    raw = entry.get("when", {})
    for key in WHEN_KEYS:
        if key not in raw:
            continue
        value = raw[key]
        if key == "countries":
            value = [v.upper() for v in value]
        elif key == "channels":
            value = [v.lower() for v in value]
        elif key in MONEY_KEYS:
            amount, currency = money_of(value)
            value = f"{amount} {currency}"
        when[key] = value
    return {
        "name": entry["name"],
        "route": entry.get("route"),
        "reviewers": None if reviewers is None else tuple(r.strip().lower() for r in reviewers),
        **{flag: entry.get(flag, False) for flag in FLAGS},
        "when": when,
    }


def catalogue_rule_problems(data: dict[str, Any]) -> list[RuleProblem]:
    """Every problem with the rules of a parsed catalogue file, against what the file holds."""
    raw = data.get("rules", [])
    if not isinstance(raw, list):
        return [RuleProblem(0, None, "rules", "must be an array of tables ([[rules]])")]
    return check_rules(raw, known_of(data))[1]


def known_of(data: dict[str, Any]) -> Known:
    """The tiers, partners, products and reviewers of a catalogue file: what its rules name."""

    def values(section: str, key: str) -> frozenset[str]:
        entries = data.get(section, [])
        entries = entries if isinstance(entries, list) else []
        found = (e.get(key) for e in entries if isinstance(e, dict))
        return frozenset(v for v in found if isinstance(v, str))

    emails = frozenset(e.strip().lower() for e in values("reviewers", "email"))
    tiers, partners = values("tiers", "name"), values("partners", "name")
    return Known(tiers, partners, values("products", "code"), emails)
