"""The gauges read from the database when metrics are scraped, each family from one query.

Every query reads an index range bounded by the work in hand (unsent outbox rows, held or
failed mail, overdue reviews, deals still open), never a range that grows with the history.
Closed deals (the stages no move leaves) are the exception: their count only grows, so it is
taken apart from the scrapes, at most every `CLOSED_REFRESH_S` (and at the first scrape).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    bindparam,
    case,
    func,
    literal_column,
    or_,
    select,
)

from core.fields import STAGES
from core.models import Deal, InboundEmail, JobRun, OutboxMessage, Review, WebhookEndpoint
from core.stages import MOVES
from core.uow import UowFactory
from core.webhook_endpoints import NOT_CONFIGURED

log = logging.getLogger(__name__)

# Stages a deal can still move from, counted at every scrape; the rest only ever gain deals.
OPEN = tuple(s for s in STAGES if any(s in move.sources for move in MOVES.values()))
CLOSED = tuple(s for s in STAGES if s not in OPEN)
CLOSED_REFRESH_S = 300.0
OUTBOX_STATES = ("pending", "retrying", "claimed", "failed")


class DatabaseCollector(Collector):
    """The database's gauges, read in one reading unit of work per scrape.

    A database that cannot be read gives `dealreg_database_up 0` and none of the others, so
    a scrape still answers (and the process's own instruments still show).
    """

    def __init__(self, read: UowFactory, now: Callable[[], datetime]) -> None:
        self.read, self.now = read, now
        self.closed = ClosedCounts(read)
        # One scrape's queries at a time: two scrapers at once never double the load.
        self._lock = threading.Lock()

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("dealreg_database_up", "Whether the last scrape read the database.")
        with self._lock:
            try:
                closed = self.closed.counts()
                with self.read() as uow:
                    families = families_of(uow.session.connection(), self.now(), closed)
            except Exception:
                log.warning("metrics: the database could not be read", exc_info=True)
                up.add_metric([], 0)
                return [up]
        up.add_metric([], 1)
        return [up, *families]


class ClosedCounts:
    """Closed deals by stage: counted at the first scrape, then again in a thread of its own
    once the count is `CLOSED_REFRESH_S` old, while scrapes show the count before."""

    def __init__(self, read: UowFactory, refresh_s: float = CLOSED_REFRESH_S) -> None:
        self.read, self.refresh_s = read, refresh_s
        self._counts: dict[str, int] | None = None
        self._taken = 0.0
        self._counting = threading.Lock()

    def counts(self) -> dict[str, int]:
        """The latest count; the first call counts, a later one starts a recount when due."""
        if self._counts is None:
            with self._counting:
                if self._counts is None:
                    self._count()
        elif time.monotonic() - self._taken >= self.refresh_s and self._counting.acquire(False):
            threading.Thread(target=self._recount, name="metrics-closed", daemon=True).start()
        assert self._counts is not None
        return self._counts

    def _recount(self) -> None:
        try:
            self._count()
        except Exception:
            log.warning("metrics: closed deals could not be counted", exc_info=True)
        finally:
            self._counting.release()

    def _count(self) -> None:
        with self.read() as uow:
            self._counts = deal_counts(uow.session.connection(), CLOSED)
        self._taken = time.monotonic()


@dataclass(frozen=True)
class Statements:
    """Each family's one statement, built once per dialect (a scrape only runs them)."""

    open: Select[str, int]
    closed: Select[str, int]
    outbox: Select[str, str, int]
    inbound: Select[str, int]
    overdue: Select[int]
    jobs: Select[str, datetime | None, str | None]
    endpoints: Select[str, int]

    def counts(self, stages: tuple[str, ...]) -> Select[str, int]:
        """The count of OPEN or of CLOSED deals."""
        return self.open if stages == OPEN else self.closed


def _of(conn: Connection) -> Statements:
    return statements(conn.dialect.name)


def _stage_count(stages: tuple[str, ...]) -> Select[str, int]:
    return select(Deal.stage, func.count()).where(Deal.stage.in_(stages)).group_by(Deal.stage)


def _rare(condition: ColumnElement[bool], dialect: str) -> ColumnElement[Any]:
    """A condition few rows meet. SQLite's statistics keep only each index's average rows
    per value, so a rare value of a common column (unsent, held) looks common and the
    planner would scan the table: `likelihood` tells it otherwise."""
    return (
        func.likelihood(condition, literal_column("0.0001")) if dialect == "sqlite" else condition
    )


@functools.cache
def statements(dialect: str) -> Statements:
    """The statements of every family, as `dialect` is best asked them."""
    outbox = OutboxMessage
    state = case(
        (outbox.failed_at.is_not(None), "failed"),
        (outbox.claimed_at.is_not(None), "claimed"),
        (outbox.attempts > 0, "retrying"),
        else_="pending",
    )
    mail = InboundEmail
    # Through ix_inbound_status: the held messages, and those not handled yet (received).
    waiting = _rare(mail.status.in_(("held", "received")), dialect)
    mail_state = case((mail.status == "held", "held"), else_="failed")
    endpoint = case(
        (WebhookEndpoint.enabled, "enabled"),
        (WebhookEndpoint.disabled_reason == NOT_CONFIGURED, "removed"),
        else_="disabled",
    )
    return Statements(
        open=_stage_count(OPEN),
        closed=_stage_count(CLOSED),
        # sent_at IS NULL heads ix_outbox_pending: only the rows still waiting are read.
        outbox=select(outbox.kind, state, func.count())
        .where(_rare(outbox.sent_at.is_(None), dialect))
        .group_by(outbox.kind, state),
        inbound=select(mail_state, func.count())
        .where(waiting, or_(mail.status == "held", mail.attempts > 0))
        .group_by(mail_state),
        # review_due_at is kept only while the desk's decision is awaited (a decision, a
        # return, a withdrawal and a lapse clear it): the overdue head ix_reviews_due.
        overdue=select(func.count())
        .select_from(Review)
        .where(_rare(Review.review_due_at < bindparam("now"), dialect)),
        jobs=select(JobRun.name, JobRun.last_finished_at, JobRun.last_error).order_by(JobRun.name),
        endpoints=select(endpoint, func.count()).group_by(endpoint),
    )


def families_of(conn: Connection, now: datetime, closed: dict[str, int]) -> list[Metric]:
    """Every gauge family the database holds, with the closed deals' latest count."""
    return [
        deals_by_stage(deal_counts(conn, OPEN) | closed),
        outbox_by_state(conn),
        inbound_waiting(conn),
        reviews_overdue(conn, now),
        *job_runs(conn),
        webhook_endpoints(conn),
    ]


def deal_counts(conn: Connection, stages: tuple[str, ...]) -> dict[str, int]:
    """Deals in each of `stages` (OPEN or CLOSED): an index-only count of their range of
    ix_deals_stage."""
    return dict.fromkeys(stages, 0) | {s: n for s, n in conn.execute(_of(conn).counts(stages))}


def deals_by_stage(counts: dict[str, int]) -> GaugeMetricFamily:
    """Deals in each stage (the closed stages as last counted)."""
    family = GaugeMetricFamily(
        "dealreg_deals",
        f"Deals in each stage; {', '.join(CLOSED)} counted at most {CLOSED_REFRESH_S:.0f} s ago.",
        labels=["stage"],
    )
    for stage in STAGES:
        family.add_metric([stage], counts.get(stage, 0))
    return family


def outbox_by_state(conn: Connection) -> GaugeMetricFamily:
    """Unsent outbox rows by kind and state; sent rows are counted by the deliverers."""
    family = GaugeMetricFamily(
        "dealreg_outbox_messages",
        "Outbox rows not sent, by kind (email, slack, webhook) and state: pending, retrying "
        "(failed before, due again), claimed (being sent) or failed (for good).",
        labels=["kind", "state"],
    )
    counts: dict[str, dict[str, int]] = {}
    for kind, name, count in conn.execute(_of(conn).outbox):
        counts.setdefault(kind, dict.fromkeys(OUTBOX_STATES, 0))[name] = count
    for kind, states in sorted(counts.items()):
        for name, count in states.items():
            family.add_metric([kind, name], count)
    return family


def inbound_waiting(conn: Connection) -> GaugeMetricFamily:
    """Inbound messages held for their sender's proof, and those our errors left to retry."""
    family = GaugeMetricFamily(
        "dealreg_inbound_messages",
        "Inbound messages waiting: held (for the sender's confirmation) or failed (an error "
        "of ours, retried each run).",
        labels=["state"],
    )
    counts = {"held": 0, "failed": 0} | {s: n for s, n in conn.execute(_of(conn).inbound)}
    for name, count in counts.items():
        family.add_metric([name], count)
    return family


def reviews_overdue(conn: Connection, now: datetime) -> GaugeMetricFamily:
    """Registrations awaiting the desk's decision past their due time."""
    family = GaugeMetricFamily(
        "dealreg_reviews_overdue",
        "Registrations awaiting the deal desk's decision past their due time.",
    )
    family.add_metric([], conn.execute(_of(conn).overdue, {"now": now}).scalar() or 0)
    return family


def job_runs(conn: Connection) -> list[GaugeMetricFamily]:
    """Each job's last finished run, and whether it failed (one row per job)."""
    finished = GaugeMetricFamily(
        "dealreg_job_last_finished_timestamp_seconds",
        "When each scheduled job last finished, in Unix seconds.",
        labels=["job"],
    )
    failed = GaugeMetricFamily(
        "dealreg_job_last_run_failed",
        "1 if each scheduled job's last run ended in an error, else 0.",
        labels=["job"],
    )
    for name, finished_at, error in conn.execute(_of(conn).jobs):
        if finished_at is not None:
            finished.add_metric([name], finished_at.timestamp())
        failed.add_metric([name], 0 if error is None else 1)
    return [finished, failed]


def webhook_endpoints(conn: Connection) -> GaugeMetricFamily:
    """Webhook endpoints by state: taking events, turned off by a 410 until an operator
    enables them, or taken out of the setting."""
    family = GaugeMetricFamily(
        "dealreg_webhook_endpoints",
        "Webhook endpoints by state: enabled, disabled (answered 410 Gone: off until "
        "`dealreg webhooks enable`) or removed (no longer in WEBHOOK_URLS).",
        labels=["state"],
    )
    counts = dict.fromkeys(("enabled", "disabled", "removed"), 0)
    counts |= {s: n for s, n in conn.execute(_of(conn).endpoints)}
    for name, count in counts.items():
        family.add_metric([name], count)
    return family
