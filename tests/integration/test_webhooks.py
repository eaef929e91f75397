"""Webhooks through the outbox, on SQLite and PostgreSQL, to a real HTTP receiver that
verifies each request with the `standardwebhooks` package: every event of the SPEC's list,
the deal as `deals show --json` prints it, retries with the same id, a day of back-off
then failed, 410, and two workers at once. (The CLI and the worker process:
test_webhooks_cli.py.)"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core import jobs, webhooks
from core.delivery import DeliveryReport, Round
from core.models import DealEvent, OutboxMessage, WebhookEndpoint
from core.services.amendment import Verdict
from core.services.common import Event, audit
from core.services.orders import OrderStep, QuoteAsk
from core.services.review import Rejection
from core.services.withdraw import Withdrawal
from core.webhook_delivery import Sending, deliver_due, sync
from tests import services
from tests.factories import ANN, NOW, REVIEWER, World, form, register
from tests.integration.webhook_receiver import SECRET, Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def hooked(db_url: str, tmp_path: Path, receiver: Receiver) -> Iterator[World]:
    """A world whose WEBHOOK_URLS is the receiver, its endpoint known to the database."""
    w = World(db_url, tmp_path, webhook_urls=[receiver.url], webhook_secret=SECRET)
    sync(w.uow, w.settings.webhook_urls, NOW)
    yield w
    w.close()


def deliver(world: World, at: datetime, worker: str = "w1") -> DeliveryReport:
    """One round of webhook delivery as the worker runs it, as of `at`."""
    sending = Sending.of(world.settings)
    assert sending is not None
    return deliver_due(world.uow, sending, Round(worker, at, kind="webhook", limit=100))


def registered(world: World, domain: str, at: datetime = NOW) -> str:
    with world.uow() as uow:
        return register(
            uow, world.actor(ANN), form(domain=domain), now=at, settings=world.settings
        ).deal.number


def approved(world: World, number: str, at: datetime = NOW) -> None:
    with world.uow() as uow:
        services.approve(uow, world.actor(REVIEWER), number, now=at, settings=world.settings)


def rows(world: World, **where: object) -> list[OutboxMessage]:
    with world.uow() as uow:
        query = select(OutboxMessage).where(OutboxMessage.kind == "webhook").filter_by(**where)
        return list(uow.session.scalars(query.order_by(OutboxMessage.id)))


def test_every_event_is_posted_signed_with_the_deal_as_deals_show_prints_it(
    hooked: World, receiver: Receiver
) -> None:
    w, s = hooked, hooked.settings
    ann, desk = w.actor(ANN), w.actor(REVIEWER)
    number = registered(w, "lifecycle.com")
    with w.uow() as uow:
        services.return_for_info(uow, desk, number, question="Which users?", now=NOW, settings=s)
    with w.uow() as uow:
        services.answer(uow, ann, number, text="All 250", now=NOW, settings=s)
    approved(w, number)
    with w.uow() as uow:
        services.amend(uow, ann, number, changes={"state": "Essex"}, now=NOW, settings=s)
    with w.uow() as uow:
        services.amend(uow, ann, number, changes={"number_of_users": 300}, now=NOW, settings=s)
    with w.uow() as uow:
        services.decide_amendment(uow, desk, number, Verdict(True), now=NOW, settings=s)
    with w.uow() as uow:
        services.add_quote(uow, ann, QuoteAsk("lifecycle.com", "archive", 40), now=NOW, settings=s)
    with w.uow() as uow:
        services.request_extension(uow, ann, number, now=NOW, settings=s)
    with w.uow() as uow:
        services.decide_extension(uow, desk, number, grant=True, now=NOW, settings=s)
    with w.uow() as uow:
        quotes = services.deal_view(services.show(uow.session, ann, number), ann)["quotes"]
        step = OrderStep("start_order", quote_number=quotes[-1]["number"])
        services.advance(uow, ann, number, step=step, now=NOW, settings=s)
    with w.uow() as uow:
        services.advance(uow, ann, number, step=OrderStep(po_number="PO-1"), now=NOW, settings=s)
    rejected, withdrawn, _lapsing = (registered(w, d) for d in ("r.com", "w.com", "l.com"))
    with w.uow() as uow:
        services.reject(uow, desk, rejected, rejection=Rejection("duplicate"), now=NOW, settings=s)
    with w.uow() as uow:
        services.withdraw(uow, ann, withdrawn, Withdrawal("no_budget"), now=NOW, settings=s)
    services.expire_lapsed(w.uow, NOW + timedelta(days=s.protection_days, minutes=1), s)

    assert deliver(w, NOW + timedelta(days=91)).sent == len(rows(w))
    assert receiver.unverified == []
    assert set(receiver.types()) == set(webhooks.EVENT_TYPES)
    mine = [p for p in receiver.payloads() if p["data"]["number"] == number]
    assert [p["type"] for p in mine] == [
        "deal.registered", "deal.returned", "deal.approved", "quote.created", "deal.amended",
        "deal.amendment_requested", "deal.amended", "quote.created", "quote.created",
        "deal.extended", "deal.order_started", "deal.order_submitted",
    ]  # fmt: skip
    sequences = [p["data"]["sequence"] for p in mine]
    assert sequences == sorted(sequences)
    with w.uow() as uow:
        ids = set(uow.session.scalars(select(DealEvent.id)))
        shown = services.deal_view(services.show(uow.session, desk, number), desk)
    assert set(sequences) <= ids
    last = dict(mine[-1]["data"])
    assert last.pop("sequence") == max(ids & set(sequences))
    assert last == shown  # the view `deals show --json` prints, history and quotes included
    approval, made = mine[2], mine[3]
    assert approval["data"]["stage"] == "approved"
    assert made["data"]["quote"] == approval["data"]["quotes"][0]
    assert made["data"]["sequence"] == approval["data"]["sequence"]


def test_the_webhook_is_written_with_its_change_or_not_at_all(hooked: World) -> None:
    number = registered(hooked, "txn.com")
    before = len(rows(hooked))
    event = Event("withdraw", "opportunity", "withdrawn")
    with hooked.uow() as uow:
        deal = services.show(uow.session, services.SYSTEM, number)
        audit(uow, deal, services.SYSTEM, NOW, event)  # and no commit
    assert len(rows(hooked)) == before
    with hooked.uow() as uow:
        deal = services.show(uow.session, services.SYSTEM, number)
        audit(uow, deal, services.SYSTEM, NOW, event)
        uow.commit()
    assert len(rows(hooked)) == before + 1


def test_a_failed_attempt_is_retried_with_the_same_id_and_body_and_kept_once(
    hooked: World, receiver: Receiver
) -> None:
    receiver.answer(500)
    number = registered(hooked, "retry.com")
    first = deliver(hooked, NOW)
    assert (first.sent, first.retrying) == (0, 1)
    (row,) = rows(hooked)
    assert row.next_attempt_at == NOW + webhooks.SCHEDULE[0]
    assert deliver(hooked, NOW + timedelta(seconds=1)).tried == 0  # not due yet
    assert deliver(hooked, NOW + timedelta(seconds=6)).sent == 1
    tried, again = receiver.requests
    assert (tried.status, again.status) == (500, 200)
    assert tried.id == again.id == row.message_id
    assert tried.body == again.body
    assert list(receiver.seen) == [row.message_id]
    assert receiver.types() == ["deal.registered"]
    assert next(receiver.payloads())["data"]["number"] == number


def test_deliveries_back_off_for_a_day_then_fail_and_show_in_status(
    hooked: World, receiver: Receiver
) -> None:
    receiver.answer(then=503)
    registered(hooked, "down.com")
    at, attempts = NOW, 0
    while True:
        report = deliver(hooked, at)
        attempts += report.tried
        (row,) = rows(hooked)
        if row.failed_at is not None:
            break
        assert row.next_attempt_at <= NOW + timedelta(days=1)
        at = row.next_attempt_at
    assert at == NOW + timedelta(days=1)
    assert attempts == row.attempts == len(receiver.requests) == 8
    assert row.last_error is not None and "503" in row.last_error
    status = jobs.status(hooked.uow, at)
    assert status["webhooks"]["failed"] == 1
    assert status["outbox"]["failed"] == 0  # the email outbox is another line


def test_410_turns_the_endpoint_off_and_its_events_stop(
    db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    other = Receiver()
    try:
        urls = [receiver.url, other.url]
        w = World(db_url, tmp_path, webhook_urls=urls, webhook_secret=SECRET)
        sync(w.uow, urls, NOW)
        receiver.answer(410)
        registered(w, "gone.com")
        report = deliver(w, NOW)
        assert (report.sent, report.failed) == (1, 1)
        with w.uow() as uow:
            gone = uow.session.scalar(select(WebhookEndpoint).filter_by(url=receiver.url))
            assert gone is not None and not gone.enabled
            assert gone.disabled_reason is not None and "410" in gone.disabled_reason
        registered(w, "after.com")
        assert [r.to_addr for r in rows(w, sent_at=None, failed_at=None)] == [other.url]
        deliver(w, NOW)
        assert len(receiver.requests) == 1 and len(other.seen) == 2
        w.close()
    finally:
        other.close()


@pytest.mark.timeout(120)
def test_two_workers_delivering_at_once_send_each_webhook_once(
    hooked: World, receiver: Receiver
) -> None:
    for i in range(12):
        approved(hooked, registered(hooked, f"race{i}.com"))
    expected = len(rows(hooked))
    assert expected == 36  # registered, approved, quote.created
    receiver.delay_s = 0.005  # long enough for the workers' rounds to overlap

    def work(name: str) -> None:
        while deliver(hooked, NOW, worker=name).tried:
            pass

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=100)
    counts = Counter(r.id for r in receiver.requests)
    assert len(counts) == expected
    assert set(counts.values()) == {1}
    with hooked.uow() as uow:
        sent = (
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.sent_at.is_not(None))
        )
        assert uow.session.scalar(sent.where(OutboxMessage.kind == "webhook")) == expected
