"""What happens between the clicks: expiry, reminders, and several workers at once (the
service level's reminders: tests/integration/test_sla.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from core import jobs
from core.models import Deal, DealEvent, OutboxMessage
from core.services.review import approve
from dealreg.arguments import JOB_NAMES
from tests.factories import ANN, BOB, NOW, REVIEWER, World, form, register


def registered(world: World, n: int, who: str = ANN, prefix: str = "p") -> list[str]:
    actor = world.actor(who)
    numbers = []
    for i in range(n):
        with world.uow() as uow:
            deal = register(
                uow, actor, form(domain=f"{prefix}{i}.com", company_name=f"{prefix}{i}"), now=NOW,
                settings=world.settings,
            ).deal  # fmt: skip
            numbers.append(deal.number)
    return numbers


def approved(world: World, numbers: list[str], when=NOW) -> None:  # type: ignore[no-untyped-def]
    reviewer = world.actor(REVIEWER)
    for number in numbers:
        with world.uow() as uow:
            approve(uow, reviewer, number, now=when, settings=world.settings)


def emails(world: World, template: str) -> int:
    with world.uow() as uow:
        stmt = select(func.count()).select_from(OutboxMessage)
        return int(uow.session.scalar(stmt.where(OutboxMessage.template == template)) or 0)


@pytest.fixture
def short_world(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    w = World(db_url, tmp_path, protection_days=2, reminder_days=[14, 1])
    yield w
    w.close()


def test_short_protection_window_expires_and_partner_is_told_once(short_world: World) -> None:
    (number,) = registered(short_world, 1)
    approved(short_world, [number])
    assert jobs.expire(short_world.uow, NOW + timedelta(days=1), short_world.settings) == []
    later = NOW + timedelta(days=2, minutes=1)
    assert jobs.expire(short_world.uow, later, short_world.settings) == [number]
    assert jobs.expire(short_world.uow, later + timedelta(hours=1), short_world.settings) == []
    assert emails(short_world, "deal_expired") == 1


def test_unreviewed_registration_lapses_after_the_window(short_world: World) -> None:
    (number,) = registered(short_world, 1)
    assert jobs.expire(short_world.uow, NOW + timedelta(days=3), short_world.settings) == [number]


def test_reminder_goes_out_once_inside_its_window(world: World) -> None:
    (number,) = registered(world, 1)
    approved(world, [number])  # protected for 90 days; reminders at 14 and 3 days
    end = NOW + timedelta(days=90)
    assert jobs.remind(world.uow, end - timedelta(days=20), world.settings) == []
    assert jobs.remind(world.uow, end - timedelta(days=13), world.settings) == [number]
    assert jobs.remind(world.uow, end - timedelta(days=12), world.settings) == []
    assert jobs.remind(world.uow, end - timedelta(days=13), world.settings) == []
    assert jobs.remind(world.uow, end - timedelta(days=2), world.settings) == [number]
    assert jobs.remind(world.uow, end - timedelta(days=1), world.settings) == []
    assert emails(world, "expiry_reminder") == 2


def test_status_reports_stages_queues_and_waiting(world: World) -> None:
    numbers = registered(world, 3)
    approved(world, numbers[:1])
    data = jobs.status(world.uow, NOW + timedelta(hours=5))
    assert data["deals"] == {"opportunity": 2, "approved": 1}
    assert data["waiting_review"] == 2
    assert data["oldest_waiting_hours"] == 5.0
    assert data["outbox"]["pending"] == 4


@pytest.mark.postgres
def test_two_workers_deliver_and_expire_each_exactly_once(
    pg_url: str, tmp_path: Path, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    world = World(pg_url, tmp_path)
    numbers = registered(world, 30) + registered(world, 30, who=BOB, prefix="b")
    approved(world, numbers, when=NOW - timedelta(days=200))  # long lapsed
    with world.uow() as uow:
        rows = int(uow.session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)
    env = {**os.environ, "DATABASE_URL": pg_url, "SMTP_URL": smtp_server.url.replace(
        "smtp://", "smtp+insecure://")}  # fmt: skip
    script = (
        "import sys\n"
        "from dealreg.cli import main\n"
        "for _ in range(4):\n"
        "    main(['jobs', 'run', 'expire'])\n"
        "    main(['jobs', 'run', 'outbox'])\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    with world.uow() as uow:
        expiries = uow.session.scalar(
            select(func.count()).select_from(DealEvent).where(DealEvent.action == "expire")
        )
        stages = Counter(uow.session.scalars(select(Deal.stage)))
        total = int(uow.session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)
        unsent = uow.session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
        )
    assert expiries == 60 and stages == {"expired": 60}
    assert total == rows + 60  # one expiry email per deal
    assert unsent == 0
    ids = Counter(m.message["Message-ID"] for m in smtp_server.received)
    assert len(ids) == total and max(ids.values()) == 1
    world.close()


def test_run_starts_and_stops_cleanly_on_interrupt(tmp_path: Path) -> None:
    import signal
    import time

    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}",
        "MAILDIR": str(tmp_path / "maildir"),
        "OUTBOX_DIR": str(tmp_path / "outbox"),
    }
    for k in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "IMAP_URL", "SMTP_URL"):
        env.pop(k, None)
    cmd = [sys.executable, "-m", "dealreg", "run"]
    proc = subprocess.Popen(
        cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    # Interrupt once the worker says it runs: a fixed sleep raced a slow start.
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if "worker started" in line:
            break
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    out = "".join(seen) + rest
    assert proc.returncode == 0, out
    assert "worker started" in out and "stopping" in out
    # Every job `dealreg jobs run` knows is scheduled (the mailbox reader has its thread).
    started = next(line for line in seen if "worker started" in line)
    assert [j for j in JOB_NAMES if j != "poll" and j not in started] == [], started
    assert (tmp_path / "maildir").is_dir()
    # The tests take senders on trust (tests/conftest.py), and `run` says it is unsafe.
    assert "WARNING: INTAKE_REQUIRE_SENDER_PROOF is off" in out


def test_intake_with_sender_proof_on_starts_without_the_warning(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}"}
    env.update(MAILDIR=str(tmp_path / "m"), OUTBOX_DIR=str(tmp_path / "o"))
    env["INTAKE_REQUIRE_SENDER_PROOF"] = "true"
    run = [sys.executable, "-m", "dealreg"]
    subprocess.run([*run, "init"], env=env, cwd=tmp_path, check=True, capture_output=True)
    done = subprocess.run(
        [*run, "intake", "run", "--once"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "INTAKE_REQUIRE_SENDER_PROOF" not in done.stderr
    env["INTAKE_DNS_RESOLVERS"] = '["dns.example"]'
    bad = subprocess.run(
        [*run, "intake", "run", "--once"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert bad.returncode != 0 and "INTAKE_DNS_RESOLVERS" in bad.stderr


def test_expired_deal_can_be_registered_again(world: World) -> None:
    (number,) = registered(world, 1)
    approved(world, [number])
    with world.uow() as uow:
        uow.session.execute(update(Deal).values(protection_expires_at=NOW - timedelta(days=1)))
        uow.commit()
    jobs.expire(world.uow, NOW, world.settings)
    (again,) = registered(world, 1)
    assert again != number


@pytest.mark.postgres
def test_one_mailbox_reader_and_a_lost_lock_is_noticed(pg_url: str, tmp_path: Path) -> None:
    from sqlalchemy import text

    from dealreg.wiring import App
    from dealreg.worker import ReaderLock

    world = World(pg_url, tmp_path)
    first, second = App(world.settings), App(world.settings)
    a, b = ReaderLock(first), ReaderLock(second)
    try:
        assert a.acquire() and a.held()
        assert not b.acquire()
        assert a.conn is not None
        pid = a.conn.scalar(text("SELECT pg_backend_pid()"))
        a.conn.commit()
        with world.engine.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            admin.commit()
        assert not a.held()  # the connection died, and the lock with it
        assert b.acquire() and b.held()
        assert not a.acquire()
    finally:
        a.release()
        b.release()
        first.engine.dispose()
        second.engine.dispose()
        world.close()


def test_job_runs_are_recorded_and_the_last_error_shown(world: World) -> None:
    jobs.record_run(world.uow, "poll", NOW, NOW, "connection refused")
    assert jobs.status(world.uow, NOW)["jobs"]["poll"]["last_error"] == "connection refused"
    later = NOW + timedelta(minutes=1)
    jobs.record_run(world.uow, "poll", later, later, None)
    run = jobs.status(world.uow, later)["jobs"]["poll"]
    assert run["last_error"] is None and run["last_finished_at"] == later
