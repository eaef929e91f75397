"""Verify a domain and register a deal."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, lazyload

from core.config import Settings
from core.db import insert_loaded
from core.domains import normalise_domain
from core.fields import FIELDS
from core.locales import locale_for
from core.models import ACTIVE_STAGES, Contact, Deal, Partner, Product, Prospect
from core.services.common import Actor, audit, notify_partner, notify_slack, require_role
from core.uow import UnitOfWork
from core.validation import ProductRef, Registration, ValidationContext, validate_registration


@dataclass(frozen=True)
class DomainCheck:
    """What a partner learns about a domain: never the other partner's name."""

    domain: str
    prospect_id: int | None
    company_name: str | None
    status: str  # new | free | yours | protected
    protected_until: datetime | None = None
    your_deal: str | None = None


def check_domain(session: Session, actor: Actor, text: str, now: datetime) -> DomainCheck:
    """Normalise `text` and say whether the prospect exists and who (not named) protects it."""
    domain = normalise_domain(text)
    prospect = session.scalar(select(Prospect).where(Prospect.domain == domain))
    if prospect is None:
        return DomainCheck(domain, None, None, "new")
    active = session.scalars(
        select(Deal).where(Deal.prospect_id == prospect.id, Deal.stage.in_(ACTIVE_STAGES))
    ).all()
    own = [d for d in active if d.partner_id == actor.partner_id]
    others = [
        d
        for d in active
        if d.partner_id != actor.partner_id
        and d.stage == "approved"
        and d.protection_expires_at is not None
        and d.protection_expires_at > now
    ]
    if own:
        return DomainCheck(domain, prospect.id, prospect.company_name, "yours", None, own[0].number)
    if others:
        until = max(d.protection_expires_at for d in others if d.protection_expires_at)
        return DomainCheck(domain, prospect.id, prospect.company_name, "protected", until)
    return DomainCheck(domain, prospect.id, prospect.company_name, "free")


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
    # Runs in the registration's own transaction, with the new deal (e.g. to close the
    # inbound email that asked for it, atomically).
    on_created: Callable[[Session, Deal], None] | None = None
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
    require_role(actor, "partner", "register deals")
    opts = options or Options(thread_message_id, source_key)
    for attempt in range(3):
        try:
            return _register_once(uow, actor, raw, now, settings, opts)
        except IntegrityError:
            # A concurrent registration of the same prospect or deal won the race:
            # start again and find what it stored.
            uow.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _register_once(
    uow: UnitOfWork,
    actor: Actor,
    raw: Mapping[str, Any],
    now: datetime,
    settings: Settings,
    opts: Options,
) -> Registered:
    session = uow.session
    contact = session.get_one(Contact, actor.contact_id)  # with its partner and tier
    partner = contact.partner
    context = validation_context(session, partner, now, opts.products)
    ahead = opts.validated
    if ahead is not None and ahead.context == context:
        reg = ahead.registration
    else:
        reg = validate_registration(raw, context)
    product = _product(session, context.products, reg.product)
    prospect = _prospect(session, reg, now)
    # A prospect new in this transaction has no deals yet: nothing to look up.
    fresh = prospect.id is None
    twin, rival = (
        (None, None) if fresh else _active(session, partner.id, prospect.id, product.id, now)
    )
    if twin is not None:
        replay = opts.source_key is not None and twin.source_key == opts.source_key
        return Registered(twin, replay)
    if prospect.id is None:
        insert_loaded(session, prospect)
    deal = _new_deal(reg, actor, partner, prospect, product, now, opts.thread_message_id)
    deal.contact = contact
    deal.source_key = opts.source_key
    deal.conflict_with, deal.conflict_with_id = rival, rival.id if rival is not None else None
    insert_loaded(session, deal, number=lambda id_: f"DR-{id_:06d}")
    details: dict[str, Any] = {"registration": reg.to_json()}
    if rival is not None:
        details["conflict_with"] = rival.number
    audit(session, deal, actor, now, "register", None, "opportunity", details)
    notify_partner(session, deal, "registration_received", now=now, settings=settings)
    notify_slack(session, deal, "review_request", now=now, settings=settings)
    notify_slack(
        session, deal, "partner_dm", now=now, settings=settings, payload={"event": "registered"}
    )
    if opts.on_created is not None:
        opts.on_created(session, deal)
    uow.commit()
    return Registered(deal, True)


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


def _prospect(session: Session, reg: Registration, now: datetime) -> Prospect:
    prospect = session.scalar(select(Prospect).where(Prospect.domain == reg.domain))
    if prospect is None:
        # Stored with the deal.
        prospect = Prospect(domain=reg.domain, company_name=reg.company_name, created_at=now)
    return prospect


def _active(
    session: Session, partner_id: int, prospect_id: int, product_id: int, now: datetime
) -> tuple[Deal | None, Deal | None]:
    """The partner's own active twin, and another partner's live rival (approved first)."""
    rows = session.scalars(
        select(Deal)
        .where(
            Deal.prospect_id == prospect_id,
            Deal.product_id == product_id,
            Deal.stage.in_(ACTIVE_STAGES),
        )
        .order_by(Deal.id)
    ).all()
    twin = next((d for d in rows if d.partner_id == partner_id), None)
    live = [
        d
        for d in rows
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
