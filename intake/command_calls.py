"""Carry out a command by email with the service call Slack and the CLI make for it, and
answer with its outcome or with the error it was refused with (the move left undone)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.errors import DealError, FieldError, Invalid
from core.fields import change_lines, field_label
from core.models import Deal, InboundEmail
from core.services.actors import Actor
from core.services.amend import amend
from core.services.orders import OrderStep, QuoteAsk, add_quote, advance
from core.services.queries import search
from core.services.register import check_domain
from core.services.review import request_extension
from core.services.views import show
from core.services.withdraw import Withdrawal, withdraw
from core.uow import SavepointUnitOfWork, UnitOfWork
from intake.commands import Command
from intake.context import Acting, IntakeContext
from intake.decide import Decision
from intake.parser import parse_form
from intake.readahead import Read
from intake.reply import reply, to_sender


def carry_out_command(
    at: Acting, row: InboundEmail, read: Read, actor: Actor | None, decision: Decision
) -> None:
    """Carry out a command by email and answer with its outcome, or with why it was refused."""
    assert actor is not None and read.command is not None
    ctx, now, to = at.ctx, at.now, to_sender(read, actor)
    command, verb = read.command, read.command.verb
    asked = Asked(command, decision.deal or "", read.reply_text)
    try:
        with SavepointUnitOfWork(at.uow.session) as savepoint:
            outcome = _COMMANDS[verb](ctx, savepoint, actor, asked, now)
            savepoint.commit()
    except DealError as exc:
        context = {"command": verb, "error": _told(exc)}
        refused = Decision(
            "reply", "invalid", f"{decision.reason}: {exc.message}", decision.template, context
        )
        reply(at, row, to, refused)
        return
    deal = outcome.get("deal")
    done = Decision(
        decision.action,
        decision.status,
        decision.reason,
        decision.template,
        {**decision.context, **outcome},
    )
    reply(at, row, to, done, deal_id=deal.id if isinstance(deal, Deal) else None)


Outcome = dict[str, Any]


@dataclass(frozen=True)
class Asked:
    """A command as asked: what it says, the deal it is for, and the message's new text."""

    command: Command
    number: str
    text: str


def _told(exc: DealError) -> str:
    """The refusal as the partner reads it: each bad field by its label."""
    if not isinstance(exc, Invalid):
        return exc.message
    return "; ".join(
        f"{field_label(e.field) or e.field or 'the message'}: {e.message}" for e in exc.errors
    )


def _advance(
    ctx: IntakeContext, uow: UnitOfWork, actor: Actor, asked: Asked, now: datetime
) -> Outcome:
    """Start the order from a quote, or submit it with its PO number, as the verb asks."""
    command, number = asked.command, asked.number
    step = OrderStep(command.verb, quote_number=command.quote, po_number=command.po_number)
    deal = advance(uow, actor, number, step=step, now=now, settings=ctx.settings)
    if command.verb == "submit_order":
        return {"deal": deal}
    return {"deal": deal, "quote": next(q for q in deal.quotes if q.id == deal.order_quote_id)}


def _quote(
    ctx: IntakeContext, uow: UnitOfWork, actor: Actor, asked: Asked, now: datetime
) -> Outcome:
    command, number = asked.command, asked.number
    deal = show(uow.session, actor, number)
    users = command.users or deal.number_of_users
    product = command.product or deal.product.code
    ask = QuoteAsk(domain=deal.prospect.domain, product_code=product, users=users)
    quote = add_quote(uow, actor, ask, now=now, settings=ctx.settings)
    return {"deal": deal, "quote": quote}


def _extend(
    ctx: IntakeContext, uow: UnitOfWork, actor: Actor, asked: Asked, now: datetime
) -> Outcome:
    command, number = asked.command, asked.number
    deal = request_extension(
        uow, actor, number, reason=command.reason, now=now, settings=ctx.settings
    )
    return {"deal": deal}


def _status(
    ctx: IntakeContext, uow: UnitOfWork, actor: Actor, asked: Asked, now: datetime
) -> Outcome:
    return {"deal": show(uow.session, actor, asked.number)}


def _deals(
    ctx: IntakeContext, uow: UnitOfWork, actor: Actor, asked: Asked, now: datetime
) -> Outcome:
    return {"deals": search(uow.session, actor, limit=DEALS_LISTED)}


def _check(
    ctx: IntakeContext, uow: UnitOfWork, actor: Actor, asked: Asked, now: datetime
) -> Outcome:
    domain = asked.command.domain or ""
    return {"check": check_domain(uow.session, actor, domain, now)}


def _amend(
    ctx: IntakeContext, uow: UnitOfWork, actor: Actor, asked: Asked, now: datetime
) -> Outcome:
    """The `Label: value` lines under the command, read as a registration's form lines."""
    changes = parse_form(asked.text).fields
    if not changes:
        example = "write each change on its own line under it, e.g. Number of Users: 300"
        raise Invalid([FieldError("amend", f"names no field to change: {example}")])
    done = amend(uow, actor, asked.number, changes=changes, now=now, settings=ctx.settings)
    return {
        "deal": done.deal,
        "applied": change_lines(done.applied, done.deal.country),
        "requested": change_lines(done.requested, done.deal.country),
    }


def _withdraw(
    ctx: IntakeContext, uow: UnitOfWork, actor: Actor, asked: Asked, now: datetime
) -> Outcome:
    command = asked.command
    why = Withdrawal(command.reason or "other", command.note)
    deal = withdraw(uow, actor, asked.number, why, now=now, settings=ctx.settings)
    return {"deal": deal}


# The newest deals a `deals` reply lists.
DEALS_LISTED = 50
_COMMANDS: dict[str, Callable[[IntakeContext, UnitOfWork, Actor, Asked, datetime], Outcome]] = {
    "start_order": _advance,
    "submit_order": _advance,
    "quote": _quote,
    "extend": _extend,
    "status": _status,
    "deals": _deals,
    "check": _check,
    "amend": _amend,
    "withdraw": _withdraw,
}
