"""`dealreg report`: the programme's figures over a window, per group with `--by`, as a table,
CSV or JSON, and a chart of registrations and decisions per week with `--chart`."""

from __future__ import annotations

import argparse
import json
import sys

from core import figures
from core.services.report import Window, report
from dealreg.wiring import App


def report_command(app: App, args: argparse.Namespace) -> int:
    window = Window(args.since, args.until)
    with app.read_uow() as uow:
        found = report(
            uow.session, window, args.by, app.settings.review_sla_hours,
            weekly_too=args.chart is not None,
        )  # fmt: skip
    rows = [figures.row(t) for t in found.tallies]
    if args.format == "json":
        json.dump([figures.as_json(r) for r in rows], sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    elif args.format == "csv":
        sys.stdout.write(figures.to_csv(rows))
    else:
        print(table(rows, args.by) if rows else "no deal was registered in this period")
    if args.chart is not None:
        args.chart.write_bytes(figures.chart_png(found.weeks, _title(window)))
        if args.format == "table":
            print(f"chart: {args.chart}")
    return 0


def _title(window: Window) -> str:
    since = window.since.date().isoformat() if window.since else "the start"
    until = window.until.date().isoformat() if window.until else "now"
    return f"{figures.WEEKLY_TITLE}, {since} to {until}"


def table(rows: list[figures.Row], by: str | None) -> str:
    """The rows as a table for a terminal: counts, rates, hours, then values per currency."""
    head = f"{by or 'programme':<24} {'reg':>4} {'appr':>4} {'rej':>4} {'ret':>4} {'wdr':>4}"
    head += f" {'exp':>4} {'ord':>4} {'won':>4} {'appr%':>6} {'win%':>6}"
    head += f" {'med h':>6} {'p90 h':>6} {'in SLA':>6}"
    lines = [head]
    for r in rows:
        counts = [r.registered, *(r.reached[m] for m in figures.MILESTONES)]
        line = f"{r.group[:24]:<24} " + " ".join(f"{n:>4}" for n in counts)
        rates = (r.approval_rate, r.win_rate)
        line += " " + " ".join(f"{_pct(x):>6}" for x in rates)
        line += f" {_hours(r.median_hours):>6} {_hours(r.p90_hours):>6} {_pct(r.within_sla):>6}"
        lines.append(line)
        for kind in figures.VALUES:
            amounts = ", ".join(f"{c} {v:,.2f}" for c, v in r.values[kind].items())
            lines.append(f"    value {kind:<10} {amounts or '-'}")
    return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def _hours(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"
