"""The report's figures on a hand-built data set: counts, rates, hours, CSV, JSON and chart."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal

import pytest
from PIL import Image

from core.figures import (
    CHART_SIZE,
    Hours,
    Tally,
    Week,
    as_json,
    chart,
    chart_png,
    per_week,
    ranks,
    row,
    to_csv,
)  # fmt: skip

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
        hours=Hours.of([14, 2, 30, 4, 6, 8, 10, 12], SLA),
    )


def test_rates_count_approved_over_decided_and_won_over_approved_that_ended() -> None:
    r = row(northwind())
    assert r.registered == 10
    assert r.approval_rate == 0.75  # 6 / (6 + 2)
    assert r.win_rate == 0.5  # 2 won / 4 approved deals that ended
    assert r.median_hours == 9  # (8 + 10) / 2
    assert r.p90_hours == 30  # nearest rank: the 8th of 8 values
    assert r.within_sla == 0.875  # 7 of 8 within 16 hours


def test_a_group_with_nothing_decided_has_no_rates_rather_than_zero() -> None:
    empty = Tally("Contoso", 3, {}, 0, {"registered": {"USD": Decimal("5")}})
    r = row(empty)
    assert (r.approval_rate, r.win_rate, r.median_hours, r.p90_hours, r.within_sla) == (
        None, None, None, None, None,
    )  # fmt: skip
    assert r.reached["approved"] == 0 and r.values["won"] == {}


def test_json_keeps_each_currency_apart() -> None:
    data = json.loads(json.dumps(as_json(row(northwind()))))
    assert data["value_registered"] == {"EUR": "50000", "GBP": "100000"}
    assert data["value_won"] == {"GBP": "20000"}
    assert (data["approved"], data["order_submitted"], data["win_rate"]) == (6, 2, 0.5)


def test_csv_has_one_value_column_per_currency_present() -> None:
    other = Tally("Contoso", 1, {"approved": 1}, 0, {"registered": {"USD": Decimal("7")}})
    text = to_csv([row(northwind()), row(other)])
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
    # Monday 2 March and Sunday 8 March are one week; nothing in the week of 9 March.
    regs = {date(2026, 3, 2): 1, date(2026, 3, 8): 1, date(2026, 3, 16): 1}
    decided = {date(2026, 3, 4): 1}
    assert per_week(regs, decided) == [
        Week(date(2026, 3, 2), 2, 1),
        Week(date(2026, 3, 9), 0, 0),
        Week(date(2026, 3, 16), 1, 0),
    ]
    assert per_week({}, {}) == []


def test_a_span_gives_every_week_of_it_even_empty_ones() -> None:
    weeks = per_week({date(2026, 3, 4): 3}, {}, span=(date(2026, 2, 25), date(2026, 3, 10)))
    assert [(w.start, w.registered) for w in weeks] == [
        (date(2026, 2, 23), 0), (date(2026, 3, 2), 3), (date(2026, 3, 9), 0),
    ]  # fmt: skip


def test_median_and_p90_from_the_ranks_alone() -> None:
    # Odd count: the middle value; the 90th percentile by nearest rank.
    five = Hours.of([5, 1, 4, 2, 3], SLA)
    assert (five.median, five.p90, five.decided, five.within_sla) == (3, 5, 5, 5)
    assert ranks(5) == {3, 5}  # the middle; ceil(4.5) = 5
    assert ranks(10) == {5, 6, 9}  # two middles; ceil(9) = 9
    one = Hours.of([40], SLA)
    assert (one.median, one.p90, one.within_sla) == (40, 40, 0)
    assert Hours.of([], SLA).median is None and Hours.of([], SLA).p90 is None
    # Only the values at those ranks are kept: what the database hands back.
    assert set(Hours.of(list(range(100)), SLA).at_rank) == {50, 51, 90}


def test_the_chart_is_a_png_of_the_chart_size() -> None:
    weeks = [Week(date(2026, 1, 5), 4, 2), Week(date(2026, 1, 12), 0, 3)]
    with Image.open(io.BytesIO(chart_png(weeks, "Weekly"))) as image:
        assert image.format == "PNG"
        assert image.size == CHART_SIZE
    with Image.open(io.BytesIO(chart_png([], "Nothing"))) as image:
        assert image.size == CHART_SIZE


def test_the_chart_has_one_group_of_two_bars_per_week_with_their_counts() -> None:
    weeks = [Week(date(2026, 1, 5), 4, 2), Week(date(2026, 1, 12), 0, 3),
             Week(date(2026, 1, 19), 7, 0)]  # fmt: skip
    (ax,) = chart(weeks, "Weekly").axes
    registered, decided = ax.containers
    assert [bar.get_height() for bar in registered] == [4, 0, 7]
    assert [bar.get_height() for bar in decided] == [2, 3, 0]
    # Each week's two bars side by side, around the week's tick.
    for tick, left, right in zip(ax.get_xticks(), registered, decided, strict=True):
        assert left.get_x() + left.get_width() == pytest.approx(tick) == right.get_x()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["05 Jan", "12 Jan", "19 Jan"]
