"""One stored inbound message -> one service call -> one reply (through the outbox).

User errors (a bad form, an unknown sender) are answered once and recorded; system errors
(the database went away) propagate, leaving the message `received` to be tried again.
"""

from __future__ import annotations

import functools
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from email.message import Message
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
from core.services.inbound import FINAL, finish, held_for, hold, release, thread_deal
from core.services.register import (
    Options,
    Registered,
    Request,
    Validated,
    catalogue,
    register_many,
    validation_context,
)
from core.uow import SavepointUnitOfWork, UnitOfWork
from core.validation import ProductRef, ValidationContext
from intake import classify, messages, parser
from intake.proof import Proof, ProofSettings, prove

log = logging.getLogger(__name__)

_EXTEND = re.compile(r"\bextend|\bextension\b", re.IGNORECASE)


@dataclass
class IntakeContext:
    """What the intake needs from the composition root."""

    uow: Callable[[], UnitOfWork]
    settings: Settings
    now: Callable[[], datetime]
    own_addresses: frozenset[str] = field(default_factory=frozenset)
    # Looked up once per run of the mailbox, not once per message.
    _cache: RunCache = field(default_factory=lambda: RunCache())

    @property
    def _actors(self) -> dict[str, Actor | None]:
        return self._cache.actors

    def new_run(self) -> None:
        """Forget what was looked up: the catalogue or the contacts may have changed."""
        self._cache.actors.clear()
        self._cache.contexts.clear()
        self._cache.products = None

    @property
    def contexts(self) -> dict[str, ValidationContext]:
        """The validation context of each sender known as a partner contact in this run."""
        return self._cache.contexts

    def products(self, session: Session) -> tuple[ProductRef, ...]:
        if self._cache.products is None:
            self._cache.products = catalogue(session)
        return self._cache.products

    def within(self, session: Session) -> IntakeContext:
        """This context with every unit of work a savepoint in `session`'s transaction."""
        return replace(self, uow=lambda: SavepointUnitOfWork(session))


@dataclass
class RunCache:
    actors: dict[str, Actor | None] = field(default_factory=dict)
    products: tuple[ProductRef, ...] | None = None
    # Each partner contact's validation context, for reading their forms ahead.
    contexts: dict[str, ValidationContext] = field(default_factory=dict)


@dataclass(frozen=True)
class Incoming:
    row_id: int
    key: str
    raw: bytes
    msg: Message
    sender: str | None
    message_id: str | None = None  # the Message-ID header ("" when absent), if read before
    # How the sender was proven (dkim | authserv | confirmed | off), None when it was not.
    proof: str | None = None
    proof_note: str = ""


@dataclass(frozen=True)
class Known:
    """Headers already read from the message (by the reader): not parsed a second time."""

    sender: str | None
    message_id: str  # "" when the message has none
    proof: Proof


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


# Automatic answers that a loop could multiply; the registration confirmation of a new
# deal is not one of them (a deal is made once), so it is never held back.
LOOP_GUARDED = frozenset(
    {"intake_errors", "intake_form", "intake_already_registered", "intake_refused",
     "intake_confirm"}
)  # fmt: skip


@dataclass(frozen=True)
class Pending:
    """A registration to make: on its own, or together with the rest of a batch's."""

    incoming: Incoming
    actor: Actor
    fields: dict[str, str]
    validated: Validated | None


def handle(
    ctx: IntakeContext,
    row_id: int,
    *,
    msg: Message | None = None,
    stored: tuple[bytes, str] | None = None,
    parsed: parser.IntakeResult | None = None,
    validated: Validated | None = None,
) -> str:
    """Handle one stored message once; return its final status.

    `msg` is the stored message already parsed, `stored` its (raw, key) as just stored
    with status `received`, and `parsed` its form as read by `parser.parse_message`, when
    the caller has them at hand; `validated` its registration, validated ahead.
    """
    outcome = route(ctx, row_id, msg=msg, stored=stored, parsed=parsed, validated=validated)
    return outcome if isinstance(outcome, str) else register_all(ctx, [outcome])[0]


def route(
    ctx: IntakeContext,
    row_id: int,
    *,
    msg: Message | None = None,
    stored: tuple[bytes, str] | None = None,
    parsed: parser.IntakeResult | None = None,
    validated: Validated | None = None,
    known: Known | None = None,
) -> str | Pending:
    """Like `handle`, but a registration is returned to be made (with others, perhaps)."""
    proof = known.proof if known is not None else None
    if stored is None:
        with ctx.uow() as uow:
            row = uow.session.get_one(InboundEmail, row_id)
            if row.status in FINAL:
                return row.status
            stored = row.raw, row.message_key
            if row.proof is not None:
                proof = Proof(True, row.proof, row.reason or "")
    raw, key = stored
    if msg is None:
        msg = messages.load(raw)
    sender = known.sender if known is not None else messages.sender_address(msg)
    mid = known.message_id if known is not None else None
    if proof is None:
        proof = sender_proof(ctx.settings, raw, sender)
    method = proof.method if proof.proven else None
    incoming = Incoming(row_id, key, raw, msg, sender, mid, method, proof.reason)
    result = parsed or parser.parse_message(raw, own_addresses=ctx.own_addresses, msg=msg)
    if result.status == "ignored":
        return _close(ctx, incoming, "ignored", result.reason or result.classification.kind)
    if messages.from_count(msg) != 1:
        # No reply: with several authors, or none, there is no one sender to answer.
        return _close(ctx, incoming, "refused", "From must name exactly one address")
    actor = _sender(ctx, incoming)
    if actor is None:
        # No reply: the sender may be forged, and answering strangers makes backscatter.
        return _close(ctx, incoming, "refused", f"unknown sender {incoming.sender}")
    confirmed = _confirmation(ctx, incoming, actor)
    if confirmed is not None:
        return confirmed
    threaded = _answer_in_thread(ctx, incoming, actor, result)
    if threaded is not None:
        return threaded
    if result.classification.kind == "form_request":
        return _reply_and_close(ctx, incoming, actor, "answered", "intake_form", {})
    if result.status == "invalid":
        context = {"errors": result.errors, "original_subject": _subject(msg)}
        return _reply_and_close(ctx, incoming, actor, "invalid", "intake_errors", context)
    if incoming.proof is None:
        return _hold(ctx, incoming, actor, "a deal registration")
    return Pending(incoming, actor, result.fields, validated)


def _references(msg: Message) -> list[str]:
    """The Message-IDs a message answers (In-Reply-To, then References)."""
    refs = messages.header_all(msg, "In-Reply-To") + messages.header_all(msg, "References")
    return re.findall(r"<[^<>\s]+>", " ".join(refs))


_CONFIRM_ID = re.compile(r"^<confirm\.([A-Za-z0-9_-]{20,64})@[^<>\s]+>$")


def confirmation_id(token: str, settings: Settings) -> str:
    """The Message-ID of the confirmation request for a held message: it carries the token."""
    domain = settings.intake_address.rpartition("@")[2] or "dealreg.localhost"
    return f"<confirm.{token}@{domain}>"


def _hold(ctx: IntakeContext, incoming: Incoming, actor: Actor, what: str) -> str:
    """Keep a message from an unproven sender, and ask the contact whether they sent it.

    The token goes only to the contact's own address, so a forger never sees it.
    """
    token = secrets.token_urlsafe(24)
    now = ctx.now()
    until = now + timedelta(days=ctx.settings.intake_hold_days)
    context = {"what": what, "received_at": now, "held_until": until, "token": token}
    reason = f"held until its sender confirms it: {incoming.proof_note}"[:2000]
    with ctx.uow() as uow:
        _queue_reply(
            uow.session, ctx, incoming, actor, "held", "intake_confirm", context, now,
            reason=reason, message_id=confirmation_id(token, ctx.settings),
        )  # fmt: skip
        row = uow.session.get_one(InboundEmail, incoming.row_id)
        hold(uow.session, row, token, until, now, row.reason or reason)
        uow.commit()
    return "held"


def _confirmation(ctx: IntakeContext, incoming: Incoming, actor: Actor) -> str | None:
    """A reply to one of our confirmation requests releases the message it holds."""
    tokens = [m.group(1) for ref in _references(incoming.msg) if (m := _CONFIRM_ID.match(ref))]
    if not tokens:
        return None
    now = ctx.now()
    with ctx.uow() as uow:
        held = held_for(uow.session, tokens)
        if held is None or held.sender != incoming.sender:
            # A guessed token, or a reply from someone else: the forger learns nothing.
            return _finish(uow, incoming, "refused", "confirms no message held for it", now)
        if held.status == "held" and held.held_until is not None and held.held_until > now:
            release(uow.session, held, incoming.row_id, now)
            log.info("intake: inbound %s confirmed by its sender", held.id)
            return _finish(uow, incoming, "answered", f"confirms inbound {held.id}", now)
        if held.status not in ("held", "lapsed"):
            return _finish(uow, incoming, "answered", f"confirmed inbound {held.id} again", now)
        status = _queue_reply(
            uow.session, ctx, incoming, actor, "refused", "intake_refused",
            {"reason": "hold_lapsed"}, now, reason=f"confirms inbound {held.id}, which lapsed",
        )  # fmt: skip
        uow.commit()
        return status


def _finish(uow: UnitOfWork, incoming: Incoming, status: str, reason: str, now: datetime) -> str:
    row = uow.session.get_one(InboundEmail, incoming.row_id)
    finish(uow.session, row, status, now, reason=reason)
    uow.commit()
    return status


def _sender(ctx: IntakeContext, incoming: Incoming) -> Actor | None:
    """The partner contact who sent the message, or None for anyone else."""
    if not incoming.sender:
        return None
    if incoming.sender not in ctx._actors:
        with ctx.uow() as uow:
            try:
                actor: Actor | None = identify(uow.session, channel="email", email=incoming.sender)
            except DealError:
                actor = None
            if actor is not None and actor.kind == "partner" and actor.partner_id is not None:
                partner = uow.session.get_one(Partner, actor.partner_id)
                context = validation_context(
                    uow.session, partner, ctx.now(), ctx.products(uow.session)
                )
                ctx.contexts[incoming.sender] = context
        ctx._actors[incoming.sender] = actor if actor and actor.kind == "partner" else None
    return ctx._actors[incoming.sender]


def register_all(ctx: IntakeContext, pendings: list[Pending]) -> list[str]:
    """Make registrations in one transaction and answer each; their statuses, in order.

    Each message's record is closed in the transaction of the deal it created; a
    duplicate or an invalid form is answered in the same transaction as well.
    """
    now = ctx.now()
    closed: set[int] = set()

    def close(session: Session, created: list[tuple[int, Deal]]) -> None:
        # In the deals' own transaction: a deal and the record of its email go together.
        table = table_of(InboundEmail)
        stmt = (
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values(status="registered", reason=None, deal_id=bindparam("deal"), handled_at=now)
        )
        rows = [{"row_id": pendings[i].incoming.row_id, "deal": d.id} for i, d in created]
        session.execute(stmt, rows)
        closed.update(r["row_id"] for r in rows)

    with ctx.uow() as uow:
        products = ctx.products(uow.session)
        requests = [
            Request(
                p.actor,
                p.fields,
                Options(
                    thread_message_id=_message_id(p.incoming),
                    source_key=p.incoming.key,
                    products=products,
                    validated=p.validated,
                ),
            )
            for p in pendings
        ]
        results = register_many(uow, requests, now=now, settings=ctx.settings, on_created=close)
        statuses = [
            _answer(uow.session, ctx, p, result, now, closed)
            for p, result in zip(pendings, results, strict=True)
        ]
        uow.commit()
    return statuses


def _answer(
    session: Session,
    ctx: IntakeContext,
    pending: Pending,
    result: Registered | Invalid,
    now: datetime,
    closed: set[int],
) -> str:
    incoming, actor = pending.incoming, pending.actor
    if isinstance(result, Invalid):
        context = {
            "errors": [e.as_dict() for e in result.errors],
            "values": pending.fields,
            "original_subject": _subject(incoming.msg),
        }
        return _queue_reply(session, ctx, incoming, actor, "invalid", "intake_errors", context, now)
    if incoming.row_id in closed:
        return "registered"
    if result.created:
        # A replay after a crash: the deal and its confirmation were committed before.
        row = session.get_one(InboundEmail, incoming.row_id)
        finish(session, row, "registered", now, deal_id=result.deal.id)
        return "registered"
    context = {"deal": result.deal}
    return _queue_reply(
        session, ctx, incoming, actor, "duplicate", "intake_already_registered", context, now,
        deal_id=result.deal.id,
    )  # fmt: skip


def _answer_in_thread(
    ctx: IntakeContext, incoming: Incoming, actor: Actor, result: parser.IntakeResult
) -> str | None:
    """A reply to our returned-registration or reminder email answers it or asks to extend."""
    ids = _references(incoming.msg)
    if not ids or result.fields.get("company_name"):
        return None
    with ctx.uow() as uow:
        ours = thread_deal(uow.session, ids)
        if ours is None or ours.deal_id is None:
            return None
        number = _deal_number(uow.session, ours.deal_id)
        template = ours.template
    acts = template in ("deal_returned", "expiry_reminder") or (
        template == "deal_approved" and _EXTEND.search(_reply_text(incoming.msg))
    )
    if not acts:
        return None
    if incoming.proof is None:
        return _hold(ctx, incoming, actor, f"a reply about {number}")
    text = _reply_text(incoming.msg)
    now = ctx.now()
    with ctx.uow() as uow:
        try:
            if template == "deal_returned":
                answer(uow, actor, number, text=text, now=now, settings=ctx.settings)
            else:
                request_extension(uow, actor, number, now=now, settings=ctx.settings)
        except DealError as exc:
            uow.rollback()
            context = {"errors": [{"field": exc.field, "message": exc.message}]}
            status = _queue_reply(
                uow.session, ctx, incoming, actor, "invalid", "intake_errors", context, now
            )
            uow.commit()
            return status
    return _close(ctx, incoming, "answered", f"{template} reply for {number}")


def _deal_number(session: Session, deal_id: int) -> str:
    return session.get_one(Deal, deal_id).number or ""


def _reply_text(msg: Message) -> str:
    """The new text of a reply: what stands above the quoted original."""
    lines = []
    for line in messages.body_text(msg).splitlines():
        if line.startswith(">") or re.match(r"^On .+ wrote:\s*$", line) or line.strip() == "--":
            break
        if re.match(r"^-{2,}\s*Original Message", line, re.IGNORECASE):
            break
        lines.append(line)
    return "\n".join(lines).strip()[:3000] or "(no text)"


def _subject(msg: Message) -> str:
    return messages.header(msg, "Subject").strip()[:200]


def _message_id(incoming: Incoming) -> str | None:
    value = incoming.message_id
    if value is None:
        value = messages.header(incoming.msg, "Message-ID")
    match = re.search(r"<[^<>\s]+>", value)
    return match.group(0) if match else None


def _close(ctx: IntakeContext, incoming: Incoming, status: str, reason: str) -> str:
    with ctx.uow() as uow:
        row = uow.session.get_one(InboundEmail, incoming.row_id)
        finish(uow.session, row, status, ctx.now(), reason=reason)
        uow.commit()
    return status


def _reply_and_close(
    ctx: IntakeContext,
    incoming: Incoming,
    actor: Actor | None,
    status: str,
    template: str,
    context: dict[str, Any],
) -> str:
    with ctx.uow() as uow:
        status = _queue_reply(
            uow.session, ctx, incoming, actor, status, template, context, ctx.now()
        )
        uow.commit()
        return status


def _queue_reply(
    session: Session,
    ctx: IntakeContext,
    incoming: Incoming,
    actor: Actor | None,
    status: str,
    template: str,
    context: dict[str, Any],
    now: datetime,
    *,
    deal_id: int | None = None,
    reason: str | None = None,
    message_id: str | None = None,
) -> str:
    """Queue one threaded reply and record the outcome, in the caller's transaction.

    Past the loop guard's limit of automatic replies to one address per hour, the outcome
    is recorded and the reply is not sent.
    """
    row = session.get_one(InboundEmail, incoming.row_id)
    detail = reason or "; ".join(
        f"{e.get('field') or 'form'}: {e.get('message')}" for e in context.get("errors", [])
    )
    to = incoming.sender or ""
    if template in LOOP_GUARDED and _over_limit(session, ctx.settings, to, now):
        log.warning("intake: reply limit reached for %s; inbound %s not answered", to, row.id)
        note = f"not answered: {ctx.settings.intake_replies_per_hour} replies in the last hour"
        finish(session, row, status, now, reason=f"{detail or template} ({note})", deal_id=deal_id)
        return status
    in_reply_to, references = messages.reply_headers(incoming.msg)
    country = _partner_country(session, actor)
    outbox.enqueue(
        session,
        template=template,
        to=to,
        context={"country": country, **context},
        locale=locale_for(country),
        now=now,
        settings=ctx.settings,
        in_reply_to=in_reply_to,
        references=references,
        dedupe_key=f"intake-reply:{incoming.row_id}",
        message_id=message_id,
    )
    finish(session, row, status, now, reason=detail or template, deal_id=deal_id)
    return status


def _over_limit(session: Session, settings: Settings, to: str, now: datetime) -> bool:
    since = now - timedelta(hours=1)
    sent = outbox.replies_since(session, to, since, LOOP_GUARDED)
    return sent >= settings.intake_replies_per_hour


def _partner_country(session: Session, actor: Actor | None) -> str | None:
    if actor is None or actor.partner_id is None:
        return None
    return session.get_one(Partner, actor.partner_id).country


def refuse_oversize(ctx: IntakeContext, row_id: int, headers: bytes, size: int) -> str:
    """Answer a message too large to read (once), and keep it in the mailbox."""
    msg = messages.load(headers)
    incoming = Incoming(row_id, "", headers, msg, messages.sender_address(msg))
    kind = classify.classify(msg, own_addresses=ctx.own_addresses, form_found=False).kind
    actor = _sender(ctx, incoming)
    if kind in classify.IGNORED_KINDS or actor is None:
        return _close(ctx, incoming, "refused", f"oversize ({size} bytes), not answered")
    context = {"reason": "oversize", "max_bytes": ctx.settings.intake_max_bytes}
    return _reply_and_close(ctx, incoming, actor, "refused", "intake_refused", context)
