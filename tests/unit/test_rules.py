"""The deal desk's rules on hand-built facts: what they do and how they say why; and the
checks that refuse a malformed rule, naming it and the key at fault."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest

from core.errors import CatalogError
from core.models import Rule
from core.rules import Facts, Known, RuleSpec, evaluate, parse_rules, rules_version, spec_of

KNOWN = Known(
    tiers=frozenset({"gold", "silver", "registered"}),
    partners=frozenset({"Northwind IT", "Contoso Partners"}),
    products=frozenset({"email_security", "archive"}),
    reviewers=frozenset({"priya@vendor.example", "deals@vendor.example"}),
)

# The SPEC's three rules.
EMEA = RuleSpec(
    "emea-desk",
    route="#deal-desk-emea",
    reviewers=("priya@vendor.example",),
    when={"countries": ["GB", "IE", "DE", "FR"]},
)
GOLD_SMALL = RuleSpec(
    "gold-small",
    approve=True,
    when={
        "tiers": ["gold"],
        "products": ["email_security"],
        "max_users": 500,
        "max_value": "50000 USD",
    },
)
BIG = RuleSpec("big-deals", second_approval=True, when={"min_value": "250000 USD"})


def facts(**changes: Any) -> Facts:
    base = Facts(
        country="GB",
        tier="gold",
        partner="Northwind IT",
        product="email_security",
        channel="slack",
        users=300,
        value=Decimal("42000"),
        currency="USD",
    )
    return dataclasses.replace(base, **changes)


def explanations(rules: list[RuleSpec], **changes: Any) -> list[tuple[str, bool, str]]:
    return [(f.rule, f.matched, f.explanation) for f in evaluate(facts(**changes), rules).findings]


def test_small_gold_deal_is_routed_and_approved_with_every_condition_explained() -> None:
    verdict = evaluate(facts(), [EMEA, GOLD_SMALL, BIG])
    assert verdict.route == EMEA and verdict.approve_by == GOLD_SMALL
    assert verdict.second_approval is None and verdict.shadows == ()
    assert verdict.approval_line() == (
        "Approved automatically by gold-small: tier gold; product email_security; "
        "300 users ≤ 500; 42,000 USD ≤ 50,000 USD; no conflict"
    )
    assert [(f.rule, f.matched, f.explanation) for f in verdict.findings] == [
        ("emea-desk", True, "country GB in GB, IE, DE, FR"),
        ("gold-small", True, GOLD_SMALL_HELD),
        ("big-deals", False, "42,000 USD < 250,000 USD"),
    ]


GOLD_SMALL_HELD = "tier gold; product email_security; 300 users ≤ 500; 42,000 USD ≤ 50,000 USD"


def test_first_matching_route_wins_and_a_rule_that_does_not_match_is_passed_over() -> None:
    us = RuleSpec("us-desk", route="#deal-desk-us", when={"countries": ["US"]})
    gold = RuleSpec("gold-desk", route="#deal-desk-gold", when={"tiers": ["gold"]})
    anyone = RuleSpec("catch-all", route="#deal-desk")
    assert evaluate(facts(), [us, gold, anyone]).route == gold
    assert evaluate(facts(tier="silver"), [us, gold, anyone]).route == anyone
    assert evaluate(facts(country="US"), [us, gold, anyone]).route == us
    assert evaluate(facts(country="US"), [EMEA]).route is None


@pytest.mark.parametrize(
    "reason",
    [
        "conflict with DR-000004",
        "lookalike with DR-000007",
        "suspicious domain (mixed scripts)",
        "returned for information",
        "re-registration of DR-000002",
    ],
)
def test_no_automatic_approval_while_anything_withholds_it(reason: str) -> None:
    verdict = evaluate(facts(withheld=(reason,)), [EMEA, GOLD_SMALL])
    assert verdict.approve_by is None and verdict.approval_line() is None
    assert verdict.route == EMEA  # routing is not withheld
    assert verdict.findings[1].matched  # the rule held; the approval did not happen


def test_shadow_rule_only_says_what_it_would_do_and_a_live_rule_after_it_approves() -> None:
    shadow = dataclasses.replace(GOLD_SMALL, name="gold-trial", shadow=True)
    alone = evaluate(facts(), [shadow])
    assert alone.approve_by is None and alone.approval_line() is None
    assert alone.shadows == (shadow,)
    assert alone.shadow_lines() == [f"gold-trial would approve: {GOLD_SMALL_HELD}"]
    both = evaluate(facts(), [shadow, GOLD_SMALL])
    assert both.approve_by == GOLD_SMALL and both.shadows == (shadow,)


def test_shadow_line_says_what_would_have_stopped_it() -> None:
    shadow = dataclasses.replace(GOLD_SMALL, shadow=True)
    withheld = ("conflict with DR-000004", "returned for information")
    verdict = evaluate(facts(withheld=withheld), [shadow])
    assert verdict.shadow_lines() == [
        "gold-small would approve, but: conflict with DR-000004; returned for information"
    ]
    assert evaluate(facts(users=501), [shadow]).shadow_lines() == []


def test_second_approval_is_the_first_matching_such_rule() -> None:
    huge = RuleSpec("huge", second_approval=True, when={"min_value": "1000000 USD"})
    verdict = evaluate(facts(value=Decimal("250000")), [huge, BIG, GOLD_SMALL])
    assert verdict.second_approval == BIG and verdict.approve_by is None
    assert verdict.findings[0].explanation == "250,000 USD < 1,000,000 USD"
    assert evaluate(facts(value=Decimal("2000000")), [huge, BIG]).second_approval == huge


def test_deal_in_another_currency_does_not_match_an_amount_and_says_so() -> None:
    found = explanations([GOLD_SMALL, BIG], currency="GBP")
    assert found == [
        ("gold-small", False, "value in GBP, not USD"),
        ("big-deals", False, "value in GBP, not USD"),
    ]


@pytest.mark.parametrize(
    ("users", "matched", "explanation"),
    [
        (500, True, "500 users ≥ 100; 500 users ≤ 500"),
        (100, True, "100 users ≥ 100; 100 users ≤ 500"),
        (501, False, "501 users > 500"),
        (99, False, "99 users < 100"),
        (1500, False, "1,500 users > 500"),
    ],
)
def test_user_bounds_are_inclusive(users: int, matched: bool, explanation: str) -> None:
    rule = RuleSpec("mid", when={"min_users": 100, "max_users": 500})
    [finding] = evaluate(facts(users=users), [rule]).findings
    assert (finding.matched, finding.explanation) == (matched, explanation)


@pytest.mark.parametrize(
    ("value", "matched", "explanation"),
    [
        ("10000", True, "10,000 USD ≥ 10,000 USD; 10,000 USD ≤ 50,000 USD"),
        ("50000.00", True, "50,000 USD ≥ 10,000 USD; 50,000 USD ≤ 50,000 USD"),
        ("50000.01", False, "50,000.01 USD > 50,000 USD"),
        ("9999.99", False, "9,999.99 USD < 10,000 USD"),
    ],
)
def test_value_bounds_are_inclusive(value: str, matched: bool, explanation: str) -> None:
    rule = RuleSpec("mid", when={"min_value": "10000 USD", "max_value": "50000 USD"})
    [finding] = evaluate(facts(value=Decimal(value)), [rule]).findings
    assert (finding.matched, finding.explanation) == (matched, explanation)


def test_empty_when_matches_every_registration() -> None:
    everyone = RuleSpec("everyone", approve=True)
    for changes in ({}, {"country": "JP", "tier": "registered", "currency": "JPY"}):
        verdict = evaluate(facts(**changes), [everyone])
        assert verdict.approve_by == everyone
        assert verdict.approval_line() == (
            "Approved automatically by everyone: no conditions: every registration; no conflict"
        )


def test_an_unmatched_rule_names_only_the_first_condition_that_failed() -> None:
    rule = RuleSpec(
        "picky",
        when={"partners": ["Contoso Partners"], "channels": ["email", "cli"], "max_users": 1},
    )
    assert explanations([rule]) == [("picky", False, "partner Northwind IT, not Contoso Partners")]
    assert explanations([rule], partner="Contoso Partners") == [
        ("picky", False, "channel slack not in email, cli")
    ]
    assert explanations([rule], partner="Contoso Partners", channel="cli", users=1) == [
        ("picky", True, "partner Contoso Partners; channel cli in email, cli; 1 user ≤ 1")
    ]


def test_amounts_are_grouped_with_commas_and_shown_as_written() -> None:
    rule = RuleSpec("big", when={"min_value": "1234567.5 GBP"})
    found = explanations([rule], value=Decimal("85000.50"), currency="GBP")
    assert found == [("big", False, "85,000.50 GBP < 1,234,567.5 GBP")]


def test_version_changes_with_order_and_content_and_survives_storage() -> None:
    rules = [EMEA, GOLD_SMALL, BIG]
    version = rules_version(rules)
    assert len(version) == 64 and int(version, 16) >= 0
    assert rules_version(list(rules)) == version
    assert rules_version([GOLD_SMALL, EMEA, BIG]) != version
    assert rules_version([EMEA, dataclasses.replace(GOLD_SMALL, shadow=True), BIG]) != version
    rows = [
        Rule(name=r.name, position=i, version=version, **r.stored()) for i, r in enumerate(rules)
    ]
    assert [spec_of(row) for row in rows] == rules
    assert rules_version([spec_of(row) for row in rows]) == version


SPEC_TOML = [
    {
        "name": "emea-desk",
        "route": "#deal-desk-emea",
        "reviewers": ["Priya@Vendor.example"],
        "when": {"countries": ["gb", "IE", "DE", "FR"]},
    },
    {
        "name": "gold-small",
        "approve": True,
        "shadow": False,
        "when": {
            "max_value": "50000 usd",
            "tiers": ["gold"],
            "products": ["email_security"],
            "max_users": 500,
        },
    },
    {"name": "big-deals", "second_approval": True, "when": {"min_value": "250000 USD"}},
]


def test_parsed_rules_are_stored_plainly_in_explanation_order() -> None:
    parsed = parse_rules(SPEC_TOML, KNOWN)
    assert parsed == [EMEA, GOLD_SMALL, BIG]
    assert list(parsed[1].when) == ["tiers", "products", "max_users", "max_value"]
    assert parse_rules([], KNOWN) == []


def problems(*rules: dict[str, Any]) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        parse_rules(list(rules), KNOWN)
    return caught.value.problems


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"name": "r", "priority": 1}, 'rules[1] "r" priority: is not a rule key'),
        ({"name": "r", "when": {"region": "EMEA"}}, 'rules[1] "r" when.region: is not a condition'),
        ({"name": "r", "when": {"countries": ["XX"]}}, "when.countries: 'XX' is not an ISO 3166"),
        ({"name": "r", "when": {"tiers": ["platinum"]}}, "when.tiers: 'platinum' is not a tier"),
        ({"name": "r", "when": {"partners": ["Acme"]}}, "when.partners: 'Acme' is not a partner"),
        ({"name": "r", "when": {"products": ["seg"]}}, "when.products: 'seg' is not a product"),
        ({"name": "r", "when": {"channels": ["fax"]}}, "when.channels: 'fax' is not a channel"),
        (
            {"name": "r", "route": "#d", "reviewers": ["bob@vendor.example"]},
            "reviewers: 'bob@vendor.example' is not a reviewer",
        ),
        ({"name": "r", "when": {"max_value": "50000"}}, "when.max_value: '50000' must be an"),
        ({"name": "r", "when": {"max_value": 50000}}, "when.max_value: 50000 needs a currency"),
        ({"name": "r", "when": {"min_value": "5 XYZ"}}, "when.min_value: 'XYZ' is not an ISO 4217"),
        (
            {"name": "r", "when": {"min_value": "lots USD"}},
            "when.min_value: 'lots' is not an amount",
        ),
        ({"name": "r", "approve": "yes"}, "approve: must be true or false"),
        ({"name": "r", "when": {"max_users": "500"}}, "when.max_users: '500' must be a whole"),
        ({"name": "r", "when": {"max_users": True}}, "when.max_users: True must be a whole"),
        ({"name": "r", "when": {"tiers": "gold"}}, "when.tiers: must be a list of strings"),
        ({"name": "r", "when": {"tiers": []}}, "when.tiers: must list at least one"),
        ({"name": "r", "when": ["gold"]}, 'rules[1] "r" when: must be a table'),
        ({"name": "r", "route": 7}, 'rules[1] "r" route: must be a channel name'),
        ({"name": "r", "reviewers": "priya@vendor.example"}, "reviewers: must be a list"),
        ({"name": "r", "reviewers": ["priya@vendor.example"]}, "reviewers: only applies to a rule"),
        ({"name": "r", "shadow": True}, "shadow: only applies to a rule with approve = true"),
        ({"route": "#d"}, "rules[1] name: is required"),
        ({"name": 5}, "rules[1] name: is required"),
        (
            {"name": "r", "when": {"min_users": 600, "max_users": 500}},
            "when.min_users: 600 is more than max_users 500",
        ),
        (
            {"name": "r", "when": {"min_value": "1 USD", "max_value": "5 GBP"}},
            "when.max_value: must be in USD, as min_value is",
        ),
    ],
)
def test_malformed_rule_is_refused_naming_the_rule_and_the_key(
    rule: dict[str, Any], expected: str
) -> None:
    found = problems(rule)
    assert len(found) == 1 and expected in found[0], found
    if "name" in rule and isinstance(rule["name"], str):
        assert found[0].startswith('rules[1] "r" ')


def test_duplicate_name_is_refused_at_the_second_and_every_bad_rule_is_listed() -> None:
    found = problems(
        {"name": "a"},
        {"name": "b", "when": {"countries": ["ZZ"]}},
        {"name": "a", "approve": True},
        "not a table",
    )
    assert found == [
        "rules[2] \"b\" when.countries: 'ZZ' is not an ISO 3166-1 alpha-2 country code",
        'rules[3] "a" name: is used by rules[1] too; names must be unique',
        "rules[4] entry: must be a table",
    ]
