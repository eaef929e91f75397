"""What a webhook says and how it is signed: the event types of the audit trail's actions,
the payload, its `webhook-id`, the Standard Webhooks headers and the retry schedule (pure:
no session, no clock, no I/O)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from standardwebhooks import Webhook

# Each audit action that is an event of the SPEC's list, and the types it is sent as. An
# approval makes the deal's quote, and an approved amendment a new one: each is also a
# `quote.created`, sent after the deal's event.
TYPES: Mapping[str, tuple[str, ...]] = {
    "register": ("deal.registered",),
    "approve": ("deal.approved", "quote.created"),
    "reject": ("deal.rejected",),
    "return": ("deal.returned",),
    "amend": ("deal.amended",),
    "amend_approved": ("deal.amended", "quote.created"),
    "amend_requested": ("deal.amendment_requested",),
    "withdraw": ("deal.withdrawn",),
    "expire": ("deal.expired",),
    # A granted extension records `grant_extension` and then, with the new end date, this.
    "protection_extended": ("deal.extended",),
    "start_order": ("deal.order_started",),
    "submit_order": ("deal.order_submitted",),
    "quote": ("quote.created",),
}
EVENT_TYPES = tuple(dict.fromkeys(t for types in TYPES.values() for t in types))
PING = "webhook.ping"

# The waits between attempts; the last is repeated. No attempt is made later than a day
# after the first: the one that would be is made at the day's end, and if it fails too,
# the delivery has failed.
SCHEDULE = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
)
RETRY_FOR = timedelta(days=1)


def types_of(action: str) -> tuple[str, ...]:
    """The webhook types an audit action is sent as (none for the trail's other entries)."""
    return TYPES.get(action, ())


def payload(
    kind: str, at: datetime, deal: Mapping[str, Any], extra: Mapping[str, Any]
) -> dict[str, Any]:
    """The body of one event: `type`, `timestamp` and `data` (the deal's view with what the
    event adds to it: `sequence`, and `quote` for a quote.created)."""
    return {"type": kind, "timestamp": at.isoformat(), "data": {**deal, **extra}}


def body(content: Mapping[str, Any]) -> str:
    """The JSON text sent (and signed) for a payload, the same on every attempt."""
    return json.dumps(content, ensure_ascii=False, separators=(",", ":"), default=str)


def message_id(sequence: int, kind: str, endpoint_id: int) -> str:
    """The `webhook-id` of an event for an endpoint: the same on every attempt, so a
    receiver that has seen it can tell a repeat."""
    return f"msg_{sequence}_{kind.replace('.', '_')}_e{endpoint_id}"


def signed_headers(secret: str, msg_id: str, content: str, sent_at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of a request sent at `sent_at`."""
    signature = Webhook(secret).sign(msg_id, sent_at, content.encode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


def next_attempt(first: datetime, attempts: int, failed_at: datetime) -> datetime | None:
    """When to try again after the `attempts`-th attempt failed at `failed_at`; None when
    the day since the first attempt is over (the delivery has failed)."""
    deadline = first + RETRY_FOR
    if failed_at >= deadline:
        return None
    wait = SCHEDULE[min(max(attempts, 1), len(SCHEDULE)) - 1]
    return min(failed_at + wait, deadline)


def gone(status: int | None) -> bool:
    """Whether an answer means the endpoint wants no more events (410 Gone)."""
    return status == 410
