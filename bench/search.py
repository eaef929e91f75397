"""Search: p95 of `core.services.search` over a fixed mix of terms on many deals, against the
very same SQL sent straight through the database driver."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import event, select

from bench import common
from bench.common import Scale, Servers, log, percentile, stopwatch, timed_ms
from bench.fill import load_postgres, load_sqlite, prospect_rows, vocabulary
from core.models import Deal
from core.services.actors import Actor
from core.services.queries import search
from tests.factories import ANN, REVIEWER, World


def terms(deals: int) -> dict[str, str]:
    """The fixed mix: rare and common words, deal numbers, whole and partial domains."""
    words = vocabulary()
    domain = next(d for i, d, _c, _t in prospect_rows(max(1, deals // 2), words) if i == deals // 6)
    return {
        "rare_word": words[-1],
        "rare_name": domain.split(".")[0],
        "common_word": "global",
        "common_prefix": "tec",
        "deal_number": f"DR-{deals // 3:06d}",
        "deal_digits": f"{deals // 7:06d}"[-5:],
        "domain": domain,
        "domain_url": f"https://www.{domain}/contact",
    }


def _captured_sql(world: World, actor: Actor, term: str) -> tuple[str, Any]:
    """The SELECT that `search` sends for this term, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def grab(_conn: Any, _cur: Any, statement: str, params: Any, *_: Any) -> None:
        seen.append((statement, params))

    event.listen(world.engine, "before_cursor_execute", grab)
    try:
        with world.uow() as uow:
            search(uow.session, actor, term)
    finally:
        event.remove(world.engine, "before_cursor_execute", grab)
    return next((s, p) for s, p in seen if s.lstrip().upper().startswith("SELECT"))


def measure(world: World, repeats: int) -> dict[str, Any]:
    """Time every (actor, term) `repeats` times through the service and as raw SQL."""
    actors = {
        "reviewer": world.actor(REVIEWER),
        "partner": world.actor(ANN),
    }
    with world.uow() as uow:
        deals = uow.session.scalar(select(Deal.id).order_by(Deal.id.desc()).limit(1)) or 0
    ours: list[float] = []
    raw: list[float] = []
    detail: dict[str, Any] = {}
    connection = world.engine.raw_connection()
    try:
        for who, actor in actors.items():
            for name, term in terms(deals).items():
                sql, params = _captured_sql(world, actor, term)
                with world.uow() as uow:
                    hits = len(search(uow.session, actor, term))
                mine, bare = _pair(world, connection, actor, term, sql, params, repeats)
                ours += mine
                raw += bare
                detail[f"{who}:{name}"] = {
                    "term": term, "hits": hits,
                    "p95_ms": round(percentile(mine, 95), 2),
                    "raw_p95_ms": round(percentile(bare, 95), 2),
                }  # fmt: skip
    finally:
        connection.close()
    p95, raw_p95 = percentile(ours, 95), percentile(raw, 95)
    return {
        "deals": deals,
        "calls": len(ours),
        "p50_ms": round(percentile(ours, 50), 2),
        "p95_ms": round(p95, 2),
        "raw_p95_ms": round(raw_p95, 2),
        "ratio": round(p95 / raw_p95, 3),
        "terms": detail,
    }


def _pair(
    world: World, connection: Any, actor: Actor, term: str, sql: str, params: Any, repeats: int
) -> tuple[list[float], list[float]]:
    """Time the service and the raw SQL alternately, so both see the same machine."""
    mine: list[float] = []
    bare: list[float] = []
    for _ in range(repeats):
        mine.append(timed_ms(lambda: _service(world, actor, term)))
        bare.append(timed_ms(lambda: _raw(connection, sql, params)))
    return mine, bare


def _service(world: World, actor: Actor, term: str) -> None:
    with world.uow() as uow:
        search(uow.session, actor, term)


def _raw(connection: Any, sql: str, params: Any) -> None:
    cur = connection.cursor()
    cur.execute(sql, params)
    cur.fetchall()
    cur.close()
    connection.rollback()


def run(servers: Servers, scale: Scale) -> dict[str, Any]:
    """Search on PostgreSQL and on SQLite, both at full size over the same terms."""
    with tempfile.TemporaryDirectory(prefix="dealreg-bench-") as tmp:
        world = World(servers.postgres.create_database(), Path(tmp))
        with stopwatch() as took:
            load_postgres(world, scale.deals)
        log(f"search: {scale.deals:,} deals loaded into PostgreSQL in {took['s']:.0f}s")
        postgresql = measure(world, scale.searches)
        world.close()
        log(f"search: PostgreSQL p95 {postgresql['p95_ms']} ms, raw {postgresql['raw_p95_ms']}")
    sqlite = run_sqlite(scale.deals, scale.searches)
    return {
        "search": {
            **{k: postgresql[k] for k in ("deals", "p95_ms", "raw_p95_ms", "ratio", "p50_ms")},
            "sqlite_p95_ms": sqlite["p95_ms"],
            "postgresql": postgresql,
            "sqlite": sqlite,
        }
    }


def run_sqlite(deals: int, repeats: int) -> dict[str, Any]:
    """Search on a fresh SQLite file of `deals` deals, its trigram index filled by triggers."""
    with tempfile.TemporaryDirectory(prefix="dealreg-bench-") as tmp:
        lite = World(f"sqlite:///{tmp}/search.db", Path(tmp))
        with stopwatch() as took:
            load_sqlite(lite, deals)
        log(f"search: {deals:,} deals loaded into SQLite in {took['s']:.0f}s")
        sqlite = {**measure(lite, repeats), "load_s": round(took["s"], 1)}
        lite.close()
    log(
        f"search: SQLite p95 {sqlite['p95_ms']} ms, raw {sqlite['raw_p95_ms']} ms,"
        f" ratio {sqlite['ratio']} at {sqlite['deals']:,} deals"
    )
    return sqlite


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.search [--deals N] [--repeats R]`: the SQLite run alone.

    Writes `search.sqlite` (and `search.sqlite_p95_ms`) into bench/results.json, keeping
    every other figure of the last run.
    """
    parser = argparse.ArgumentParser(prog="python -m bench.search", description=main.__doc__)
    parser.add_argument("--deals", type=int, default=1_000_000, help="deals to load")
    parser.add_argument("--repeats", type=int, default=10, help="runs of each (actor, term)")
    args = parser.parse_args(argv)
    sqlite = run_sqlite(args.deals, args.repeats)
    results = common.previous()
    search = results.setdefault("search", {})
    search.update({"sqlite_p95_ms": sqlite["p95_ms"], "sqlite": sqlite})
    common.RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n")
    met = sqlite["p95_ms"] <= 50 and sqlite["ratio"] <= 1.5
    print(
        f"SQLite, {sqlite['deals']:,} deals: p95 {sqlite['p95_ms']} ms (goal <= 50),"
        f" raw {sqlite['raw_p95_ms']} ms, ratio {sqlite['ratio']} (goal <= 1.5):"
        f" {'PASS' if met else 'MISS'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
