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
        print(figures.table(rows, args.by) if rows else "no deal was registered in this period")
    if args.chart is not None:
        args.chart.write_bytes(figures.chart_png(found.weeks, _title(window)))
        if args.format == "table":
            print(f"chart: {args.chart}")
    return 0


def _title(window: Window) -> str:
    since = window.since.date().isoformat() if window.since else "the start"
    until = window.until.date().isoformat() if window.until else "now"
    return f"Registrations and decisions per week, {since} to {until}"
