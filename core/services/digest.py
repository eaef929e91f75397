"""The deal desk's morning digest: per review channel, what waits and for how long, what is
overdue, the last business day's decisions, the month's pace, protections about to end, and
registrations and decisions per week over twelve weeks.

`figures` reads them with a handful of SQL aggregates scoped to the channel's deals (those
routed to it; the default channel also has the deals no route took). `send` queues the
digest once per channel and business day: to Slack when it is configured, else by email to
the channel's reviewers, the chart inline. The outbox's unique key makes "once" hold when
several workers run the job at the same moment.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import outbox
from core.attachments import CHART_HEADER
from core.config import Settings
from core.db import table_of
from core.figures import MILESTONE_BITS, Hours, Week, monday_of, per_week
from core.locales import locale_for
from core.models import Deal, DealEvent, OutboxMessage, Reviewer, Rule
from core.models.desk import Review
from core.services.report import daily
from core.uow import UnitOfWork, UowFactory

AGES = ("under 1 day", "1-3 days", "3-7 days", "over 7 days")
WEEKS = 12
MONTH = timedelta(days=30)
ENDING = timedelta(days=14)
LISTED = 5  # overdue deals named, oldest first


@dataclass
class Digest:
    """One channel's digest on `day` (the business day it is for)."""

    channel: str
    day: date
    waiting: dict[str, int] = field(default_factory=dict)  # age band -> deals
    with_partner: int = 0  # returned, waiting for the partner's answer
    overdue: int = 0
    overdue_deals: list[dict[str, str]] = field(default_factory=list)  # number, company, due
    decided_since: str = ""  # the last business day, ISO date
    decisions: dict[str, int] = field(default_factory=dict)  # approved, rejected, returned
    median_hours: float | None = None  # over MONTH
    decided_month: int = 0
    approval_rate: float | None = None  # over MONTH
    ending: int = 0  # protections ending within ENDING
    weeks: list[dict[str, Any]] = field(default_factory=list)  # start, registered, decided

    def as_json(self) -> str:
        return json.dumps(asdict(self), default=str)

    def chart_weeks(self) -> list[Week]:
        return [Week.from_json(w) for w in self.weeks]

    @classmethod
    def from_json(cls, text: str) -> Digest:
        data = json.loads(text)
        data["day"] = date.fromisoformat(data["day"])
        return cls(**data)


def channels(session: Session, settings: Settings) -> list[str]:
    """The review channels: the default one, then each routing rule's."""
    routes = session.scalars(
        select(Rule.route).where(Rule.route.is_not(None)).order_by(Rule.position)
    )
    found = [settings.slack_review_channel]
    found += [r for r in routes if r and r not in found]
    return found


def _scope(channel: str, settings: Settings) -> ColumnElement[bool]:
    if channel == settings.slack_review_channel:
        return or_(Review.route_channel.is_(None), Review.route_channel == channel)
    return Review.route_channel == channel


def figures(session: Session, channel: str, now: datetime, settings: Settings) -> Digest:
    """The channel's digest as of `now`."""
    cal = settings.business_calendar
    today = cal.local_day(now)
    digest = Digest(channel, today)
    scoped = select().select_from(Deal).join(Review, Review.deal_id == Deal.id)
    scoped = scoped.where(_scope(channel, settings))
    _waiting(session, scoped, digest, now)
    _overdue(session, scoped, digest, now)
    since = last_business_day(today, settings)
    digest.decided_since = since.isoformat()
    digest.decisions = _decisions(
        session, scoped, _midnight(since, cal.zone), _midnight(today, cal.zone)
    )
    _month(session, scoped, digest, now)
    ending = scoped.add_columns(func.count()).where(
        Deal.stage == "approved",
        Deal.protection_expires_at > now,
        Deal.protection_expires_at <= now + ENDING,
    )
    digest.ending = int(session.scalar(ending) or 0)
    dialect = session.get_bind().dialect.name
    first = monday_of(today) - timedelta(weeks=WEEKS - 1)
    begun = _midnight(first, cal.zone)
    regs = daily(session, scoped.where(Deal.created_at >= begun), Deal.created_at, dialect)
    decs = daily(session, scoped.where(Review.decided_at >= begun), Review.decided_at, dialect)
    digest.weeks = [w.as_json() for w in per_week(regs, decs, span=(first, today))]
    return digest


def _midnight(day: date, zone: Any) -> datetime:
    return datetime.combine(day, datetime.min.time(), zone)


def last_business_day(today: date, settings: Settings) -> date:
    """The business day before `today` (skipping weekends and holidays; at most a month)."""
    cal = settings.business_calendar
    day = today - timedelta(days=1)
    while cal.window(day) is None and today - day < MONTH:
        day -= timedelta(days=1)
    return day


_AWAITING = (Deal.stage == "opportunity", Deal.returned_question.is_(None))


def _waiting(session: Session, scoped: Select[Any], digest: Digest, now: datetime) -> None:
    """Awaiting a decision, by age since registration; and those waiting for the partner."""
    bands = case(
        (Deal.created_at > now - timedelta(days=1), 0),
        (Deal.created_at > now - timedelta(days=3), 1),
        (Deal.created_at > now - timedelta(days=7), 2),
        else_=3,
    ).label("band")
    counted = scoped.add_columns(bands, func.count()).where(*_AWAITING).group_by(bands)
    found: dict[int, int] = {k: n for k, n in session.execute(counted)}
    digest.waiting = {name: int(found.get(i, 0)) for i, name in enumerate(AGES)}
    returned = scoped.add_columns(func.count()).where(
        Deal.stage == "opportunity", Deal.returned_question.is_not(None)
    )
    digest.with_partner = int(session.scalar(returned) or 0)


def _overdue(session: Session, scoped: Select[Any], digest: Digest, now: datetime) -> None:
    late = scoped.where(*_AWAITING, Review.review_due_at < now)
    digest.overdue = int(session.scalar(late.add_columns(func.count())) or 0)
    oldest = late.add_columns(Deal.number, Deal.company_name, Review.review_due_at)
    rows = session.execute(oldest.order_by(Review.review_due_at).limit(LISTED))
    digest.overdue_deals = [{"number": n, "company": c, "due": d.isoformat()} for n, c, d in rows]


def _decisions(
    session: Session, scoped: Select[Any], since: datetime, until: datetime
) -> dict[str, int]:
    """Approvals, rejections and returns made from `since` to `until` (the audit trail is
    indexed by time)."""
    names = {"approve": "approved", "reject": "rejected", "return": "returned"}
    counted = (
        scoped.join(DealEvent, DealEvent.deal_id == Deal.id)
        .add_columns(DealEvent.action, func.count())
        .where(DealEvent.action.in_(names), DealEvent.at >= since, DealEvent.at < until)
        .group_by(DealEvent.action)
    )
    found: dict[str, int] = {k: n for k, n in session.execute(counted)}
    return {name: int(found.get(action, 0)) for action, name in names.items()}


def _month(session: Session, scoped: Select[Any], digest: Digest, now: datetime) -> None:
    """Of the registrations first decided in the last 30 days: how long the desk took (the
    median), and how many were approved (the approval rate)."""
    hours = Review.decision_hours
    recent = scoped.where(Review.decided_at >= now - MONTH, hours.is_not(None))
    counts = session.execute(recent.add_columns(hours, func.count()).group_by(hours))
    found = Hours.counted([(float(h), int(n)) for h, n in counts], 0)
    digest.median_hours, digest.decided_month = found.median, found.decided
    approved = Review.reached.op("&")(MILESTONE_BITS["approve"]) != 0
    yes = int(session.scalar(recent.add_columns(func.count()).where(approved)) or 0)
    digest.approval_rate = yes / found.decided if found.decided else None


def send(uow_factory: UowFactory, now: datetime, settings: Settings) -> list[str]:
    """Queue each review channel's digest for today, once, from `DIGEST_AT` on a business
    day; the channels queued by this run."""
    cal = settings.business_calendar
    local = now.astimezone(cal.zone)
    if cal.window(local.date()) is None or local.time() < settings.digest_at:
        return []
    with uow_factory() as uow:
        names = channels(uow.session, settings)
    sent = []
    for channel in names:
        key = f"digest:{channel}:{local.date().isoformat()}"
        try:
            with uow_factory() as uow:
                if _queue(uow, key, channel, now, settings):
                    uow.commit()
                    sent.append(channel)
        except IntegrityError:
            continue  # another worker queued it first
    return sent


def _queue(uow: UnitOfWork, key: str, channel: str, now: datetime, settings: Settings) -> bool:
    """Queue the channel's digest under `key` (to Slack, else one email per reviewer), unless
    queued already; whether anything was."""
    if settings.slack_enabled:
        if outbox.queued(uow, key):
            return False
        digest = figures(uow.session, channel, now, settings)
        routing = outbox.Routing(to=channel, message_id=f"slack-{key}", dedupe_key=key)
        content = outbox.Content("desk_digest", f"digest {channel}", digest.as_json())
        uow.add(table_of(OutboxMessage), outbox.new_row("slack", routing, content, now=now))
        return True
    people = [r for r in _reviewers(uow.session, channel, settings)
              if not outbox.queued(uow, f"{key}:{r}"[:300])]  # fmt: skip
    if not people:
        return False
    digest = figures(uow.session, channel, now, settings)
    context: dict[str, Any] = {"digest": digest, "contact": None, "progress": []}
    for reviewer in people:
        mail = outbox.Email("desk_digest", reviewer, context, locale_for(None),
                            tz=settings.business_timezone)  # fmt: skip
        values = outbox.compose(
            mail, now=now, settings=settings, dedupe_key=f"{key}:{reviewer}"[:300]
        )
        # The chart is drawn when the email is built (core.attachments), from these weeks.
        values["headers"] = {**values["headers"], CHART_HEADER: digest.weeks}
        uow.add(table_of(OutboxMessage), {**values, "priority": 1})
    return True


def _reviewers(session: Session, channel: str, settings: Settings) -> list[str]:
    """Who reads the channel: its route's reviewers, else every reviewer."""
    named = session.scalars(select(Rule.reviewers).where(Rule.route == channel)).all()
    wanted = sorted({e for group in named for e in (group or [])})
    if wanted:
        return wanted
    return list(session.scalars(select(Reviewer.email).order_by(Reviewer.email)))
