"""What is held about one person, found by their email address: for an export (GDPR
article 15) and for an erasure (`core.services.erase`).

A person is found as a deal's end user or partner sales lead (by the address typed on the
registration), or as the partner contact who registered it (a catalogue contact); in
messages from, to or mentioning the address (inbound mail as received, the outbox); in the
audit trail. The names, phones and title on those deals, and the display names beside the
address in mail headers, are what else names them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.orm import Session

from core.models import Contact, Deal, DealEvent, InboundEmail, OutboxMessage, Reviewer
from core.redact import (
    Person,
    display_names,
    json_names,
    mail_text,
    name_words,
    normalise_address,
    raw_carries,
)
from core.services.views import registration_json


@dataclass(frozen=True)
class Role:
    """A person's place on a registration: the field with their address, the fields with
    their name (each capitalised word of it names them too), and their other fields."""

    address: str
    names: tuple[str, ...]
    phones: tuple[str, ...] = ()
    others: tuple[str, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.address, *self.names, *self.phones, *self.others)


ROLES = {
    "end_user": Role(
        "end_user_email",
        ("end_user_first_name", "end_user_last_name"),
        ("end_user_phone",),
        ("end_user_position",),
    ),
    "sales_lead": Role("partner_sales_lead_email", ("partner_sales_lead_name",)),
}
_SCAN_BATCH = 200  # inbound rows read at a time: the raw bytes of all mail never in memory


@dataclass(frozen=True)
class Holding:
    """Everything held about one person: the deals they are on (with their roles there),
    the messages and audit entries that name them, and their catalogue entries."""

    person: Person
    deals: list[tuple[Deal, tuple[str, ...]]]
    inbound: list[InboundEmail]
    outbox: list[OutboxMessage]
    events: list[DealEvent]
    catalogue: list[str]

    def counts(self) -> dict[str, int]:
        return {
            "deals": len(self.deals),
            "inbound_emails": len(self.inbound),
            "outbox_messages": len(self.outbox),
            "audit_entries": len(self.events),
        }


def find(session: Session, address: str) -> Holding:
    """What is held about the person at `address` (compared without regard to case)."""
    person = Person(normalise_address(address))
    deals = _deals(session, person.address)
    person = person.with_terms(*_terms(deals))
    deal_ids = [deal.id for deal, _ in deals]
    inbound = _inbound(session, person, deal_ids)
    person = person.with_terms(_display_names(inbound, person.address))
    events = _events(session, person, deal_ids)
    return Holding(
        person=person.with_terms(*_replaced(events, person.address)),
        deals=deals,
        inbound=inbound,
        outbox=_outbox(session, person, deal_ids),
        events=events,
        catalogue=catalogue_entries(session, person.address),
    )


def catalogue_entries(session: Session, address: str) -> list[str]:
    """The person's entries in the catalogue, as an operator reads them."""
    contacts = session.scalars(
        select(Contact).where(func.lower(Contact.email) == address, Contact.removed_at.is_(None))
    )
    entries = [f"a contact of partner {c.partner.name}" for c in contacts]
    reviewers = session.scalars(select(Reviewer).where(func.lower(Reviewer.email) == address))
    return entries + ["a reviewer" for _ in reviewers]


def _deals(session: Session, address: str) -> list[tuple[Deal, tuple[str, ...]]]:
    contact_ids = select(Contact.id).where(func.lower(Contact.email) == address)
    stmt = (
        select(Deal)
        .where(
            or_(
                func.lower(Deal.end_user_email) == address,
                func.lower(Deal.partner_sales_lead_email) == address,
                Deal.contact_id.in_(contact_ids),
            )
        )
        .order_by(Deal.id)
    )
    found = []
    for deal in session.scalars(stmt).unique():
        roles = [r for r, role in ROLES.items() if _lower(getattr(deal, role.address)) == address]
        if deal.contact.email.lower() == address:
            roles.append("partner_contact")
        found.append((deal, tuple(roles)))
    return found


def _lower(value: str | None) -> str:
    return (value or "").strip().lower()


def _terms(deals: list[tuple[Deal, tuple[str, ...]]]) -> tuple[list[str], list[str]]:
    """The names (and their words), titles and phones the person has on these deals."""
    names: list[str] = []
    phones: list[str] = []
    for deal, roles in deals:
        for role in (ROLES[r] for r in roles if r in ROLES):
            # A catalogue contact's own name is not erased (they are refused), so not here.
            given = [getattr(deal, f) or "" for f in role.names]
            names += [*given, " ".join(given), *name_words(given)]
            names += [getattr(deal, f) or "" for f in role.others]
            phones += [getattr(deal, f) or "" for f in role.phones]
    return names, phones


def _replaced(events: list[DealEvent], address: str) -> tuple[list[str], list[str]]:
    """The names and phones an amendment took off a deal with the person's address: the old
    values of its `{field: [old, new]}` changes."""
    names: list[str] = []
    phones: list[str] = []
    for event in events:
        for role in ROLES.values():
            change = event.details.get(role.address)
            if not (isinstance(change, list) and change and _lower(change[0]) == address):
                continue
            old = {f: v[0] for f, v in event.details.items() if isinstance(v, list) and v}
            given = [str(old.get(f) or "") for f in role.names]
            names += [*given, *name_words(given), *(str(old.get(f) or "") for f in role.others)]
            phones += [str(old.get(f) or "") for f in role.phones]
    return names, phones


def _inbound(session: Session, person: Person, deal_ids: list[int]) -> list[InboundEmail]:
    """Mail from, to or mentioning the address, and mail about their deals naming them."""
    stmt = select(InboundEmail.id, InboundEmail.raw, InboundEmail.sender, InboundEmail.deal_id)
    ids = []
    for row_id, raw, sender, deal_id in session.execute(
        stmt.order_by(InboundEmail.id).execution_options(yield_per=_SCAN_BATCH)
    ):
        about = deal_id in deal_ids and raw and person.named_in(mail_text(raw))
        if _lower(sender) == person.address or about or raw_carries(raw, person):
            ids.append(row_id)
    if not ids:
        return []
    return list(session.scalars(select(InboundEmail).where(InboundEmail.id.in_(ids))))


def _display_names(rows: list[InboundEmail], address: str) -> list[str]:
    """The names mail headers give beside the address ("Jo Bloggs" <jo@…>), and their words."""
    names = [n for row in rows for n in display_names(row.raw, address)]
    return names + name_words(names)


def _outbox(session: Session, person: Person, deal_ids: list[int]) -> list[OutboxMessage]:
    a = person.address
    stmt = select(OutboxMessage).where(
        or_(
            func.lower(OutboxMessage.to_addr).contains(a, autoescape=True),
            func.lower(OutboxMessage.body_text).contains(a, autoescape=True),
            func.lower(OutboxMessage.body_html).contains(a, autoescape=True),
            OutboxMessage.deal_id.in_(deal_ids),
        )
    )
    return [row for row in session.scalars(stmt.order_by(OutboxMessage.id)) if names(row, person)]


def names(row: OutboxMessage, person: Person) -> bool:
    """Whether an outbox row names the person, in its address, subject or bodies."""
    texts = (row.to_addr, row.subject, row.body_text, row.body_html or "")
    return any(person.named_in(t) for t in texts) or json_names(row.headers, person)


def _events(session: Session, person: Person, deal_ids: list[int]) -> list[DealEvent]:
    a = person.address
    stmt = select(DealEvent).where(
        or_(
            DealEvent.deal_id.in_(deal_ids),
            func.lower(DealEvent.actor) == a,
            func.lower(cast(DealEvent.details, Text)).contains(a, autoescape=True),
        )
    )
    return [
        e
        for e in session.scalars(stmt.order_by(DealEvent.id))
        if e.actor.lower() == a or json_names(e.details, person)
    ]


def export(session: Session, address: str, now: datetime) -> dict[str, Any]:
    """Everything held about the person at `address`, as JSON."""
    held = find(session, address)
    numbers = {deal.id: deal.number for deal, _ in held.deals}
    return {
        "email": held.person.address,
        "exported_at": now.isoformat(),
        "catalogue": held.catalogue,
        "deals": [_deal(deal, roles) for deal, roles in held.deals],
        "inbound_emails": [_inbound_json(row) for row in held.inbound],
        "outbox_messages": [_outbox_json(row) for row in held.outbox],
        "audit_entries": [
            {
                "deal": numbers.get(e.deal_id) or e.deal_id,
                "at": e.at.isoformat(),
                "actor": e.actor,
                "channel": e.channel,
                "action": e.action,
                "from": e.from_stage,
                "to": e.to_stage,
                "details": e.details,
            }
            for e in held.events
        ],
    }


def _deal(deal: Deal, roles: tuple[str, ...]) -> dict[str, Any]:
    return {
        "number": deal.number,
        "roles": list(roles),
        "stage": deal.stage,
        "partner": deal.partner.name,
        "created_at": deal.created_at.isoformat(),
        "registration": registration_json(deal),
    }


def _inbound_json(row: InboundEmail) -> dict[str, Any]:
    return {
        "id": row.id,
        "message_id": row.message_id,
        "received_at": row.received_at.isoformat(),
        "sender": row.sender,
        "subject": row.subject,
        "status": row.status,
        # Where the mailbox keeps its own copy: the operator erases that one there.
        "mailbox": row.mailbox,
        "uid": row.uid,
        "moved_to": row.moved_to,
        "raw": row.raw.decode("utf-8", "replace"),
    }


def _outbox_json(row: OutboxMessage) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "template": row.template,
        "message_id": row.message_id,
        "to": row.to_addr,
        "subject": row.subject,
        "created_at": row.created_at.isoformat(),
        "sent_at": row.sent_at.isoformat() if row.sent_at else None,
        "body_text": row.body_text,
        "body_html": row.body_html,
    }
