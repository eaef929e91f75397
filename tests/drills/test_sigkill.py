"""SIGKILL drills: the intake and the outbox killed at random moments lose nothing.

The intake (`dealreg intake run --once` against Dovecot) is killed several times at seeded
random moments and then run to the end; the outbox (`dealreg jobs run outbox` against a real
SMTP server) likewise. Delivery is at least once: a worker killed after the server accepted
a message and before it marked the row sent sends that message again, with the same
Message-ID; the drill counts those repeats and bounds them by the number of kills.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from core import delivery
from core.mailer import make_mailer
from core.models import OutboxMessage
from tests.drills.helpers import (
    DEALREG,
    assert_intake_complete,
    env_for,
    handled_rows,
    kill_repeatedly,
    mixed_mail,
    random_delays,
    run_to_end,
)
from tests.factories import World
from tests.integration.smtp_server import SmtpServer
from tests.servers import ImapAccount

pytestmark = pytest.mark.drill


def folders(account: ImapAccount) -> dict[str, int]:
    return {name: len(account.messages(name)) for name in ("INBOX", "Processed", "Rejected")}


def bulk_append(account: ImapAccount, raws: list[bytes]) -> None:
    with account.client() as client:
        for raw in raws:
            client.append("INBOX", raw)  # type: ignore[attr-defined]


def test_intake_killed_at_random_moments_handles_every_message_once(
    world: World, imap_account: ImapAccount, tmp_path: Path, full: bool
) -> None:
    # Sized to the intake's speed (600 messages a second on two cores), so that each kill
    # lands inside the work.
    total, kills = (3000, 6) if full else (300, 2)
    mix = mixed_mail(total)
    bulk_append(imap_account, mix.raws)
    env = env_for(world, tmp_path, IMAP_URL=imap_account.imap_url)
    delays = random_delays(seed=20261125, n=kills, low=0.0, high=1.5 if full else 0.3)
    progress = kill_repeatedly(
        [*DEALREG, "intake", "run", "--once"], env, tmp_path, delays,
        lambda: handled_rows(world),
    )  # fmt: skip
    # Messages are stored a batch ahead of their handling, so progress counts handled ones.
    print(f"\nintake kills (delay s, exit code, handled rows): {progress}")
    assert any(rc == -9 for _d, rc, _p in progress), "no run was killed"
    assert any(0 < handled < total for _d, _rc, handled in progress), "no kill landed mid-run"
    run_to_end([*DEALREG, "intake", "run", "--once"], env, tmp_path)
    assert_intake_complete(world, mix, folders(imap_account))


def test_outbox_killed_mid_delivery_loses_no_message(
    pg_world: World, imap_account: ImapAccount, smtp_server: SmtpServer, tmp_path: Path, full: bool
) -> None:
    # A run claims up to 100 rows; a killed run's claims wait for the stale-claim timeout, so
    # each kill past the first lands in a later batch.
    total, kills = (800, 6) if full else (100, 2)
    mix = mixed_mail(total)
    bulk_append(imap_account, mix.raws)
    run_to_end(
        [*DEALREG, "intake", "run", "--once"],
        env_for(pg_world, tmp_path, IMAP_URL=imap_account.imap_url),
        tmp_path,
    )
    with pg_world.uow() as uow:
        queued = {r.message_id: r.headers["In-Reply-To"] for r in uow.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "email"))}  # fmt: skip
    assert set(queued.values()) == mix.answered

    env = env_for(pg_world, tmp_path, SMTP_URL=smtp_server.url)
    delays = random_delays(seed=7, n=kills, low=0.0, high=0.2)
    progress = kill_repeatedly(
        [*DEALREG, "jobs", "run", "outbox"], env, tmp_path, delays,
        lambda: len(smtp_server.received),
    )  # fmt: skip
    print(f"\noutbox kills (delay s, exit code, messages received): {progress}")
    assert any(0 < got < len(queued) for _d, _rc, got in progress), "no kill landed mid-run"
    run_to_end([*DEALREG, "jobs", "run", "outbox"], env, tmp_path)
    # Rows a killed worker had claimed wait out the stale-claim timeout (10 minutes), then
    # any worker takes them over: run one as if that time had passed.
    settings = pg_world.settings.model_copy(update={"smtp_url": SecretStr(smtp_server.url)})
    later = datetime.now(UTC) + delivery.STALE_CLAIM + timedelta(minutes=1)
    mailer = make_mailer(settings)
    takeover = delivery.Round("drill-takeover", later, limit=10_000)
    report = delivery.deliver_due(pg_world.uow, mailer, takeover, settings=settings)
    print(f"taken over after the stale-claim timeout: {report}")

    got = Counter(r.message["Message-ID"] for r in smtp_server.received)
    assert set(got) == set(queued), "a queued message was never delivered"
    repeats = sum(n - 1 for n in got.values())
    print(f"delivered {len(got)} distinct messages, {repeats} repeated (at-least-once)")
    # Only the message in flight when a worker died can go twice.
    assert repeats <= kills
    answers = Counter(r.message["In-Reply-To"] for r in smtp_server.received)
    assert set(answers) == mix.answered
    with pg_world.uow() as uow:
        rows = uow.session.scalars(select(OutboxMessage)).all()
    assert all(r.sent_at is not None and r.failed_at is None for r in rows)
