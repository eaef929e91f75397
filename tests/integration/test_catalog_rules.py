"""`dealreg catalog load` and the catalogue's `[[rules]]`, on SQLite and PostgreSQL: stored
in the file's order, replaced by the next file, and a bad rule refuses the whole file."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core import catalog
from core.errors import CatalogError
from core.models import Rule, Tier
from core.rules import RuleSpec, rules_version, spec_of
from tests.factories import DEMO_CATALOG, World

# The demo catalogue without its rules: each test writes its own.
BASE = DEMO_CATALOG.read_text()[: DEMO_CATALOG.read_text().index("[[rules]]")]

EMEA = """
[[rules]]
name = "emea-desk"
route = "#deal-desk-emea"
reviewers = ["Priya@vendor.example"]
when = { countries = ["GB", "IE", "DE", "FR"] }
"""
GOLD_SMALL = """
[[rules]]
name = "gold-small"
approve = true
when = { tiers = ["gold"], products = ["email_security"], max_users = 500, max_value = "50000 GBP" }
"""
BIG = """
[[rules]]
name = "big-deals"
second_approval = true
when = { min_value = "250000 USD" }
"""


def load(world: World, *rules: str) -> catalog.LoadReport:
    with world.uow() as uow:
        report = catalog.load(uow.session, BASE + "".join(rules))
        uow.commit()
    return report


def stored(world: World) -> list[tuple[int, int, str, str, RuleSpec]]:
    with world.uow() as uow:
        rows = uow.session.scalars(select(Rule).order_by(Rule.position)).all()
        return [(r.id, r.position, r.name, r.version, spec_of(r)) for r in rows]


def test_rules_are_stored_in_the_files_order_with_one_version(world: World) -> None:
    report = load(world, EMEA, GOLD_SMALL, BIG)
    assert report.added == ["rule emea-desk", "rule gold-small", "rule big-deals"]
    rows = stored(world)
    assert [(position, name) for _, position, name, _, _ in rows] == [
        (0, "emea-desk"),
        (1, "gold-small"),
        (2, "big-deals"),
    ]
    specs = [spec for *_, spec in rows]
    assert {version for _, _, _, version, _ in rows} == {rules_version(specs)}
    assert specs[0] == RuleSpec(
        "emea-desk",
        route="#deal-desk-emea",
        reviewers=("priya@vendor.example",),
        when={"countries": ["GB", "IE", "DE", "FR"]},
    )
    assert specs[1].approve and not specs[1].shadow
    assert specs[1].when == {
        "tiers": ["gold"],
        "products": ["email_security"],
        "max_users": 500,
        "max_value": "50000 GBP",
    }
    assert specs[2] == RuleSpec("big-deals", second_approval=True, when={"min_value": "250000 USD"})


def test_loading_the_same_file_again_changes_nothing(world: World) -> None:
    load(world, EMEA, GOLD_SMALL, BIG)
    before = stored(world)
    report = load(world, EMEA, GOLD_SMALL, BIG)
    assert (report.added, report.changed) == ([], [])
    assert stored(world) == before


def test_the_next_file_replaces_the_rules_order_content_and_version(world: World) -> None:
    load(world, EMEA, GOLD_SMALL, BIG)
    first = {name: (row_id, version) for row_id, _, name, version, _ in stored(world)}
    trial = GOLD_SMALL.replace("approve = true", "approve = true\nshadow = true")
    report = load(world, BIG, trial)
    assert "rule emea-desk removed" in report.changed
    assert "rule big-deals: position 2 -> 0" in report.changed
    assert any(c.startswith("rule gold-small: shadow False -> True") for c in report.changed)
    rows = stored(world)
    assert [(position, name) for _, position, name, _, _ in rows] == [
        (0, "big-deals"),
        (1, "gold-small"),
    ]
    assert rows[1][4].shadow
    versions = {version for *_, version, _ in rows}
    assert versions == {rules_version([spec for *_, spec in rows])}
    assert versions != {first["big-deals"][1]}


def test_a_file_without_rules_leaves_none(world: World) -> None:
    load(world, EMEA, GOLD_SMALL)
    report = load(world)
    assert sorted(report.changed) == ["rule emea-desk removed", "rule gold-small removed"]
    assert stored(world) == []


def test_a_bad_rule_refuses_the_whole_file_and_changes_nothing(world: World) -> None:
    load(world, EMEA, GOLD_SMALL)
    before = stored(world)
    text = (
        BASE.replace('discount_pct = "15"', 'discount_pct = "20"')
        + BIG
        + GOLD_SMALL.replace('tiers = ["gold"]', 'tiers = ["platinum"]')
        + EMEA.replace('"FR"', '"XX"').replace("Priya@", "nobody@")
    )
    with world.uow() as uow, pytest.raises(CatalogError) as caught:
        catalog.load(uow.session, text)
    lines = text.splitlines()
    tier_line = next(n for n, s in enumerate(lines, 1) if "platinum" in s)
    reviewer_line = next(n for n, s in enumerate(lines, 1) if "nobody@" in s)
    country_line = next(n for n, s in enumerate(lines, 1) if '"XX"' in s)
    assert caught.value.problems == [
        f"line {tier_line}: rules[2] \"gold-small\" when.tiers: 'platinum' is not a tier in the"
        " catalogue",
        f"line {reviewer_line}: rules[3] \"emea-desk\" reviewers: 'nobody@vendor.example' is not"
        " a reviewer in the catalogue",
        f"line {country_line}: rules[3] \"emea-desk\" when.countries: 'XX' is not an ISO"
        " 3166-1 alpha-2 country code",
    ]
    assert stored(world) == before
    with world.uow() as uow:
        gold = uow.session.scalars(select(Tier).where(Tier.name == "gold")).one()
        assert gold.discount_pct == 15


def test_a_rule_may_name_only_what_the_same_file_holds(world: World) -> None:
    # The database holds the demo's reviewers, but this file names none.
    without = BASE[: BASE.index("[[reviewers]]")] + EMEA
    with world.uow() as uow, pytest.raises(CatalogError) as caught:
        catalog.load(uow.session, without)
    assert [p.split(": ", 1)[1] for p in caught.value.problems] == [
        "rules[1] \"emea-desk\" reviewers: 'Priya@vendor.example' is not a reviewer in the"
        " catalogue"
    ]
    load(world, EMEA)
    assert [name for _, _, name, _, _ in stored(world)] == ["emea-desk"]
