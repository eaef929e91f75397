"""Shared fixtures: real PostgreSQL, Dovecot and SMTP servers started for the test session.

Fixtures:
- `postgres` (session): a running `PostgresServer`; `.url` is the admin database's URL.
- `pg_url`: the URL of a fresh, empty PostgreSQL database, dropped after the test.
- `db_url`: parametrised over `sqlite` (a temp file) and `postgresql` (as `pg_url`).
- `dovecot` (session): a running `DovecotServer` (host, port, user, password, imap_url,
  append, restart, stop, add_user).
- `imap_account`: a fresh Dovecot user with an empty mailbox (`ImapAccount`).
- `slack`: a local fake of Slack's Web API (tests/slack_fake.py) that records every call.
- `smtp_server`: an `SmtpServer` (tests/integration/smtp_server.py) recording `received`
  messages; `stop()`/`start()` on the same port simulate an outage.

A missing server skips its tests, or fails them when `REQUIRE_SERVICES=1`.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# The tests of reading and routing mail take partner senders on trust and answer every
# message, in this process and in the `dealreg` processes they start; the sender proof and
# the loop guard are turned on and proven in tests/integration/test_intake_trust.py.
os.environ.setdefault("INTAKE_REQUIRE_SENDER_PROOF", "false")
os.environ.setdefault("INTAKE_REPLIES_PER_HOUR", "100000")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.dkim import dkim_keys, dns_server  # noqa: E402, F401  (fixtures, found by name)
from tests.factories import World  # noqa: E402
from tests.servers import (  # noqa: E402
    DovecotServer,
    ImapAccount,
    PostgresServer,
    start_dovecot,
    start_postgres,
)
from tests.slack_fake import FakeSlack, assert_valid_block_kit  # noqa: E402

if TYPE_CHECKING:
    from tests.integration.smtp_server import SmtpServer


def pytest_configure(config: pytest.Config) -> None:
    """Turn SIGTERM (a CI timeout, `timeout(1)`) into an interrupt, so servers still stop."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, signal.default_int_handler)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """Start one PostgreSQL cluster for the whole session."""
    server = start_postgres()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def pg_url(postgres: PostgresServer) -> Iterator[str]:
    """Give the test a fresh, empty PostgreSQL database."""
    url = postgres.create_database()
    try:
        yield url
    finally:
        postgres.drop_database(url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run the test once on an SQLite file and once on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'dealreg.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    """A migrated database with the demo catalogue, on SQLite and on PostgreSQL."""
    w = World(db_url, tmp_path)
    try:
        yield w
    finally:
        w.close()


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """A local fake of Slack's Web API that records every call; after the test, every
    Block Kit payload it recorded must pass slack_sdk's models (Slack refuses the rest)."""
    fake = FakeSlack()
    yield fake
    fake.close()
    assert_valid_block_kit(fake.calls)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """Start one Dovecot IMAP server for the whole session."""
    server = start_dovecot()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def imap_account(dovecot: DovecotServer) -> ImapAccount:
    """Give the test its own Dovecot user with an empty mailbox."""
    dovecot.start()  # a previous test may have stopped it
    return dovecot.add_user()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """Run an SMTP server that records what it receives."""
    from tests.integration.smtp_server import SmtpServer  # the outbox tests' helper

    with SmtpServer() as server:
        yield server
