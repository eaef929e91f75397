"""The report's figures on a hand-built data set: counts, rates, hours, CSV, JSON and chart."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

from PIL import Image

from core.figures import CHART_SIZE, Tally, Week, as_json, chart_png, per_week, row, to_csv

SLA = 16.0


def northwind() -> Tally:
    """10 registered: 6 approved, 2 rejected, 1 returned; of the approved, 2 won, 1 withdrawn,
    1 expired (4 ended) and 2 still open; decided in 2..30 business hours."""
    return Tally(
        group="Northwind IT",
        registered=10,
        reached={
            "approved": 6,
            "rejected": 2,
            "returned": 1,
            "withdrawn": 2,
            "expired": 1,
            "order_started": 3,
            "order_submitted": 2,
        },
        approved_ended=4,
        values={
            "registered": {"GBP": Decimal("100000"), "EUR": Decimal("50000")},
            "approved": {"GBP": Decimal("60000")},
            "won": {"GBP": Decimal("20000")},
        },
        decision_hours=[2, 4, 6, 8, 10, 12, 14, 30],
    )


def test_rates_count_approved_over_decided_and_won_over_approved_that_ended() -> None:
    r = row(northwind(), SLA)
    assert r.registered == 10
    assert r.approval_rate == 0.75  # 6 / (6 + 2)
    assert r.win_rate == 0.5  # 2 won / 4 approved deals that ended
    assert r.median_hours == 9  # (8 + 10) / 2
    assert r.p90_hours == 30  # nearest rank: the 8th of 8 values
    assert r.within_sla == 0.875  # 7 of 8 within 16 hours


def test_a_group_with_nothing_decided_has_no_rates_rather_than_zero() -> None:
    empty = Tally("Contoso", 3, {}, 0, {"registered": {"USD": Decimal("5")}})
    r = row(empty, SLA)
    assert (r.approval_rate, r.win_rate, r.median_hours, r.p90_hours, r.within_sla) == (
        None, None, None, None, None,
    )  # fmt: skip
    assert r.reached["approved"] == 0 and r.values["won"] == {}


def test_json_keeps_each_currency_apart() -> None:
    data = json.loads(json.dumps(as_json(row(northwind(), SLA))))
    assert data["value_registered"] == {"EUR": "50000", "GBP": "100000"}
    assert data["value_won"] == {"GBP": "20000"}
    assert (data["approved"], data["order_submitted"], data["win_rate"]) == (6, 2, 0.5)


def test_csv_has_one_value_column_per_currency_present() -> None:
    other = Tally("Contoso", 1, {"approved": 1}, 0, {"registered": {"USD": Decimal("7")}})
    text = to_csv([row(northwind(), SLA), row(other, SLA)])
    reader = csv.DictReader(io.StringIO(text))
    money = [c for c in reader.fieldnames or [] if c.startswith("value_")]
    assert money == [
        "value_registered_EUR", "value_registered_GBP", "value_registered_USD",
        "value_approved_EUR", "value_approved_GBP", "value_approved_USD",
        "value_won_EUR", "value_won_GBP", "value_won_USD",
    ]  # fmt: skip
    first, second = list(reader)
    assert (first["group"], first["value_won_GBP"], first["value_won_USD"]) == (
        "Northwind IT", "20000", "0",
    )  # fmt: skip
    assert (second["registered"], second["approval_rate"], second["win_rate"]) == ("1", "1.0", "")


def test_weeks_are_counted_from_monday_with_empty_weeks_kept() -> None:
    regs = [datetime(2026, 3, 2, 9, tzinfo=UTC), datetime(2026, 3, 8, 23, tzinfo=UTC),
            datetime(2026, 3, 16, 9, tzinfo=UTC)]  # fmt: skip
    decided = [datetime(2026, 3, 4, 9, tzinfo=UTC)]
    assert per_week(regs, decided) == [
        Week(date(2026, 3, 2), 2, 1),
        Week(date(2026, 3, 9), 0, 0),
        Week(date(2026, 3, 16), 1, 0),
    ]
    assert per_week([], []) == []


def test_the_chart_is_a_png_of_the_chart_size() -> None:
    weeks = [Week(date(2026, 1, 5), 4, 2), Week(date(2026, 1, 12), 0, 3)]
    with Image.open(io.BytesIO(chart_png(weeks, "Weekly"))) as image:
        assert image.format == "PNG"
        assert image.size == CHART_SIZE
    with Image.open(io.BytesIO(chart_png([], "Nothing"))) as image:
        assert image.size == CHART_SIZE
