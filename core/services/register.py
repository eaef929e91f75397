"""Verify a domain and register a deal."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, lazyload
from sqlalchemy.orm.attributes import set_committed_value

from core.config import Settings
from core.db import insert_loaded, table_of
from core.domains import normalise_domain, skeleton
from core.errors import Invalid
from core.fields import FIELDS
from core.locales import locale_for
from core.models import Contact, Deal, Partner, Product, Prospect, deal_number
from core.services import protection
from core.services.common import (
    Actor,
    Rows,
    audit,
    notify_partner,
    notify_slack,
    require_role,
)
from core.uow import UnitOfWork
from core.validation import ProductRef, Registration, ValidationContext, validate_registration


@dataclass(frozen=True)
class DomainCheck:
    """All a partner may learn about a domain: free, already theirs, or protected until a
    date by another partner (never who, under which name or which deal)."""

    domain: str
    status: str  # free | yours | protected
    protected_until: datetime | None = None
    your_deal: str | None = None


def check_domain(session: Session, actor: Actor, text: str, now: datetime) -> DomainCheck:
    """Normalise `text` and say whether it is free, the actor's, or protected by another
    partner's approved deal on it or on a domain that looks like it."""
    domain = normalise_domain(text)
    group = protection.lookalikes(session, [domain])
    active = protection.active_deals(session, [p.id for p in group])
    own = [d for d in active if d.partner_id == actor.partner_id and d.prospect.domain == domain]
    if own:
        return DomainCheck(domain, "yours", your_deal=own[0].number)
    until = [
        d.protection_expires_at
        for d in active
        if d.partner_id != actor.partner_id
        and d.stage == "approved"
        and d.protection_expires_at is not None
        and d.protection_expires_at > now
    ]
    if until:
        return DomainCheck(domain, "protected", protected_until=max(until))
    return DomainCheck(domain, "free")


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


@dataclass(frozen=True)
class Validated:
    """A registration validated ahead of the call, with the context it was validated in.

    Used only while that context still holds (same partner defaults, catalogue and day);
    otherwise the raw values are validated again.
    """

    registration: Registration
    context: ValidationContext


@dataclass(frozen=True)
class Options:
    """How a registration arrived, beyond its fields."""

    thread_message_id: str | None = None
    # The inbound message key it came from: a replayed email finds its own deal.
    source_key: str | None = None
    # The catalogue as the caller already holds it (the intake loads it once per run).
    products: tuple[ProductRef, ...] | None = None
    # The raw values already validated (the intake reads and validates ahead).
    validated: Validated | None = None


def register(
    uow: UnitOfWork,
    actor: Actor,
    raw: Mapping[str, Any],
    *,
    now: datetime,
    settings: Settings,
    thread_message_id: str | None = None,
    source_key: str | None = None,
    options: Options | None = None,
) -> Registered:
    """Validate and store a registration; the same partner's active twin is returned instead.

    A replay of the inbound message that created a deal (same `source_key`) finds that
    deal with `created` true again, so the caller can finish its own bookkeeping.
    """
    opts = options or Options(thread_message_id, source_key)
    [result] = register_many(uow, [Request(actor, raw, opts)], now=now, settings=settings)
    if isinstance(result, Invalid):
        raise result
    return result


@dataclass(frozen=True)
class Request:
    """One registration among several: who sends it, its raw values, how it arrived."""

    actor: Actor
    raw: Mapping[str, Any]
    options: Options = Options()


# Called in the registrations' own transaction with each new deal and the index of its
# request (e.g. to close the inbound emails that asked for them, atomically).
OnCreated = Callable[[Session, list[tuple[int, Deal]]], None]


def register_many(
    uow: UnitOfWork,
    requests: Sequence[Request],
    *,
    now: datetime,
    settings: Settings,
    on_created: OnCreated | None = None,
) -> list[Registered | Invalid]:
    """Register several deals in one transaction, with the outcome each would have alone.

    They are taken in order: a later one finds an earlier one as its twin or its rival
    just as if the earlier had been committed first. A request whose values are invalid
    gets its `Invalid` in its place, and the others go ahead. All are committed together
    (or, on any error, none): a caller that needs them apart registers them one by one.
    """
    for request in requests:
        require_role(request.actor, "partner", "register deals")
    for attempt in range(3):
        try:
            return _register_all(uow, requests, now, settings, on_created)
        except IntegrityError:
            # A concurrent registration of the same prospect or deal won the race:
            # start again and find what it stored.
            uow.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@dataclass
class _Item:
    request: Request
    contact: Contact
    reg: Registration
    product: Product
    result: Registered | None = None
    rival: Deal | None = None


def _register_all(
    uow: UnitOfWork,
    requests: Sequence[Request],
    now: datetime,
    settings: Settings,
    on_created: OnCreated | None,
) -> list[Registered | Invalid]:
    session = uow.session
    items: list[_Item | Invalid] = [_read(session, r, now) for r in requests]
    # The prospects asked for and their lookalikes, and the active deals on them, oldest
    # first; each new prospect and deal joins its list.
    found = protection.lookalikes(session, {i.reg.domain for i in items if isinstance(i, _Item)})
    prospects = {p.domain: p for p in found}
    active = protection.active_deals(session, [p.id for p in found])
    new_prospects: list[Prospect] = []
    made: list[tuple[int, _Item]] = []  # the requests a new deal was made for
    for index, item in enumerate(items):
        if isinstance(item, Invalid):
            continue
        reg, partner = item.reg, item.contact.partner
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
        twin, item.rival = _twin_and_rival(near, prospect, partner.id, now)
        if twin is not None:
            key = item.request.options.source_key
            item.result = Registered(twin, key is not None and twin.source_key == key)
            continue
        opts = item.request.options
        deal = _new_deal(
            reg, item.request.actor, partner, prospect, item.product, now, opts.thread_message_id
        )
        deal.contact = item.contact
        deal.source_key = opts.source_key
        deal.conflict_with = item.rival
        active.append(deal)
        item.result = Registered(deal, True)
        made.append((index, item))
    new_deals = [item.result.deal for _, item in made if item.result is not None]
    _insert(session, new_prospects, new_deals)
    rows = Rows()
    for _, item in made:
        _announce(session, item, now, settings, rows)
    rows.insert(session)
    if on_created is not None and new_deals:
        on_created(session, [(i, deal) for (i, _), deal in zip(made, new_deals, strict=True)])
    uow.commit()
    return [i if isinstance(i, Invalid) else i.result for i in items]  # type: ignore[misc]


def _read(session: Session, request: Request, now: datetime) -> _Item | Invalid:
    """The request's contact, its values validated (or `Invalid`) and its product."""
    contact = session.get_one(Contact, request.actor.contact_id)  # with partner and tier
    context = validation_context(session, contact.partner, now, request.options.products)
    ahead = request.options.validated
    try:
        if ahead is not None and ahead.context == context:
            reg = ahead.registration
        else:
            reg = validate_registration(request.raw, context)
    except Invalid as exc:
        return exc
    return _Item(request, contact, reg, _product(session, context.products, reg.product))


def _announce(session: Session, item: _Item, now: datetime, settings: Settings, rows: Rows) -> None:
    """Audit a new deal and queue its confirmation and its review request (into `rows`)."""
    assert item.result is not None
    deal, actor = item.result.deal, item.request.actor
    details: dict[str, Any] = {"registration": item.reg.to_json()}
    if item.rival is not None:
        details["conflict_with"] = item.rival.number
    audit(session, deal, actor, now, "register", None, "opportunity", details, rows=rows)
    notify_partner(session, deal, "registration_received", now=now, settings=settings, rows=rows)
    notify_slack(session, deal, "review_request", now=now, settings=settings, rows=rows)
    notify_slack(
        session, deal, "partner_dm", now=now, settings=settings, rows=rows,
        payload={"event": "registered"},
    )  # fmt: skip


def _insert(session: Session, prospects: list[Prospect], deals: list[Deal]) -> None:
    """Write the new prospects, then the new deals with their numbers (from their ids)."""
    insert_loaded(session, prospects)
    for deal in deals:
        deal.prospect_id = deal.prospect.id
        deal.conflict_with_id = deal.conflict_with.id if deal.conflict_with else None
    insert_loaded(session, deals)
    if not deals:
        return
    table = table_of(Deal)
    numbered = table.update().where(table.c.id == bindparam("_id")).values(number=bindparam("_n"))
    session.execute(numbered, [{"_id": d.id, "_n": deal_number(d.id)} for d in deals])
    for deal in deals:
        set_committed_value(deal, "number", deal_number(deal.id))
        if deal.conflict_with is not None and deal.conflict_with_id is None:
            # A rival new in this batch had no id yet when the deal was written.
            rival_id = deal.conflict_with.id
            stmt = table.update().where(table.c.id == deal.id).values(conflict_with_id=rival_id)
            session.execute(stmt)
            set_committed_value(deal, "conflict_with_id", rival_id)


def _product(session: Session, products: tuple[ProductRef, ...], code: str) -> Product:
    """The catalogue row of a validated product code (by id, from the session if held)."""
    ref = next((p for p in products if p.code == code), None)
    product = (
        session.get(Product, ref.id, options=[lazyload(Product.prices)])
        if ref is not None and ref.id is not None
        else session.scalar(
            select(Product).where(Product.code == code).options(lazyload(Product.prices))
        )
    )
    assert product is not None  # validated against the catalogue
    return product


def _alike(one: Prospect, other: Prospect) -> bool:
    return one is other or one.skeleton == other.skeleton


def _twin_and_rival(
    deals: list[Deal], prospect: Prospect, partner_id: int, now: datetime
) -> tuple[Deal | None, Deal | None]:
    """Among the active deals on one product for a prospect and its lookalikes, oldest
    first: the partner's own twin (on the prospect itself), and another partner's live
    rival on any of them (one approved first)."""
    twin = next((d for d in deals if d.prospect is prospect and d.partner_id == partner_id), None)
    live = [
        d
        for d in deals
        if d.partner_id != partner_id
        and (d.protection_expires_at is None or d.protection_expires_at > now)
    ]
    approved = [d for d in live if d.stage == "approved"]
    candidates = approved or live
    return twin, candidates[0] if candidates else None


# Registration fields copied onto the deal as typed (domain and product become links).
_FIELDS = [f.name for f in FIELDS if f.name not in ("domain", "product")] + ["currency"]


def _new_deal(
    reg: Registration,
    actor: Actor,
    partner: Partner,
    prospect: Prospect,
    product: Product,
    now: datetime,
    thread_message_id: str | None,
) -> Deal:
    assert actor.contact_id is not None
    return Deal(
        stage="opportunity",
        channel=actor.channel,
        partner=partner,
        partner_id=partner.id,
        contact_id=actor.contact_id,
        prospect=prospect,
        prospect_id=prospect.id,
        product=product,
        product_id=product.id,
        created_at=now,
        updated_at=now,
        extensions_granted=0,
        thread_message_id=thread_message_id,
        **{name: getattr(reg, name) for name in _FIELDS},
    )
