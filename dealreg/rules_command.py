"""`dealreg rules report`: per rule, what it matched and did, and for a shadow rule how
often the reviewers agreed with it."""

from __future__ import annotations

import argparse

from core.services.rules_report import rules_report
from dealreg.output import emit
from dealreg.wiring import App


def rules_report_command(app: App, args: argparse.Namespace) -> int:
    with app.read_uow() as uow:
        figures = rules_report(uow.session, args.since)
    data = [f.as_dict() for f in figures]
    if not figures:
        return emit(args, data, "no rule has read a registration yet")
    head = (
        f"{'rule':<24} {'matched':>7} {'approved':>8} {'shadow':>6} {'agreed':>6} {'disagreed':>9}"
    )
    lines = [head]
    for f in figures:
        agreement = "" if f.agreement is None else f"  ({f.agreement:.0%} agreed)"
        counts = (f.matched, f.approved, f.shadow_matched, f.agreed, f.disagreed)
        lines.append(f"{f.rule:<24} " + " ".join(f"{n:>9}" for n in counts) + agreement)
    return emit(args, data, "\n".join(lines))
