"""The latency benchmark's runs summed up and printed: each database's figures from the run
whose under-backlog approval p99 is the median, that p99's spread over the runs, and the load
during each backlog, so a reader can tell a regression from a busy neighbour."""

from __future__ import annotations

import statistics
from typing import Any

from bench.common import median_index, spread
from bench.load import describe, others_span

DATABASES = ("sqlite", "postgresql")
GOAL_P99_MS = 1000.0
GOAL_FLOOR_RATIO = 5.0


def brief(run: dict[str, Any]) -> dict[str, Any]:
    """One run in a few figures: its floor, each database's reply and backlog, its load."""
    out: dict[str, Any] = {"floor_p50_ms": run["floor_p50_ms"], "load": run["load"]}
    for db in DATABASES:
        backlog = run[db]["under_backlog"]
        out[db] = {
            "email_reply_p50_ms": run[db]["email_reply"]["p50_ms"],
            "under_backlog_p50_ms": backlog["p50_ms"],
            "under_backlog_p99_ms": backlog["p99_ms"],
            "under_backlog_load": backlog["load"],
        }
    return out


def over_runs(runs: list[dict[str, Any]], events: int, backlog: int) -> dict[str, Any]:
    """The figures judged: per database, the run whose under-backlog approval p99 is the
    median, with that p99 set to the median and its least and greatest beside it."""
    floors = [run["floor_p50_ms"] for run in runs]
    out: dict[str, Any] = {
        "events": events,
        "backlog": backlog,
        "floor_p50_ms": round(statistics.median(floors), 1),
        "floor_p99_ms": round(statistics.median(run["floor_p99_ms"] for run in runs), 1),
    }
    for db in DATABASES:
        p99s = [run[db]["under_backlog"]["p99_ms"] for run in runs]
        middle = runs[median_index(p99s)]
        found = {**middle[db], "floor_p50_ms": middle["floor_p50_ms"]}
        p99 = spread(p99s)
        found["under_backlog"] = {
            **middle[db]["under_backlog"],
            "p99_ms": round(p99["median"], 1),
            **{f"p99_{k}_ms": round(v, 1) for k, v in p99.items()},
        }
        out[db] = found
    out["runs"] = [brief(run) for run in runs]
    return out


# Each row of the table: its name and where its figures are in a database's results.
ROWS = (
    ("email_reply", ("email_reply",)),
    ("review_post", ("review_post",)),
    ("approval_email", ("approval_email",)),
    ("under_backlog (approval)", ("under_backlog",)),
    ("under_backlog (search)", ("under_backlog", "search")),
)


def _figures(found: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    for key in keys:
        found = found[key]
    return found


def _goals(latency: dict[str, Any]) -> list[str]:
    rows: list[tuple[str, ...]] = [
        ("path", "SQLite p50 / p99", "PostgreSQL p50 / p99", f"goal p99 <= {GOAL_P99_MS:g} ms")
    ]
    for name, keys in ROWS:
        found = [_figures(latency[db], keys) for db in DATABASES]
        met = all(f["p99_ms"] <= GOAL_P99_MS for f in found)
        cells = [f"{f['p50_ms']:,.1f} / {f['p99_ms']:,.1f} ms" for f in found]
        rows.append((name, *cells, "PASS" if met else "MISS"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def _spread(latency: dict[str, Any], db: str) -> str:
    """The under-backlog approval p99 over the runs, and what else ran during the backlogs."""
    b, runs = latency[db]["under_backlog"], latency["runs"]
    others = others_span(run[db]["under_backlog_load"] for run in runs)
    return (
        f"{db}: under_backlog (approval) p99 over {len(runs)} run(s), min / median / max "
        f"{b['p99_min_ms']:,.1f} / {b['p99_median_ms']:,.1f} / {b['p99_max_ms']:,.1f} ms; "
        f"during the backlogs others kept {others or 'n/a'} CPUs busy"
    )


def table(latency: dict[str, Any]) -> str:
    """Each path's p50 / p99 on both databases against the 1 s goal, the floor ratios, the
    backlog's progress, and the under-backlog p99's spread with the load."""
    lines = _goals(latency)
    for db in DATABASES:
        mine = latency[db]
        ratio, floor_ms = mine["email_reply_vs_floor"], mine["floor_p50_ms"]
        verdict = "PASS" if ratio <= GOAL_FLOOR_RATIO else "MISS"
        lines.append(
            f"{db}: email_reply p50 / floor p50 ({floor_ms:,.1f} ms) = {ratio:,.2f}x "
            f"(goal <= {GOAL_FLOOR_RATIO:g}x) {verdict}; "
            f"{mine['email_reply_over_floor_ms']:,.1f} ms over the floor"
        )
    for db in DATABASES:
        b = latency[db]["under_backlog"]
        lines.append(
            f"{db}: {latency['events']} clicks and searches answered {b['answered_s']} s after "
            f"the first of {b['backlog']:,} appends (all in after {b['appended_s']} s); "
            f"confirmations {b['replied']:,} by {b['replied_s']} s; "
            f"review posts {b['posted']:,} by {b['posted_s']} s"
        )
    lines.extend(_spread(latency, db) for db in DATABASES)
    for index, run in enumerate(latency["runs"], 1):
        p99 = " / ".join(f"{run[db]['under_backlog_p99_ms']:,.1f}" for db in DATABASES)
        lines.append(
            f"run {index}: under_backlog (approval) p99 SQLite / PostgreSQL {p99} ms; "
            f"floor p50 {run['floor_p50_ms']:,.1f} ms; {describe(run['load'])}"
        )
    return "\n".join(lines)
