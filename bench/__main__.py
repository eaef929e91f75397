"""`python -m bench [--quick] [--only NAME ...] [--runs N] [--profile]`: every benchmark.

Writes bench/results.json and prints each goal with PASS/MISS. Absolute times depend on the
machine; the ratios against the floor measured in the same run are what to compare. The
intake and latency benchmarks run `--runs` times, each run with its own floor and the
machine's load, and are judged on the median, so a busy neighbour shows as load, not as a
regression.
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from bench import common
from bench.common import Scale, Servers, log

BENCHMARKS = (
    "intake", "slack_ack", "search", "parse_size", "latency", "scale", "cli", "metrics", "report",
)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small, fast run")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these")
    parser.add_argument("--profile", action="store_true", help="profile the SQLite intake run")
    parser.add_argument(
        "--runs", type=int, metavar="N",
        help="runs of the intake and latency benchmarks, judged on their median "
        "(default 3, 1 with --quick)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.runs is not None and args.runs < 1:
        parser.error("--runs must be at least 1")
    logging.basicConfig(level=logging.WARNING)
    scale = Scale.of(args.quick, runs=args.runs)
    results: dict[str, Any] = {"machine": common.machine(), "quick": args.quick}
    servers = Servers()
    try:
        for name in args.only or BENCHMARKS:
            log(f"{name}: starting")
            results.update(_run(name, servers, scale, args.profile))
    finally:
        servers.close()
    # A partial run keeps the other benchmarks' last figures, as they are when it ends: another
    # partial run may have written its own meanwhile.
    results = (common.previous() if args.only else {}) | results
    common.RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print()
    print(common.table(results))
    print(f"\nwritten to {common.RESULTS.relative_to(common.ROOT)}")
    return 0


def _run(name: str, servers: Servers, scale: Scale, profile: bool) -> dict[str, Any]:
    if name == "intake":
        from bench import intake

        return intake.run(servers, scale, profile=profile)
    if name == "slack_ack":
        from bench import slack_ack

        return slack_ack.run(scale)
    if name == "parse_size":
        from bench import parse_size

        return parse_size.run(scale)
    if name == "latency":
        from bench import latency

        return latency.run(servers, scale)
    if name == "cli":
        from bench import cli

        return cli.run(scale)
    if name == "report":
        from bench import report

        return report.run(servers, scale)
    if name == "metrics":
        from bench import metrics

        return metrics.run(servers, scale)
    if name == "scale":
        from bench import scale as growth

        return growth.run(servers, scale)
    from bench import search

    return search.run(servers, scale)


if __name__ == "__main__":
    raise SystemExit(main())
