"""`dealreg deals amend|amendment|withdraw`: a deal changes and ends. Resolve the actor, call
one service, print what it did."""

from __future__ import annotations

import argparse
from typing import Any

from core.fields import STAGES, WITHDRAW_REASONS, change_lines
from core.services.actors import Actor, require_role
from core.services.amend import amend
from core.services.amendment import Verdict, decide_amendment
from core.services.views import deal_view, quote_view, show
from core.services.withdraw import Withdrawal, withdraw
from dealreg.deals_command import json_object
from dealreg.deals_read import actor
from dealreg.output import emit
from dealreg.wiring import App


def _view(app: App, who: Actor, number: str) -> dict[str, Any]:
    """The deal as `who` sees it now, read afresh (its history with the move just made)."""
    with app.read_uow() as uow:
        return deal_view(show(uow.session, who, number), who)


def _listed(heading: str, changes: list[str]) -> list[str]:
    return [heading, *(f"  {line}" for line in changes)] if changes else []


def deals_amend(app: App, args: argparse.Namespace) -> int:
    """Change registration fields of the partner's own deal: what applies now is applied,
    a claim field of an approved deal is asked of the deal desk."""
    changes: dict[str, Any] = dict(args.set) if args.set else json_object(args.file)
    who = actor(app, args.by)
    with app.uow() as uow:
        done = amend(uow, who, args.number, changes=changes, now=app.now(), settings=app.settings)
        applied, requested = (
            change_lines(done.applied, done.deal.country),
            change_lines(done.requested, done.deal.country),
        )
        number = done.deal.number
    view = _view(app, who, number)
    view["applied"], view["requested"] = done.applied, done.requested
    text = _listed(f"{number}: changed", applied)
    text += _listed(f"{number}: asked of the deal desk (applies once approved)", requested)
    return emit(args, view, "\n".join(text) or f"{number}: nothing to change")


def deals_amendment(app: App, args: argparse.Namespace) -> int:
    """Approve or decline a deal's pending amendment request, as a reviewer."""
    who = actor(app, args.by)
    verdict = Verdict(approve=args.decision == "approve", note=args.note)
    with app.uow() as uow:
        pending = dict(show(uow.session, who, args.number).amendment or {})
        deal, quote = decide_amendment(
            uow, who, args.number, verdict, now=app.now(), settings=app.settings
        )
        changed, number = change_lines(pending, deal.country), deal.number
        new_quote = quote_view(quote) if quote is not None else None
    view = _view(app, who, number)
    view["decision"] = "approved" if verdict.approve else "declined"
    view["changes"], view["quote"] = pending, new_quote and new_quote["number"]
    text = _listed(f"{number}: amendment {view['decision']}", changed)
    if new_quote is not None:
        q = new_quote
        text.append(f"new quote {q['number']}: {q['currency']} {q['total']} (earlier superseded)")
    return emit(args, view, "\n".join(text))


def deals_withdraw(app: App, args: argparse.Namespace) -> int:
    """Withdraw a deal, as its partner (`--by`) or the deal desk (`--reviewer`)."""
    who = actor(app, args.by or args.reviewer)
    if args.reviewer:
        require_role(who, "reviewer", "withdraw with --reviewer")
    else:
        require_role(who, "partner", "withdraw with --by (the deal desk: --reviewer)")
    with app.uow() as uow:
        ending = Withdrawal(args.reason, args.note)
        deal = withdraw(uow, who, args.number, ending, now=app.now(), settings=app.settings)
        number, reached = deal.number, STAGES[deal.withdrawn_from or deal.stage]
    view = _view(app, who, number)
    void = sum(q["status"] == "void" for q in view["quotes"])
    label = WITHDRAW_REASONS[view["withdraw_reason"]]
    text = f"{number} withdrawn at {reached} ({label}): protection ended"
    text += f", {void} quote{'s' if void != 1 else ''} void" if void else ""
    return emit(args, view, text)
