"""Delivery of the outbox's webhooks: a worker claims due rows of kind `webhook` as it claims
email (`core.delivery.claim_due`), signs each at the moment it sends it, POSTs it, and
records the outcome: sent on a 2xx; on anything else tried again on the schedule of
`core.webhooks` until a day after the first attempt, then failed; a 410 turns the endpoint
off. The body and `webhook-id` were fixed when the row was queued, so a repeat is the same
message to the receiver."""

from __future__ import annotations

import http.client
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import webhook_endpoints, webhooks
from core.config import Settings
from core.delivery import DeliveryReport, Round, claim_due
from core.models import OutboxMessage, WebhookEndpoint
from core.uow import UowFactory
from core.webhook_http import Answer, post

log = logging.getLogger("core.webhooks")

Post = Callable[[str, bytes, Mapping[str, str], float], Answer]


@dataclass(frozen=True)
class Attempt:
    """What one attempt came to: the receiver's answer, or why there was none."""

    answer: Answer | None = None
    error: str | None = None
    # Not worth another attempt (its endpoint is off).
    final: bool = False

    @property
    def sent(self) -> bool:
        return self.answer is not None and self.answer.ok

    @property
    def gone(self) -> bool:
        return self.answer is not None and webhooks.gone(self.answer.status)

    def why(self) -> str:
        """The failure as recorded on the row."""
        if self.answer is not None:
            return f"HTTP {self.answer.status}: {self.answer.text}".strip()[:2000]
        return (self.error or "not sent")[:2000]


@dataclass(frozen=True)
class Sending:
    """How a worker sends: the secret it signs with, its time limit, its HTTP client."""

    secret: str
    timeout_s: float = 10.0
    post: Post = post

    @classmethod
    def of(cls, settings: Settings, post_: Post = post) -> Sending | None:
        """How to send under these settings; None without a secret to sign with."""
        if settings.webhook_secret is None:
            return None
        return cls(settings.webhook_secret.get_secret_value(), settings.webhook_timeout_s, post_)

    def attempt(self, url: str, msg_id: str, body: str) -> Attempt:
        """Sign and POST one message now; what came of it."""
        headers = webhooks.signed_headers(self.secret, msg_id, body, datetime.now(UTC))
        try:
            return Attempt(answer=self.post(url, body.encode(), headers, self.timeout_s))
        # Refused, unreachable, timed out, cut off mid-answer, a bad URL.
        except (OSError, ValueError, http.client.HTTPException) as exc:
            return Attempt(error=f"{type(exc).__name__}: {exc}")


def sync(uow_factory: UowFactory, urls: list[str], now: datetime, *, remove: bool = True) -> None:
    """Bring the endpoints in line with `WEBHOOK_URLS` (`core.webhook_endpoints.sync`); without
    `remove`, only add those it names anew."""
    with uow_factory() as uow:
        if webhook_endpoints.sync(uow.session, urls, now, remove=remove):
            uow.commit()


def deliver_due(uow_factory: UowFactory, sending: Sending, round_: Round) -> DeliveryReport:
    """Claim the round's due webhooks, send each, and record every outcome. An endpoint
    that gives no answer is not tried again in this round: its other rows wait their turn."""
    report = DeliveryReport()
    silent: dict[str, Attempt] = {}
    for row_id in claim_due(uow_factory, round_):
        target = _load(uow_factory, row_id, round_.worker_id)
        if target is None:
            continue
        url, msg_id, body, on = target
        if not on:
            attempt = Attempt(error="endpoint disabled", final=True)
        elif url in silent:
            attempt = silent[url]
        else:
            attempt = sending.attempt(url, msg_id, body)
            if attempt.answer is None:
                silent[url] = attempt
        report.count(record(uow_factory, row_id, round_, attempt))
    return report


def _load(
    uow_factory: UowFactory, row_id: int, worker_id: str
) -> tuple[str, str, str, bool] | None:
    """A row this worker still holds: its URL, webhook-id, body, and whether its endpoint
    takes events; None when the row is no longer this worker's."""
    with uow_factory() as uow:
        row = uow.session.get(OutboxMessage, row_id)
        if row is None or row.claimed_by != worker_id or row.sent_at is not None:
            return None
        endpoint = _endpoint(uow.session, row.to_addr)
        on = endpoint is not None and endpoint.enabled
        return row.to_addr, row.message_id, row.body_text, on


def _endpoint(session: Session, url: str) -> WebhookEndpoint | None:
    return session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.url == url))


def record(uow_factory: UowFactory, row_id: int, round_: Round, attempt: Attempt) -> str:
    """Mark a row sent, or count the failed attempt and schedule the next (failed once a
    day has passed since the first; at once on a 410, which turns its endpoint off)."""
    now = round_.now
    with uow_factory() as uow:
        row = uow.session.get(OutboxMessage, row_id, with_for_update=True)
        if row is None or row.claimed_by != round_.worker_id:
            return "lost"
        row.claimed_at = row.claimed_by = None
        row.first_attempt_at = row.first_attempt_at or now
        if attempt.sent:
            row.sent_at = now
            uow.commit()
            _measure(row, "sent", now)
            return "sent"
        row.attempts += 1
        row.last_error = attempt.why()
        later = webhooks.next_attempt(row.first_attempt_at, row.attempts, now)
        if attempt.gone or attempt.final or later is None:
            row.failed_at = now
            log.error("webhook %s to %s failed for good: %s", row_id, row.to_addr, row.last_error)
        else:
            row.next_attempt_at = later
            log.warning("webhook %s attempt %s failed: %s", row_id, row.attempts, row.last_error)
        if attempt.gone:
            endpoint = _endpoint(uow.session, row.to_addr)
            if endpoint is not None:
                reason = f"answered 410 Gone at {now:%Y-%m-%d %H:%M:%S} UTC"
                webhook_endpoints.disable(uow.session, endpoint.id, reason, now)
                log.error("webhook endpoint %s turned off: %s", row.to_addr, reason)
        uow.commit()
        outcome = "failed" if row.failed_at is not None else "retrying"
        _measure(row, outcome, now)
        return outcome


def _measure(row: OutboxMessage, outcome: str, now: datetime) -> None:
    from core import metrics  # prometheus_client takes 80 ms to import: only where sending

    metrics.record_delivery(row.kind, outcome, now - row.created_at)
