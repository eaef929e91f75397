"""Metrics: the cost of one `/metrics` scrape on a large database (deals, their reviews,
their inbound mail and outbox rows, as years of use leave them), against the very same SQL
sent straight through the database driver, on PostgreSQL and on SQLite.

Besides the scrape, it times what it leaves out: the recount of closed deals (taken apart
from the scrapes, every few minutes) and a plain count of every stage, which a scrape would
otherwise make each time.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client import generate_latest
from sqlalchemy import BindParameter, Connection, bindparam, event, text
from sqlalchemy.engine import Engine

from bench.common import Scale, Servers, log, percentile, stopwatch, timed_ms
from bench.fill import load_postgres, load_sqlite
from core import gauges, jobs, metrics
from core.db import UTCDateTime, make_session_factory
from core.uow import UnitOfWork, UowFactory
from tests.factories import World

AS_OF = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
NOW = AS_OF + timedelta(hours=1)
SCRAPES = 50
JOBS = ("outbox", "expire", "remind", "sla", "digest", "retention", "poll")

# What a running system has beside the stored history: each deal's review (open ones due,
# one in ten of them overdue), a few hundred outbox rows waiting in each state, held and
# failed mail. One statement each; the ids pick the rows.
EXTRAS = (
    "INSERT INTO reviews (deal_id, review_due_at) SELECT id, CASE WHEN stage = 'opportunity'"
    " THEN (CASE WHEN id % 100 = 0 THEN :overdue ELSE :due END) END FROM deals",
    "UPDATE outbox SET sent_at = NULL WHERE id % 5000 = 0",
    "UPDATE outbox SET sent_at = NULL, attempts = 2 WHERE id % 5000 = 1",
    "UPDATE outbox SET sent_at = NULL, attempts = 12, failed_at = :now WHERE id % 5000 = 2",
    "UPDATE inbound_emails SET status = 'held' WHERE id % 5000 = 0",
    "UPDATE inbound_emails SET status = 'received', attempts = 1 WHERE id % 5000 = 1",
)
NAIVE = "SELECT stage, count(*) FROM deals GROUP BY stage"


def prepare(world: World, deals: int) -> None:
    """Fill the database with `deals` deals and what a running system has beside them."""
    if world.engine.dialect.name == "postgresql":
        load_postgres(world, deals, as_of=AS_OF)
    else:
        load_sqlite(world, deals, as_of=AS_OF)
    stamp = UTCDateTime()
    values = {"overdue": AS_OF - timedelta(hours=2), "due": AS_OF + timedelta(days=2), "now": NOW}
    with world.engine.begin() as conn:
        for statement in EXTRAS:
            names = [name for name in values if f":{name}" in statement]
            bound = text(statement).bindparams(
                *(_param(name, values[name], stamp) for name in names)
            )
            conn.execute(bound)
    for name in JOBS:
        jobs.record_run(world.uow, name, NOW, NOW, None)
    _settle(world.engine)


def _param(name: str, value: datetime, stamp: UTCDateTime) -> BindParameter[datetime]:
    return bindparam(name, value, type_=stamp)


def _settle(engine: Engine) -> None:
    """Leave the tables as autovacuum (PostgreSQL) or ANALYZE (SQLite) would: statistics
    taken and, on PostgreSQL, the visibility map set, which index-only counts rely on."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE) deals, reviews, outbox, inbound_emails"))
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")


def measure(world: World, scrapes: int) -> dict[str, Any]:
    """Time `scrapes` scrapes, each beside the same SQL sent raw, and what they leave out."""
    sessions = make_session_factory(world.engine, reading=True)

    def read() -> UnitOfWork:
        return UnitOfWork(sessions, reading=True)

    registry = metrics.registry(read, lambda: NOW)
    first = timed_ms(lambda: generate_latest(registry))
    statements = _captured(world.engine, lambda: generate_latest(registry))
    ours: list[float] = []
    raw: list[float] = []
    connection = world.engine.raw_connection()
    try:
        for _ in range(scrapes):
            ours.append(timed_ms(lambda: generate_latest(registry)))
            raw.append(timed_ms(lambda: _raw(connection, statements)))
        each = {_family(sql): _median(connection, [(sql, params)]) for sql, params in statements}
        recount = [timed_ms(lambda: _closed(read)) for _ in range(5)]
        naive = [timed_ms(lambda: _raw(connection, [(NAIVE, None)])) for _ in range(5)]
    finally:
        connection.close()
    p50, p95, raw_p50 = percentile(ours, 50), percentile(ours, 95), percentile(raw, 50)
    return {
        "scrapes": scrapes,
        "queries": len(statements),
        "p50_ms": round(p50, 2),
        "p95_ms": round(p95, 2),
        "max_ms": round(max(ours), 2),
        "raw_p50_ms": round(raw_p50, 2),
        "raw_p95_ms": round(percentile(raw, 95), 2),
        "ratio": round(p50 / raw_p50, 3),
        "first_scrape_ms": round(first, 2),
        "closed_recount_ms": round(percentile(recount, 50), 2),
        "every_stage_count_ms": round(percentile(naive, 50), 2),
        "raw_p50_ms_by_table": each,
    }


def _family(sql: str) -> str:
    """The table a captured statement counts in (its first FROM)."""
    found = re.search(r"\bFROM\s+(\w+)", sql)
    return found.group(1) if found else sql


def _median(connection: Any, statements: list[tuple[str, Any]], runs: int = 15) -> float:
    return round(
        percentile([timed_ms(lambda: _raw(connection, statements)) for _ in range(runs)], 50), 2
    )


def _closed(read: UowFactory) -> None:
    with read() as uow:
        gauges.deal_counts(uow.session.connection(), gauges.CLOSED)


def _captured(engine: Engine, scrape: Callable[[], Any]) -> list[tuple[str, Any]]:
    """The statements (with their parameters) one warm scrape sends."""
    seen: list[tuple[str, Any]] = []

    def grab(_conn: Connection, _cur: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        scrape()
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    return seen


def _raw(connection: Any, statements: list[tuple[str, Any]]) -> None:
    cur = connection.cursor()
    for sql, params in statements:
        cur.execute(sql, params) if params is not None else cur.execute(sql)
        cur.fetchall()
    cur.close()
    connection.rollback()


def backend(url: str, tmp: Path, deals: int) -> dict[str, Any]:
    """Fill one database and measure its scrapes."""
    world = World(url, tmp)
    try:
        with stopwatch() as took:
            prepare(world, deals)
        name = world.engine.dialect.name
        log(f"metrics: {deals:,} deals loaded into {name} in {took['s']:.0f}s")
        found = {"deals": deals, **measure(world, SCRAPES), "load_s": round(took["s"], 1)}
    finally:
        world.close()
    log(
        f"metrics: {name} scrape p50 {found['p50_ms']} ms, p95 {found['p95_ms']} ms;"
        f" raw queries p50 {found['raw_p50_ms']} ms; ratio {found['ratio']};"
        f" closed recount {found['closed_recount_ms']} ms,"
        f" every stage counted {found['every_stage_count_ms']} ms"
    )
    return found


def run(servers: Servers, scale: Scale) -> dict[str, Any]:
    """The scrape at `scale.deals` deals on PostgreSQL and on SQLite."""
    with tempfile.TemporaryDirectory(prefix="dealreg-bench-") as tmp:
        postgresql = backend(servers.postgres.create_database(), Path(tmp), scale.deals)
    with tempfile.TemporaryDirectory(prefix="dealreg-bench-") as tmp:
        sqlite = backend(f"sqlite:///{tmp}/metrics.db", Path(tmp), scale.deals)
    keys = ("deals", "p50_ms", "p95_ms", "raw_p50_ms", "ratio")
    return {
        "metrics": {
            **{k: postgresql[k] for k in keys},
            "sqlite_p95_ms": sqlite["p95_ms"],
            "sqlite_ratio": sqlite["ratio"],
            "postgresql": postgresql,
            "sqlite": sqlite,
        }
    }
