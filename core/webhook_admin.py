"""What the operator sees of webhooks and does with them: each endpoint with its deliveries by
state, the failed deliveries, a retry of failed ones, and a ping to every endpoint."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, case, func, select, update
from sqlalchemy.orm import Session

from core import webhook_endpoints, webhooks
from core.models import OutboxMessage, WebhookEndpoint
from core.webhook_delivery import Attempt, Sending

STATES = ("pending", "retrying", "claimed", "failed", "sent")
_STATE = case(
    (OutboxMessage.sent_at.is_not(None), "sent"),
    (OutboxMessage.failed_at.is_not(None), "failed"),
    (OutboxMessage.claimed_at.is_not(None), "claimed"),
    (OutboxMessage.attempts > 0, "retrying"),
    else_="pending",
)
_WEBHOOK = OutboxMessage.kind == "webhook"


def endpoints(session: Session) -> list[dict[str, Any]]:
    """Each endpoint: its URL, on or off (since when, why), its deliveries by state."""
    query = select(OutboxMessage.to_addr, _STATE, func.count()).where(_WEBHOOK)
    counts: dict[str, dict[str, int]] = {}
    for url, state, count in session.execute(query.group_by(OutboxMessage.to_addr, _STATE)):
        counts.setdefault(url, dict.fromkeys(STATES, 0))[state] = int(count)
    return [
        {
            "url": e.url,
            "state": "enabled" if e.enabled else "disabled",
            "disabled_at": e.disabled_at.isoformat() if e.disabled_at else None,
            "disabled_reason": e.disabled_reason,
            "deliveries": counts.get(e.url, dict.fromkeys(STATES, 0)),
        }
        for e in webhook_endpoints.every(session)
    ]


def failed(session: Session, limit: int = 200) -> list[dict[str, Any]]:
    """The failed deliveries, latest first: id, endpoint, type, deal, sequence, why."""
    query = (
        select(OutboxMessage)
        .where(_WEBHOOK, OutboxMessage.failed_at.is_not(None), OutboxMessage.sent_at.is_(None))
        .order_by(OutboxMessage.failed_at.desc(), OutboxMessage.id.desc())
        .limit(limit)
    )
    return [
        {
            "id": row.id,
            "endpoint": row.to_addr,
            "type": row.template,
            "deal": row.subject.rpartition(" ")[2],
            "sequence": json.loads(row.body_text).get("data", {}).get("sequence"),
            "webhook_id": row.message_id,
            "attempts": row.attempts,
            "failed_at": row.failed_at.isoformat() if row.failed_at else None,
            "last_error": row.last_error,
        }
        for row in session.scalars(query)
    ]


def retry(session: Session, now: datetime, ids: Sequence[int] | None = None) -> int:
    """Queue failed deliveries again, as new (another day of attempts), unless their endpoint
    is off; return how many. None: every failed one."""
    on = select(WebhookEndpoint.url).where(WebhookEndpoint.enabled)
    stmt = (
        update(OutboxMessage)
        .where(
            _WEBHOOK,
            OutboxMessage.failed_at.is_not(None),
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.to_addr.in_(on.scalar_subquery()),
        )
        .values(
            failed_at=None,
            attempts=0,
            first_attempt_at=None,
            next_attempt_at=now,
            claimed_at=None,
            claimed_by=None,
        )
        .execution_options(synchronize_session=False)
    )
    if ids is not None:
        stmt = stmt.where(OutboxMessage.id.in_(ids))
    return cast(CursorResult[Any], session.execute(stmt)).rowcount


def ping(session: Session, sending: Sending, now: datetime) -> list[dict[str, Any]]:
    """POST a signed `webhook.ping` to each enabled endpoint now (not through the outbox) and
    say how each answered; one that answers 410 is turned off, as a delivery's would be."""
    results = []
    for endpoint in webhook_endpoints.enabled(session):
        content = webhooks.payload(webhooks.PING, now, {"endpoint": endpoint.url}, {})
        attempt: Attempt = sending.attempt(
            endpoint.url, f"msg_ping_{uuid.uuid4().hex}", webhooks.body(content)
        )
        if attempt.gone:
            reason = f"answered 410 Gone to a ping at {now:%Y-%m-%d %H:%M:%S} UTC"
            webhook_endpoints.disable(session, endpoint.id, reason, now)
        results.append(
            {
                "url": endpoint.url,
                "ok": attempt.sent,
                "status": attempt.answer.status if attempt.answer else None,
                "error": None if attempt.sent else attempt.why(),
            }
        )
    return results


def counts(session: Session) -> dict[str, int]:
    """Webhook deliveries by state, and how many endpoints are off (for `dealreg status`)."""
    query = select(_STATE, func.count()).where(_WEBHOOK).group_by(_STATE)
    found = dict.fromkeys(STATES, 0)
    for state, count in session.execute(query):
        found[state] = int(count)
    off = select(func.count()).select_from(WebhookEndpoint).where(~WebhookEndpoint.enabled)
    return {**found, "endpoints_disabled": int(session.scalar(off) or 0)}
