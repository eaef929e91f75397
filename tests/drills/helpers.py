"""Shared pieces of the drills: mixed intake mail, subprocess runs, database counts."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.models import Deal, InboundEmail, OutboxMessage
from tests.factories import World, registration_email
from tests.servers import PostgresServer

STRANGER = "mallory@unknown-reseller.example"
DEALREG = [sys.executable, "-m", "dealreg"]


@dataclass
class Mix:
    """A batch of intake mail of every kind, and what the product must make of it."""

    raws: list[bytes] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    expected: dict[str, str] = field(default_factory=dict)  # Message-ID -> final status
    registrations: set[int] = field(default_factory=set)

    @property
    def answered(self) -> set[str]:
        """Message-IDs that must get exactly one reply."""
        return {m for m, s in self.expected.items() if s not in ("ignored", "refused")}


def mixed_mail(total: int, start: int = 0) -> Mix:
    """Registrations, repeats, invalid forms, strangers and auto-replies, in a fixed pattern."""
    mix = Mix()
    for i in range(start, start + total):
        mid = f"<drill-{i}@partner.example>"
        kind = i % 10
        if kind == 9:  # the same deal as five messages ago, under a new Message-ID
            raw, status = registration_email(i - 5, message_id=mid), "duplicate"
        elif kind == 3:
            raw, status = registration_email(i, message_id=mid, number_of_users="lots"), "invalid"
        elif kind == 6:
            raw, status = registration_email(i, message_id=mid, sender=STRANGER), "refused"
        elif kind == 7:
            raw = b"Auto-Submitted: auto-replied\r\n" + registration_email(i, message_id=mid)
            status = "ignored"
        else:
            raw, status = registration_email(i, message_id=mid), "registered"
            mix.registrations.add(i)
        mix.raws.append(raw)
        mix.message_ids.append(mid)
        mix.expected[mid] = status
    return mix


def count(world: World, model: type, *where: object) -> int:
    with world.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model).where(*where)))


def statuses(world: World) -> dict[str, str]:
    """Message-ID -> status of every stored inbound message."""
    with world.uow() as uow:
        rows = uow.session.execute(select(InboundEmail.message_id, InboundEmail.status)).all()
    return {mid: status for mid, status in rows}


def replies_per_message(world: World) -> Counter[str]:
    """How many email rows in the outbox answer each inbound Message-ID."""
    with world.uow() as uow:
        rows = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "email"))
        return Counter(r.headers.get("In-Reply-To", "") for r in rows)


def assert_intake_complete(world: World, mix: Mix, folders: dict[str, int]) -> None:
    """One row per message with the right outcome, one deal per registration, one reply each."""
    assert statuses(world) == mix.expected
    assert count(world, Deal) == len(mix.registrations)
    replies = replies_per_message(world)
    assert set(replies) == mix.answered, "a message unanswered or a stranger answered"
    assert max(replies.values()) == 1, [m for m, n in replies.items() if n > 1]
    accepted = sum(1 for s in mix.expected.values() if s in ("registered", "duplicate"))
    assert folders == {"INBOX": 0, "Processed": accepted, "Rejected": len(mix.raws) - accepted}


def env_for(world: World, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("IMAP_URL", "SMTP_URL")}
    return env | {
        "DATABASE_URL": world.settings.database_url,
        "OUTBOX_DIR": str(tmp_path / "outbox"),
        "MAILDIR": str(tmp_path / "maildir"),
        **extra,
    }


def kill_repeatedly(
    cmd: list[str],
    env: dict[str, str],
    cwd: Path,
    delays: list[float],
    progress: Callable[[], int],
) -> list[tuple[float, int | None, int]]:
    """Run `cmd` once per delay and SIGKILL it that long after it first makes progress.

    Counting from its first progress (a stored row, a delivered message) rather than from
    its start puts the kills inside the work, whatever the start-up time of the machine.
    Returns (delay, exit code, progress) after each run.
    """
    seen = []
    for delay in delays:
        before = progress()
        proc = subprocess.Popen(
            cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while proc.poll() is None and progress() == before and time.monotonic() < deadline:
            time.sleep(0.01)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        seen.append((round(delay, 2), proc.returncode, progress()))
    return seen


def handled_rows(world: World) -> int:
    """Messages handled so far, read without waiting on the intake's write transactions.

    On SQLite every unit of work takes the write lock up front, so a probe through it would
    wait for the run it is meant to watch; a plain WAL reader does not.
    """
    url = world.settings.database_url
    if not url.startswith("sqlite:///"):
        return count(world, InboundEmail, InboundEmail.status != "received")
    with closing(sqlite3.connect(url.removeprefix("sqlite:///"), timeout=5)) as conn:
        row = conn.execute("SELECT count(*) FROM inbound_emails WHERE status != 'received'")
        return int(row.fetchone()[0])


def run_to_end(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float = 600) -> str:
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def random_delays(seed: int, n: int, low: float, high: float) -> list[float]:
    rng = random.Random(seed)
    return [rng.uniform(low, high) for _ in range(n)]


def until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `check` every 0.2 s; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


def restart_postgres(server: PostgresServer, down_s: float) -> None:
    """Stop the cluster, wait, and start it again on the same port (as after a failover)."""
    server.stop()
    time.sleep(down_s)
    options = (
        f"-p {server.port} -k {server.root} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    server._run(
        "pg_ctl", "-D", str(server.datadir), "-o", options,
        "-l", str(server.root / "server.log"), "-w", "start",
    )  # fmt: skip
