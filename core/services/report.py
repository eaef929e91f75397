"""`dealreg report`: the figures of the deals registered in a window, added up by the database.

Every figure is an SQL aggregate over the window's deals and their reviews (one row each),
grouped by the `--by` key: "ever reached" from the flags each review keeps as the audit
trail grows (`Review.reached`); the business hours to decision as each review recorded them
at the first decision (`Review.decision_hours`, to the tenth, the partner's waits left out),
counted per distinct value so the median and the 90th percentile are read from a few hundred
rows. One statement, one scan of the window's deals, gives the table; the chart's weekly
counts are two more, grouped per day in SQL and folded into weeks here. core/figures.py says
what each figure means.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Date, Select, and_, case, cast, func, literal, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from core.figures import MILESTONE_BITS, MILESTONES, Hours, Tally, Week, per_week
from core.models import Deal, Partner, Product, Review

GROUPINGS = ("partner", "product", "country", "channel", "rule")
ENDS = ("order_submitted", "withdrawn", "expired")
NO_RULE = "(no rule)"


@dataclass(frozen=True)
class Window:
    """The deals registered from `since` (inclusive) to `until` (exclusive); None: open."""

    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Report:
    tallies: list[Tally]
    weeks: list[Week]


def report(
    session: Session, window: Window, by: str | None, sla_hours: float, *, weekly_too: bool = False
) -> Report:
    """The tallies per group (one, "all", without `by`); with `weekly_too`, the window's
    registrations and first decisions per week too (for the chart)."""
    names = _names(session, by)
    tallies: dict[str, Tally] = {}
    counts: dict[str, list[tuple[float, int]]] = {}
    for values in session.execute(_totals(window, by)).mappings():
        group = names.get(values["grp"], values["grp"]) if names else str(values["grp"])
        _add(tallies, group, values)
        if values["hours"] is not None:
            counts.setdefault(group, []).append((float(values["hours"]), values["decided"]))
    for group, tally in tallies.items():
        tally.hours = Hours.counted(counts.get(group, []), sla_hours)
    weeks: list[Week] = []
    if weekly_too:
        dialect = session.get_bind().dialect.name
        deals = _in_window(select().select_from(Deal), window, None)
        registered = daily(session, deals, Deal.created_at, dialect)
        decided = deals.join(Review, Review.deal_id == Deal.id)
        weeks = per_week(registered, daily(session, decided, Review.decided_at, dialect))
    return Report(list(tallies.values()), weeks)


def day_of(column: Any, dialect: str) -> ColumnElement[Any]:
    """The UTC day of a timestamp column, in SQL (cheaper per row than a week's Monday:
    `core.figures.per_week` folds the days into weeks)."""
    if dialect == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.substr(column, 1, 10)  # SQLite keeps UTC text: "2026-12-06 09:30:00.000000"


def daily(session: Session, stmt: Select[Any], column: Any, dialect: str) -> dict[date, int]:
    """How many rows of `stmt` per UTC day of `column` (rows without it left out)."""
    day = day_of(column, dialect).label("day")
    counted = stmt.add_columns(day, func.count()).where(column.is_not(None)).group_by(day)
    return {_day(d): n for d, n in session.execute(counted)}


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _flag(action: str) -> ColumnElement[int]:
    """1 when the deal (its review) ever reached the milestone of `action`, else 0: a bit
    of `Review.reached` shifted down (cheaper per row than a CASE, which SQLite feels)."""
    shift = MILESTONE_BITS[action].bit_length() - 1
    return Review.reached.op(">>")(shift).op("&")(1)


def _summed(value: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(value), 0)  # a deal without a review adds nothing


def _key(by: str | None) -> ColumnElement[Any]:
    """The grouping column: partners and products by id (named after, `_names`: joining
    their tables to every deal costs a quarter of the query)."""
    keys: dict[str | None, ColumnElement[Any] | InstrumentedAttribute[Any]] = {
        None: literal("all"),
        "partner": Deal.partner_id,
        "product": Deal.product_id,
        "country": Deal.country,
        "channel": Deal.channel,
        "rule": func.coalesce(Review.route_rule, NO_RULE),
    }
    return keys[by].label("grp")


def _names(session: Session, by: str | None) -> dict[Any, str]:
    """The names of the partners or products, by id; else nothing to name."""
    if by == "partner":
        return {i: n for i, n in session.execute(select(Partner.id, Partner.name))}
    if by == "product":
        return {i: n for i, n in session.execute(select(Product.id, Product.name))}
    return {}


def _in_window(stmt: Select[Any], window: Window, by: str | None) -> Select[Any]:
    if window.since is not None:
        stmt = stmt.where(Deal.created_at >= window.since)
    if window.until is not None:
        stmt = stmt.where(Deal.created_at < window.until)
    return stmt


def _totals(window: Window, by: str | None) -> Select[Any]:
    """Per group, currency and business hours to decision (kept to the tenth; None: not
    decided): deals, milestones reached, approved-then-ended, values. One scan of the
    window's deals gives every figure: a few hundred rows a group."""
    flag = {name: _flag(action) for name, action in MILESTONES.items()}
    ended = sum(MILESTONE_BITS[MILESTONES[e]] for e in ENDS)
    approved_ended = and_(flag["approved"] == 1, Review.reached.op("&")(ended) != 0)
    value = Deal.projected_value
    key = _key(by)
    columns: list[Any] = [
        key,
        Deal.currency,
        func.count(Deal.id).label("registered"),
        *(_summed(f).label(name) for name, f in flag.items()),
        func.sum(case((approved_ended, 1), else_=0)).label("approved_ended"),
        func.sum(value).label("value_registered"),
        _summed(value * flag["approved"]).label("value_approved"),
        _summed(value * flag["order_submitted"]).label("value_won"),
        Review.decision_hours.label("hours"),
        func.count(Review.decision_hours).label("decided"),
    ]
    stmt = select(*columns).select_from(Deal).outerjoin(Review, Review.deal_id == Deal.id)
    stmt = _in_window(stmt, window, by).group_by(key, Deal.currency, Review.decision_hours)
    return stmt.order_by(key, Deal.currency)


def _add(tallies: dict[str, Tally], group: str, row: Any) -> None:
    """Fold one (group, currency, hours) row into its group's tally."""
    tally = tallies.setdefault(group, Tally(group, 0, dict.fromkeys(MILESTONES, 0), 0, {}))
    tally.registered += row["registered"]
    tally.approved_ended += int(row["approved_ended"])
    for name in MILESTONES:
        tally.reached[name] += int(row[name])
    for kind in ("registered", "approved", "won"):
        amount = Decimal(row[f"value_{kind}"] or 0)
        if amount or kind == "registered":
            sums = tally.values.setdefault(kind, {})
            sums[row["currency"]] = sums.get(row["currency"], Decimal(0)) + amount
