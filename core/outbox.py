"""The transactional outbox: email written in the same transaction as its cause, then
claimed and delivered by a worker, with retries and back-off. Delivery is at least once;
the Message-ID is fixed when the row is written, so a repeat is recognisable."""

from __future__ import annotations

import logging
import random
import smtplib
import socket
import ssl
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from core.config import Settings
from core.db import table_of
from core.emails import render
from core.mailer import Attachment, Mailer, build_message
from core.models import Deal, OutboxMessage, Quote
from core.uow import UnitOfWork, UowFactory

log = logging.getLogger(__name__)

STALE_CLAIM = timedelta(minutes=10)
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)


@dataclass
class DeliveryReport:
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


def _angle(message_id: str) -> str:
    message_id = message_id.strip()
    return message_id if message_id.startswith("<") else f"<{message_id}>"


def _thread_headers(
    in_reply_to: str | None, references: str | Sequence[str] | None
) -> dict[str, str]:
    refs = references.split() if isinstance(references, str) else list(references or [])
    refs = [_angle(r) for r in refs]
    headers = {"Auto-Submitted": "auto-replied" if in_reply_to else "auto-generated"}
    if in_reply_to:
        headers["In-Reply-To"] = _angle(in_reply_to)
        if headers["In-Reply-To"] not in refs:
            refs.append(headers["In-Reply-To"])
    if refs:
        headers["References"] = " ".join(refs)
    # Ask Exchange and friends not to answer us with out-of-office replies.
    headers["X-Auto-Response-Suppress"] = "All"
    return headers


def _by_key(session: Session, dedupe_key: str) -> OutboxMessage | None:
    query = select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)
    return session.scalars(query).first()


@dataclass(frozen=True)
class Email:
    """One email to render and queue: its template and context, its reader, its thread."""

    template: str
    to: str
    context: Mapping[str, Any]
    locale: str
    deal: Deal | None = None
    in_reply_to: str | None = None
    references: str | Sequence[str] | None = None
    tz: str = "UTC"
    # Given when a reply must be recognised by it (a confirmation request carries its
    # secret token there); otherwise a new one is made.
    message_id: str | None = None


def enqueue(
    uow: UnitOfWork,
    email: Email,
    *,
    now: datetime,
    settings: Settings,
    dedupe_key: str | None = None,
) -> bool:
    """Render an email and add it to the outbox when `uow` commits; False, and nothing
    added, when an email under `dedupe_key` is queued already (written or waiting in `uow`).

    Two transactions racing with one key both find it free: the second to commit fails on
    the key's unique index, and its caller tries again (by then the key is taken).
    """
    if dedupe_key is not None and queued(uow, dedupe_key):
        return False
    if email.deal is not None and email.deal.id is None:
        uow.session.flush()
    values = compose(email, now=now, settings=settings, dedupe_key=dedupe_key)
    uow.add(table_of(OutboxMessage), {**values, "priority": priority_of(uow)})
    return True


def priority_of(uow: UnitOfWork) -> int:
    """0 for what a person's action queues, sent first; 1 for a background batch's mail."""
    return 1 if uow.background else 0


def queued(uow: UnitOfWork, dedupe_key: str) -> bool:
    """Whether a message under `dedupe_key` is in the outbox or waiting in `uow` to be."""
    waiting = uow.added(table_of(OutboxMessage))
    return any(row["dedupe_key"] == dedupe_key for row in waiting) or (
        _by_key(uow.session, dedupe_key) is not None
    )


# Built once: the intake runs it before every reply it sends.
_REPLIES_SINCE = (
    select(func.count())
    .select_from(OutboxMessage)
    .where(
        OutboxMessage.to_addr == bindparam("to"),
        OutboxMessage.created_at >= bindparam("since"),
        OutboxMessage.template.in_(bindparam("templates", expanding=True)),
    )
)


def replies_since(uow: UnitOfWork, to: str, since: datetime, templates: Iterable[str]) -> int:
    """Count the emails of these templates queued to `to` since `since` (sent or not, and
    those waiting in `uow`)."""
    wanted = set(templates)
    waiting = sum(
        1
        for row in uow.added(table_of(OutboxMessage))
        if row["to_addr"] == to and row["template"] in wanted and row["created_at"] >= since
    )
    params = {"to": to, "since": since, "templates": sorted(wanted)}
    return waiting + int(uow.session.scalar(_REPLIES_SINCE, params) or 0)


def compose(
    email: Email, *, now: datetime, settings: Settings, dedupe_key: str | None = None
) -> dict[str, Any]:
    """Render an email into the values of its outbox row."""
    if "\n" in email.to or "\r" in email.to:
        raise ValueError("recipient must be a single line")
    ctx = {
        "vendor_name": settings.vendor_name,
        "base_url": settings.base_url,
        "intake_address": settings.intake_address,
        **email.context,
    }
    if email.deal is not None:
        ctx.setdefault("deal", email.deal)
    rendered = render(email.template, ctx, locale=email.locale, tz=email.tz)
    domain = settings.intake_address.rpartition("@")[2] or "dealreg.localhost"
    return new_row(
        kind="email",
        template=email.template,
        to=email.to,
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        headers=_thread_headers(email.in_reply_to, email.references),
        message_id=email.message_id or make_msgid(domain=domain),
        now=now,
        deal_id=email.deal.id if email.deal is not None else None,
        dedupe_key=dedupe_key,
        quote_id=_attached_quote(email),
    )


def _attached_quote(email: Email) -> int | None:
    """The quote an email hands over, whose PDF goes with it: the approval's, and each
    further quote asked for by email."""
    quote = email.context.get("quote")
    if not isinstance(quote, Quote):
        return None
    if email.template == "deal_approved" or email.context.get("command") == "quote":
        return quote.id
    return None


def new_row(
    *,
    kind: str,
    template: str,
    to: str,
    subject: str,
    body_text: str,
    body_html: str | None,
    headers: dict[str, Any],
    message_id: str,
    now: datetime,
    deal_id: int | None,
    dedupe_key: str | None = None,
    priority: int = 0,
    quote_id: int | None = None,
) -> dict[str, Any]:
    """The values of a new outbox row, due now (every column)."""
    return {
        "kind": kind,
        "priority": priority,
        "template": template,
        "dedupe_key": dedupe_key,
        "deal_id": deal_id,
        "to_addr": to,
        "subject": subject,
        "body_text": body_text,
        "body_html": body_html,
        "headers": headers,
        "message_id": message_id,
        "quote_id": quote_id,
        "created_at": now,
        "next_attempt_at": now,
        "attempts": 0,
        "claimed_at": None,
        "claimed_by": None,
        "sent_at": None,
        "failed_at": None,
        "last_error": None,
    }


def _due(now: datetime, kind: str, stale_after: timedelta) -> ColumnElement[bool]:
    return and_(
        OutboxMessage.kind == kind,
        OutboxMessage.sent_at.is_(None),
        OutboxMessage.failed_at.is_(None),
        OutboxMessage.next_attempt_at <= now,
        or_(OutboxMessage.claimed_at.is_(None), OutboxMessage.claimed_at < now - stale_after),
    )


def claim_due(
    uow_factory: UowFactory,
    now: datetime,
    worker_id: str,
    limit: int,
    *,
    kind: str = "email",
    stale_after: timedelta = STALE_CLAIM,
    urgent_only: bool = False,
) -> list[int]:
    """Claim up to `limit` due rows for this worker; no two workers get the same row.

    `urgent_only` claims only what people's actions queued (priority 0), not a batch's.
    """
    due = _due(now, kind, stale_after)
    if urgent_only:
        due = and_(due, OutboxMessage.priority == 0)
    with uow_factory() as uow:
        query = (
            select(OutboxMessage.id)
            .where(due)
            # What a person waits for first, then in the order each fell due.
            .order_by(OutboxMessage.priority, OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
        )
        if uow.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        claimed: list[int] = []
        for row_id in uow.session.scalars(query).all():
            stmt = (
                update(OutboxMessage)
                .where(OutboxMessage.id == row_id, due)
                .values(claimed_at=now, claimed_by=worker_id)
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
        attachments = []
        if row.quote_id is not None:
            from core import quote_pdf  # reportlab takes 0.15 s to import: only to draw one

            quote = uow.session.get_one(Quote, row.quote_id)
            pdf = Attachment(
                quote_pdf.filename(quote), "application/pdf", quote_pdf.render(quote, vendor_name)
            )
            attachments.append(pdf)
        return build_message(row, sender, attachments)


def _record(
    uow_factory: UowFactory,
    row_id: int,
    worker_id: str,
    now: datetime,
    error: BaseException | None,
    max_attempts: int,
) -> str:
    """Mark a row sent, or count the failed attempt and schedule the next; release it."""
    with uow_factory() as uow:
        row = uow.session.get(OutboxMessage, row_id, with_for_update=True)
        if row is None or row.claimed_by != worker_id:
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
    return outcome


def deliver_due(
    uow_factory: UowFactory,
    mailer: Mailer,
    now: datetime,
    worker_id: str,
    limit: int = 100,
    max_attempts: int | None = None,
    *,
    kind: str = "email",
    settings: Settings | None = None,
) -> DeliveryReport:
    """Claim due email rows, send each over the mailer's connection, and record every
    outcome. The caller closes the mailer: one connection can serve many calls.

    `max_attempts` defaults to the settings' `outbox_max_attempts`, else 12.
    """
    if max_attempts is None:
        max_attempts = settings.outbox_max_attempts if settings is not None else 12
    vendor_name = str((settings or Settings.model_construct()).vendor_name)
    report = DeliveryReport()
    ids = claim_due(uow_factory, now, worker_id, limit, kind=kind)
    down: BaseException | None = None
    for row_id in ids:
        error = down
        if error is None:
            try:
                msg = _load(uow_factory, row_id, worker_id, mailer.sender, vendor_name)
                if msg is None:
                    continue
                mailer.send(msg)
            except Exception as exc:  # every failure is recorded on the row
                error = exc
                # The server is unreachable: release the rest now rather than time out
                # once per row.
                down = exc if _mailer_down(exc) else None
        outcome = _record(uow_factory, row_id, worker_id, now, error, max_attempts)
        report.sent += outcome == "sent"
        report.failed += outcome == "failed"
        report.retrying += outcome == "retrying"
    return report


def deliver_each(
    uow_factory: UowFactory,
    send: Callable[[int], None],
    now: datetime,
    worker_id: str,
    *,
    kind: str,
    limit: int = 100,
    max_attempts: int = 12,
    urgent_only: bool = False,
) -> DeliveryReport:
    """Claim due rows of `kind`, hand each id to `send`, and record every outcome."""
    report = DeliveryReport()
    claimed = claim_due(uow_factory, now, worker_id, limit, kind=kind, urgent_only=urgent_only)
    for row_id in claimed:
        error: BaseException | None = None
        try:
            send(row_id)
        except Exception as exc:  # every failure is recorded on the row
            error = exc
        outcome = _record(uow_factory, row_id, worker_id, now, error, max_attempts)
        report.sent += outcome == "sent"
        report.failed += outcome == "failed"
        report.retrying += outcome == "retrying"
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
