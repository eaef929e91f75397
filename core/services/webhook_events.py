"""Webhooks queued in the transaction of the change that caused them.

`audit` asks for it (`note`); just before the unit of work writes its rows, `queue` turns
each deal event of the SPEC's list into one outbox row of kind `webhook` per enabled
endpoint, carrying the deal as the transaction leaves it (`deals show --json`'s view, its
history up to the event) and the event's id as `sequence`. The events' ids are reserved
then, so each row knows its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core import outbox, webhooks
from core.db import reserve_ids, table_of
from core.models import Deal, DealEvent, OutboxMessage, Quote, WebhookEndpoint
from core.services.actors import SYSTEM
from core.services.views import deal_view, history_entry, quote_view
from core.uow import UnitOfWork
from core.webhook_endpoints import enabled


def note(uow: UnitOfWork) -> None:
    """Send the deal events `uow` records as webhooks, queued when it writes its rows."""
    uow.before_write("webhooks", queue)


def queue(uow: UnitOfWork) -> None:
    """Queue a webhook per event type and enabled endpoint for the deal events in `uow`."""
    events = uow.added(table_of(DealEvent))
    if not any(webhooks.types_of(e["action"]) for e in events):
        return
    session = uow.session
    endpoints = enabled(session)
    if not endpoints:
        return
    session.flush()  # the deals' rows as they stand, before reading them back
    for event, event_id in zip(events, reserve_ids(session, DealEvent, len(events)), strict=True):
        event["id"] = event_id
    fresh: set[int] = set()
    for index, event in enumerate(events):
        deal = session.get_one(Deal, event["deal_id"])
        if deal.id not in fresh:
            # Quotes made through a Core INSERT or after the deal was loaded, events written
            # by an earlier savepoint of this transaction.
            session.refresh(deal, ["quotes", "events"])
            fresh.add(deal.id)
        earlier = [e for e in events[: index + 1] if e["deal_id"] == deal.id]
        for kind in webhooks.types_of(event["action"]):
            extra = _extra(kind, event, deal)
            if extra is None:
                continue
            view = deal_view(deal, SYSTEM)
            view["history"] += [history_entry(DealEvent(**e)) for e in earlier]
            content = webhooks.payload(kind, event["at"], view, extra)
            for endpoint in endpoints:
                uow.add(table_of(OutboxMessage), _row(uow, deal, endpoint, event, content))


def _extra(kind: str, event: Mapping[str, Any], deal: Deal) -> dict[str, Any] | None:
    """What an event adds to the deal's view: its `sequence`, and a quote.created's quote
    (None: the event made no quote, as a first of two approvals)."""
    extra: dict[str, Any] = {"sequence": event["id"]}
    if kind != "quote.created":
        return extra
    quote = _made(event, deal)
    if quote is None:
        return None
    return {**extra, "quote": quote_view(quote)}


def _made(event: Mapping[str, Any], deal: Deal) -> Quote | None:
    """The quote an event made: the one it names, else (an approval) the last made with it."""
    number = event["details"].get("quote")
    made = [
        quote
        for quote in deal.quotes
        if ((quote.number == number) if number else (quote.created_at == event["at"]))
    ]
    return max(made, key=lambda quote: quote.id, default=None)


def _row(
    uow: UnitOfWork,
    deal: Deal,
    endpoint: WebhookEndpoint,
    event: Mapping[str, Any],
    content: Mapping[str, Any],
) -> dict[str, Any]:
    kind = content["type"]
    routing = outbox.Routing(
        to=endpoint.url,
        message_id=webhooks.message_id(event["id"], kind, endpoint.id),
        deal_id=deal.id,
        priority=outbox.priority_of(uow),
    )
    text = webhooks.body(content)
    message = outbox.Content(template=kind, subject=f"{kind} {deal.number}", body_text=text)
    return outbox.new_row("webhook", routing, message, now=event["at"])
