"""`dealreg catalog remove`: a reviewer or partner contact taken out of the catalogue no
longer acts, and can then be erased, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from tests.factories import ANN, REVIEWER, form
from tests.integration.privacy_scan import Scan
from tests.integration.test_cli import DEMO_CATALOG, Cli

PRIYA = "priya@vendor.example"


def registered(cli: Cli, domain: str) -> str:
    reg = cli.write(f"{domain}.json", form(domain=domain))
    view = cli.json("deals", "register", "--partner", "Northwind IT", "--by", ANN, "--file", reg)
    return str(view["number"])


def without_priya_in_rules(cli: Cli) -> None:
    """Load the demo catalogue with its DACH route's reviewer changed from Priya."""
    text = DEMO_CATALOG.read_text(encoding="utf-8")
    text = text.replace(f'reviewers = ["{PRIYA}"]', f'reviewers = ["{REVIEWER}"]')
    (cli.tmp / "catalog.toml").write_text(text, encoding="utf-8")
    cli.ok("catalog", "load", str(cli.tmp / "catalog.toml"))


def test_a_removed_reviewer_can_no_longer_decide(cli: Cli) -> None:
    number = registered(cli, "desk.com")
    named = cli("catalog", "remove", PRIYA)
    assert named.returncode != 0 and "reviewer of rule dach-desk" in named.stderr
    without_priya_in_rules(cli)
    out = json.loads(cli.ok("catalog", "remove", PRIYA.upper(), "--json"))
    assert out == {"removed": PRIYA, "as": "reviewer"}
    refused = cli("deals", "approve", number, "--reviewer", PRIYA)
    assert refused.returncode != 0 and "not a registered partner contact or reviewer" in (
        refused.stderr
    )
    unknown = cli("catalog", "remove", "nobody@vendor.example")
    assert unknown.returncode != 0 and "not a reviewer or partner contact" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    cli.ok("deals", "approve", number, "--reviewer", REVIEWER)  # the others still do


def test_a_removed_contact_no_longer_acts_keeps_their_deals_and_can_then_be_erased(
    cli: Cli, scan: Scan
) -> None:
    number = registered(cli, "kept.com")
    cli.ok("deals", "approve", number, "--reviewer", REVIEWER)
    assert cli("privacy", "erase", ANN, "--yes").returncode == 1  # still in the catalogue
    assert "contact of partner Northwind IT" in cli.ok("catalog", "remove", ANN)
    again = cli("deals", "register", "--partner", "Northwind IT", "--by", ANN,
                "--file", cli.write("again.json", form(domain="again.com")))  # fmt: skip
    assert again.returncode != 0 and "not a registered partner contact" in again.stderr
    cli.ok("privacy", "erase", ANN, "--yes")
    [deal] = cli.json("deals", "list")
    assert (deal["number"], deal["stage"]) == (number, "approved")
    assert not scan.finds(ANN)
    assert not scan.finds("Ann Lee")


def test_a_removed_reviewer_can_be_erased_from_the_deals_they_decided(cli: Cli, scan: Scan) -> None:
    number = registered(cli, "decided.com")
    cli.ok("deals", "approve", number, "--reviewer", PRIYA)
    assert cli("privacy", "erase", PRIYA, "--yes").returncode == 1  # still in the catalogue
    without_priya_in_rules(cli)
    cli.ok("catalog", "remove", PRIYA)
    cli.ok("privacy", "erase", PRIYA, "--yes")
    assert cli.json("deals", "show", number)["stage"] == "approved"
    assert not scan.finds(PRIYA)


def test_amending_a_deal_whose_end_user_was_erased_asks_for_the_erased_fields(cli: Cli) -> None:
    number = registered(cli, "forgotten.com")
    cli.ok("privacy", "erase", "jo.bloggs@example.co.uk", "--yes")
    refused = cli("deals", "amend", number, "--by", ANN, "--set", "number_of_users=300")
    assert refused.returncode != 0
    assert "end_user_email: Email was erased on request: give it a new value" in refused.stderr
    assert "end_user_phone: Contact Phone was erased on request" in refused.stderr
    cli.ok("deals", "amend", number, "--by", ANN, "--set", "number_of_users=300",
           "--set", "end_user_email=sam.new@example.co.uk",
           "--set", "end_user_phone=+44 20 7946 0000")  # fmt: skip
    assert cli.json("deals", "show", number)["number_of_users"] == 300
