"""The deal desk's rules: which apply to a registration, what they do, and why (pure).

A rule's `when` holds when every condition in it holds (an empty one holds for every
registration). A registration takes the first matching rule with a `route`, is approved
automatically by the first matching live `approve` rule unless something withholds it, and
needs two approvals when a `second_approval` rule matches. Each rule's finding says in one
line what held, or the first condition that did not. Checking the catalogue's `[[rules]]` is
`core.rule_parse`'s part.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from core.errors import CatalogError
from core.rule_parse import COUNT_KEYS, LIST_KEYS, MONEY_KEYS, Known, check_rules, money_of

if TYPE_CHECKING:
    from core.models import Rule

__all__ = [
    "Facts",
    "Finding",
    "Known",
    "RuleSpec",
    "Verdict",
    "evaluate",
    "parse_rules",
    "rules_version",
    "spec_of",
]


@dataclass(frozen=True)
class RuleSpec:
    """One `[[rules]]` entry, validated."""

    name: str
    route: str | None = None
    reviewers: tuple[str, ...] | None = None  # reviewer emails, lower-case
    approve: bool = False
    shadow: bool = False
    second_approval: bool = False
    # As stored: lists of strings, whole numbers of users, amounts as "50000 USD".
    when: Mapping[str, Any] = field(default_factory=dict)

    def stored(self) -> dict[str, Any]:
        """The rule's `rules` row values (its name and position aside), JSON-ready."""
        return {
            "route": self.route,
            "reviewers": None if self.reviewers is None else list(self.reviewers),
            "approve": self.approve,
            "shadow": self.shadow,
            "second_approval": self.second_approval,
            "conditions": dict(self.when),
        }


@dataclass(frozen=True)
class Facts:
    """What a registration offers the rules."""

    country: str
    tier: str
    partner: str
    product: str  # the catalogue code
    channel: str
    users: int
    value: Decimal
    currency: str
    # Why no automatic approval may happen, as lines: "conflict with DR-000004", ...
    withheld: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finding:
    """What one rule made of a registration: one line, what held and what did not."""

    rule: str
    matched: bool
    explanation: str


@dataclass(frozen=True)
class Verdict:
    """What the rules, in order, say of one registration."""

    route: RuleSpec | None  # the first matching rule that has a route
    approve_by: RuleSpec | None  # the first matching live approve rule, unless withheld
    shadows: tuple[RuleSpec, ...]  # matching shadow approve rules
    second_approval: RuleSpec | None  # the first matching second_approval rule
    findings: tuple[Finding, ...]  # one per rule, in order
    withheld: tuple[str, ...] = ()  # the facts' reasons against an automatic approval

    def approval_line(self) -> str | None:
        """The card's line for an automatic approval; None when there is none."""
        if self.approve_by is None:
            return None
        why = self._explanation(self.approve_by.name)
        return f"Approved automatically by {self.approve_by.name}: {why}; no conflict"

    def shadow_lines(self) -> list[str]:
        """What each matching shadow rule would have done, and what would have stopped it."""
        if self.withheld:
            but = "; ".join(self.withheld)
            return [f"{s.name} would approve, but: {but}" for s in self.shadows]
        return [f"{s.name} would approve: {self._explanation(s.name)}" for s in self.shadows]

    def _explanation(self, name: str) -> str:
        return next(f.explanation for f in self.findings if f.rule == name)


def evaluate(facts: Facts, rules: Sequence[RuleSpec]) -> Verdict:
    """Apply the rules, in order, to a registration's facts."""
    findings = tuple(_finding(facts, rule) for rule in rules)
    matched = [rule for rule, f in zip(rules, findings, strict=True) if f.matched]
    live = [r for r in matched if r.approve and not r.shadow]
    return Verdict(
        route=next((r for r in matched if r.route), None),
        approve_by=live[0] if live and not facts.withheld else None,
        shadows=tuple(r for r in matched if r.approve and r.shadow),
        second_approval=next((r for r in matched if r.second_approval), None),
        findings=findings,
        withheld=tuple(facts.withheld),
    )


def _finding(facts: Facts, rule: RuleSpec) -> Finding:
    held = []
    for key, value in rule.when.items():
        ok, text = _condition(facts, key, value)
        if not ok:
            return Finding(rule.name, False, text)
        held.append(text)
    return Finding(rule.name, True, "; ".join(held) or "no conditions: every registration")


_LABELS = {
    "countries": "country",
    "tiers": "tier",
    "partners": "partner",
    "products": "product",
    "channels": "channel",
}


def _condition(facts: Facts, key: str, value: Any) -> tuple[bool, str]:
    """Whether one condition holds, and a few words saying so."""
    if key in LIST_KEYS:
        label = _LABELS[key]
        have = str(getattr(facts, label))
        ok = have.upper() in {v.upper() for v in value}
        if len(value) == 1:
            return ok, f"{label} {have}" if ok else f"{label} {have}, not {value[0]}"
        return ok, f"{label} {have} {'in' if ok else 'not in'} {', '.join(value)}"
    if key in COUNT_KEYS:
        ok, sign = _compare(Decimal(facts.users), Decimal(value), key)
        users = "user" if facts.users == 1 else "users"
        return ok, f"{facts.users:,} {users} {sign} {value:,}"
    if key in MONEY_KEYS:
        bound, currency = money_of(value)
        if facts.currency.upper() != currency:
            return False, f"value in {facts.currency.upper()}, not {currency}"
        ok, sign = _compare(facts.value, bound, key)
        return ok, f"{plain(facts.value)} {currency} {sign} {plain(bound)} {currency}"
    raise ValueError(f"unknown condition {key!r}")  # parse_rules refuses it


def _compare(have: Decimal, bound: Decimal, key: str) -> tuple[bool, str]:
    """Whether a bound holds (inclusive), and the sign that says how it stands."""
    if key.startswith("min_"):
        return (True, "≥") if have >= bound else (False, "<")
    return (True, "≤") if have <= bound else (False, ">")


def plain(amount: Decimal) -> str:
    """An amount grouped with commas whatever the locale: 42,000; 85,000.50."""
    if amount == amount.to_integral_value():
        return f"{amount.quantize(Decimal(1)):,}"
    return f"{amount:,f}"


def parse_rules(raw: Sequence[Mapping[str, Any]], known: Known) -> list[RuleSpec]:
    """The catalogue's `[[rules]]` as RuleSpecs; CatalogError names each bad rule and key."""
    entries, problems = check_rules(raw, known)
    if problems:
        raise CatalogError([p.text() for p in problems])
    return [RuleSpec(**entry) for entry in entries]


def rules_version(rules: Sequence[RuleSpec]) -> str:
    """The rules as a whole, as a sha256 hex digest of their canonical JSON."""
    canonical = [{"name": r.name, **r.stored()} for r in rules]
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def spec_of(rule: Rule) -> RuleSpec:
    """A stored rule as the evaluator reads it."""
    return RuleSpec(
        name=rule.name,
        route=rule.route,
        reviewers=None if rule.reviewers is None else tuple(rule.reviewers),
        approve=bool(rule.approve),
        shadow=bool(rule.shadow),
        second_approval=bool(rule.second_approval),
        when=dict(rule.conditions or {}),
    )
