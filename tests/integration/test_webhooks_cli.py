"""Webhooks as the operator meets them: `dealreg webhooks list|retry|enable|ping` and
`dealreg status`, and delivery within a second of the commit by `dealreg worker` running as
a process of its own, on SQLite and PostgreSQL, to a receiver verifying every request with
the `standardwebhooks` package."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.factories import ANN, World, form, register
from tests.integration.test_cli import Cli, prepared
from tests.integration.test_wakeup import _delivered_once, _wait_until
from tests.integration.webhook_receiver import SECRET, Receiver
from tests.integration.worker_process import dealreg_worker


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def cli(db_url: str, tmp_path: Path, receiver: Receiver) -> Cli:
    c = prepared(db_url, tmp_path)
    c.env.update(WEBHOOK_URLS=json.dumps([receiver.url]), WEBHOOK_SECRET=SECRET)
    return c


def test_a_410_shows_in_list_and_status_and_enable_then_retry_sends_it(
    cli: Cli, receiver: Receiver
) -> None:
    (endpoint,) = cli.json("webhooks", "list")
    assert (endpoint["url"], endpoint["state"]) == (receiver.url, "enabled")
    receiver.answer(410)
    deal = cli.json(
        "deals", "register", "--partner", "Northwind IT", "--file", cli.write("r.json", form())
    )
    cli.ok("jobs", "run", "outbox")
    (endpoint,) = cli.json("webhooks", "list")
    assert endpoint["state"] == "disabled" and "410" in endpoint["disabled_reason"]
    assert endpoint["deliveries"]["failed"] == 1
    assert "disabled (answered 410 Gone" in cli.ok("webhooks", "list")
    (failed,) = cli.json("webhooks", "list", "--failed")
    assert (failed["endpoint"], failed["type"], failed["deal"]) == (
        receiver.url, "deal.registered", deal["number"],
    )  # fmt: skip
    assert "HTTP 410" in failed["last_error"]
    status = cli.json("status")
    assert status["webhooks"]["failed"] == 1 and status["webhooks"]["endpoints_disabled"] == 1
    assert "webhooks: 0 pending, 0 retrying, 1 failed, 1 endpoints disabled" in cli.ok("status")

    off = cli("webhooks", "retry", str(failed["id"]))
    assert off.returncode == 1 and "webhooks enable URL" in off.stderr
    assert cli("webhooks", "enable", "https://elsewhere.example/h").returncode == 1
    cli.ok("webhooks", "enable", receiver.url)
    assert cli.json("webhooks", "retry", "--all-failed") == {"requeued": 1}
    cli.ok("jobs", "run", "outbox")
    gone, kept = receiver.requests
    assert (gone.status, kept.status) == (410, 200)
    assert gone.id == kept.id == failed["webhook_id"] and gone.body == kept.body
    assert cli.json("webhooks", "list")[0]["deliveries"]["sent"] == 1
    assert receiver.unverified == []


def test_ping_posts_a_signed_ping_to_each_endpoint_and_fails_when_one_does(
    cli: Cli, receiver: Receiver
) -> None:
    (pinged,) = cli.json("webhooks", "ping")
    assert pinged == {"url": receiver.url, "ok": True, "status": 200, "error": None}
    assert receiver.types() == ["webhook.ping"]
    receiver.answer(500)
    failed = cli("webhooks", "ping")
    assert failed.returncode == 1 and "FAILED (HTTP 500" in failed.stdout
    assert receiver.unverified == []


def test_only_the_worker_turns_off_an_endpoint_the_setting_left(
    cli: Cli, receiver: Receiver
) -> None:
    cli.ok("webhooks", "list")
    urls = cli.env.pop("WEBHOOK_URLS")
    # A command run where the setting is missing leaves deliveries alone...
    assert cli.json("webhooks", "list")[0]["state"] == "enabled"
    # ...and the worker, which sends, follows its setting: off while the URL is out of it.
    cli.ok("jobs", "run", "outbox")
    (endpoint,) = cli.json("webhooks", "list")
    assert (endpoint["state"], endpoint["disabled_reason"]) == ("disabled", "not in WEBHOOK_URLS")
    cli.env["WEBHOOK_URLS"] = urls
    cli.ok("jobs", "run", "outbox")
    assert cli.json("webhooks", "list")[0]["state"] == "enabled"


@pytest.fixture
def worker(db_url: str, tmp_path: Path, receiver: Receiver) -> Iterator[World]:
    """`dealreg worker` in a process of its own, WEBHOOK_URLS the receiver; yields the world
    this process writes to."""
    w = World(db_url, tmp_path, webhook_urls=[receiver.url], webhook_secret=SECRET)
    settings = {"WEBHOOK_URLS": json.dumps([receiver.url]), "WEBHOOK_SECRET": SECRET,
                "SMTP_URL": None}  # fmt: skip
    try:
        with dealreg_worker(w.settings.database_url, tmp_path, **settings):
            # Its first delivery run has made the endpoint known, and its wake-ups are on.
            _wait_until(lambda: _delivered_once(w), 30, "the worker's first delivery run")
            time.sleep(0.5)
            yield w
    finally:
        w.close()


def test_a_deal_event_reaches_the_receiver_within_a_second_of_its_commit(
    worker: World, receiver: Receiver
) -> None:
    took = []
    for i in range(3):
        with worker.uow() as uow:
            deal = register(
                uow, worker.actor(ANN), form(domain=f"prompt{i}.com"), now=datetime.now(UTC),
                settings=worker.settings,
            ).deal  # fmt: skip
        committed = time.monotonic()  # register() commits before it returns
        _wait_until(lambda n=i: len(receiver.seen) > n, 20, f"the webhook of {deal.number}")
        took.append(receiver.requests[-1].at - committed)
    print(f"commit to receipt: {', '.join(f'{t * 1000:.0f} ms' for t in took)}")
    assert receiver.types() == ["deal.registered"] * 3
    assert max(took) < 1.0, took
