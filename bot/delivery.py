"""Deliver the Slack rows of the outbox, rendered from the deal as it is now.

The bot delivers right after a click and the worker every few seconds; either way a row
shows the same. The review message is posted once and then updated in place; so is an
extension request, whose channel and ts its row keeps once posted. A partner's DM keeps them
too, so a retry after its quote PDF failed to upload shares the PDF without posting again.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import partial
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import digest_message, notifications, sla_messages
from bot.amend_delivery import in_thread, last_posted, post_request, review_event
from bot.desk_cards import desk_clock
from bot.files import open_dm, share_quote
from core.config import Settings
from core.delivery import DeliveryReport, Round, deliver_each
from core.models import Contact, Deal, OutboxMessage, Reviewer
from core.ports import Runtime
from core.pricing import Priced
from core.services import quotes
from core.services.amendment import amendment_preview
from core.uow import UnitOfWork

REVIEW_CHANNEL_TEMPLATES = (
    "review_request",
    "review_update",
    "partner_answer",
    "amendment_request",
)
EXTENSION_DECISIONS = ("extension_granted", "extension_declined")


def deliver_slack_due(
    runtime: Runtime,
    client: WebClient,
    now: datetime,
    worker_id: str,
    limit: int = 50,
    *,
    urgent_only: bool = False,
) -> DeliveryReport:
    """Claim due Slack rows, post or update each message, and record the outcome;
    `urgent_only`: only those people's actions queued (see `core.delivery.Round`)."""
    round_ = Round(
        worker_id,
        now,
        kind="slack",
        limit=limit,
        max_attempts=runtime.settings.outbox_max_attempts,
        urgent_only=urgent_only,
    )
    return deliver_each(runtime.uow, partial(_send, runtime, client, worker_id), round_)


def _send(runtime: Runtime, client: WebClient, worker_id: str, row_id: int) -> None:
    with runtime.uow() as uow:
        row = uow.session.get(OutboxMessage, row_id)
        if row is None or row.claimed_by != worker_id or row.sent_at is not None:
            return
        if row.template == "desk_digest":  # about the desk, not a deal
            digest_message.post(client, row, row.body_text)
            uow.commit()
            return
        deal = uow.session.get(Deal, row.deal_id) if row.deal_id else None
        if deal is None:
            raise ValueError(f"slack outbox row {row_id} has no deal")
        payload: dict[str, Any] = json.loads(row.body_text or "{}")
        if row.template in REVIEW_CHANNEL_TEMPLATES:
            _review(uow.session, client, runtime, deal, row.to_addr)
            if row.template == "partner_answer":
                answer = notifications.answer_in_thread(deal, str(payload.get("answer")))
                in_thread(client, deal, answer)
            if row.template == "review_update" and payload.get("event") in EXTENSION_DECISIONS:
                _extension_decided(uow.session, client, deal, payload)
            elif row.template == "review_update":
                review_event(uow.session, client, deal, payload)
            if row.template == "amendment_request":
                post_request(uow.session, client, runtime.settings, row, deal, payload)
        elif row.template == "extension_request":
            body = notifications.extension_request(deal, str(payload.get("reason") or ""))
            posted = client.chat_postMessage(channel=row.to_addr, **body)
            row.headers = {"channel": str(posted["channel"]), "ts": str(posted["ts"])}
        elif row.template == "sla_reminder":
            in_thread(client, deal, sla_messages.reminder(deal, payload), fallback=row.to_addr)
        elif row.template == "sla_escalation":
            client.chat_postMessage(channel=row.to_addr, **sla_messages.escalation(deal, payload))
        elif row.template == "partner_dm":
            _partner_dm(uow, client, runtime.settings, row, deal, str(payload.get("event", "")))
        else:
            raise ValueError(f"unknown slack template {row.template!r}")
        uow.commit()


def _review(
    session: Session, client: WebClient, runtime: Runtime, deal: Deal, channel: str
) -> None:
    """Post the review message once (to the channel its row names: the deal's route's),
    then update it in place where it was posted."""
    settings = runtime.settings
    priced: Priced | None
    if deal.stage == "opportunity":
        priced = quotes.preview(
            deal.partner, deal.product, deal.number_of_users, settings, with_margin=True
        )
    else:  # the quote a pending amendment request would give, if one is pending
        priced = amendment_preview(session, deal, settings)
    reviewers = select(Reviewer.email, Reviewer.name)
    contacts = select(Contact.email, Contact.name).where(Contact.partner_id == deal.partner_id)
    names = {
        email: name for email, name in [*session.execute(contacts), *session.execute(reviewers)]
    }
    clock = desk_clock(settings, runtime.now())
    body = notifications.review_message(deal, priced, names, clock)
    if deal.slack_review_ts and deal.slack_review_channel:
        client.chat_update(channel=deal.slack_review_channel, ts=deal.slack_review_ts, **body)
        return
    response = client.chat_postMessage(channel=channel, **body)
    deal.slack_review_channel = str(response["channel"])
    deal.slack_review_ts = str(response["ts"])


def _extension_decided(
    session: Session, client: WebClient, deal: Deal, payload: dict[str, Any]
) -> None:
    """Replace the last posted extension request's buttons with the decision and who made it."""
    posted = last_posted(session, deal, "extension_request")
    if posted is not None:
        granted = payload["event"] == "extension_granted"
        body = notifications.extension_decided(deal, granted, str(payload.get("by", "")))
        client.chat_update(channel=posted["channel"], ts=posted["ts"], **body)


def _partner_dm(
    uow: UnitOfWork,
    client: WebClient,
    settings: Settings,
    row: OutboxMessage,
    deal: Deal,
    event: str,
) -> None:
    """DM the registering contact; on approval, share the deal's newest quote as a PDF.

    Where the DM went is committed to the row before the upload, so a retry after a failed
    upload only uploads.
    """
    posted = row.headers or {}
    if not posted.get("ts"):
        body = notifications.partner_dm(deal, event)
        answer = client.chat_postMessage(channel=open_dm(client, row.to_addr), **body)
        row.headers = posted = {"channel": str(answer["channel"]), "ts": str(answer["ts"])}
        uow.commit()
    if event in ("approved", "amend_approved") and deal.quotes:
        share_quote(client, posted["channel"], deal.quotes[-1], settings.vendor_name)
