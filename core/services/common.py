"""What every service shares: the acting person, deal loading with visibility, the audit trail
and notifications."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import outbox
from core.config import Settings
from core.db import table_of
from core.errors import NotAllowed, NotFound
from core.fields import progress
from core.locales import locale_for
from core.models import (
    Contact,
    Deal,
    DealEvent,
    OutboxMessage,
    Partner,
    Reviewer,
    deal_number,
)
from core.stages import required_role
from core.uow import UnitOfWork

log = logging.getLogger("core.deals")


@dataclass(frozen=True)
class Actor:
    """Who is acting, resolved at the edge: a partner contact, a reviewer or the system."""

    kind: str  # partner | reviewer | system
    email: str
    name: str
    channel: str  # slack | email | cli | system
    partner_id: int | None = None
    contact_id: int | None = None
    slack_user_id: str | None = None

    @property
    def is_reviewer(self) -> bool:
        return self.kind == "reviewer"


SYSTEM = Actor(kind="system", email="system", name="dealreg", channel="system")


def identify(
    session: Session,
    *,
    channel: str,
    email: str | None = None,
    slack_user_id: str | None = None,
) -> Actor:
    """Resolve a person by Slack id or email to a partner contact or a reviewer.

    With a Slack id, an email matches only people bound to no Slack id: one bound to another
    Slack user is that user alone, whatever email a Slack profile shows.
    """
    for kind, row in (
        ("reviewer", _find(session, Reviewer, email, slack_user_id)),
        ("partner", _find(session, Contact, email, slack_user_id)),
    ):
        if row is not None:
            return Actor(
                kind=kind,
                email=row.email,
                name=row.name,
                channel=channel,
                partner_id=row.partner_id if isinstance(row, Contact) else None,
                contact_id=row.id if isinstance(row, Contact) else None,
                slack_user_id=row.slack_user_id,
            )
    who = email or slack_user_id or "this person"
    raise NotFound(
        f"{who} is not a registered partner contact or reviewer; ask your partner manager "
        "or the deal desk to add you",
        field="actor",
    )


_Person = TypeVar("_Person", Contact, Reviewer)


def _find(
    session: Session, model: type[_Person], email: str | None, slack_user_id: str | None
) -> _Person | None:
    row = None
    if slack_user_id:
        row = session.scalars(select(model).where(model.slack_user_id == slack_user_id)).first()
    if row is None and email:
        stmt = select(model).where(func.lower(model.email) == email.lower())
        if slack_user_id:
            stmt = stmt.where(model.slack_user_id.is_(None))
        row = session.scalars(stmt).first()
    return row


def require_role(actor: Actor, role: str, what: str) -> None:
    """Refuse unless `actor` has `role`, naming the missing right."""
    if role == "reviewer" and not actor.is_reviewer:
        raise NotAllowed(f"only reviewers can {what}", field="actor")
    if role == "partner" and actor.kind != "partner":
        raise NotAllowed(f"only the registering partner's contacts can {what}", field="actor")


def visible(actor: Actor, deal: Deal) -> bool:
    return actor.kind in ("reviewer", "system") or deal.partner_id == actor.partner_id


def load_deal(session: Session, actor: Actor, number: str, *, for_update: bool = False) -> Deal:
    """Load a deal by number; one the actor may not see is reported as not found."""
    key = number.strip().upper()
    if key.isdigit():
        key = deal_number(int(key))
    stmt = select(Deal).where(Deal.number == key)
    if for_update:
        stmt = stmt.with_for_update(of=Deal)
    deal = session.scalar(stmt)
    if deal is None or not visible(actor, deal):
        raise NotFound(f"no deal {key}", field="deal")
    return deal


def authorise(actor: Actor, deal: Deal, action: str) -> None:
    """Refuse `action` on `deal` unless `actor` has the role the stage machine names for it;
    a partner's move is refused as not found on another partner's deal."""
    role = required_role(action)
    if role in ("partner", "reviewer"):
        require_role(actor, role, _WHAT.get(action, action))
    if role == "partner" and deal.partner_id != actor.partner_id:
        raise NotFound(f"no deal {deal.number}", field="deal")


_WHAT = {
    "approve": "approve registrations",
    "reject": "reject registrations",
    "return": "return registrations for information",
    "grant_extension": "grant extensions",
    "decline_extension": "decline extensions",
    "start_order": "advance this deal",
    "submit_order": "advance this deal",
    "request_extension": "request an extension",
    "answer": "answer for this deal",
}


@dataclass(frozen=True)
class Event:
    """One entry of a deal's audit trail: the action, the stages either side of it, and
    what else it records."""

    action: str
    from_stage: str | None
    to_stage: str | None
    details: Mapping[str, Any] = field(default_factory=dict)


def audit(uow: UnitOfWork, deal: Deal, actor: Actor, now: datetime, event: Event) -> None:
    """Log the deal's event, and add it to the audit trail when `uow` commits."""
    log.info(
        "%s %s -> %s by %s via %s",
        event.action,
        event.from_stage or "-",
        event.to_stage or "-",
        actor.email,
        actor.channel,
        extra={"deal": deal.number},
    )
    if deal.id is None:
        uow.session.flush()
    row = {
        "deal_id": deal.id,
        "at": now,
        "actor": actor.email,
        "channel": actor.channel,
        "action": event.action,
        "from_stage": event.from_stage,
        "to_stage": event.to_stage,
        "details": dict(event.details),
    }
    uow.add(table_of(DealEvent), row)


@dataclass(frozen=True)
class Notice:
    """What a notification about a deal says: its template, and what it adds to the deal
    (an email's context, such as the quote it hands over; a Slack message's payload)."""

    template: str
    details: Mapping[str, Any] = field(default_factory=dict)


def notify_slack(
    uow: UnitOfWork,
    deal: Deal,
    notice: Notice,
    *,
    now: datetime,
    settings: Settings,
    dedupe_key: str | None = None,
) -> None:
    """Queue a Slack notification about `deal` when `uow` commits; the Slack adapter renders
    and delivers it.

    Templates: review_request, review_update, extension_request, partner_answer,
    reviewer_nudge (to the review channel) and partner_dm (to the registering contact).
    Nothing is queued while Slack is not configured, nor twice under one `dedupe_key`.
    """
    if not settings.slack_enabled:
        return
    template = notice.template
    to = deal.contact.slack_user_id if template == "partner_dm" else settings.slack_review_channel
    if not to or (dedupe_key is not None and outbox.queued(uow, dedupe_key)):
        return  # a contact without a Slack account gets email only
    if deal.id is None:
        uow.session.flush()
    routing = outbox.Routing(
        to=to,
        message_id=f"slack-{uuid.uuid4()}",
        deal_id=deal.id,
        dedupe_key=dedupe_key,
        priority=outbox.priority_of(uow),
    )
    body = json.dumps(dict(notice.details), default=str)
    content = outbox.Content(template, subject=f"{template} {deal.number}", body_text=body)
    uow.add(table_of(OutboxMessage), outbox.new_row("slack", routing, content, now=now))


def notify_partner(
    uow: UnitOfWork,
    deal: Deal,
    notice: Notice,
    *,
    now: datetime,
    settings: Settings,
    dedupe_key: str | None = None,
) -> bool:
    """Queue an email to the deal's registering contact, in the deal's thread, when `uow`
    commits; False when one under `dedupe_key` is queued already."""
    partner: Partner = deal.partner
    context: dict[str, Any] = {
        "deal": deal,
        "quote": None,
        "partner": partner,
        "contact": deal.contact,
        "vendor_name": settings.vendor_name,
        "progress": progress(deal.stage),
        **notice.details,
    }
    thread = deal.thread_message_id
    email = outbox.Email(
        template=notice.template,
        to=deal.contact.email,
        context=context,
        locale=locale_for(partner.country, partner.locale),
        deal=deal,
        in_reply_to=thread,
        references=[thread] if thread else None,
    )
    return outbox.enqueue(uow, email, now=now, settings=settings, dedupe_key=dedupe_key)
