"""Report: `dealreg report --by partner` and the morning digest's queries over a large
database (deals registered over two years, in three currencies, with their audit trail and
reviews), against the very same SQL sent straight through the database driver, on
PostgreSQL and on SQLite. The goal: each at most 2 s, and at most 1.5 times its raw SQL.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.common import Scale, Servers, log, stopwatch
from bench.fill import load_postgres, load_sqlite
from bench.metrics import _captured, _raw
from core import figures
from core.config import Settings
from core.services import digest
from core.services.report import Window, report
from dealreg.report_command import table
from tests.factories import World

BASE = datetime(2024, 12, 1, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
RUNS = 3
# Two years of registrations (created_at spread by the id), a third in each currency; every
# deal registered, 8 in 10 decided a day later (6 approved, 2 rejected), of the approved one
# in six ordered and one expired (the audit trail, and the flags each review keeps of it);
# the fill's open deals awaiting the desk, due now.
_DAYS = {
    "postgresql": "CAST(:base AS timestamptz) + (id % 730) * interval '1 day'",
    "sqlite": "strftime('%Y-%m-%d %H:%M:%f', :base, '+' || (id % 730) || ' days')",
}
_LATER = {
    "postgresql": "created_at + interval '1 day'",
    "sqlite": "strftime('%Y-%m-%d %H:%M:%f', created_at, '+1 day')",
}
EVENTS = "INSERT INTO deal_events (deal_id, at, actor, channel, action, details) "
SHAPE = (
    "UPDATE deals SET created_at = {days}, currency = CASE id % 3 WHEN 0 THEN 'USD' "
    "WHEN 1 THEN 'EUR' ELSE 'GBP' END",
    EVENTS + "SELECT id, created_at, 'a@x.example', 'email', 'register', '{{}}' FROM deals",
    EVENTS + "SELECT id, {later}, 'r@x.example', 'slack', CASE WHEN id % 10 < 6 THEN "
    "'approve' ELSE 'reject' END, '{{}}' FROM deals WHERE id % 10 < 8",
    EVENTS + "SELECT id, {later}, 'a@x.example', 'email', CASE WHEN id % 10 = 0 THEN "
    "'submit_order' ELSE 'expire' END, '{{}}' FROM deals WHERE id % 10 < 2",
    "INSERT INTO reviews (deal_id, sla_notified, second_approval, desk_hours, reached, "
    "decided_at, decision_hours, review_due_at) SELECT id, 0, false, 0, CASE WHEN id % 10 = 0 "
    "THEN 65 WHEN id % 10 = 1 THEN 17 WHEN id % 10 < 6 THEN 1 WHEN id % 10 < 8 THEN 2 ELSE 0 "
    "END, CASE WHEN id % 10 < 8 THEN "
    "{later} END, CASE WHEN id % 10 < 8 THEN (id % 40) * 0.5 END, CASE WHEN stage = "
    "'opportunity' THEN :now END FROM deals",
)


def prepare(world: World, deals: int) -> None:
    """Fill the database with `deals` deals, then give them their history."""
    name = world.engine.dialect.name
    (load_postgres if name == "postgresql" else load_sqlite)(world, deals)
    with world.engine.begin() as conn:
        for statement in SHAPE:
            sql = statement.format(days=_DAYS[name], later=_LATER[name])
            values = {"base": BASE.strftime("%Y-%m-%d %H:%M:%S"), "now": NOW}
            if name == "sqlite":
                values["now"] = NOW.strftime("%Y-%m-%d %H:%M:%S.%f")
            conn.execute(text(sql), {k: v for k, v in values.items() if f":{k}" in sql})
    with world.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE" if name == "sqlite" else "VACUUM (ANALYZE)"))


def _best(fn: Callable[[], Any]) -> float:
    times = []
    for _ in range(RUNS):
        with stopwatch() as took:
            fn()
        times.append(took["s"])
    return min(times)


def measure(world: World) -> dict[str, Any]:
    """Each task's best of `RUNS` against the same statements sent raw."""
    settings = Settings(database_url=str(world.engine.url))

    def by_partner() -> str:
        with world.uow() as uow:
            found = report(uow.session, Window(), "partner", settings.review_sla_hours)
        return table([figures.row(t) for t in found.tallies], "partner")

    def morning() -> Any:
        with world.uow() as uow:
            return digest.figures(uow.session, settings.slack_review_channel, NOW, settings)

    out: dict[str, Any] = {}
    for label, task in (("report", by_partner), ("digest", morning)):
        task()  # warm: the statements cached, the pages read
        statements = _captured(world.engine, task)
        seconds = _best(task)
        raw = world.engine.raw_connection()
        try:
            raw_seconds = _best(partial(_raw, raw, statements))
        finally:
            raw.close()
        out[label] = {
            "seconds": round(seconds, 3),
            "raw_seconds": round(raw_seconds, 3),
            "ratio": round(seconds / raw_seconds, 2),
            "statements": len(statements),
        }
    return out


def backend(url: str, tmp: Path, deals: int) -> dict[str, Any]:
    world = World(url, tmp)
    try:
        with stopwatch() as took:
            prepare(world, deals)
        log(f"report: {deals:,} deals loaded into {world.engine.dialect.name} in {took['s']:.0f}s")
        return {"deals": deals, "load_s": round(took["s"], 1), **measure(world)}
    finally:
        world.close()


def run(servers: Servers, scale: Scale) -> dict[str, Any]:
    """Both engines with `scale.stored` deals (1,000,000; 100,000 with --quick)."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        pg = servers.postgres.create_database()
        found = {"postgresql": backend(pg, Path(tmp), scale.stored)}
        servers.postgres.drop_database(pg)
        found["sqlite"] = backend(f"sqlite:///{tmp}/report.db", Path(tmp), scale.stored)
    for name, figures_ in found.items():
        rep = figures_["report"]
        results[name] = {**rep, "deals": figures_["deals"], "load_s": figures_["load_s"],
                         "digest": figures_["digest"]}  # fmt: skip
        log(f"report: {name} {rep['seconds']} s ({rep['ratio']}x raw), digest "
            f"{figures_['digest']['seconds']} s ({figures_['digest']['ratio']}x raw)")  # fmt: skip
    return {"report": results}
