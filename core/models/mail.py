"""The mail rows: every inbound message as received, and the outbox of notifications."""

# No `from __future__ import annotations`: see core/models/__init__.py.

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, intpk, str40


class InboundEmail(Base):
    """Every message the intake received, raw, keyed so it is handled exactly once."""

    __tablename__ = "inbound_emails"
    __table_args__ = (
        Index("ix_inbound_status", "status"),
        UniqueConstraint("hold_token", name="uq_inbound_emails_hold_token"),
    )
    id: Mapped[intpk]
    message_key: Mapped[str] = mapped_column(String(998), unique=True)
    message_id: Mapped[str | None] = mapped_column(String(998))
    mailbox: Mapped[str | None] = mapped_column(String(200))
    uidvalidity: Mapped[int | None]
    uid: Mapped[int | None]
    sender: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(998))
    size: Mapped[int]
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    # received | registered | duplicate | invalid | ignored | refused | answered | held | lapsed
    status: Mapped[str] = mapped_column(String(20), default="received")
    reason: Mapped[str | None] = mapped_column(Text)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime]
    handled_at: Mapped[datetime | None]
    moved_to: Mapped[str | None] = mapped_column(String(40))
    # How the sender was proven: dkim | authserv | confirmed | off (the check turned off).
    proof: Mapped[str | None] = mapped_column(String(20))
    # A held message waits for its sender's threaded reply to a confirmation carrying this.
    hold_token: Mapped[str | None] = mapped_column(String(64))
    held_until: Mapped[datetime | None]


class OutboxMessage(Base):
    """A notification written in the same transaction as its cause; a worker delivers it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "sent_at", "next_attempt_at"),
        # Replies to one address in the last hour: the intake's loop guard.
        Index("ix_outbox_to_created", "to_addr", "created_at"),
    )
    id: Mapped[intpk]
    kind: Mapped[str] = mapped_column(String(10), default="email")  # email | slack | webhook
    # 0: caused by a person just now, sent first; 1: a batch's mail (see UnitOfWork.background).
    priority: Mapped[int] = mapped_column(SmallInteger, default=0, server_default=text("0"))
    template: Mapped[str40]
    dedupe_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"))
    to_addr: Mapped[str] = mapped_column(String(998))
    subject: Mapped[str] = mapped_column(String(998))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    message_id: Mapped[str] = mapped_column(String(998))
    # The quote whose PDF goes with this email, rendered when it is sent (same bytes).
    quote_id: Mapped[int | None] = mapped_column(ForeignKey("quotes.id"))
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # A webhook is retried until a day after this (its first attempt).
    first_attempt_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    sent_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
