"""A webhook's payload, id, signature and retry schedule (core/webhooks.py), checked against
the `standardwebhooks` package a receiver verifies with."""

from __future__ import annotations

import base64
import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from core import webhooks

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
SPEC_TYPES = {
    "deal.registered", "deal.approved", "deal.rejected", "deal.returned", "deal.amended",
    "deal.amendment_requested", "deal.withdrawn", "deal.expired", "deal.extended",
    "deal.order_started", "deal.order_submitted", "quote.created",
}  # fmt: skip
AT = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)


def test_the_audit_actions_map_to_exactly_the_specs_event_types() -> None:
    assert set(webhooks.EVENT_TYPES) == SPEC_TYPES
    assert webhooks.types_of("approve") == ("deal.approved", "quote.created")
    # Entries of the trail that are no event of the list are not sent.
    for action in ("rules", "claim", "approve_first", "answer", "grant_extension", "erase"):
        assert webhooks.types_of(action) == ()


def test_the_payload_is_type_timestamp_and_the_deal_with_what_the_event_adds() -> None:
    deal = {"number": "DR-000001", "stage": "approved"}
    content = webhooks.payload("quote.created", AT, deal, {"sequence": 7, "quote": {"n": 1}})
    assert content == {
        "type": "quote.created",
        "timestamp": "2026-12-06T09:30:00+00:00",
        "data": {"number": "DR-000001", "stage": "approved", "sequence": 7, "quote": {"n": 1}},
    }
    text = webhooks.body(content)
    assert json.loads(text) == content
    assert text == webhooks.body(content)  # the same bytes on every attempt
    assert " " not in webhooks.body({"a": [1, 2]})


def test_the_webhook_id_is_stable_per_event_type_and_endpoint() -> None:
    first = webhooks.message_id(41, "deal.approved", 1)
    assert first == webhooks.message_id(41, "deal.approved", 1)
    others = {
        webhooks.message_id(41, "quote.created", 1),
        webhooks.message_id(41, "deal.approved", 2),
        webhooks.message_id(42, "deal.approved", 1),
    }
    assert first not in others and len(others) == 3


def test_signed_headers_verify_with_standardwebhooks_and_a_changed_body_does_not() -> None:
    body = webhooks.body({"type": "deal.registered", "data": {"name": "Zoë"}})
    now = datetime.now(UTC)
    headers = webhooks.signed_headers(SECRET, "msg_1_deal_registered_e1", body, now)
    assert headers["webhook-id"] == "msg_1_deal_registered_e1"
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(SECRET).verify(body.encode(), headers)["data"]["name"] == "Zoë"
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body.replace("Zoë", "Zoe").encode(), headers)
    with pytest.raises(WebhookVerificationError):
        other = "whsec_" + base64.b64encode(b"x" * 32).decode()
        Webhook(other).verify(body.encode(), headers)


def test_a_resend_is_signed_at_its_own_moment() -> None:
    body = webhooks.body({"type": "deal.registered"})
    first = webhooks.signed_headers(SECRET, "msg_1", body, AT)
    later = webhooks.signed_headers(SECRET, "msg_1", body, AT + timedelta(seconds=5))
    assert first["webhook-id"] == later["webhook-id"]
    assert first["webhook-timestamp"] != later["webhook-timestamp"]
    assert first["webhook-signature"] != later["webhook-signature"]


def test_retries_back_off_until_a_day_after_the_first_attempt_then_stop() -> None:
    attempts, at = 0, AT
    times = [at]
    while True:
        attempts += 1
        nxt = webhooks.next_attempt(AT, attempts, at)
        if nxt is None:
            break
        times.append(nxt)
        at = nxt
    waits = [b - a for a, b in itertools.pairwise(times)]
    assert waits[:6] == list(webhooks.SCHEDULE)
    assert times[-1] == AT + timedelta(days=1)  # the last attempt, at the day's end
    assert len(times) == 8
    assert all(t <= AT + timedelta(days=1) for t in times)


def test_a_first_attempt_made_late_still_gets_its_day() -> None:
    late = AT + timedelta(hours=30)
    assert webhooks.next_attempt(late, 1, late) == late + timedelta(seconds=5)


def test_only_410_means_gone() -> None:
    assert webhooks.gone(410)
    assert not any(webhooks.gone(s) for s in (None, 200, 404, 500, 503))
