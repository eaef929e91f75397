"""`dealreg catalog load` and `remove`, `dealreg status`: the database's contents and the queues."""

from __future__ import annotations

import argparse

from sqlalchemy import func, select

from core import catalog, jobs
from core.catalog_remove import remove as remove_person
from core.models import Deal
from dealreg import render
from dealreg.output import CommandError, emit
from dealreg.wiring import App


def catalog_load(app: App, args: argparse.Namespace) -> int:
    """Load products, tiers, partners and reviewers from a TOML file (upsert)."""
    try:
        text = args.file.read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot read {args.file}: {exc.strerror}") from None
    with app.uow() as uow:
        report = catalog.load(uow.session, text)
        uow.commit()
    data = {"added": report.added, "changed": report.changed, "unchanged": report.unchanged}
    lines = [f"added {a}" for a in report.added] + [f"changed {c}" for c in report.changed]
    lines.append(
        f"{len(report.added)} added, {len(report.changed)} changed, {report.unchanged} unchanged"
    )
    return emit(args, data, "\n".join(lines))


def catalog_remove(app: App, args: argparse.Namespace) -> int:
    """Take a reviewer or partner contact out of the catalogue."""
    with app.uow() as uow:
        removed = remove_person(uow.session, args.email, app.now())
        uow.commit()
    text = f"removed {args.email.strip().lower()}: {removed}; they no longer act"
    text += " (remove them from the catalogue file too, or the next load brings them back)"
    return emit(args, {"removed": args.email.strip().lower(), "as": removed}, text)


def status(app: App, args: argparse.Namespace) -> int:
    """Deals per stage, the queues, failures and the last run of each job."""
    data = jobs.status(app.uow, app.now())
    with app.read_uow() as uow:
        waiting = (
            select(func.count()).select_from(Deal).where(Deal.amendment_requested_at.is_not(None))
        )
        data["amendments_waiting"] = int(uow.session.scalar(waiting) or 0)
    return emit(args, data, render.status_text(data))
