"""What every benchmark shares: the servers, timing helpers, run metadata and the table."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import load
from tests.servers import DovecotServer, PostgresServer, start_dovecot, start_postgres

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"


@dataclass
class Scale:
    """How big a run is: `--quick` while iterating, full for the published figures."""

    emails: int
    deals: int
    sqlite_deals: int
    requests: int
    searches: int
    # The scale benchmark: deals stored beforehand, emails per round, rounds, and the
    # `/deal search` commands per (user, term) on each database.
    stored: int
    round_emails: int
    rounds: int
    commands: int
    # Runs of the intake and latency benchmarks, each with its own floor and load, judged on
    # their median; and the timed runs of each `dealreg` command and of its floor.
    runs: int = 3
    cli_samples: int = 15
    quick: bool = False

    @classmethod
    def of(cls, quick: bool, runs: int | None = None) -> Scale:
        if quick:
            return cls(
                emails=300, deals=50_000, sqlite_deals=20_000, requests=120, searches=4,
                stored=100_000, round_emails=300, rounds=2, commands=6, runs=runs or 1,
                cli_samples=5, quick=True,
            )  # fmt: skip
        return cls(
            emails=2_500, deals=1_000_000, sqlite_deals=100_000, requests=400, searches=10,
            stored=1_000_000, round_emails=2_500, rounds=3, commands=30, runs=runs or 3,
        )  # fmt: skip


class Servers:
    """PostgreSQL and Dovecot, started once on first use and stopped at the end."""

    def __init__(self) -> None:
        self._pg: PostgresServer | None = None
        self._imap: DovecotServer | None = None

    @property
    def postgres(self) -> PostgresServer:
        if self._pg is None:
            self._pg = start_postgres({"REQUIRE_SERVICES": "1"})
        return self._pg

    @property
    def dovecot(self) -> DovecotServer:
        if self._imap is None:
            self._imap = start_dovecot({"REQUIRE_SERVICES": "1"})
        return self._imap

    def pids(self) -> list[int]:
        """The started servers' processes that are not this one's descendants: PostgreSQL's
        postmaster (pg_ctl detaches it), so its CPU counts as the benchmark's own load."""
        if self._pg is None:
            return []
        with contextlib.suppress(OSError, ValueError):
            return [int((self._pg.datadir / "postmaster.pid").read_text().split()[0])]
        return []

    def close(self) -> None:
        for server in (self._imap, self._pg):
            if server is not None:
                with contextlib.suppress(Exception):
                    server.cleanup()


def previous() -> dict[str, Any]:
    """The results of the last run, or nothing when there are none."""
    try:
        found = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def percentile(values: Sequence[float], pct: float) -> float:
    """The `pct` percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def spread(values: Sequence[float]) -> dict[str, float]:
    """The least, the median and the greatest of `values` (the runs of one figure)."""
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def median_index(values: Sequence[float]) -> int:
    """The index of the median of `values` (the lower one of two middles)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    return order[(len(order) - 1) // 2]


def timed_ms(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


@contextlib.contextmanager
def stopwatch() -> Iterator[dict[str, float]]:
    """Yield a dict whose `s` holds the elapsed seconds once the block ends, and `cpu` the
    seconds this process spent on a CPU meanwhile (less swayed by other load than `s`)."""
    out = {"s": 0.0, "cpu": 0.0}
    started, cpu = time.perf_counter(), time.process_time()
    try:
        yield out
    finally:
        out["s"] = time.perf_counter() - started
        out["cpu"] = time.process_time() - cpu


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def machine() -> dict[str, Any]:
    """Where and when the figures were taken."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = ""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cpu_model": model,
    }


@dataclass(frozen=True)
class Goal:
    name: str
    value: float | None
    limit: float
    higher_is_better: bool
    unit: str
    # When the value is the median of several runs: their figures (or their least and
    # greatest), and the CPUs other processes took meanwhile, to tell a regression from a
    # busy neighbour.
    runs: tuple[float, ...] = ()
    others: str = ""

    @property
    def met(self) -> bool:
        if self.value is None:
            return False
        return self.value >= self.limit if self.higher_is_better else self.value <= self.limit


def _runs(section: dict[str, Any], key: str) -> dict[str, Any]:
    """The figure `key` of each of the section's runs, and the load during them."""
    runs = section.get("runs", [])
    return {
        "runs": tuple(run[key] for run in runs if run.get(key) is not None),
        "others": load.others_span(run.get("load", {}) for run in runs),
    }


def _cli(cli: dict[str, Any], name: str) -> dict[str, Any]:
    low, high = cli.get(f"{name}_ratio_min"), cli.get(f"{name}_ratio_max")
    return {
        "runs": () if low is None or high is None else (low, high),
        "others": load.others_span([cli.get("load", {})]),
    }


def goals(results: dict[str, Any]) -> list[Goal]:
    """The issue's goals, read from the results."""
    intake = results.get("intake", {})
    ack = results.get("slack_ack", {})
    search = results.get("search", {})
    size = results.get("parse_size", {})
    scale = results.get("scale", {})
    cli = results.get("cli", {})
    lite, pg = scale.get("sqlite", {}), scale.get("postgresql", {})
    return [
        Goal("intake rate, SQLite", intake.get("rate_per_s"), 300, True, "msg/s",
             **_runs(intake, "rate_per_s")),
        Goal("intake rate / floor", intake.get("ratio"), 0.25, True, "x",
             **_runs(intake, "ratio")),
        Goal("slack ack p99 @8", ack.get("p99_ms"), 100, False, "ms"),
        Goal("slack ack p99 ours/bare", ack.get("ratio"), 1.5, False, "x"),
        Goal("search p95, PostgreSQL", search.get("p95_ms"), 50, False, "ms"),
        Goal("search p95 ours/raw", search.get("ratio"), 1.5, False, "x"),
        Goal("worker peak RSS", results.get("worker_rss_mb"), 150, False, "MB"),
        Goal("read 10 MB message, slowest shape", size.get("max_10mb_s"), 2, False, "s"),
        Goal("read 1 MB encoded Subject", size.get("subject_1mb_s"), 0.5, False, "s"),
        Goal("read time per byte, 10 MB / 100 KB", size.get("max_growth_ratio"), 1.5, False, "x"),
        Goal("intake rate empty / full, SQLite", lite.get("intake_ratio"), 1.2, False, "x"),
        Goal("intake rate empty / full, PostgreSQL", pg.get("intake_ratio"), 1.2, False, "x"),
        Goal("search p95 full / empty, SQLite", lite.get("search_ratio"), 1.2, False, "x"),
        Goal("search p95 full / empty, PostgreSQL", pg.get("search_ratio"), 1.2, False, "x"),
        Goal("dealreg --help / bare argparse", cli.get("help_ratio"), 2, False, "x",
             **_cli(cli, "help")),
        Goal("dealreg deals list / bare query", cli.get("list_ratio"), 1.5, False, "x",
             **_cli(cli, "list")),
        Goal("metrics scrape p95, PostgreSQL", results.get("metrics", {}).get("p95_ms"), 50, False,
             "ms"),
        *_report_goals(results.get("report", {})),
    ]  # fmt: skip


def _report_goals(report: dict[str, Any]) -> list[Goal]:
    """`dealreg report --by partner` and the digest: at most 2 s, at most 1.5x their raw SQL."""
    found = []
    for db, label in (("postgresql", "PostgreSQL"), ("sqlite", "SQLite")):
        for task, figures in (("report --by partner", report.get(db, {})),
                              ("digest", report.get(db, {}).get("digest", {}))):  # fmt: skip
            found.append(Goal(f"{task}, {label}", figures.get("seconds"), 2, False, "s"))
            found.append(Goal(f"{task} / raw SQL, {label}", figures.get("ratio"), 1.5, False, "x"))
    return found


def table(results: dict[str, Any]) -> str:
    """A plain-text table of every goal with its measured value and PASS/MISS; for a goal
    measured over several runs, their least..greatest and what other processes took."""
    rows = [("goal", "measured", "target", "", "runs: least..most", "others' CPUs")]
    for goal in goals(results):
        shown = "n/a" if goal.value is None else f"{goal.value:,.2f} {goal.unit}"
        target = f"{'>=' if goal.higher_is_better else '<='} {goal.limit:,g} {goal.unit}"
        runs = f"{min(goal.runs):,.2f}..{max(goal.runs):,.2f}" if goal.runs else ""
        verdict = "PASS" if goal.met else "MISS"
        rows.append((goal.name, shown, target, verdict, runs, goal.others))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(
        "\nWhere runs are shown, the measured figure comes from their medians; others' CPUs:\n"
        "the CPUs other processes kept busy meanwhile (least..most over the runs)."
    )
    return "\n".join(lines)
