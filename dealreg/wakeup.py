"""Deliver mail the moment it is queued, whichever process queued it.

A commit in this process wakes the deliverer directly (`core.wake`). A commit in another
process (the bot's Approve click, say, while the worker delivers) is seen through the
database: on PostgreSQL by `LISTEN dealreg_outbox` on a connection of its own, on SQLite
by reading the highest outbox id every `SQLITE_EVERY_S`. Either way the deliverer also
runs every `every_s` seconds, so a lost wake-up (the LISTEN connection dropped, say) delays
a message by at most that, and the listener reconnects with back-off.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from core import wake
from core.models import OutboxMessage
from dealreg.wiring import App

log = logging.getLogger(__name__)

SQLITE_EVERY_S = 0.2
LISTEN_TIMEOUT_S = 1.0  # how soon the listener notices `stop`
RETRY_MAX_S = 30.0


def deliver_forever(app: App, stop: threading.Event, deliver: object, every_s: float) -> None:
    """Call `deliver()` now, then on every wake-up and at least every `every_s`, until stop."""
    while not stop.is_set():
        if callable(deliver):
            deliver()
        wake.OUTBOX.wait(every_s)


def watch(app: App, stop: threading.Event) -> threading.Thread:
    """Start the thread that turns other processes' commits into wake-ups here."""
    target = _listen if app.engine.dialect.name == "postgresql" else _poll_highest_id
    thread = threading.Thread(target=target, args=(app, stop), name="outbox-wake", daemon=True)
    thread.start()
    return thread


def _listen(app: App, stop: threading.Event) -> None:
    """LISTEN on a connection of its own; reconnect with back-off when it is lost."""
    delay = 1.0
    while not stop.is_set():
        try:
            with app.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.exec_driver_sql(f"LISTEN {wake.CHANNEL}")
                raw = conn.connection.driver_connection
                log.info("outbox wake-ups: listening on %s", wake.CHANNEL)
                delay = 1.0
                wake.OUTBOX.set()  # anything queued while we were not listening
                while not stop.is_set():
                    for _ in raw.notifies(timeout=LISTEN_TIMEOUT_S, stop_after=1):  # type: ignore[union-attr]
                        wake.OUTBOX.set()
        except Exception as exc:  # the server restarted, the network dropped: poll meanwhile
            log.warning("outbox wake-ups: LISTEN lost (%s); retrying in %.0fs", exc, delay)
            stop.wait(delay)
            delay = min(delay * 2, RETRY_MAX_S)


def _poll_highest_id(app: App, stop: threading.Event) -> None:
    """Wake the deliverer whenever the highest outbox id grows (SQLite: one process may
    write at a time, so another's commit shows as a higher id)."""
    highest = _highest(app)
    while not stop.wait(SQLITE_EVERY_S):
        now = _highest(app)
        if now is not None and (highest is None or now > highest):
            wake.OUTBOX.set()
        if now is not None:
            highest = now


_HIGHEST = select(func.max(OutboxMessage.id))


def _highest(app: App) -> int | None:
    try:
        with app.engine.connect() as conn:
            value = conn.scalar(_HIGHEST)
            return int(value) if value is not None else 0
    except SQLAlchemyError as exc:
        log.debug("outbox wake-ups: cannot read the outbox (%s)", exc)
        return None
