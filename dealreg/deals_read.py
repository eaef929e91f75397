"""`dealreg deals list|show|quote-pdf`: what a person may see; nothing here changes a deal."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.fields import change_lines
from core.services.actors import Actor, identify
from core.services.queries import search
from core.services.views import deal_view, find_quote, show
from dealreg import render
from dealreg.output import CommandError, emit
from dealreg.wiring import App


def actor(app: App, email: str | None, channel: str = "cli") -> Actor:
    """The person named by `--by`/`--as`, or the operator (a reviewer) when none is."""
    if not email:
        return Actor(kind="reviewer", email="operator", name="operator", channel=channel)
    with app.uow() as uow:
        return identify(uow.session, channel=channel, email=email)


def deals_list(app: App, args: argparse.Namespace) -> int:
    """List the deals the person (or the operator) may see."""
    who = actor(app, args.by)
    with app.uow() as uow:
        deals = search(uow.session, who, args.search, stage=args.stage, limit=args.limit)
        rows = [render.deal_row(d) for d in deals]
    return emit(args, rows, render.table(rows) if rows else "no deals")


def deals_show(app: App, args: argparse.Namespace) -> int:
    """Show one deal: fields, progress, quotes and history."""
    who = actor(app, args.by)
    with app.uow() as uow:
        deal = show(uow.session, who, args.number)
        view = deal_view(deal, who)
        pending: list[str] = []
        if deal.amendment and not args.json:
            pending = change_lines(deal.amendment, deal.country)
    return emit(args, view, render.deal_text(view, pending))


def deals_quote_pdf(app: App, args: argparse.Namespace) -> int:
    """Write a quote's PDF, the same bytes its emails and Slack messages carry."""
    from core import quote_pdf  # reportlab takes 0.15 s to import: only for this command

    who = actor(app, args.by)
    with app.read_uow() as uow:
        quote = find_quote(uow.session, who, args.quote)
        data = quote_pdf.render(quote, app.settings.vendor_name)
        path = args.output or Path(quote_pdf.filename(quote))
        number = quote.number
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror}") from None
    view = {"quote": number, "file": str(path), "bytes": len(data)}
    return emit(args, view, f"{number}: {path} ({len(data):,} bytes)")
