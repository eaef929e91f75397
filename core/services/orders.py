"""The partner's moves after approval: start and submit the order, add quotes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from core.config import Settings
from core.domains import normalise_domain
from core.errors import FieldError, Invalid, NotAllowed, NotFound
from core.models import Deal, Partner, Product, Prospect, Quote
from core.services.common import (
    Actor,
    audit,
    authorise,
    load_deal,
    notify_partner,
    notify_slack,
    require_role,
)
from core.services.quotes import create_quote, protecting_deal
from core.stages import next_stage
from core.uow import UnitOfWork


def advance(
    uow: UnitOfWork,
    actor: Actor,
    number: str,
    *,
    quote_number: str | None = None,
    po_number: str | None = None,
    action: str | None = None,
    now: datetime,
    settings: Settings,
) -> Deal:
    """Move an approved deal to order_started (naming the quote), then to order_submitted.

    `action` (start_order or submit_order) is the move asked for, refused when the deal's
    stage does not allow it; without it, the deal takes its next move.
    """
    session = uow.session
    deal = load_deal(session, actor, number, for_update=True)
    require_role(actor, "partner", "advance deals")
    source = deal.stage
    move = action or ("start_order" if source == "approved" else "submit_order")
    next_stage(source, move)  # a move the stage does not allow is refused first
    if move == "start_order":
        authorise(actor, deal, "start_order")
        quote = _order_quote(deal, quote_number)
        deal.start_order(quote, now)
        details: dict[str, Any] = {"quote": quote.number}
        audit(uow, deal, actor, now, "start_order", source, deal.stage, details)
        notify_partner(uow, deal, "order_started", now=now, settings=settings, quote=quote)
    else:
        authorise(actor, deal, "submit_order")
        deal.submit_order(po_number or "", now)
        details = {"po_number": deal.po_number}
        audit(uow, deal, actor, now, "submit_order", source, deal.stage, details)
        notify_partner(uow, deal, "order_submitted", now=now, settings=settings)
    notify_slack(uow, deal, "partner_dm", now=now, settings=settings, payload={"event": deal.stage})
    uow.commit()
    return deal


def _order_quote(deal: Deal, quote_number: str | None) -> Quote:
    quotes = list(deal.quotes)
    if quote_number:
        key = quote_number.strip().upper()
        for q in quotes:
            if q.number == key:
                return q
        raise Invalid([FieldError("quote", f"{key} is not a quote of {deal.number}")])
    if len(quotes) == 1:
        return quotes[0]
    if not quotes:
        raise NotAllowed(f"{deal.number} has no quote to order", field="quote")
    names = ", ".join(q.number for q in quotes)
    raise Invalid([FieldError("quote", f"name the quote to order: one of {names}")])


def add_quote(
    uow: UnitOfWork,
    actor: Actor,
    domain: str,
    *,
    product_code: str,
    users: int,
    now: datetime,
    settings: Settings,
) -> Quote:
    """Add a quote to a prospect; it carries the reward margin only while the partner's
    deal for that prospect is approved and protected."""
    require_role(actor, "partner", "create quotes")
    if not 1 <= users <= 1_000_000:
        raise Invalid([FieldError("number_of_users", "must be between 1 and 1,000,000")])
    session = uow.session
    prospect = session.scalar(select(Prospect).where(Prospect.domain == normalise_domain(domain)))
    if prospect is None:
        raise NotFound(f"no prospect {domain}: register a deal for it first", field="domain")
    product = session.scalar(select(Product).where(Product.code == product_code))
    if product is None:
        raise Invalid([FieldError("product", f"{product_code!r} is not in the catalogue")])
    partner = session.get_one(Partner, actor.partner_id)
    deal = protecting_deal(session, partner.id, prospect, now)
    if deal is None:
        deal = session.scalar(
            select(Deal)
            .where(Deal.partner_id == partner.id, Deal.prospect_id == prospect.id)
            .order_by(Deal.id.desc())
            .limit(1)
        )
        with_margin = False
    else:
        with_margin = True
    quote = create_quote(
        session,
        partner=partner,
        prospect=prospect,
        product=product,
        users=users,
        deal=deal,
        with_margin=with_margin,
        now=now,
        settings=settings,
        created_by=actor.email,
    )
    uow.commit()
    return quote
