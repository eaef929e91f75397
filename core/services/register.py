"""Verify a domain and register a deal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, lazyload

from core import protection
from core.config import Settings
from core.db import insert_loaded, reserve_ids
from core.domains import normalise_domain, skeleton
from core.errors import FieldError, Invalid
from core.fields import FIELDS
from core.locales import locale_for
from core.models import Contact, Deal, Partner, Product, Prospect, deal_number
from core.protection import DomainCheck
from core.services.actors import Actor, require_role
from core.services.claims import active_deals, lookalikes
from core.services.common import Event, Notice, audit, notify_partner, notify_slack
from core.services.desk import open_reviews, record_verdict, stored_rules
from core.services.review import approve_automatically
from core.uow import UnitOfWork
from core.validation import ProductRef, Registration, ValidationContext, validate_registration


def check_domain(session: Session, actor: Actor, text: str, now: datetime) -> DomainCheck:
    """Normalise `text` and say whether it is free, the actor's, or protected by another
    partner's approved deal on it or on a domain that looks like it."""
    domain = normalise_domain(text)
    deals = active_deals(session, [p.id for p in lookalikes(session, [domain])])
    return protection.check(deals, domain, actor.partner_id, now)


def catalogue(session: Session) -> tuple[ProductRef, ...]:
    """The products as validation needs them."""
    rows = session.execute(
        select(Product.code, Product.name, Product.aliases, Product.id).order_by(Product.name)
    )
    return tuple(ProductRef(c, name, tuple(aliases or ()), id_) for c, name, aliases, id_ in rows)


def validation_context(
    session: Session,
    partner: Partner,
    now: datetime,
    products: tuple[ProductRef, ...] | None = None,
) -> ValidationContext:
    return ValidationContext(
        partner_country=partner.country,
        partner_currency=partner.currency,
        products=products if products is not None else catalogue(session),
        today=now.date(),
        locale=locale_for(partner.country, partner.locale),
    )


@dataclass(frozen=True)
class Registered:
    deal: Deal
    created: bool


def validate(session: Session, actor: Actor, raw: Mapping[str, Any], now: datetime) -> Registration:
    """Validate a partner's raw values against their partner's defaults and the catalogue.

    Raises `Invalid` listing every bad field at once.
    """
    require_role(actor, "partner", "register deals")
    contact = session.get_one(Contact, actor.contact_id)  # with partner and tier
    return validate_registration(raw, validation_context(session, contact.partner, now))


@dataclass(frozen=True)
class Request:
    """One registration to make: who sends it, its validated values, where it came from."""

    actor: Actor
    registration: Registration
    # Our emails about the deal thread onto the message it came in (email registrations).
    thread_message_id: str | None = None
    # The inbound message key it came from: a replayed email finds its own deal.
    source_key: str | None = None


def register(
    uow: UnitOfWork, requests: Sequence[Request], *, now: datetime, settings: Settings
) -> list[Registered]:
    """Store registrations in one transaction, each with the outcome it would have alone.

    They are taken in order: a later one finds an earlier one as its twin (the same
    partner's active deal, returned instead of a new one) or its rival (another partner's,
    a conflict) just as if the earlier had been committed first. A replay of the inbound
    message that created a deal (same `source_key`) finds that deal with `created` true.
    """
    for request in requests:
        require_role(request.actor, "partner", "register deals")
    for attempt in range(3):
        try:
            done, automatic = _register_all(uow, requests, now, settings)
            break
        except IntegrityError:
            # A concurrent registration of the same prospect or deal won the race:
            # start again and find what it stored.
            uow.rollback()
            if attempt == 2:
                raise
    for number, rule in automatic:
        approve_automatically(uow, number, rule, now=now, settings=settings)
    return done


@dataclass
class _Item:
    request: Request
    contact: Contact
    product: Product
    result: Registered | None = None
    rival: Deal | None = None


def _register_all(
    uow: UnitOfWork, requests: Sequence[Request], now: datetime, settings: Settings
) -> tuple[list[Registered], list[tuple[str, str]]]:
    """Store the registrations; with them, the deals a rule approves automatically (number,
    rule), to approve once they are committed."""
    session = uow.session
    items = _items(session, requests)
    specs = stored_rules(uow)
    # The prospects asked for and their lookalikes, and the active deals on them, oldest
    # first; each new prospect and deal joins its list.
    found = lookalikes(session, {r.registration.domain for r in requests})
    prospects = {p.domain: p for p in found}
    active = active_deals(session, [p.id for p in found])
    new_prospects: list[Prospect] = []
    made: list[_Item] = []  # the requests a new deal was made for
    for item in items:
        reg, partner = item.request.registration, item.contact.partner
        prospect = prospects.get(reg.domain)
        if prospect is None:
            prospect = Prospect(
                domain=reg.domain,
                skeleton=skeleton(reg.domain),
                company_name=reg.company_name,
                created_at=now,
            )
            prospects[reg.domain] = prospect
            new_prospects.append(prospect)
        near = [d for d in active if d.product is item.product and _alike(d.prospect, prospect)]
        twin, item.rival = protection.twin_and_rival(near, prospect, partner.id, now)
        if twin is not None:
            key = item.request.source_key
            item.result = Registered(twin, key is not None and twin.source_key == key)
            continue
        deal = _new_deal(item, prospect, now)
        active.append(deal)
        item.result = Registered(deal, True)
        made.append(item)
    _insert(session, new_prospects, [item.result.deal for item in made if item.result])
    deals = [item.result.deal for item in made if item.result]
    verdicts = open_reviews(uow, deals, specs, now, settings)  # their routes first
    automatic = []
    for item, deal, verdict in zip(made, deals, verdicts, strict=True):
        _announce(uow, item, now, settings)
        record_verdict(uow, deal, specs, verdict, now)
        if verdict.approve_by is not None and verdict.second_approval is None:
            automatic.append((deal.number, verdict.approve_by.name))
    uow.commit()
    return [item.result for item in items if item.result is not None], automatic


def _items(session: Session, requests: Sequence[Request]) -> list[_Item]:
    """Each request with its contact (with partner and tier) and its product."""
    codes = {r.registration.product for r in requests}
    stmt = select(Product).where(Product.code.in_(codes)).options(lazyload(Product.prices))
    products = {p.code: p for p in session.scalars(stmt)}
    wanted = {r.actor.contact_id for r in requests}
    contacts = {c.id: c for c in session.scalars(select(Contact).where(Contact.id.in_(wanted)))}
    items = []
    for request in requests:
        product = products.get(request.registration.product)
        if product is None:  # taken out of the catalogue since the values were validated
            raise Invalid([FieldError("product", "is no longer in the catalogue")])
        contact_id = request.actor.contact_id
        loaded = contacts.get(contact_id) if contact_id is not None else None
        contact = loaded or session.get_one(Contact, contact_id)  # not loaded: a bug of ours
        items.append(_Item(request, contact, product))
    return items


def _announce(uow: UnitOfWork, item: _Item, now: datetime, settings: Settings) -> None:
    """Audit a new deal and queue its confirmation and its review request."""
    assert item.result is not None
    deal, actor = item.result.deal, item.request.actor
    details: dict[str, Any] = {"registration": item.request.registration.to_json()}
    if item.rival is not None:
        details["conflict_with"] = item.rival.number
    audit(uow, deal, actor, now, Event("register", None, "opportunity", details))
    notify_partner(uow, deal, Notice("registration_received"), now=now, settings=settings)
    notify_slack(uow, deal, Notice("review_request"), now=now, settings=settings)
    dm = Notice("partner_dm", {"event": "registered"})
    notify_slack(uow, deal, dm, now=now, settings=settings)


def _insert(session: Session, prospects: list[Prospect], deals: list[Deal]) -> None:
    """Write the new prospects, then the new deals, each numbered from the id reserved for
    it (a rival new in this batch has its id already)."""
    insert_loaded(session, prospects)
    for deal, deal_id in zip(deals, reserve_ids(session, Deal, len(deals)), strict=True):
        deal.id, deal.number = deal_id, deal_number(deal_id)
    for deal in deals:
        deal.prospect_id = deal.prospect.id
        deal.conflict_with_id = deal.conflict_with.id if deal.conflict_with else None
    insert_loaded(session, deals)


def _alike(one: Prospect, other: Prospect) -> bool:
    return one is other or one.skeleton == other.skeleton


# Registration fields copied onto the deal as typed (domain and product become links).
_FIELDS = [f.name for f in FIELDS if f.name not in ("domain", "product")] + ["currency"]


def _new_deal(item: _Item, prospect: Prospect, now: datetime) -> Deal:
    request, partner = item.request, item.contact.partner
    assert request.actor.contact_id is not None
    return Deal(
        stage="opportunity",
        channel=request.actor.channel,
        partner=partner,
        partner_id=partner.id,
        contact=item.contact,
        contact_id=request.actor.contact_id,
        prospect=prospect,
        prospect_id=prospect.id,
        product=item.product,
        product_id=item.product.id,
        conflict_with=item.rival,
        created_at=now,
        updated_at=now,
        extensions_granted=0,
        thread_message_id=request.thread_message_id,
        source_key=request.source_key,
        **{name: getattr(request.registration, name) for name in _FIELDS},
    )
