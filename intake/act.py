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

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from core import outbox
from core.config import Settings
from core.db import table_of
from core.errors import DealError, Invalid
from core.locales import locale_for
from core.models import Deal, InboundEmail, Partner
from core.services import Actor, answer, identify, request_extension
from core.services.inbound import finish, held_for, hold, release, thread_deal
from core.services.register import Registered, Request, catalogue, register, validation_context
from core.uow import SavepointUnitOfWork, UnitOfWork
from core.validation import ProductRef, Registration, ValidationContext, validate_registration
from intake.decide import Decision, Facts, Held, Thread
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


@dataclass(frozen=True)
class Incoming:
    """A stored message to act on: its inbound row and what reading it found."""

    row_id: int
    read: Read


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
    held = None
    if read.confirms:
        row = held_for(session, read.confirm_tokens)
        if row is not None:
            until = row.held_until
            live = row.status == "held" and until is not None and until > ctx.now()
            held = Held(row.id, row.sender, live, row.status)
    thread = None
    ours = thread_deal(session, list(read.references)) if read.references else None
    if ours is not None and ours.deal_id is not None:
        thread = Thread(ours.template, session.get_one(Deal, ours.deal_id).number or "")
    return Facts(contact, proven, thread, held)


def carry_out(ctx: IntakeContext, session: Session, one: Incoming, decision: Decision) -> str:
    """Do what a decision other than `register` says; return the status recorded."""
    now = ctx.now()
    actor = ctx.actors.get(one.read.sender or "")
    row = session.get_one(InboundEmail, one.row_id)
    if decision.action == "reply":
        assert decision.template is not None
        return reply(ctx, session, one, actor, decision, now)
    if decision.action == "hold":
        return _hold(ctx, session, one, actor, decision, now)
    if decision.action == "release":
        held = held_for(session, one.read.confirm_tokens)
        assert held is not None
        release(session, held, one.row_id, now)
        log.info("intake: inbound %s confirmed by its sender", held.id)
    elif decision.action in ("answer", "extend"):
        return _act_on_deal(ctx, session, one, actor, decision, now)
    finish(session, row, decision.status, now, reason=decision.reason)
    return decision.status


def _act_on_deal(
    ctx: IntakeContext,
    session: Session,
    one: Incoming,
    actor: Actor | None,
    decision: Decision,
    now: datetime,
) -> str:
    """Answer a returned registration, or ask to extend, for the deal a reply is about."""
    assert actor is not None and decision.deal is not None
    uow = SavepointUnitOfWork(session)
    try:
        with uow:
            if decision.action == "answer":
                text = one.read.reply_text
                answer(uow, actor, decision.deal, text=text, now=now, settings=ctx.settings)
            else:
                request_extension(uow, actor, decision.deal, now=now, settings=ctx.settings)
    except DealError as exc:
        errors = [{"field": exc.field, "message": exc.message}]
        failed = Decision("reply", "invalid", "intake_errors", "intake_errors", {"errors": errors})
        return reply(ctx, session, one, actor, failed, now)
    row = session.get_one(InboundEmail, one.row_id)
    finish(session, row, decision.status, now, reason=decision.reason)
    return decision.status


def _hold(
    ctx: IntakeContext,
    session: Session,
    one: Incoming,
    actor: Actor | None,
    decision: Decision,
    now: datetime,
) -> str:
    """Keep a message from an unproven sender, and ask the contact whether they sent it.

    The token goes only to the contact's own address, so a forger never sees it.
    """
    token = secrets.token_urlsafe(24)
    until = now + timedelta(days=ctx.settings.intake_hold_days)
    context = {**decision.context, "received_at": now, "held_until": until, "token": token}
    asked = Decision(decision.action, decision.status, decision.reason, decision.template, context)
    message_id = confirmation_id(token, ctx.settings.intake_address)
    reply(ctx, session, one, actor, asked, now, message_id=message_id)
    row = session.get_one(InboundEmail, one.row_id)
    hold(session, row, token, until, now, row.reason or decision.reason)
    return "held"


def reply(
    ctx: IntakeContext,
    session: Session,
    one: Incoming,
    actor: Actor | None,
    decision: Decision,
    now: datetime,
    *,
    deal_id: int | None = None,
    message_id: str | None = None,
) -> str:
    """Queue one threaded reply and record the outcome, in the caller's transaction.

    Past the loop guard's limit of automatic replies to one address per hour, the outcome
    is recorded and the reply is not sent.
    """
    assert decision.template is not None
    row = session.get_one(InboundEmail, one.row_id)
    context = decision.context
    detail = "; ".join(
        f"{e.get('field') or 'form'}: {e.get('message')}" for e in context.get("errors", [])
    )
    reason = decision.reason if decision.reason != decision.template or not detail else detail
    to = one.read.sender or ""
    if decision.template in LOOP_GUARDED and _over_limit(session, ctx.settings, to, now):
        log.warning("intake: reply limit reached for %s; inbound %s not answered", to, row.id)
        note = f"not answered: {ctx.settings.intake_replies_per_hour} replies in the last hour"
        finish(session, row, decision.status, now, reason=f"{reason} ({note})", deal_id=deal_id)
        return decision.status
    in_reply_to, references = one.read.reply_headers
    country = _partner_country(session, actor)
    email = outbox.Email(
        template=decision.template,
        to=to,
        context={"country": country, "max_bytes": ctx.settings.intake_max_bytes, **context},
        locale=locale_for(country),
        in_reply_to=in_reply_to,
        references=references,
        message_id=message_id,
    )
    key = f"intake-reply:{one.row_id}"
    outbox.enqueue(session, email, now=now, settings=ctx.settings, dedupe_key=key)
    finish(session, row, decision.status, now, reason=reason, deal_id=deal_id)
    return decision.status


def _over_limit(session: Session, settings: Settings, to: str, now: datetime) -> bool:
    since = now - timedelta(hours=1)
    sent = outbox.replies_since(session, to, since, LOOP_GUARDED)
    return sent >= settings.intake_replies_per_hour


def _partner_country(session: Session, actor: Actor | None) -> str | None:
    if actor is None or actor.partner_id is None:
        return None
    return session.get_one(Partner, actor.partner_id).country


def values_of(ctx: IntakeContext, session: Session, one: Incoming) -> Registration:
    """A registration's values: as validated ahead while that context still holds, else
    validated now (raises Invalid)."""
    read = one.read
    assert read.parsed is not None
    # The sender's context as this run looked it up (`actor_for`), which the reader used.
    context = ctx.contexts[read.sender or ""]
    if read.registration is not None and read.context == context:
        return read.registration
    return validate_registration(read.parsed.fields, context)


def register_all(ctx: IntakeContext, uow: UnitOfWork, batch: list[Incoming]) -> list[str]:
    """Make a batch's registrations in one transaction and answer each; their statuses.

    Each message's record is closed in the transaction of the deal it made; an invalid
    form or a duplicate is answered in the same transaction.
    """
    session, now = uow.session, ctx.now()
    statuses: dict[int, str] = {}
    valid: list[tuple[Incoming, Request]] = []
    for one in batch:
        try:
            values = values_of(ctx, session, one)
        except Invalid as exc:
            statuses[one.row_id] = _invalid(ctx, session, one, exc, now)
            continue
        actor = ctx.actors[one.read.sender or ""]
        assert actor is not None
        mid = one.read.message_id
        valid.append((one, Request(actor, values, _angle(mid), source_key=one.read.key)))
    results = register(uow, [r for _, r in valid], now=now, settings=ctx.settings)
    made = [(one, r) for (one, _), r in zip(valid, results, strict=True) if r.created]
    _close_registered(session, made, now)
    for (one, _), result in zip(valid, results, strict=True):
        statuses[one.row_id] = (
            "registered" if result.created else _duplicate(ctx, session, one, result, now)
        )
    uow.commit()
    return [statuses[one.row_id] for one in batch]


def _invalid(
    ctx: IntakeContext, session: Session, one: Incoming, exc: Invalid, now: datetime
) -> str:
    assert one.read.parsed is not None
    context = {
        "errors": [e.as_dict() for e in exc.errors],
        "values": one.read.parsed.fields,
        "original_subject": one.read.subject_line,
    }
    actor = ctx.actors.get(one.read.sender or "")
    decision = Decision("reply", "invalid", "intake_errors", "intake_errors", context)
    return reply(ctx, session, one, actor, decision, now)


def _duplicate(
    ctx: IntakeContext, session: Session, one: Incoming, result: Registered, now: datetime
) -> str:
    actor = ctx.actors.get(one.read.sender or "")
    context: dict[str, Any] = {"deal": result.deal}
    decision = Decision(
        "reply", "duplicate", "intake_already_registered", "intake_already_registered", context
    )
    return reply(ctx, session, one, actor, decision, now, deal_id=result.deal.id)


def _close_registered(
    session: Session, made: list[tuple[Incoming, Registered]], now: datetime
) -> None:
    """Record each message as registered with its deal, in one statement."""
    if not made:
        return
    table = table_of(InboundEmail)
    stmt = (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values(status="registered", reason=None, deal_id=bindparam("deal"), handled_at=now)
    )
    session.execute(stmt, [{"row_id": one.row_id, "deal": r.deal.id} for one, r in made])


def _angle(message_id: str | None) -> str | None:
    """The `<…>` of a Message-ID header, or None."""
    match = re.search(r"<[^<>\s]+>", message_id or "")
    return match.group(0) if match else None
