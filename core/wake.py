"""Wake the outbox's deliverer as soon as a transaction that queued mail commits.

A unit of work that writes outbox rows marks its session (`written`); when it commits, the
deliverers of this process are woken at once (`committed`). Other processes learn of it
from the database: on PostgreSQL the same transaction sends `NOTIFY dealreg_outbox`, which
PostgreSQL delivers only if it commits; on SQLite a watcher reads the highest outbox id a
few times a second (`dealreg/wakeup.py` runs both). The deliverer still polls every 15 s,
so a lost wake-up delays a message, never loses it.
"""

from __future__ import annotations

import threading

from sqlalchemy import text
from sqlalchemy.orm import Session

CHANNEL = "dealreg_outbox"
_QUEUED = "dealreg.outbox_queued"
_NOTIFY = text(f"NOTIFY {CHANNEL}")


class Signal:
    """A wake-up that waiters clear as they take it: set any number of times, taken once."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def wait(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for a wake-up; True (and cleared) when one came."""
        woken = self._event.wait(timeout_s)
        self._event.clear()
        return woken


# Set when this process commits outbox rows, or another process is seen to.
OUTBOX = Signal()


def written(session: Session, tables: set[str]) -> None:
    """Note that `session`'s transaction wrote rows to `tables` (a unit of work's write)."""
    if "outbox" not in tables:
        return
    session.info[_QUEUED] = True
    if session.get_bind().dialect.name == "postgresql":
        # Delivered to listeners when, and only if, this transaction commits; PostgreSQL
        # sends one however many a transaction issues.
        session.execute(_NOTIFY)


def committed(session: Session) -> None:
    """After `session` committed: wake this process's deliverers if it queued rows."""
    if session.info.pop(_QUEUED, False):
        OUTBOX.set()


def rolled_back(session: Session) -> None:
    """After a rollback: its rows are gone, and so is its NOTIFY."""
    session.info.pop(_QUEUED, None)
