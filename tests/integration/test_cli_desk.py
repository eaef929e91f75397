"""The deal desk's rules through the CLI, with the demo catalogue's own rules (a DACH route for
one reviewer, a shadow approval rule, a two-person rule for big deals), on SQLite and
PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from tests.factories import DEMO_CATALOG, REVIEWER, form
from tests.integration.test_cli import Cli, prepared

PRIYA = "priya@vendor.example"
BERLIN = {
    "country": "DE",
    "state": "BE",
    "postcode": "10115",
    "contact_phone": "+49 30 1234567",
    "end_user_phone": "+49 30 901820",
    "projected_value": "EUR 40,000",
}


def registered(cli: Cli, **changes: str) -> str:
    reg = cli.write("reg.json", form(**changes))
    view = cli.json("deals", "register", "--partner", "Northwind IT", "--file", reg)
    return str(view["number"])


def test_a_routed_deal_is_approved_only_by_its_routes_reviewers(cli: Cli) -> None:
    number = registered(cli, domain="berlin.de", **BERLIN)
    refused = cli("deals", "approve", number, "--reviewer", REVIEWER)
    assert refused.returncode != 0
    assert "only the reviewers of the dach-desk route" in refused.stderr
    assert cli.json("deals", "show", number)["stage"] == "opportunity"
    assert "approved until" in cli.ok("deals", "approve", number, "--reviewer", PRIYA)


def test_two_reviewers_approve_a_big_deal(cli: Cli) -> None:
    number = registered(cli, domain="big.com", projected_value="USD 300,000")
    first = cli.ok("deals", "approve", number, "--reviewer", REVIEWER)
    assert "approved 1 of 2" in first
    view = cli.json("deals", "show", number)
    assert view["stage"] == "opportunity" and view["review_due_at"]
    again = cli("deals", "approve", number, "--reviewer", REVIEWER)
    assert again.returncode != 0 and "different reviewer" in again.stderr
    assert "approved until" in cli.ok("deals", "approve", number, "--reviewer", PRIYA)


def test_the_rules_report_counts_a_shadow_rules_agreement(cli: Cli) -> None:
    small = registered(cli, domain="small.com", number_of_users="300", projected_value="GBP 40,000")
    assert cli.json("deals", "show", small)["stage"] == "opportunity"  # shadow: not approved
    cli.ok("deals", "approve", small, "--reviewer", REVIEWER)
    rows = {r["rule"]: r for r in cli.json("rules", "report")}
    gold = rows["gold-small"]
    assert (gold["matched"], gold["approved"], gold["shadow_matched"]) == (1, 0, 1)
    assert (gold["agreed"], gold["disagreed"], gold["agreement"]) == (1, 0, 1.0)
    assert rows["dach-desk"]["matched"] == 0
    text = cli.ok("rules", "report", "--since", "2000-01-01")
    assert "gold-small" in text and "(100% agreed)" in text
    bad = cli("rules", "report", "--since", "last tuesday")
    assert bad.returncode == 2 and "not an ISO date" in bad.stderr


def test_a_live_rule_approves_at_registration_unless_a_conflict_withholds_it(
    db_url: str, tmp_path: Path
) -> None:
    live = DEMO_CATALOG.read_text().replace(
        "shadow = true                        # only says what it would do; set false to go live",
        "shadow = false",
    )
    assert live != DEMO_CATALOG.read_text()
    (tmp_path / "live.toml").write_text(live)
    cli = prepared(db_url, tmp_path, tmp_path / "live.toml")
    small = {"number_of_users": "300", "projected_value": "GBP 40,000"}
    number = registered(cli, domain="small.com", **small)
    view = cli.json("deals", "show", number)
    assert view["stage"] == "approved" and view["quotes"][0]["status"] == "valid"
    assert [h["actor"] for h in view["history"] if h["action"] == "approve"] == ["rule:gold-small"]
    rival = cli.write("rival.json", form(domain="taken.com", contact_phone="+1 415 555 0100"))
    cli.ok("deals", "register", "--partner", "Contoso Partners", "--file", rival)
    held = registered(cli, domain="taken.com", **small)
    assert cli.json("deals", "show", held)["stage"] == "opportunity"  # the conflict withholds it
    rows = {r["rule"]: r for r in cli.json("rules", "report")}
    assert (rows["gold-small"]["matched"], rows["gold-small"]["approved"]) == (2, 1)
