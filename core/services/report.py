"""`dealreg report`: the figures of the deals registered in a window, added up by the database.

Every figure is an SQL aggregate over the window's deals, grouped by the `--by` key: "ever
reached" read from the audit trail (`deal_events`) in a subquery; the business hours to
decision as each review recorded them at the first decision (`Review.decision_hours`, the
partner's waits left out), of which the database ranks each group's values and hands back
only the two or three the median and the 90th percentile are read from; the weekly counts
grouped by week in SQL. core/figures.py says what each figure means.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from core.figures import MILESTONES, Hours, Tally, Week, per_week
from core.models import Deal, DealEvent, Partner, Product, Review

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


def report(session: Session, window: Window, by: str | None, sla_hours: float) -> Report:
    """The tallies per group (one, "all", without `by`) and the weekly counts of the window."""
    tallies: dict[str, Tally] = {}
    for values in session.execute(_totals(window, by, sla_hours)).mappings():
        _add(tallies, values)
    picked: dict[str, dict[int, float]] = {}
    for group, rank, hours in session.execute(_ranked(window, by)):
        picked.setdefault(group, {})[rank] = hours
    for group, tally in tallies.items():
        tally.hours = Hours(tally.hours.decided, tally.hours.within_sla, picked.get(group, {}))
    dialect = session.get_bind().dialect.name
    deals = _in_window(select().select_from(Deal), window, None)
    registered = weekly(session, deals, Deal.created_at, dialect)
    decided = deals.join(Review, Review.deal_id == Deal.id)
    weeks = per_week(registered, weekly(session, decided, Review.decided_at, dialect))
    return Report(list(tallies.values()), weeks)


def week_of(column: Any, dialect: str) -> ColumnElement[Any]:
    """The Monday (UTC) of the week of a timestamp column, in SQL."""
    if dialect == "postgresql":
        return func.date(func.date_trunc("week", func.timezone("UTC", column)))
    return func.date(column, "weekday 0", "-6 days")  # SQLite keeps UTC text: to the Monday


def weekly(session: Session, stmt: Select[Any], column: Any, dialect: str) -> dict[date, int]:
    """How many rows of `stmt` per week of `column` (rows without it left out)."""
    week = week_of(column, dialect).label("week")
    counted = stmt.add_columns(week, func.count()).where(column.is_not(None)).group_by(week)
    return {_day(w): n for w, n in session.execute(counted)}


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _reached() -> Any:
    """Per deal: 1 for each milestone its audit trail shows it ever reached, else 0."""
    flags = [
        func.max(case((DealEvent.action == action, 1), else_=0)).label(name)
        for name, action in MILESTONES.items()
    ]
    return select(DealEvent.deal_id, *flags).group_by(DealEvent.deal_id).subquery("reached")


def _key(by: str | None) -> ColumnElement[str]:
    keys: dict[str | None, ColumnElement[str] | InstrumentedAttribute[str]] = {
        None: literal("all"),
        "partner": Partner.name,
        "product": Product.name,
        "country": Deal.country,
        "channel": Deal.channel,
        "rule": func.coalesce(Review.route_rule, NO_RULE),
    }
    return keys[by].label("grp")


def _in_window(stmt: Select[Any], window: Window, by: str | None) -> Select[Any]:
    if by == "partner":
        stmt = stmt.join(Partner, Partner.id == Deal.partner_id)
    elif by == "product":
        stmt = stmt.join(Product, Product.id == Deal.product_id)
    elif by == "rule":
        stmt = stmt.outerjoin(Review, Review.deal_id == Deal.id)
    if window.since is not None:
        stmt = stmt.where(Deal.created_at >= window.since)
    if window.until is not None:
        stmt = stmt.where(Deal.created_at < window.until)
    return stmt


def _totals(window: Window, by: str | None, sla_hours: float) -> Select[Any]:
    """Per group and currency: deals, milestones reached, approved-then-ended, values, and
    how many were decided, within the service level or not."""
    ev = _reached()
    flag = {name: func.coalesce(ev.c[name], 0) for name in MILESTONES}
    approved_ended = and_(flag["approved"] == 1, or_(*(flag[e] == 1 for e in ENDS)))
    value = Deal.projected_value
    key = _key(by)
    columns: list[Any] = [
        key,
        Deal.currency,
        func.count(Deal.id).label("registered"),
        *(func.sum(f).label(name) for name, f in flag.items()),
        func.sum(case((approved_ended, 1), else_=0)).label("approved_ended"),
        func.sum(value).label("value_registered"),
        func.sum(case((flag["approved"] == 1, value), else_=0)).label("value_approved"),
        func.sum(case((flag["order_submitted"] == 1, value), else_=0)).label("value_won"),
        func.count(Review.decision_hours).label("decided"),
        func.sum(case((Review.decision_hours <= sla_hours, 1), else_=0)).label("within_sla"),
    ]
    stmt = select(*columns).select_from(Deal).outerjoin(ev, ev.c.deal_id == Deal.id)
    if by != "rule":  # the rule grouping joins the review already
        stmt = stmt.outerjoin(Review, Review.deal_id == Deal.id)
    return _in_window(stmt, window, by).group_by(key, Deal.currency).order_by(key, Deal.currency)


def _add(tallies: dict[str, Tally], row: Any) -> None:
    """Fold one (group, currency) row into its group's tally."""
    tally = tallies.setdefault(
        row["grp"], Tally(row["grp"], 0, dict.fromkeys(MILESTONES, 0), 0, {})
    )
    tally.registered += row["registered"]
    decided, within = tally.hours.decided + row["decided"], tally.hours.within_sla
    tally.hours = Hours(decided, within + int(row["within_sla"] or 0))
    tally.approved_ended += int(row["approved_ended"])
    for name in MILESTONES:
        tally.reached[name] += int(row[name])
    for kind in ("registered", "approved", "won"):
        amount = Decimal(row[f"value_{kind}"] or 0)
        if amount or kind == "registered":
            tally.values.setdefault(kind, {})[row["currency"]] = amount


def _ranked(window: Window, by: str | None) -> Select[Any]:
    """Per group, the business hours to decision at the ranks its median and 90th percentile
    are read from (`core.figures.ranks`), ranked by the database."""
    key = _key(by)
    hours = Review.decision_hours
    inner = select(
        key,
        hours.label("hours"),
        func.row_number().over(partition_by=key, order_by=hours).label("rank"),
        func.count().over(partition_by=key).label("n"),
    ).select_from(Deal)
    if by != "rule":  # the rule grouping joins the review already
        inner = inner.join(Review, Review.deal_id == Deal.id)
    ranked = _in_window(inner, window, by).where(hours.is_not(None)).subquery("ranked")
    return select(ranked.c.grp, ranked.c.rank, ranked.c.hours).where(at_ranks(ranked))


def at_ranks(ranked: Any) -> ColumnElement[bool]:
    """The rows of a subquery with `rank` and `n` columns at `core.figures.ranks(n)`."""
    n, rank = ranked.c.n, ranked.c.rank
    return or_(rank == (n + 1) // 2, rank == n // 2 + 1, rank == (9 * n + 9) // 10)
