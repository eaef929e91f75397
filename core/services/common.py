"""What every service that changes a deal shares: the audit trail and notifications."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core import outbox
from core.config import Settings
from core.db import table_of
from core.fields import progress
from core.figures import MILESTONE_BITS
from core.locales import locale_for
from core.models import (
    Deal,
    DealEvent,
    OutboxMessage,
    Partner,
)
from core.services import webhook_events
from core.services.actors import Actor
from core.services.sla import due_line
from core.uow import UnitOfWork

log = logging.getLogger("core.deals")


@dataclass(frozen=True)
class Event:
    """One entry of a deal's audit trail: the action, the stages either side of it, and
    what else it records."""

    action: str
    from_stage: str | None
    to_stage: str | None
    details: Mapping[str, Any] = field(default_factory=dict)


def audit(uow: UnitOfWork, deal: Deal, actor: Actor, now: datetime, event: Event) -> None:
    """Log the deal's event, and add it to the audit trail when `uow` commits (with its
    webhooks, `core.services.webhook_events`)."""
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
    webhook_events.note(uow)
    bit = MILESTONE_BITS.get(event.action)
    if bit and deal.review is not None:  # for the report: what the deal ever reached
        deal.review.reached = (deal.review.reached or 0) | bit


@dataclass(frozen=True)
class Notice:
    """What a notification about a deal says: its template, and what it adds to the deal
    (an email's context, such as the quote it hands over; a Slack message's payload); for
    Slack, a `channel` instead of the review channel (the escalation channel, a route's)."""

    template: str
    details: Mapping[str, Any] = field(default_factory=dict)
    channel: str | None = None


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
    sla_reminder (to the review channel), sla_escalation (to `notice.channel`) and
    partner_dm (to the registering contact). `notice.channel` overrides the review channel.
    Nothing is queued while Slack is not configured, nor twice under one `dedupe_key`.
    """
    if not settings.slack_enabled:
        return
    template = notice.template
    if template == "partner_dm":
        to = deal.contact.slack_user_id
    elif notice.channel:
        to = notice.channel
    else:  # the review channel of the deal's route, else the setting's
        review = deal.review
        to = (review.route_channel if review else None) or settings.slack_review_channel
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
        "progress": progress(deal.stage, deal.withdrawn_from),
        # When the desk decides, in the partner's zone, while a decision is awaited.
        "decides_by": due_line(deal.review, partner, settings),
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
