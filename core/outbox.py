"""The transactional outbox: email written in the same transaction as its cause, rendered
and addressed when it is queued, then delivered after the commit (`core.delivery`). The
Message-ID is fixed when the row is written, so a repeat is recognisable."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import make_msgid
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from core.config import Settings
from core.db import table_of
from core.emails import render
from core.models import Deal, OutboxMessage, Quote
from core.uow import UnitOfWork


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
    routing = Routing(
        to=email.to,
        message_id=email.message_id or make_msgid(domain=domain),
        headers=_thread_headers(email.in_reply_to, email.references),
        deal_id=email.deal.id if email.deal is not None else None,
        dedupe_key=dedupe_key,
    )
    content = Content(
        template=email.template,
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        quote_id=_attached_quote(email),
    )
    return new_row("email", routing, content, now=now)


def _attached_quote(email: Email) -> int | None:
    """The quote an email hands over, whose PDF goes with it: the approval's, and each
    further quote asked for by email."""
    quote = email.context.get("quote")
    if not isinstance(quote, Quote):
        return None
    if email.template == "deal_approved" or email.context.get("command") == "quote":
        return quote.id
    return None


@dataclass(frozen=True)
class Routing:
    """Where an outbox message goes and how it is known on the way: its recipient and
    headers, its Message-ID, the key it is queued once under, its deal, how urgent it is."""

    to: str
    message_id: str
    headers: Mapping[str, Any] = field(default_factory=dict)
    deal_id: int | None = None
    dedupe_key: str | None = None
    priority: int = 0


@dataclass(frozen=True)
class Content:
    """What an outbox message says: its template, subject and bodies, and the quote whose
    PDF goes with it."""

    template: str
    subject: str
    body_text: str
    body_html: str | None = None
    quote_id: int | None = None


def new_row(kind: str, routing: Routing, content: Content, *, now: datetime) -> dict[str, Any]:
    """The values of a new outbox row of `kind` (email or slack), due now (every column)."""
    return {
        "kind": kind,
        "priority": routing.priority,
        "template": content.template,
        "dedupe_key": routing.dedupe_key,
        "deal_id": routing.deal_id,
        "to_addr": routing.to,
        "subject": content.subject,
        "body_text": content.body_text,
        "body_html": content.body_html,
        "headers": dict(routing.headers),
        "message_id": routing.message_id,
        "quote_id": content.quote_id,
        "created_at": now,
        "next_attempt_at": now,
        "attempts": 0,
        "claimed_at": None,
        "claimed_by": None,
        "sent_at": None,
        "failed_at": None,
        "last_error": None,
    }
