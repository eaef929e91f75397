from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.factories import World
from tests.integration.bot_harness import BotHarness, slack_world
from tests.integration.privacy_scan import Scan, scanner
from tests.integration.test_cli import Cli, prepared
from tests.slack_fake import FakeSlack


@pytest.fixture
def slack_db_world(db_url: str, tmp_path: Path, slack: FakeSlack) -> Iterator[World]:
    """A world with Slack configured against the fake, on SQLite and on PostgreSQL."""
    w = slack_world(db_url, tmp_path, slack)
    yield w
    w.close()


@pytest.fixture
def sqlite_world(tmp_path: Path, slack: FakeSlack) -> Iterator[World]:
    """A world with Slack configured against the fake, on SQLite."""
    w = slack_world(f"sqlite:///{tmp_path / 'bot.db'}", tmp_path, slack)
    yield w
    w.close()


@pytest.fixture
def bot(sqlite_world: World, slack: FakeSlack) -> Iterator[BotHarness]:
    """The bot served over HTTP on a free port, its Web API pointed at the fake."""
    harness = BotHarness(sqlite_world, slack)
    yield harness
    harness.close()


@pytest.fixture
def cli(db_url: str, tmp_path: Path) -> Cli:
    """The `dealreg` command on a database as `init` and `catalog load` leave it."""
    return prepared(db_url, tmp_path)


@pytest.fixture
def scan(db_url: str, request: pytest.FixtureRequest) -> Scan:
    """The test database's own bytes, for the privacy checks."""
    return scanner(db_url, request)
