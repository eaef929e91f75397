"""Erasing one person on request (GDPR article 17), in one transaction.

Their fields on each deal become `[erased]`; the deal's business facts (prospect, product,
users, value, dates, country, state, stage) stay. Mail that names them, inbound as received
and in the outbox, is redacted in place; its keys (`message_key`, `message_id`,
`dedupe_key`) stay, so a repeat delivery of an erased message is recognised and creates
nothing. Audit entries are redacted, and each deal records an `erase` event that names no
one. People in the catalogue are refused: they are still acting on deals.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, text, update

from core.errors import NotAllowed
from core.models import Contact, Deal, DealEvent, InboundEmail, OutboxMessage, Quote, Review
from core.redact import ERASED, Person, normalise_address, redact_json, redact_raw
from core.services.actors import Actor
from core.services.common import Event, audit
from core.services.privacy import ROLES, Holding, find
from core.uow import UnitOfWork

# Who erases: the operator at the command line (their name is not the product's to know).
OPERATOR = Actor(kind="system", email="operator", name="operator", channel="cli")
# Free text on a deal that may name the person: redacted where it does.
_FREE_TEXT = ("problems_to_solve", "review_note", "returned_question", "withdraw_note")


@dataclass
class Erased:
    """What an erasure changed, by count; the outbox Message-IDs whose file copies go too."""

    deals: list[str] = field(default_factory=list)
    inbound_emails: int = 0
    inbound_dropped: int = 0
    outbox_messages: int = 0
    audit_entries: int = 0
    message_ids: list[str] = field(default_factory=list)


def refusal(held: Holding) -> str | None:
    """Why this person cannot be erased, if they cannot: they are in the catalogue."""
    if not held.catalogue:
        return None
    what = " and ".join(held.catalogue)
    return (
        f"{held.person.address} is {what} in the catalogue: remove them from the catalogue "
        "first (they still act on deals), then erase"
    )


def erase(uow: UnitOfWork, address: str, now: datetime) -> tuple[Erased, Person]:
    """Erase the person at `address` (see the module's docstring); commit."""
    session = uow.session
    if uow.dialect == "sqlite":
        # Freed space in the database file is zeroed, not left holding the old values.
        session.execute(text("PRAGMA secure_delete=ON"))
    address = normalise_address(address)
    _lock_deals(uow, address)
    held = find(session, address)
    problem = refusal(held)
    if problem:
        raise NotAllowed(problem, field="email")
    person, done = held.person, Erased()
    # Someone on no deal is known only by their address: which words of their mail name
    # them (a surname typed in a refused form) cannot be told, so their mail goes whole.
    known = bool(held.deals)
    for deal, roles in held.deals:
        erased = _erase_deal(deal, roles, person, now)
        if deal.review is not None and deal.review.rule_notes:
            deal.review.rule_notes = redact_json(deal.review.rule_notes, person)
        details = {"roles": list(roles), "fields": erased}
        audit(uow, deal, OPERATOR, now, Event("erase", deal.stage, deal.stage, details))
        done.deals.append(deal.number)
    for row in held.inbound:
        done.inbound_dropped += _erase_inbound(row, person, now, known)
    for message in held.outbox:
        _erase_outbox(message, person, now, known)
        done.message_ids.append(message.message_id)
    for event in held.events:
        _erase_event(event, person)
    for contact in session.scalars(select(Contact).where(func.lower(Contact.email) == address)):
        # Out of the catalogue (else refused above): the row stays for the deals it registered.
        contact.name, contact.email = ERASED, f"erased-{contact.id}@erased.invalid"
    _erase_desk_traces(uow, address)
    done.inbound_emails, done.outbox_messages = len(held.inbound), len(held.outbox)
    done.audit_entries = len(held.events)
    uow.commit()
    return done, person


# Where a reviewer (out of the catalogue, else refused) is named by address.
_DESK_COLUMNS = (
    Deal.reviewed_by, Review.claimed_by, Review.first_approved_by, Quote.created_by,
)  # fmt: skip


def _erase_desk_traces(uow: UnitOfWork, address: str) -> None:
    """A former reviewer's address on the deals they decided, claimed or quoted."""
    for column in _DESK_COLUMNS:
        uow.session.execute(
            update(column.class_).where(func.lower(column) == address).values({column.key: ERASED})
        )


def _lock_deals(uow: UnitOfWork, address: str) -> None:
    """Hold the person's deals against changes from elsewhere until the commit (SQLite's
    write lock, taken at BEGIN, already does)."""
    if uow.dialect != "postgresql":
        return
    ids = select(Deal.id).where(
        (func.lower(Deal.end_user_email) == address)
        | (func.lower(Deal.partner_sales_lead_email) == address)
    )
    uow.session.execute(ids.with_for_update())


def _erase_deal(deal: Deal, roles: tuple[str, ...], person: Person, now: datetime) -> list[str]:
    """Erase the person's fields on the deal, and their names in its free text; the fields."""
    erased = []
    for role in (ROLES[r] for r in roles if r in ROLES):
        for name in role.fields:
            if getattr(deal, name):
                setattr(deal, name, ERASED)
                erased.append(name)
    for name in _FREE_TEXT:
        value = getattr(deal, name)
        if value and person.named_in(value):
            setattr(deal, name, person.redact(value))
            erased.append(name)
    if deal.amendment is not None:
        deal.amendment = redact_json(deal.amendment, person)
    deal.updated_at = now
    return erased


def _erase_inbound(row: InboundEmail, person: Person, now: datetime, known: bool) -> int:
    """Redact a message as received (drop it, if the person is `known` by address alone); 1
    when no part of it is kept."""
    before = row.raw
    row.raw = redact_raw(before, person) if before and known else b""
    for name in ("sender", "subject", "reason"):
        value = getattr(row, name)
        if value:
            setattr(row, name, person.redact(value))
    # A message not yet acted on never will be: the person asked to be forgotten.
    if row.status == "held":
        row.status, row.reason = "lapsed", "personal data erased on request"
    elif row.status == "received":
        row.status, row.reason, row.handled_at = "ignored", "personal data erased on request", now
    return int(bool(before) and not row.raw)


def _erase_outbox(row: OutboxMessage, person: Person, now: datetime, known: bool) -> None:
    addressed = person.named_in(row.to_addr)
    row.to_addr = person.redact(row.to_addr)
    row.subject = person.redact(row.subject)
    if known or row.kind != "email":
        row.body_text = _redact_body(row.body_text, row.kind, person)
        row.body_html = row.body_html and person.redact(row.body_html)
    else:
        row.body_text, row.body_html = "", None
    row.headers = redact_json(row.headers, person)
    if addressed and row.sent_at is None and row.failed_at is None:
        row.failed_at = now  # not to be sent: its recipient was erased
        row.last_error = "not sent: the recipient's personal data was erased"


def _redact_body(body: str, kind: str, person: Person) -> str:
    """A body redacted; a Slack message's JSON value by value, so it stays JSON."""
    if kind != "email":
        try:
            return json.dumps(redact_json(json.loads(body), person))
        except ValueError:
            pass
    return person.redact(body)


def _erase_event(event: DealEvent, person: Person) -> None:
    event.details = redact_json(event.details, person)
    if event.actor.lower() == person.address:
        event.actor = ERASED


def preview(held: Holding) -> dict[str, object]:
    """What an erasure would change, by count, and why it would be refused (if it would)."""
    return {"email": held.person.address, **held.counts(), "refused": refusal(held)}
