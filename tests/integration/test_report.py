"""`dealreg report` through the CLI on SQLite and PostgreSQL: deals registered, approved,
rejected and withdrawn with the commands, then the figures it prints."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from core.figures import CHART_SIZE
from tests.factories import BOB, REVIEWER, form
from tests.integration.test_cli import Cli

US = {"contact_phone": "+1 415 555 0100", "projected_value": "USD 10,000"}


def registered(cli: Cli, partner: str = "Northwind IT", by: str | None = None, **f: str) -> str:
    reg = cli.write("reg.json", form(**f))
    extra = ("--by", by) if by else ()
    view = cli.json("deals", "register", "--partner", partner, "--file", reg, *extra)
    return str(view["number"])


@pytest.fixture
def desk(cli: Cli) -> Cli:
    """Four Northwind deals (GBP): one approved, one rejected, one approved then withdrawn,
    one waiting; one Contoso deal (USD), approved."""
    approved = registered(cli, domain="a.com", projected_value="GBP 1,000")
    rejected = registered(cli, domain="b.com", projected_value="GBP 2,000")
    withdrawn = registered(cli, domain="c.com", projected_value="GBP 4,000")
    registered(cli, domain="d.com", projected_value="GBP 8,000")
    contoso = registered(cli, "Contoso Partners", BOB, domain="e.com", **US)
    for number in (approved, withdrawn, contoso):
        cli.ok("deals", "approve", number, "--reviewer", REVIEWER)
    cli.ok("deals", "reject", rejected, "--reviewer", REVIEWER, "--reason", "duplicate")
    cli.ok("deals", "withdraw", withdrawn, "--reviewer", REVIEWER, "--reason", "no_budget")
    return cli


def test_the_programme_row_counts_what_each_deal_ever_reached(desk: Cli) -> None:
    (row,) = json.loads(desk.ok("report", "--format", "json"))
    assert row["group"] == "all"
    counts = [row[k] for k in ("registered", "approved", "rejected", "withdrawn", "expired")]
    assert counts == [5, 3, 1, 1, 0]
    assert row["approval_rate"] == 0.75  # 3 approved of 4 decided
    assert row["win_rate"] == 0.0  # the one approved deal that ended was withdrawn
    assert row["decided_within_sla"] == 1.0  # decided at once
    assert row["value_registered"] == {"GBP": "15000.0000", "USD": "10000.0000"}
    assert row["value_approved"] == {"GBP": "5000.0000", "USD": "10000.0000"}
    assert row["value_won"] == {}


def test_by_partner_one_row_each_and_csv_columns_per_currency(desk: Cli) -> None:
    rows = {
        r["group"]: r for r in json.loads(desk.ok("report", "--by", "partner", "--format", "json"))
    }
    assert sorted(rows) == ["Contoso Partners", "Northwind IT"]
    assert (rows["Northwind IT"]["registered"], rows["Northwind IT"]["approved"]) == (4, 2)
    assert rows["Contoso Partners"]["approval_rate"] == 1.0
    table = list(
        csv.DictReader(io.StringIO(desk.ok("report", "--by", "partner", "--format", "csv")))
    )
    north = next(r for r in table if r["group"] == "Northwind IT")
    assert (north["value_registered_GBP"], north["value_registered_USD"]) == ("15000.0000", "0")
    by_channel = json.loads(desk.ok("report", "--by", "channel", "--format", "json"))
    assert [(r["group"], r["registered"]) for r in by_channel] == [("cli", 5)]
    by_rule = json.loads(desk.ok("report", "--by", "rule", "--format", "json"))
    assert sum(r["registered"] for r in by_rule) == 5
    text = desk.ok("report", "--by", "partner")
    assert "Contoso Partners" in text and "67%" in text  # Northwind: 2 of 3 decided approved


def test_a_window_before_any_registration_is_empty_and_the_chart_is_a_png(
    desk: Cli, tmp_path: Path
) -> None:
    assert "no deal was registered" in desk.ok("report", "--until", "2001-01-01")
    assert json.loads(desk.ok("report", "--since", "2001-01-01", "--until", "2001-02-01",
                              "--format", "json")) == []  # fmt: skip
    out = desk.ok("report", "--chart", str(tmp_path / "weeks.png"))
    assert "weeks.png" in out
    with Image.open(tmp_path / "weeks.png") as image:
        assert image.size == CHART_SIZE
    bad = desk("report", "--since", "last week")
    assert bad.returncode == 2 and "not an ISO date" in bad.stderr
