"""Delivery of the outbox: a worker claims due rows, sends each, and records the outcome,
with retries and back-off. Delivery is at least once; a row's Message-ID was fixed when it
was queued (`core.outbox`), so a repeat is recognisable."""

from __future__ import annotations

import logging
import random
import smtplib
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from core.attachments import attachments_of
from core.config import Settings
from core.mailer import Mailer, build_message
from core.models import OutboxMessage
from core.uow import UowFactory

log = logging.getLogger("core.outbox")

STALE_CLAIM = timedelta(minutes=10)
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)


@dataclass
class DeliveryReport:
    """What a delivery did: rows sent, rows failed for good, rows to be tried again."""

    sent: int = 0
    failed: int = 0
    retrying: int = 0

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            self.sent + other.sent, self.failed + other.failed, self.retrying + other.retrying
        )

    @property
    def tried(self) -> int:
        """How many rows this delivery claimed and tried."""
        return self.sent + self.failed + self.retrying

    def count(self, outcome: str) -> None:
        """Count one row's outcome: sent, failed or retrying (a lost claim counts nowhere)."""
        self.sent += outcome == "sent"
        self.failed += outcome == "failed"
        self.retrying += outcome == "retrying"


@dataclass(frozen=True)
class Round:
    """One worker's round of delivery at one moment: which due rows it may claim, how many,
    and how many attempts a row gets before it fails for good."""

    worker_id: str
    now: datetime
    kind: str = "email"
    limit: int = 100
    # None: the settings' `outbox_max_attempts`, else 12.
    max_attempts: int | None = None
    # Only what people's actions queued (priority 0), not a batch's.
    urgent_only: bool = False
    # A claim older than this was a crashed worker's: it is taken over.
    stale_after: timedelta = STALE_CLAIM

    def attempts(self, settings: Settings | None = None) -> int:
        """Return the attempts a row gets: this round's, else the settings', else 12."""
        if self.max_attempts is not None:
            return self.max_attempts
        return settings.outbox_max_attempts if settings is not None else 12


def _due(round_: Round) -> ColumnElement[bool]:
    now = round_.now
    due = and_(
        OutboxMessage.kind == round_.kind,
        OutboxMessage.sent_at.is_(None),
        OutboxMessage.failed_at.is_(None),
        OutboxMessage.next_attempt_at <= now,
        or_(
            OutboxMessage.claimed_at.is_(None),
            OutboxMessage.claimed_at < now - round_.stale_after,
        ),
    )
    return and_(due, OutboxMessage.priority == 0) if round_.urgent_only else due


def claim_due(uow_factory: UowFactory, round_: Round) -> list[int]:
    """Claim up to the round's limit of due rows for its worker; no two workers get the
    same row."""
    due = _due(round_)
    with uow_factory() as uow:
        query = (
            select(OutboxMessage.id)
            .where(due)
            # What a person waits for first, then in the order each fell due.
            .order_by(OutboxMessage.priority, OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(round_.limit)
        )
        if uow.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        claimed: list[int] = []
        for row_id in uow.session.scalars(query).all():
            stmt = (
                update(OutboxMessage)
                .where(OutboxMessage.id == row_id, due)
                .values(claimed_at=round_.now, claimed_by=round_.worker_id)
                .execution_options(synchronize_session=False)
            )
            result = cast(CursorResult[Any], uow.session.execute(stmt))
            if result.rowcount == 1:
                claimed.append(row_id)
        uow.commit()
    return claimed


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    """Return the wait before the next attempt: 30 s doubling, capped at 1 h, plus jitter."""
    delay = min(BASE_DELAY * (1 << min(max(attempts - 1, 0), 20)), MAX_DELAY)
    jitter = (rng.uniform if rng is not None else random.uniform)(0, 0.1)
    return delay + delay * jitter


def _mailer_down(exc: BaseException) -> bool:
    """Tell whether an error means no message can go out now, not just this one."""
    return isinstance(
        exc,
        ConnectionError
        | TimeoutError
        | socket.gaierror
        | ssl.SSLError
        | smtplib.SMTPConnectError
        | smtplib.SMTPServerDisconnected
        | smtplib.SMTPAuthenticationError
        | smtplib.SMTPNotSupportedError,
    )


def _permanent(exc: BaseException) -> bool:
    """Tell whether retrying cannot help: the message itself or its recipient is refused."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPDataError):
        return exc.smtp_code >= 500
    return isinstance(exc, ValueError | TypeError | UnicodeError)


def _load(
    uow_factory: UowFactory, row_id: int, worker_id: str, sender: str, vendor_name: str
) -> EmailMessage | None:
    """Build the message of a row this worker still holds, else None."""
    with uow_factory() as uow:
        row = uow.session.get(OutboxMessage, row_id)
        if row is None or row.claimed_by != worker_id or row.sent_at is not None:
            return None
        attachments = attachments_of(uow.session, row, vendor_name)
        return build_message(row, sender, attachments)


def _record(
    uow_factory: UowFactory,
    row_id: int,
    round_: Round,
    error: BaseException | None,
    max_attempts: int,
) -> str:
    """Mark a row sent, or count the failed attempt and schedule the next; release it."""
    now = round_.now
    with uow_factory() as uow:
        row = uow.session.get(OutboxMessage, row_id, with_for_update=True)
        if row is None or row.claimed_by != round_.worker_id:
            return "lost"
        row.claimed_at = None
        row.claimed_by = None
        if error is None:
            row.sent_at = now
            outcome = "sent"
        else:
            row.attempts += 1
            row.last_error = f"{type(error).__name__}: {error}"[:2000]
            if row.attempts >= max_attempts or _permanent(error):
                row.failed_at = now
                outcome = "failed"
                log.error("outbox %s failed for good: %s", row_id, row.last_error)
            else:
                row.next_attempt_at = now + backoff(row.attempts)
                outcome = "retrying"
                log.warning("outbox %s attempt %s failed: %s", row_id, row.attempts, error)
        uow.commit()
    from core import metrics  # prometheus_client takes 80 ms to import: only where mail goes

    metrics.record_delivery(row.kind, outcome, now - row.created_at)
    return outcome


def deliver_due(
    uow_factory: UowFactory, mailer: Mailer, round_: Round, *, settings: Settings | None = None
) -> DeliveryReport:
    """Claim due email rows, send each over the mailer's connection, and record every
    outcome. The caller closes the mailer: one connection can serve many calls.

    The settings name the vendor on an attached quote and, unless the round says, how many
    attempts a row gets.
    """
    max_attempts = round_.attempts(settings)
    vendor_name = str((settings or Settings.model_construct()).vendor_name)
    report = DeliveryReport()
    down: BaseException | None = None
    for row_id in claim_due(uow_factory, round_):
        error = down
        if error is None:
            try:
                msg = _load(uow_factory, row_id, round_.worker_id, mailer.sender, vendor_name)
                if msg is None:
                    continue
                mailer.send(msg)
            except Exception as exc:  # every failure is recorded on the row
                error = exc
                # The server is unreachable: release the rest now rather than time out
                # once per row.
                down = exc if _mailer_down(exc) else None
        report.count(_record(uow_factory, row_id, round_, error, max_attempts))
    return report


def deliver_each(
    uow_factory: UowFactory, send: Callable[[int], None], round_: Round
) -> DeliveryReport:
    """Claim the round's due rows, hand each id to `send`, and record every outcome."""
    max_attempts = round_.attempts()
    report = DeliveryReport()
    for row_id in claim_due(uow_factory, round_):
        error: BaseException | None = None
        try:
            send(row_id)
        except Exception as exc:  # every failure is recorded on the row
            error = exc
        report.count(_record(uow_factory, row_id, round_, error, max_attempts))
    return report


def pending_counts(session: Session, *, kind: str | None = None) -> dict[str, int]:
    """Count outbox rows by state: pending, retrying, claimed, failed, sent."""
    state = case(
        (OutboxMessage.sent_at.is_not(None), "sent"),
        (OutboxMessage.failed_at.is_not(None), "failed"),
        (OutboxMessage.claimed_at.is_not(None), "claimed"),
        (OutboxMessage.attempts > 0, "retrying"),
        else_="pending",
    )
    query = select(state, func.count()).group_by(state)
    if kind is not None:
        query = query.where(OutboxMessage.kind == kind)
    counts = dict.fromkeys(("pending", "retrying", "claimed", "failed", "sent"), 0)
    for name, count in session.execute(query).all():
        counts[name] = count
    return counts


def requeue_failed(session: Session, now: datetime, ids: Sequence[int] | None = None) -> int:
    """Put failed rows back in the queue with fresh attempts; return how many."""
    stmt = (
        update(OutboxMessage)
        .where(OutboxMessage.failed_at.is_not(None), OutboxMessage.sent_at.is_(None))
        .values(failed_at=None, attempts=0, next_attempt_at=now, claimed_at=None, claimed_by=None)
        .execution_options(synchronize_session=False)
    )
    if ids is not None:
        stmt = stmt.where(OutboxMessage.id.in_(ids))
    return cast(CursorResult[Any], session.execute(stmt)).rowcount
