"""The `dealreg report` figures: what they mean, and their rows, CSV, JSON and chart.

Pure: counts, values and hours in; rows, CSV or JSON text, or PNG bytes out; no session, no
clock. The terminal's table is the command's (dealreg/report_command.py).
docs/reports.md defines each figure for the people who read them.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# The stages a deal may ever reach, as the report names them (and the audit action of each).
MILESTONES = {
    "approved": "approve",
    "rejected": "reject",
    "returned": "return",
    "withdrawn": "withdraw",
    "expired": "expire",
    "order_started": "start_order",
    "order_submitted": "submit_order",
}
# Each milestone's flag in `Review.reached`, by its audit action.
MILESTONE_BITS = {action: 1 << i for i, action in enumerate(MILESTONES.values())}
VALUES = ("registered", "approved", "won")


def _middle(count: int) -> tuple[int, int]:
    """The ranks (1-based, ascending) of the middle value, twice, or of the two middle ones."""
    return (count + 1) // 2, count // 2 + 1


def _nearest_90(count: int) -> int:
    """The nearest rank of the 90th percentile: ceil(0.9 × count)."""
    return (9 * count + 9) // 10


def ranks(count: int) -> set[int]:
    """The ranks the median and the 90th percentile of `count` values are read from."""
    return {*_middle(count), _nearest_90(count)} if count else set()


@dataclass(frozen=True)
class Hours:
    """A group's business hours to decision: how many deals were decided, how many within
    the service level, and the values at the `ranks` of their count."""

    decided: int = 0
    within_sla: int = 0
    at_rank: dict[int, float] = field(default_factory=dict)

    @classmethod
    def of(cls, hours: list[float], sla_hours: float) -> Hours:
        return cls.counted(Counter(hours).items(), sla_hours)  # from a list: for the tests

    @classmethod
    def counted(cls, counts: Iterable[tuple[float, int]], sla_hours: float) -> Hours:
        """The figures of hours given as (value, how many deals took it): what the database
        hands back, one row per distinct value (hours are kept to the tenth)."""
        ordered = sorted(counts)
        total = sum(n for _, n in ordered)
        wanted, at_rank, seen = sorted(ranks(total)), {}, 0
        for value, n in ordered:
            seen += n
            while wanted and wanted[0] <= seen:
                at_rank[wanted.pop(0)] = value
        within = sum(n for value, n in ordered if value <= sla_hours)
        return cls(total, within, at_rank)

    @property
    def median(self) -> float | None:
        """The middle value, or the mean of the two middle ones."""
        low, high = _middle(self.decided)
        return (self.at_rank[low] + self.at_rank[high]) / 2 if self.decided else None

    @property
    def p90(self) -> float | None:
        """The nearest-rank 90th percentile: the smallest value with 90% at or below it."""
        return self.at_rank[_nearest_90(self.decided)] if self.decided else None


@dataclass
class Tally:
    """One group's counts as the database adds them up, and its decided deals' hours."""

    group: str
    registered: int
    reached: dict[str, int]  # milestone -> how many of the group's deals ever reached it
    approved_ended: int  # approved, then order_submitted, withdrawn or expired
    values: dict[str, dict[str, Decimal]]  # "registered" | "approved" | "won" -> {currency: sum}
    hours: Hours = field(default_factory=Hours)


@dataclass(frozen=True)
class Row:
    """One line of the report: a group's figures."""

    group: str
    registered: int
    reached: dict[str, int]
    approval_rate: float | None
    win_rate: float | None
    median_hours: float | None
    p90_hours: float | None
    within_sla: float | None
    values: dict[str, dict[str, Decimal]]


def ratio(part: int, whole: int) -> float | None:
    """`part / whole`, or None when there is nothing to divide by."""
    return part / whole if whole else None


def row(tally: Tally) -> Row:
    """A group's figures from its tally."""
    reached = {m: tally.reached.get(m, 0) for m in MILESTONES}
    hours = tally.hours
    return Row(
        group=tally.group,
        registered=tally.registered,
        reached=reached,
        approval_rate=ratio(reached["approved"], reached["approved"] + reached["rejected"]),
        win_rate=ratio(reached["order_submitted"], tally.approved_ended),
        median_hours=hours.median,
        p90_hours=hours.p90,
        within_sla=ratio(hours.within_sla, hours.decided),
        values={kind: dict(sorted(tally.values.get(kind, {}).items())) for kind in VALUES},
    )


def currencies(rows: list[Row]) -> list[str]:
    """Every currency any row has a value in, in alphabetical order."""
    return sorted({c for r in rows for kind in VALUES for c in r.values[kind]})


def as_json(r: Row) -> dict[str, Any]:
    """A row as JSON: rates as fractions, hours rounded to 0.1, values as {currency: "amount"}."""
    return {
        "group": r.group,
        "registered": r.registered,
        **r.reached,
        "approval_rate": r.approval_rate,
        "win_rate": r.win_rate,
        "median_hours_to_decision": _round(r.median_hours),
        "p90_hours_to_decision": _round(r.p90_hours),
        "decided_within_sla": r.within_sla,
        **{f"value_{k}": {c: str(v) for c, v in r.values[k].items()} for k in VALUES},
    }


def to_csv(rows: list[Row]) -> str:
    """The rows as CSV, one `value_<kind>_<CURRENCY>` column per currency present."""
    money = [f"value_{k}_{c}" for k in VALUES for c in currencies(rows)]
    flat = [dict(_scalars(r), **_money_columns(r, currencies(rows))) for r in rows]
    head = ["group", "registered", *MILESTONES, "approval_rate", "win_rate"]
    head += ["median_hours_to_decision", "p90_hours_to_decision", "decided_within_sla", *money]
    out = io.StringIO()
    writer = csv.DictWriter(out, head, lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat)
    return out.getvalue()


def _scalars(r: Row) -> dict[str, Any]:
    data = as_json(r)
    return {k: "" if v is None else v for k, v in data.items() if not isinstance(v, dict)}


def _money_columns(r: Row, present: list[str]) -> dict[str, str]:
    return {f"value_{k}_{c}": str(r.values[k].get(c, "0")) for k in VALUES for c in present}


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


@dataclass(frozen=True)
class Week:
    """One week (from Monday `start`): registrations and first decisions in it."""

    start: date
    registered: int
    decided: int

    def as_json(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "registered": self.registered,
                "decided": self.decided}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Week:
        return cls(date.fromisoformat(str(data["start"])), int(data["registered"]),
                   int(data["decided"]))  # fmt: skip


WEEKLY_TITLE = "Registrations and decisions per week"


def per_week(
    registered: Mapping[date, int],
    decided: Mapping[date, int],
    span: tuple[date, date] | None = None,
) -> list[Week]:
    """Registrations and decisions per week (counts keyed by any day of their week), every
    week of `span` (first and last day), else every week between the first and the last
    counted."""
    regs, decs = _by_monday(registered), _by_monday(decided)
    if span is None:
        if not regs and not decs:
            return []
        span = (min((*regs, *decs)), max((*regs, *decs)))
    monday, weeks = monday_of(span[0]), []
    while monday <= span[1]:
        weeks.append(Week(monday, regs[monday], decs[monday]))
        monday += timedelta(days=7)
    return weeks


def _by_monday(counts: Mapping[date, int]) -> Counter[date]:
    out: Counter[date] = Counter()
    for day, n in counts.items():
        out[monday_of(day)] += n
    return out


def monday_of(day: date) -> date:
    """The Monday that begins `day`'s week."""
    return day - timedelta(days=day.weekday())


CHART_SIZE = (1000, 450)  # pixels
_DPI = 100


def chart_png(weeks: list[Week], title: str) -> bytes:
    """Registrations and decisions per week as grouped bars, a PNG of `CHART_SIZE` pixels."""
    out = io.BytesIO()
    chart(weeks, title).savefig(out, format="png", dpi=_DPI)
    return out.getvalue()


def chart(weeks: list[Week], title: str) -> Figure:
    """The chart's figure: one group of two bars per week."""
    import matplotlib  # slow to import: only when a chart is asked for

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(CHART_SIZE[0] / _DPI, CHART_SIZE[1] / _DPI), dpi=_DPI)
    ax = fig.add_subplot()
    xs = range(len(weeks))
    width = 0.4
    for offset, label, counts in (
        (-width / 2, "registered", [w.registered for w in weeks]),
        (width / 2, "decided (first approval or rejection)", [w.decided for w in weeks]),
    ):
        bars = ax.bar([x + offset for x in xs], counts, width, label=label)
        if len(weeks) <= 26:  # a count over each bar while they are wide enough to carry one
            ax.bar_label(bars, fontsize=8, padding=2)
    step = max(1, math.ceil(len(weeks) / 12))  # at most a dozen dates under the bars
    ax.set_xticks(list(xs)[::step], [w.start.strftime("%d %b") for w in weeks][::step])
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("week beginning (Monday)")
    ax.set_ylabel("deals")
    ax.set_title(title)
    # Below the axis, where it never hides a bar.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncols=2, frameon=False)
    ax.margins(y=0.1)
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    if not weeks:
        ax.text(0.5, 0.5, "no registrations in this period", ha="center", transform=ax.transAxes)
    fig.tight_layout()
    return fig
