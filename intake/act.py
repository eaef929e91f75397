"""Carry out the intake's decisions: core service calls, replies through the outbox, and the
record of each message's outcome, all in the caller's transaction.

`facts` looks up what `decide` needs to know (is the sender a partner contact, which of
our emails does the message answer, which held message does it confirm); `carry_out` does
what one decision says (a command by email, or the stage of the deal a reply in its thread
is about: `intake.command_calls`; every reply: `intake.reply`); `register_all` makes a
batch's registrations together. User errors (a bad form, an illegal move) are answered and
recorded; anything else is raised, and the caller leaves the message to be tried again.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from core.errors import DealError, Invalid
from core.models import Deal, InboundEmail, Partner
from core.services.actors import Actor, identify
from core.services.inbound import finish, held_for, hold, release, thread_deal
from core.services.register import Registered, Request, catalogue, register, validation_context
from core.services.review import answer, request_extension
from core.uow import SavepointUnitOfWork, UnitOfWork
from core.validation import ProductRef, Registration, validate_registration
from intake.command_calls import carry_out_command
from intake.commands import Command
from intake.context import Acting, IntakeContext
from intake.decide import Decision, Facts
from intake.readahead import Read, confirmation_id
from intake.reply import hold_back, reply, to_sender

log = logging.getLogger(__name__)


def actor_for(ctx: IntakeContext, session: Session, sender: str | None) -> Actor | None:
    """The partner contact who sent a message, or None for anyone else (cached per run)."""
    if not sender:
        return None
    if sender not in ctx.actors:
        try:
            actor: Actor | None = identify(session, channel="email", email=sender)
        except DealError:
            actor = None
        if actor is not None and actor.kind == "partner" and actor.partner_id is not None:
            partner = session.get_one(Partner, actor.partner_id)
            ctx.contexts[sender] = validation_context(
                session, partner, ctx.now(), _products(ctx, session)
            )
        ctx.actors[sender] = actor if actor and actor.kind == "partner" else None
    return ctx.actors[sender]


def _products(ctx: IntakeContext, session: Session) -> tuple[ProductRef, ...]:
    if ctx.products is None:
        ctx.products = catalogue(session)
    return ctx.products


def facts(ctx: IntakeContext, session: Session, read: Read) -> Facts:
    """What `decide` needs to know about a message from the database."""
    contact = actor_for(ctx, session, read.sender) is not None
    proven = read.proof is not None and read.proof.proven
    if not contact or read.parsed is None:
        return Facts(contact, proven)
    held = held_for(session, read.confirm_tokens) if read.confirms else None
    until = held.held_until if held is not None else None
    live = held is not None and held.status == "held" and until is not None and until > ctx.now()
    ours = thread_deal(session, list(read.references)) if read.references else None
    if ours is None or ours.deal_id is None:
        return Facts(contact, proven, held=held, held_live=live)
    deal = session.get_one(Deal, ours.deal_id).number
    return Facts(contact, proven, ours.template, deal, held, live)


def carry_out(
    ctx: IntakeContext, uow: UnitOfWork, row: InboundEmail, read: Read, decision: Decision
) -> None:
    """Do what a decision other than `register` says, and record its outcome on `row`."""
    at = Acting(ctx, uow, ctx.now())
    actor = ctx.actors.get(read.sender or "")
    if decision.action == "reply":
        reply(at, row, to_sender(read, actor), decision)
    elif decision.action == "hold":
        _hold(at, row, read, actor, decision)
    elif decision.action in ("answer", "extend"):
        _act_on_deal(at, row, read, actor, decision)
    elif decision.action == "command":
        _command(at, row, read, actor, decision)
    elif decision.action == "status":
        _stage(at, row, read, actor, decision)
    else:
        if decision.action == "release":
            held = held_for(uow.session, read.confirm_tokens)
            assert held is not None
            release(uow.session, held, row.id, at.now)
            log.info("intake: inbound %s confirmed by its sender", held.id)
        finish(uow.session, row, decision.status, at.now, reason=decision.reason)


def _command(
    at: Acting, row: InboundEmail, read: Read, actor: Actor | None, decision: Decision
) -> None:
    """Carry out a command by email and answer with its outcome."""
    carry_out_command(at, row, read, actor, decision)


def _stage(
    at: Acting, row: InboundEmail, read: Read, actor: Actor | None, decision: Decision
) -> None:
    """Answer a reply in a deal's thread that asks for nothing clear as `status` is answered.

    No command was read, so a loop could feed it: the loop guard may hold it back.
    """
    if hold_back(at, row, to_sender(read, actor), decision):
        return
    status = replace(read, command=Command("status", deal=decision.deal))
    carry_out_command(at, row, status, actor, replace(decision, action="command"))


def _act_on_deal(
    at: Acting, row: InboundEmail, read: Read, actor: Actor | None, decision: Decision
) -> None:
    """Answer a returned registration, or ask to extend, for the deal a reply is about."""
    assert actor is not None and decision.deal is not None
    now, settings = at.now, at.ctx.settings
    try:
        with SavepointUnitOfWork(at.uow.session) as savepoint:
            if decision.action == "answer":
                text = read.reply_text
                answer(savepoint, actor, decision.deal, text=text, now=now, settings=settings)
            else:
                request_extension(savepoint, actor, decision.deal, now=now, settings=settings)
    except DealError as exc:
        errors = [{"field": exc.field, "message": exc.message}]
        failed = Decision("reply", "invalid", "intake_errors", "intake_errors", {"errors": errors})
        reply(at, row, to_sender(read, actor), failed)
        return
    finish(at.uow.session, row, decision.status, now, reason=decision.reason)


def _hold(
    at: Acting, row: InboundEmail, read: Read, actor: Actor | None, decision: Decision
) -> None:
    """Keep a message from an unproven sender, and ask the contact whether they sent it.

    The token goes only to the contact's own address, so a forger never sees it.
    """
    settings, now = at.ctx.settings, at.now
    token = secrets.token_urlsafe(24)
    until = now + timedelta(days=settings.intake_hold_days)
    context = {**decision.context, "received_at": now, "held_until": until, "token": token}
    asked = Decision(decision.action, decision.status, decision.reason, decision.template, context)
    message_id = confirmation_id(token, settings.intake_address)
    to = replace(to_sender(read, actor), message_id=message_id)
    reply(at, row, to, asked)
    hold(at.uow.session, row, token, until, now, row.reason or decision.reason)


def values_of(ctx: IntakeContext, read: Read) -> Registration:
    """A registration's values: as validated ahead while that context still holds, else
    validated now (raises Invalid)."""
    assert read.parsed is not None
    # The sender's context as this run looked it up (`actor_for`), which the reader used.
    context = ctx.contexts[read.sender or ""]
    if read.registration is not None and read.context == context:
        return read.registration
    return validate_registration(read.parsed.fields, context)


def register_all(
    ctx: IntakeContext, uow: UnitOfWork, batch: list[tuple[InboundEmail, Read]]
) -> None:
    """Make a batch's registrations in one transaction, answer each and record its outcome.

    Each message's record is closed in the transaction of the deal it made; an invalid
    form or a duplicate is answered in the same transaction.
    """
    at = Acting(ctx, uow, ctx.now())
    valid: list[tuple[InboundEmail, Read, Request]] = []
    for row, read in batch:
        try:
            values = values_of(ctx, read)
        except Invalid as exc:
            _invalid(at, row, read, exc)
            continue
        actor = ctx.actors[read.sender or ""]
        assert actor is not None
        request = Request(actor, values, _angle(read.message_id), source_key=read.key)
        valid.append((row, read, request))
    requests = [request for _, _, request in valid]
    results = register(uow, requests, now=at.now, settings=ctx.settings)
    for (row, read, _), result in zip(valid, results, strict=True):
        if result.created:
            finish(uow.session, row, "registered", at.now, deal_id=result.deal.id)
        else:
            _duplicate(at, row, read, result)
    uow.commit()


def _invalid(at: Acting, row: InboundEmail, read: Read, exc: Invalid) -> None:
    assert read.parsed is not None
    context = {
        "errors": [e.as_dict() for e in exc.errors],
        "values": read.parsed.fields,
        "original_subject": read.subject_line,
    }
    actor = at.ctx.actors.get(read.sender or "")
    # A registration attempt from a proven contact: its sender waits for the answer.
    decision = Decision("reply", "invalid", "intake_errors", "intake_errors", context, None, True)
    reply(at, row, to_sender(read, actor), decision)


def _duplicate(at: Acting, row: InboundEmail, read: Read, result: Registered) -> None:
    actor = at.ctx.actors.get(read.sender or "")
    context: dict[str, Any] = {"deal": result.deal}
    template = "intake_already_registered"
    decision = Decision("reply", "duplicate", template, template, context, None, True)
    reply(at, row, to_sender(read, actor), decision, deal_id=result.deal.id)


def _angle(message_id: str | None) -> str | None:
    """The `<…>` of a Message-ID header, or None."""
    match = re.search(r"<[^<>\s]+>", message_id or "")
    return match.group(0) if match else None
