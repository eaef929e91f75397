"""Carry out the intake's decisions: core service calls, replies through the outbox, and the
record of each message's outcome, all in the caller's transaction.

`facts` looks up what `decide` needs to know (is the sender a partner contact, which of
our emails does the message answer, which held message does it confirm); `carry_out` does
what one decision says; `register_all` makes a batch's registrations together. User errors
(a bad form, an illegal move) are answered and recorded; anything else is raised, and the
caller leaves the message to be tried again.
"""

from __future__ import annotations

import functools
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from core import outbox
from core.config import Settings
from core.errors import DealError, Invalid
from core.locales import locale_for
from core.models import Deal, InboundEmail, Partner
from core.services import (
    Actor,
    add_quote,
    advance,
    answer,
    check_domain,
    identify,
    request_extension,
    search,
    show,
)
from core.services.inbound import finish, held_for, hold, release, thread_deal
from core.services.register import Registered, Request, catalogue, register, validation_context
from core.uow import SavepointUnitOfWork, UnitOfWork
from core.validation import ProductRef, Registration, ValidationContext, validate_registration
from intake.commands import Command
from intake.decide import Decision, Facts
from intake.proof import Proof, ProofSettings, prove
from intake.readahead import Read, confirmation_id

log = logging.getLogger(__name__)

# Automatic answers that a loop could multiply; the registration confirmation of a new
# deal is not one of them (a deal is made once), so it is never held back.
LOOP_GUARDED = frozenset(
    {"intake_errors", "intake_form", "intake_already_registered", "intake_refused",
     "intake_confirm"}
)  # fmt: skip


@dataclass
class IntakeContext:
    """What the intake needs from the composition root, and what one run looked up."""

    uow: Callable[[], UnitOfWork]
    settings: Settings
    now: Callable[[], datetime]
    own_addresses: frozenset[str] = field(default_factory=frozenset)
    # Looked up once per run of the mailbox, not once per message.
    actors: dict[str, Actor | None] = field(default_factory=dict)
    # Each partner contact's validation context, for reading their forms ahead.
    contexts: dict[str, ValidationContext] = field(default_factory=dict)
    products: tuple[ProductRef, ...] | None = None

    def new_run(self) -> None:
        """Forget what was looked up: the catalogue or the contacts may have changed."""
        self.actors.clear()
        self.contexts.clear()
        self.products = None


def sender_proof(settings: Settings, raw: bytes, sender: str | None) -> Proof:
    """How the sender of `raw` is proven; always proven when the check is turned off."""
    if not settings.intake_require_sender_proof:
        return Proof(True, "off", "sender proof turned off (INTAKE_REQUIRE_SENDER_PROOF)")
    if not sender:
        return Proof(False, "none", "no sender address")
    return prove(raw, sender, proof_settings(settings))


def proof_settings(settings: Settings) -> ProofSettings:
    """The sender proof's settings; raises ValueError on a malformed resolver."""
    return _proof_settings(
        settings.intake_trusted_authserv_id,
        tuple(settings.intake_dns_resolvers),
        settings.intake_dns_timeout_s,
    )


@functools.lru_cache(maxsize=8)
def _proof_settings(
    trusted: str | None, resolvers: tuple[str, ...], timeout: float
) -> ProofSettings:
    return ProofSettings(trusted, resolvers, timeout)


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
    now = ctx.now()
    actor = ctx.actors.get(read.sender or "")
    if decision.action == "reply":
        reply(ctx, uow, row, read, actor, decision, now)
    elif decision.action == "hold":
        _hold(ctx, uow, row, read, actor, decision, now)
    elif decision.action in ("answer", "extend"):
        _act_on_deal(ctx, uow, row, read, actor, decision, now)
    elif decision.action == "command":
        _command(ctx, uow, row, read, actor, decision, now)
    else:
        if decision.action == "release":
            held = held_for(uow.session, read.confirm_tokens)
            assert held is not None
            release(uow.session, held, row.id, now)
            log.info("intake: inbound %s confirmed by its sender", held.id)
        finish(uow.session, row, decision.status, now, reason=decision.reason)


def _act_on_deal(
    ctx: IntakeContext,
    uow: UnitOfWork,
    row: InboundEmail,
    read: Read,
    actor: Actor | None,
    decision: Decision,
    now: datetime,
) -> None:
    """Answer a returned registration, or ask to extend, for the deal a reply is about."""
    assert actor is not None and decision.deal is not None
    try:
        with SavepointUnitOfWork(uow.session) as acting:
            if decision.action == "answer":
                text = read.reply_text
                answer(acting, actor, decision.deal, text=text, now=now, settings=ctx.settings)
            else:
                request_extension(acting, actor, decision.deal, now=now, settings=ctx.settings)
    except DealError as exc:
        errors = [{"field": exc.field, "message": exc.message}]
        failed = Decision("reply", "invalid", "intake_errors", "intake_errors", {"errors": errors})
        reply(ctx, uow, row, read, actor, failed, now)
        return
    finish(uow.session, row, decision.status, now, reason=decision.reason)


def _command(
    ctx: IntakeContext,
    uow: UnitOfWork,
    row: InboundEmail,
    read: Read,
    actor: Actor | None,
    decision: Decision,
    now: datetime,
) -> None:
    """Carry out a command by email with the service call Slack and the CLI make, and
    answer with its outcome or the error it was refused with (the move left undone)."""
    assert actor is not None and read.command is not None
    command, verb = read.command, read.command.verb
    try:
        with SavepointUnitOfWork(uow.session) as acting:
            outcome = _COMMANDS[verb](ctx, acting, actor, command, decision.deal or "", now)
            acting.commit()
    except DealError as exc:
        context = {"command": verb, "error": exc.message}
        refused = Decision(
            "reply", "invalid", f"{decision.reason}: {exc.message}", decision.template, context
        )
        reply(ctx, uow, row, read, actor, refused, now)
        return
    deal = outcome.get("deal")
    done = Decision(
        decision.action,
        decision.status,
        decision.reason,
        decision.template,
        {**decision.context, **outcome},
    )
    reply(
        ctx, uow, row, read, actor, done, now, deal_id=deal.id if isinstance(deal, Deal) else None
    )


Outcome = dict[str, Any]


def _start_order(
    ctx: IntakeContext, uow: UnitOfWork, actor: Actor, command: Command, number: str, now: datetime
) -> Outcome:
    deal = advance(
        uow,
        actor,
        number,
        quote_number=command.quote,
        action="start_order",
        now=now,
        settings=ctx.settings,
    )
    return {"deal": deal, "quote": next(q for q in deal.quotes if q.id == deal.order_quote_id)}


def _submit_order(
    ctx: IntakeContext, uow: UnitOfWork, actor: Actor, command: Command, number: str, now: datetime
) -> Outcome:
    deal = advance(
        uow,
        actor,
        number,
        po_number=command.po_number,
        action="submit_order",
        now=now,
        settings=ctx.settings,
    )
    return {"deal": deal}


def _quote(
    ctx: IntakeContext, uow: UnitOfWork, actor: Actor, command: Command, number: str, now: datetime
) -> Outcome:
    deal = show(uow.session, actor, number)
    users = command.users or deal.number_of_users
    product = command.product or deal.product.code
    quote = add_quote(
        uow,
        actor,
        deal.prospect.domain,
        product_code=product,
        users=users,
        now=now,
        settings=ctx.settings,
    )
    return {"deal": deal, "quote": quote}


def _extend(
    ctx: IntakeContext, uow: UnitOfWork, actor: Actor, command: Command, number: str, now: datetime
) -> Outcome:
    deal = request_extension(
        uow, actor, number, reason=command.reason, now=now, settings=ctx.settings
    )
    return {"deal": deal}


def _status(
    ctx: IntakeContext, uow: UnitOfWork, actor: Actor, command: Command, number: str, now: datetime
) -> Outcome:
    return {"deal": show(uow.session, actor, number)}


def _deals(
    ctx: IntakeContext, uow: UnitOfWork, actor: Actor, command: Command, number: str, now: datetime
) -> Outcome:
    return {"deals": search(uow.session, actor, limit=DEALS_LISTED)}


def _check(
    ctx: IntakeContext, uow: UnitOfWork, actor: Actor, command: Command, number: str, now: datetime
) -> Outcome:
    return {"check": check_domain(uow.session, actor, command.domain or "", now)}


# The newest deals a `deals` reply lists.
DEALS_LISTED = 50
_COMMANDS: dict[
    str, Callable[[IntakeContext, UnitOfWork, Actor, Command, str, datetime], Outcome]
] = {
    "start_order": _start_order,
    "submit_order": _submit_order,
    "quote": _quote,
    "extend": _extend,
    "status": _status,
    "deals": _deals,
    "check": _check,
}


def _hold(
    ctx: IntakeContext,
    uow: UnitOfWork,
    row: InboundEmail,
    read: Read,
    actor: Actor | None,
    decision: Decision,
    now: datetime,
) -> None:
    """Keep a message from an unproven sender, and ask the contact whether they sent it.

    The token goes only to the contact's own address, so a forger never sees it.
    """
    token = secrets.token_urlsafe(24)
    until = now + timedelta(days=ctx.settings.intake_hold_days)
    context = {**decision.context, "received_at": now, "held_until": until, "token": token}
    asked = Decision(decision.action, decision.status, decision.reason, decision.template, context)
    message_id = confirmation_id(token, ctx.settings.intake_address)
    reply(ctx, uow, row, read, actor, asked, now, message_id=message_id)
    hold(uow.session, row, token, until, now, row.reason or decision.reason)


def reply(
    ctx: IntakeContext,
    uow: UnitOfWork,
    row: InboundEmail,
    read: Read,
    actor: Actor | None,
    decision: Decision,
    now: datetime,
    *,
    deal_id: int | None = None,
    message_id: str | None = None,
) -> None:
    """Queue one threaded reply and record the outcome, in the caller's transaction.

    Past the loop guard's limit of automatic replies to one address per hour, the outcome
    is recorded and the reply is not sent.
    """
    assert decision.template is not None
    context = decision.context
    detail = "; ".join(
        f"{e.get('field') or 'form'}: {e.get('message')}" for e in context.get("errors", [])
    )
    reason = decision.reason if decision.reason != decision.template or not detail else detail
    to = read.sender or ""
    if decision.template in LOOP_GUARDED and _over_limit(uow, ctx.settings, to, now):
        log.warning("intake: reply limit reached for %s; inbound %s not answered", to, row.id)
        note = f"not answered: {ctx.settings.intake_replies_per_hour} replies in the last hour"
        finish(uow.session, row, decision.status, now, reason=f"{reason} ({note})", deal_id=deal_id)
        return
    in_reply_to, references = read.reply_headers
    country = _partner_country(uow.session, actor)
    email = outbox.Email(
        template=decision.template,
        to=to,
        context={"country": country, "max_bytes": ctx.settings.intake_max_bytes, **context},
        locale=locale_for(country),
        in_reply_to=in_reply_to,
        references=references,
        message_id=message_id,
    )
    key = f"intake-reply:{row.id}"
    outbox.enqueue(uow, email, now=now, settings=ctx.settings, dedupe_key=key)
    finish(uow.session, row, decision.status, now, reason=reason, deal_id=deal_id)


def _over_limit(uow: UnitOfWork, settings: Settings, to: str, now: datetime) -> bool:
    since = now - timedelta(hours=1)
    sent = outbox.replies_since(uow, to, since, LOOP_GUARDED)
    return sent >= settings.intake_replies_per_hour


def _partner_country(session: Session, actor: Actor | None) -> str | None:
    if actor is None or actor.partner_id is None:
        return None
    return session.get_one(Partner, actor.partner_id).country


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
    now = ctx.now()
    valid: list[tuple[InboundEmail, Read, Request]] = []
    for row, read in batch:
        try:
            values = values_of(ctx, read)
        except Invalid as exc:
            _invalid(ctx, uow, row, read, exc, now)
            continue
        actor = ctx.actors[read.sender or ""]
        assert actor is not None
        request = Request(actor, values, _angle(read.message_id), source_key=read.key)
        valid.append((row, read, request))
    results = register(uow, [request for _, _, request in valid], now=now, settings=ctx.settings)
    for (row, read, _), result in zip(valid, results, strict=True):
        if result.created:
            finish(uow.session, row, "registered", now, deal_id=result.deal.id)
        else:
            _duplicate(ctx, uow, row, read, result, now)
    uow.commit()


def _invalid(
    ctx: IntakeContext,
    uow: UnitOfWork,
    row: InboundEmail,
    read: Read,
    exc: Invalid,
    now: datetime,
) -> None:
    assert read.parsed is not None
    context = {
        "errors": [e.as_dict() for e in exc.errors],
        "values": read.parsed.fields,
        "original_subject": read.subject_line,
    }
    actor = ctx.actors.get(read.sender or "")
    decision = Decision("reply", "invalid", "intake_errors", "intake_errors", context)
    reply(ctx, uow, row, read, actor, decision, now)


def _duplicate(
    ctx: IntakeContext,
    uow: UnitOfWork,
    row: InboundEmail,
    read: Read,
    result: Registered,
    now: datetime,
) -> None:
    actor = ctx.actors.get(read.sender or "")
    context: dict[str, Any] = {"deal": result.deal}
    decision = Decision(
        "reply", "duplicate", "intake_already_registered", "intake_already_registered", context
    )
    reply(ctx, uow, row, read, actor, decision, now, deal_id=result.deal.id)


def _angle(message_id: str | None) -> str | None:
    """The `<…>` of a Message-ID header, or None."""
    match = re.search(r"<[^<>\s]+>", message_id or "")
    return match.group(0) if match else None
