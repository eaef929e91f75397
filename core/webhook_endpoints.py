"""The webhook endpoints: those of `WEBHOOK_URLS` as the database knows them, and which of
them take events. An endpoint that answers 410 Gone is turned off until the operator turns
it on again; one taken out of the setting is off while it is out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from core.models import OutboxMessage, WebhookEndpoint

# Why an endpoint is off when the setting no longer names it (it comes back with it).
NOT_CONFIGURED = "not in WEBHOOK_URLS"


def enabled(session: Session) -> list[WebhookEndpoint]:
    """The endpoints that take events, in the order they were added."""
    query = select(WebhookEndpoint).where(WebhookEndpoint.enabled).order_by(WebhookEndpoint.id)
    return list(session.scalars(query))


def every(session: Session) -> list[WebhookEndpoint]:
    """Every endpoint ever configured, on or off, in the order they were added."""
    return list(session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


def sync(session: Session, urls: Sequence[str], now: datetime, *, remove: bool = True) -> bool:
    """Make the endpoints those of the setting: add the new, turn off those it no longer
    names (unless not to `remove`) and on again those it names again (not one turned off by
    a 410); True when anything changed."""
    known = {e.url: e for e in every(session)}
    changed = False
    for url in urls:
        endpoint = known.get(url)
        if endpoint is None:
            session.add(WebhookEndpoint(url=url, enabled=True, created_at=now))
            changed = True
        elif not endpoint.enabled and endpoint.disabled_reason == NOT_CONFIGURED:
            _turn_on(endpoint)
            changed = True
    for url, endpoint in known.items():
        if remove and url not in urls and endpoint.enabled:
            _turn_off(endpoint, NOT_CONFIGURED, now)
            changed = True
    return changed


def enable(session: Session, url: str) -> WebhookEndpoint | None:
    """Turn an endpoint on again; None when there is none at `url`."""
    endpoint = session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.url == url))
    if endpoint is not None and not endpoint.enabled:
        _turn_on(endpoint)
    return endpoint


def disable(session: Session, endpoint_id: int, reason: str, now: datetime) -> int:
    """Turn an endpoint off for `reason` and fail its deliveries still waiting (a retry
    after it is on again sends them); return how many failed."""
    session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.enabled)
        .values(enabled=False, disabled_at=now, disabled_reason=reason)
        .execution_options(synchronize_session=False)
    )
    url = session.scalar(select(WebhookEndpoint.url).where(WebhookEndpoint.id == endpoint_id))
    stmt = (
        update(OutboxMessage)
        .where(
            OutboxMessage.kind == "webhook",
            OutboxMessage.to_addr == url,
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.failed_at.is_(None),
            OutboxMessage.claimed_at.is_(None),
        )
        .values(failed_at=now, last_error=f"endpoint disabled: {reason}")
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], session.execute(stmt)).rowcount


def _turn_on(endpoint: WebhookEndpoint) -> None:
    endpoint.enabled = True
    endpoint.disabled_at = None
    endpoint.disabled_reason = None


def _turn_off(endpoint: WebhookEndpoint, reason: str, now: datetime) -> None:
    endpoint.enabled = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = reason
