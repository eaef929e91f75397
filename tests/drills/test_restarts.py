"""Servers restarted under a running worker: Dovecot, the SMTP server, PostgreSQL.

The worker's two loops run in threads, as `dealreg worker` runs them: the mailbox reader
(`run_forever`, polling every second instead of the worker's 30 s IDLE) and the outbox job
(`run_job(app, "outbox")` back to back instead of every 15 s). Back-off and the stale-claim
timeout are in minutes, so the outbox loop's clock runs ahead by 20 s per round: the drill
shows the product recovering on its own schedule, not an operator stepping in.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from core.models import InboundEmail, OutboxMessage
from core.services.inbound import FINAL
from dealreg.intake_command import intake_context
from dealreg.job_runner import run_job
from dealreg.wiring import App
from intake.pipeline import make_mailbox, run_forever
from tests.drills.helpers import (
    assert_intake_complete,
    count,
    mixed_mail,
    restart_postgres,
    until,
)
from tests.drills.test_sigkill import bulk_append, folders
from tests.factories import World
from tests.integration.smtp_server import SmtpServer
from tests.servers import ImapAccount, PostgresServer

pytestmark = pytest.mark.drill


class FastClockApp(App):
    """The worker's composition root with a clock that gains `step` on every reading."""

    def __init__(self, *args: object, step: timedelta, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._ahead = timedelta()
        self._step = step

    def now(self) -> datetime:  # type: ignore[override]
        self._ahead += self._step
        return datetime.now(UTC) + self._ahead


@contextmanager
def worker(world: World, imap_url: str, smtp_url: str) -> Iterator[dict[str, int]]:
    """Run the mailbox reader and the outbox job in threads until the block ends."""
    settings = world.settings.model_copy(
        update={"imap_url": SecretStr(imap_url), "smtp_url": SecretStr(smtp_url)}
    )
    reader_app, outbox_app = App(settings), FastClockApp(settings, step=timedelta(seconds=20))
    stop = threading.Event()
    errors = {"outbox": 0}

    def deliver() -> None:
        while not stop.is_set():
            try:
                run_job(outbox_app, "outbox")
            except Exception:  # the database is down: the scheduler logs it and runs again
                errors["outbox"] += 1
            stop.wait(0.1)

    ctx = intake_context(reader_app)
    threads = [
        threading.Thread(target=run_forever, args=(ctx, make_mailbox(ctx), stop), kwargs={
            "wait_s": 1}),
        threading.Thread(target=deliver),
    ]  # fmt: skip
    for t in threads:
        t.start()
    try:
        yield errors
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
        reader_app.engine.dispose()
        outbox_app.engine.dispose()
    assert not any(t.is_alive() for t in threads), "a worker loop did not stop"


def handled(world: World) -> int:
    return count(world, InboundEmail, InboundEmail.status.in_(FINAL))


def test_worker_recovers_from_dovecot_smtp_and_postgres_restarts_without_loss(
    pg_world: World,
    postgres: PostgresServer,
    imap_account: ImapAccount,
    smtp_server: SmtpServer,
    full: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = pg_world
    per_batch = 200 if full else 30
    mix = mixed_mail(per_batch * 3)
    batches = [mix.raws[i * per_batch : (i + 1) * per_batch] for i in range(3)]
    with worker(world, imap_account.imap_url, smtp_server.url) as errors:
        bulk_append(imap_account, batches[0])
        until(lambda: handled(world) >= 5, 60, "the first messages")
        # Dovecot goes away with the reader connected (mid-batch on a slow machine).
        imap_account.server.restart()  # type: ignore[union-attr]
        bulk_append(imap_account, batches[1])
        until(lambda: handled(world) == 2 * per_batch, 120, "the second batch")

        smtp_server.stop()
        bulk_append(imap_account, batches[2])
        until(lambda: _retrying(world) > 0, 60, "a delivery attempt while SMTP is down")
        until(lambda: handled(world) >= 2 * per_batch + 5, 60, "the third batch to start")
        restart_postgres(postgres, down_s=2.0)
        smtp_server.start()
        until(lambda: handled(world) == 3 * per_batch, 180, "every message to be handled")
        until(lambda: _unsent(world) == 0, 180, "every reply to be delivered")
    intake_errors = sum(r.name == "intake.pipeline" and r.levelno >= 30 for r in caplog.records)
    print(f"\nfailed while a server was down: {errors['outbox']} outbox runs, "
          f"{intake_errors} intake attempts (each retried)")  # fmt: skip
    assert errors["outbox"] > 0 and intake_errors > 0, "the faults did not reach the worker"

    assert_intake_complete(world, mix, folders(imap_account))
    with world.uow() as uow:
        rows = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "email"))
        queued = {r.message_id for r in rows}
        retried = count(world, OutboxMessage, OutboxMessage.attempts > 0)
    got = Counter(r.message["Message-ID"] for r in smtp_server.received)
    assert set(got) == queued, "a reply was never delivered"
    repeats = sum(n - 1 for n in got.values())
    print(f"delivered {len(got)} replies, {retried} after a failed attempt, {repeats} repeated")
    # A repeat needs PostgreSQL to die between the SMTP server's 250 and the row's update.
    assert repeats <= 1
    assert retried > 0


def _retrying(world: World) -> int:
    return count(world, OutboxMessage, OutboxMessage.attempts > 0)


def _unsent(world: World) -> int:
    return count(world, OutboxMessage, OutboxMessage.sent_at.is_(None))
