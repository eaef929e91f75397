"""Inbound email records: every message stored raw under a unique key before it is acted on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db import table_of
from core.errors import NotAllowed, NotFound
from core.models import InboundEmail, OutboxMessage
from core.uow import UnitOfWork

FINAL = frozenset(
    {"registered", "duplicate", "invalid", "ignored", "refused", "answered", "held", "lapsed"}
)
# Moved to Processed; the rest to Rejected. A held message may yet act, once confirmed.
ACCEPTED = frozenset({"registered", "duplicate", "answered", "held"})


@dataclass(frozen=True)
class Envelope:
    """What a message says about itself: its key (its identity), Message-ID, From, Subject."""

    key: str
    message_id: str | None
    sender: str | None
    subject: str | None


@dataclass(frozen=True)
class Place:
    """Where a message was fetched from: the mailbox, its UID there, and its size there."""

    mailbox: str | None
    uidvalidity: int | None
    uid: int | None
    size: int


def new(
    *, envelope: Envelope, place: Place, raw: bytes, now: datetime, proof: str | None = None
) -> InboundEmail:
    """A message as it came in, not stored yet; headers cut to what their columns hold."""
    message_id, sender = envelope.message_id, envelope.sender
    return InboundEmail(
        message_key=envelope.key[:998],
        message_id=(message_id or None) and message_id[:998],
        mailbox=place.mailbox,
        uidvalidity=place.uidvalidity,
        uid=place.uid,
        sender=(sender or None) and sender[:320],
        subject=(envelope.subject or "")[:998] or None,
        size=place.size,
        raw=raw,
        status="received",
        attempts=0,
        received_at=now,
        proof=proof,
    )


def store(uow: UnitOfWork, rows: list[InboundEmail]) -> list[InboundEmail]:
    """Keep a batch of new messages (from `new`) in one transaction; for each, the row kept.

    A message kept before (a replay: same key) is returned as it stands instead, and so is
    the first of two with one key in the batch.
    """
    session = uow.session
    keys = {r.message_key for r in rows}
    stmt = select(InboundEmail).where(InboundEmail.message_key.in_(keys))
    kept = {row.message_key: row for row in session.scalars(stmt)}
    out = []
    for row in rows:
        if row.message_key not in kept:
            kept[row.message_key] = row
            session.add(row)
        out.append(kept[row.message_key])
    try:
        uow.commit()
        return out
    except IntegrityError:
        # Another reader stored some of them meanwhile: store one by one.
        uow.rollback()
    return [_store_one(uow, row) for row in rows]


def _store_one(uow: UnitOfWork, row: InboundEmail) -> InboundEmail:
    """Keep one message in a transaction of its own, or return the one kept under its key."""
    session = uow.session
    existing = _by_key(session, row.message_key)
    if existing is not None:
        return existing
    fresh = InboundEmail(**{c.key: getattr(row, c.key) for c in _COLUMNS if c.key != "id"})
    session.add(fresh)
    try:
        uow.commit()
        return fresh
    except IntegrityError:
        uow.rollback()  # stored by another reader between the lookup and the insert
    existing = _by_key(session, row.message_key)
    assert existing is not None
    return existing


_COLUMNS = table_of(InboundEmail).columns


def _by_key(session: Session, key: str) -> InboundEmail | None:
    return session.scalar(select(InboundEmail).where(InboundEmail.message_key == key[:998]))


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
    if not row.raw:  # the retention job or an erasure dropped them (docs/privacy.md)
        raise NotAllowed(f"inbound message {row_id} has no bytes left to run again", field="id")
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


def hold(
    session: Session, row: InboundEmail, token: str, until: datetime, now: datetime, reason: str
) -> None:
    """Keep a message from an unproven sender until its sender confirms it (or `until`)."""
    finish(session, row, "held", now, reason=reason)
    row.hold_token = token
    row.held_until = until


def held_for(session: Session, tokens: list[str]) -> InboundEmail | None:
    """The message held under one of these confirmation tokens, if any."""
    if not tokens:
        return None
    return session.scalar(select(InboundEmail).where(InboundEmail.hold_token.in_(tokens)))


def release(session: Session, row: InboundEmail, confirmed_by: int, now: datetime) -> None:
    """Queue a held message again as proven: its sender confirmed it by a threaded reply."""
    row.status = "received"
    row.proof = "confirmed"
    row.reason = f"confirmed by the sender's reply (inbound {confirmed_by})"
    row.handled_at = now


def released(session: Session, limit: int = 500) -> list[int]:
    """Stored messages due again that are no longer in the mailbox (confirmed, or retried)."""
    stmt = (
        select(InboundEmail.id)
        .where(InboundEmail.status == "received", InboundEmail.moved_to.is_not(None))
        .order_by(InboundEmail.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def lapse_held(uow: UnitOfWork, now: datetime) -> int:
    """Record as `lapsed` every held message whose confirmation did not come in time."""
    stmt = (
        update(InboundEmail)
        .where(InboundEmail.status == "held", InboundEmail.held_until <= now)
        .values(status="lapsed", reason="not confirmed by its sender in time", handled_at=now)
    )
    result = uow.session.execute(stmt.execution_options(synchronize_session=False))
    uow.commit()
    return int(cast(CursorResult[Any], result).rowcount or 0)
