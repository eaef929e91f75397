"""Fault drills: every test here is marked `drill` and runs at one of two scales.

The normal suite (`make test`, plain `pytest`) runs each drill small, to prove it in CI
within about a minute in all. `make drills` (`-m drill`) or `DRILLS=1` runs them full size.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.factories import World


def full_scale(config: pytest.Config) -> bool:
    """Say whether the drills run full size: `-m drill` given, or DRILLS=1."""
    if os.environ.get("DRILLS", "").strip().lower() in {"1", "true", "yes"}:
        return True
    return "drill" in (config.getoption("markexpr", "") or "")


@pytest.fixture
def full(request: pytest.FixtureRequest) -> bool:
    """True under `make drills`; the test picks its sizes from it."""
    return full_scale(request.config)


@pytest.fixture
def pg_world(pg_url: str, tmp_path: Path) -> Iterator[World]:
    """The same on PostgreSQL only, where several workers share the queues."""
    w = World(pg_url, tmp_path)
    try:
        yield w
    finally:
        w.close()
