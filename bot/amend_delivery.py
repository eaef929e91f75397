"""Deliver what a deal's changes and its end add to the review channel: notes in the review
thread, and the amendment request, posted there once with its buttons and updated in place
once decided (its row keeps where it was posted, as an extension request's does)."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient
from slack_sdk.web import SlackResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import amend_cards, desk_cards
from core.config import Settings
from core.models import Deal, OutboxMessage
from core.services.amendment import amendment_preview

DECISIONS = ("amend_approved", "amend_declined")


def in_thread(
    client: WebClient, deal: Deal, body: dict[str, Any], fallback: str | None = None
) -> SlackResponse | None:
    """Reply in the review message's thread; before it is posted, in `fallback` if given."""
    if deal.slack_review_ts and deal.slack_review_channel:
        return client.chat_postMessage(
            channel=deal.slack_review_channel, thread_ts=deal.slack_review_ts, **body
        )
    if fallback:
        return client.chat_postMessage(channel=fallback, **body)
    return None


def review_event(session: Session, client: WebClient, deal: Deal, payload: dict[str, Any]) -> None:
    """The thread's side of a review update about a change, an end or a first of two
    approvals (the card is updated by the caller)."""
    event, by = payload.get("event"), str(payload.get("by") or "")
    if event == "amended":
        changes = amend_cards.changes_of(payload.get("changes") or {})
        in_thread(client, deal, amend_cards.amended_note(deal, changes, by))
    elif event in DECISIONS:
        _decided(session, client, deal, payload)
    elif event == "withdrawn":
        in_thread(client, deal, amend_cards.withdrawn_note(deal, by))
    elif event == "unblocked":
        in_thread(client, deal, amend_cards.unblocked_note(deal, str(payload.get("by_deal"))))
    elif event == "first_approval":
        in_thread(client, deal, desk_cards.first_approval_note(deal, by))


def post_request(
    session: Session,
    client: WebClient,
    settings: Settings,
    row: OutboxMessage,
    deal: Deal,
    payload: dict[str, Any],
) -> None:
    """Post the amendment request in the review thread once, keeping where it went."""
    if (row.headers or {}).get("ts"):
        return
    changes = amend_cards.changes_of(payload.get("changes") or {})
    priced = amendment_preview(session, deal, settings)
    body = amend_cards.amendment_message(deal, changes, priced, str(payload.get("by") or ""))
    posted = in_thread(client, deal, body, fallback=row.to_addr)
    if posted is not None:
        row.headers = {"channel": str(posted["channel"]), "ts": str(posted["ts"])}


def _decided(session: Session, client: WebClient, deal: Deal, payload: dict[str, Any]) -> None:
    """Replace the last posted request's buttons with the decision; else say it in the thread."""
    body = amend_cards.amendment_decided(deal, payload)
    posted = last_posted(session, deal, "amendment_request")
    if posted is not None:
        client.chat_update(channel=posted["channel"], ts=posted["ts"], **body)
    else:
        in_thread(client, deal, body)


def last_posted(session: Session, deal: Deal, template: str) -> dict[str, Any] | None:
    """Where the deal's last `template` message was posted (`channel`, `ts`), if it was."""
    requests = select(OutboxMessage).where(
        OutboxMessage.deal_id == deal.id,
        OutboxMessage.kind == "slack",
        OutboxMessage.template == template,
    )
    for request in session.scalars(requests.order_by(OutboxMessage.id.desc())):
        posted = request.headers or {}
        if posted.get("ts"):
            return dict(posted)
    return None
