"""Inbound email records: every message stored raw under a unique key before it is acted on."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import NotFound
from core.models import InboundEmail, OutboxMessage
from core.uow import UnitOfWork

FINAL = frozenset({"registered", "duplicate", "invalid", "ignored", "refused", "answered"})
ACCEPTED = frozenset({"registered", "duplicate", "answered"})


@dataclass(frozen=True)
class Stored:
    id: int
    status: str
    moved_to: str | None
    new: bool
    # The stored row itself, kept referenced while its session handles the message.
    row: InboundEmail | None = field(default=None, compare=False, repr=False)


def store(
    uow: UnitOfWork,
    *,
    key: str,
    raw: bytes,
    message_id: str | None,
    sender: str | None,
    subject: str | None,
    mailbox: str | None,
    uidvalidity: int | None,
    uid: int | None,
    size: int,
    now: datetime,
) -> Stored:
    """Keep the message under `key`; a message already kept is returned as it stands."""
    session = uow.session
    # Insert first: a new message is the common case, a replay the exception.
    arrival = Arrival(key, raw, message_id, sender, subject, mailbox, uidvalidity, uid, size)
    row = _new_row(arrival, now)
    session.add(row)
    try:
        uow.commit()
        return Stored(row.id, row.status, None, True)
    except IntegrityError:
        uow.rollback()  # kept before (a replay), or another reader stored it first
    existing = _by_key(session, key)
    assert existing is not None
    return Stored(existing.id, existing.status, existing.moved_to, False)


@dataclass(frozen=True)
class Arrival:
    """One message as it came in, ready to be stored."""

    key: str
    raw: bytes
    message_id: str | None
    sender: str | None
    subject: str | None
    mailbox: str | None
    uidvalidity: int | None
    uid: int | None
    size: int


def store_many(uow: UnitOfWork, arrivals: list[Arrival], now: datetime) -> list[Stored]:
    """Keep a batch of messages in one transaction; those kept before are returned as they stand.

    The same key twice in one batch is stored once: the second is returned as kept before.
    """
    session = uow.session
    keys = {a.key[:998] for a in arrivals}
    known = {
        row.message_key: row
        for row in session.scalars(select(InboundEmail).where(InboundEmail.message_key.in_(keys)))
    }
    rows: list[tuple[InboundEmail, bool]] = []
    for arrival in arrivals:
        row = known.get(arrival.key[:998])
        if row is None:
            row = known[arrival.key[:998]] = _new_row(arrival, now)
            session.add(row)
            rows.append((row, True))
        else:
            rows.append((row, False))
    try:
        uow.commit()
    except IntegrityError:
        # Another reader stored some of them meanwhile: store one by one.
        uow.rollback()
        return [store(uow, **_fields(a), now=now) for a in arrivals]
    return [Stored(row.id, row.status, row.moved_to, new, row) for row, new in rows]


def _new_row(a: Arrival, now: datetime) -> InboundEmail:
    return InboundEmail(
        message_key=a.key[:998],
        message_id=(a.message_id or None) and a.message_id[:998],
        mailbox=a.mailbox,
        uidvalidity=a.uidvalidity,
        uid=a.uid,
        sender=(a.sender or None) and a.sender[:320],
        subject=(a.subject or "")[:998] or None,
        size=a.size,
        raw=a.raw,
        status="received",
        attempts=0,
        received_at=now,
    )


def _fields(a: Arrival) -> dict[str, Any]:
    return {f.name: getattr(a, f.name) for f in fields(a)}


def _by_key(session: Session, key: str) -> InboundEmail | None:
    return session.scalar(select(InboundEmail).where(InboundEmail.message_key == key[:998]))


def content_key(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def finish(
    session: Session,
    row: InboundEmail,
    status: str,
    now: datetime,
    *,
    reason: str | None = None,
    deal_id: int | None = None,
) -> None:
    """Record the outcome in the caller's transaction (with the deal and reply it caused)."""
    row.status = status
    row.reason = reason
    row.deal_id = deal_id
    row.handled_at = now


def record_failure(uow: UnitOfWork, row_id: int, error: str) -> None:
    """Count a system failure; the message stays `received` and is tried again."""
    row = uow.session.get(InboundEmail, row_id)
    if row is not None:
        row.attempts += 1
        row.reason = error[:2000]
        uow.commit()


def mark_moved(uow: UnitOfWork, row_id: int, folder: str) -> None:
    row = uow.session.get(InboundEmail, row_id)
    if row is not None:
        row.moved_to = folder
        uow.commit()


def mark_moved_many(uow: UnitOfWork, row_ids: list[int], folder: str) -> None:
    """Record that these messages were moved to `folder`, in one statement."""
    if row_ids:
        stmt = update(InboundEmail).where(InboundEmail.id.in_(row_ids)).values(moved_to=folder)
        uow.session.execute(stmt.execution_options(synchronize_session=False))
        uow.commit()


def reset(uow: UnitOfWork, row_id: int) -> InboundEmail:
    """Put a stored message back in the queue (after a fix), keeping its history in `reason`."""
    row = uow.session.get(InboundEmail, row_id)
    if row is None:
        raise NotFound(f"no inbound message {row_id}", field="id")
    row.status = "received"
    row.handled_at = None
    uow.commit()
    return row


def listing(session: Session, status: str | None, limit: int = 200) -> list[InboundEmail]:
    stmt = select(InboundEmail).order_by(InboundEmail.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(InboundEmail.status == status)
    return list(session.scalars(stmt))


def thread_deal(session: Session, references: list[str]) -> OutboxMessage | None:
    """The email of ours (with its deal) that a reply answers, by its Message-ID."""
    refs = [r.strip() for r in references if r.strip()]
    if not refs:
        return None
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.message_id.in_(refs), OutboxMessage.deal_id.is_not(None))
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )
    return session.scalar(stmt)
