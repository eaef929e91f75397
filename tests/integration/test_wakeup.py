"""Mail queued by one process is delivered by another within a second: the worker is woken
by the commit (PostgreSQL NOTIFY, or SQLite's highest outbox id), not by its 15 s poll."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text

from core import outbox
from core.models import JobRun
from tests.factories import World
from tests.integration.smtp_server import SmtpServer
from tests.integration.worker_process import dealreg_worker

DELIVERED_WITHIN_S = 1.0


@pytest.fixture
def worker(
    world: World, smtp_server: SmtpServer, tmp_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """`dealreg worker` in a process of its own, sending through the test's SMTP server."""
    with dealreg_worker(world.settings.database_url, tmp_path, SMTP_URL=smtp_server.url) as proc:
        _wait_until(lambda: _delivered_once(world), 30, "the worker's first delivery run")
        time.sleep(0.5)  # its LISTEN (or first read of the outbox) is in place
        yield proc


def test_mail_queued_here_is_delivered_by_the_worker_within_a_second(
    world: World, smtp_server: SmtpServer, worker: subprocess.Popen[bytes]
) -> None:
    for attempt in range(3):
        took = _queue_and_time(world, smtp_server, f"wake-{attempt}@example.com")
        assert took < DELIVERED_WITHIN_S, f"delivered after {took:.2f}s"


def test_a_lost_listen_connection_is_noticed_and_wake_ups_come_back(
    world: World, smtp_server: SmtpServer, worker: subprocess.Popen[bytes]
) -> None:
    if world.engine.dialect.name != "postgresql":
        pytest.skip("LISTEN is PostgreSQL's; SQLite's watcher holds no connection")
    with world.engine.connect() as conn:
        killed = conn.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN dealreg_outbox%' AND pid <> pg_backend_pid()"
            )
        )
        conn.commit()
    assert killed == 1
    # Queued while nobody listens: delivered when the listener is back (1 s back-off), or
    # by the 15 s poll at the latest; never lost.
    assert _queue_and_time(world, smtp_server, "while-down@example.com") < 15
    time.sleep(1.5)
    assert _queue_and_time(world, smtp_server, "after@example.com") < DELIVERED_WITHIN_S


def _queue_and_time(world: World, smtp_server: SmtpServer, to: str) -> float:
    """Queue one email in this process and return the seconds until the SMTP server has it."""
    email = outbox.Email("intake_form", to, {"country": "GB"}, "en_GB")
    started = time.monotonic()
    with world.uow() as uow:
        outbox.enqueue(uow, email, now=_now(), settings=world.settings)
        uow.commit()
    _wait_until(lambda: any(to in m.rcpt_tos for m in smtp_server.received), 20, f"mail to {to}")
    return time.monotonic() - started


def _now() -> datetime:
    return datetime.now(UTC)


def _delivered_once(world: World) -> bool:
    with world.uow() as uow:
        run = uow.session.scalar(select(JobRun).where(JobRun.name == "outbox"))
        return run is not None and run.last_finished_at is not None


def _wait_until(done: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
