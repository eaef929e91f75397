"""`dealreg report`: the figures of the deals registered in a window, added up by the database.

The counts and values are SQL aggregates over the window's deals, grouped by the `--by` key,
with "ever reached" read from the audit trail (`deal_events`) in a subquery; only the time to
decision loads one (registered, first decided) pair per deal of the window, since business
hours are counted by the calendar, not by SQL. core/figures.py says what each figure means.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from core.business_time import BusinessCalendar, business_hours_between
from core.figures import MILESTONES, Tally, Week, per_week
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


def report(session: Session, window: Window, by: str | None, cal: BusinessCalendar) -> Report:
    """The tallies per group (one, "all", without `by`) and the weekly counts of the window."""
    tallies: dict[str, Tally] = {}
    for values in session.execute(_totals(window, by)).mappings():
        _add(tallies, values)
    registered, decided = [], []
    for group, created, first in session.execute(_decisions(window, by)):
        registered.append(created)
        if first is not None:
            decided.append(first)
            tallies[group].decision_hours.append(business_hours_between(created, first, cal))
    return Report(list(tallies.values()), per_week(registered, decided))


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


def _totals(window: Window, by: str | None) -> Select[Any]:
    """Per group and currency: deals, milestones reached, approved-then-ended, values."""
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
    ]
    stmt = select(*columns).select_from(Deal).outerjoin(ev, ev.c.deal_id == Deal.id)
    return _in_window(stmt, window, by).group_by(key, Deal.currency).order_by(key, Deal.currency)


def _add(tallies: dict[str, Tally], row: Any) -> None:
    """Fold one (group, currency) row into its group's tally."""
    tally = tallies.setdefault(
        row["grp"], Tally(row["grp"], 0, dict.fromkeys(MILESTONES, 0), 0, {})
    )
    tally.registered += row["registered"]
    tally.approved_ended += int(row["approved_ended"])
    for name in MILESTONES:
        tally.reached[name] += int(row[name])
    for kind in ("registered", "approved", "won"):
        amount = Decimal(row[f"value_{kind}"] or 0)
        if amount or kind == "registered":
            tally.values.setdefault(kind, {})[row["currency"]] = amount


def _decisions(window: Window, by: str | None) -> Select[Any]:
    """Per deal of the window: its group, when it was registered, when first approved or
    rejected (None: not yet)."""
    first = (
        select(DealEvent.deal_id, func.min(DealEvent.at).label("at"))
        .where(DealEvent.action.in_((MILESTONES["approved"], MILESTONES["rejected"])))
        .group_by(DealEvent.deal_id)
        .subquery("first_decision")
    )
    stmt = (
        select(_key(by), Deal.created_at, first.c.at)
        .select_from(Deal)
        .outerjoin(first, first.c.deal_id == Deal.id)
    )
    return _in_window(stmt, window, by).order_by(Deal.id)
