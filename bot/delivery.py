"""Deliver the Slack rows of the outbox, rendered from the deal as it is now."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import messages
from core.models import Deal, OutboxMessage, Reviewer
from core.outbox import DeliveryReport, deliver_each
from core.services import quotes
from dealreg.wiring import App

log = logging.getLogger(__name__)

REVIEW_CHANNEL_TEMPLATES = ("review_request", "review_update", "partner_answer")


def deliver_slack_due(
    app: App, client: WebClient, now: datetime, worker_id: str, limit: int = 50
) -> DeliveryReport:
    """Claim due Slack rows, post or update each message, and record the outcome."""

    def send(row_id: int) -> None:
        _send(app, client, row_id, worker_id)

    return deliver_each(
        app.uow,
        send,
        now,
        worker_id,
        kind="slack",
        limit=limit,
        max_attempts=app.settings.outbox_max_attempts,
    )


def _send(app: App, client: WebClient, row_id: int, worker_id: str) -> None:
    with app.uow() as uow:
        row = uow.session.get(OutboxMessage, row_id)
        if row is None or row.claimed_by != worker_id or row.sent_at is not None:
            return
        deal = uow.session.get(Deal, row.deal_id) if row.deal_id else None
        if deal is None:
            raise ValueError(f"slack outbox row {row_id} has no deal")
        payload: dict[str, Any] = json.loads(row.body_text or "{}")
        if row.template in REVIEW_CHANNEL_TEMPLATES:
            _review(uow.session, client, app, deal, row.to_addr)
            if row.template == "partner_answer":
                _thread(client, deal, messages.answer_in_thread(deal, str(payload.get("answer"))))
        elif row.template == "extension_request":
            client.chat_postMessage(channel=row.to_addr, **messages.extension_request(deal))
        elif row.template == "reviewer_nudge":
            _thread(client, deal, messages.nudge(deal), fallback=row.to_addr)
        elif row.template == "partner_dm":
            _dm(client, row.to_addr, messages.partner_dm(deal, str(payload.get("event", ""))))
        else:
            raise ValueError(f"unknown slack template {row.template!r}")
        uow.commit()


def _review(session: Session, client: WebClient, app: App, deal: Deal, channel: str) -> None:
    """Post the review message once, then update it in place."""
    priced = None
    if deal.stage == "opportunity":
        priced = quotes.preview(
            deal.partner, deal.product, deal.number_of_users, app.settings, with_margin=True
        )
    names = {email: name for email, name in session.execute(select(Reviewer.email, Reviewer.name))}
    body = messages.review_message(deal, priced, names)
    if deal.slack_review_ts and deal.slack_review_channel:
        client.chat_update(channel=deal.slack_review_channel, ts=deal.slack_review_ts, **body)
        return
    response = client.chat_postMessage(channel=channel, **body)
    deal.slack_review_channel = str(response["channel"])
    deal.slack_review_ts = str(response["ts"])


def _thread(
    client: WebClient, deal: Deal, body: dict[str, Any], fallback: str | None = None
) -> None:
    if deal.slack_review_ts and deal.slack_review_channel:
        client.chat_postMessage(
            channel=deal.slack_review_channel, thread_ts=deal.slack_review_ts, **body
        )
    elif fallback:
        client.chat_postMessage(channel=fallback, **body)


def _dm(client: WebClient, user_id: str, body: dict[str, Any]) -> None:
    opened = client.conversations_open(users=user_id)
    channel = opened["channel"]["id"]
    client.chat_postMessage(channel=channel, **body)
