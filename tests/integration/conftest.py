from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.factories import World


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    """A migrated database with the demo catalogue, on SQLite and on PostgreSQL."""
    w = World(db_url, tmp_path)
    try:
        yield w
    finally:
        w.close()
