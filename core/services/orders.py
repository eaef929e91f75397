"""The partner's moves after approval: start and submit the order, add quotes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from core.config import Settings
from core.domains import normalise_domain
from core.errors import FieldError, Invalid, NotAllowed, NotFound
from core.models import Deal, Partner, Product, Prospect, Quote
from core.services.actors import Actor, authorise, load_deal, require_role
from core.services.common import Event, Notice, audit, notify_partner, notify_slack
from core.services.quotes import QuoteBasis, create_quote, protecting_deal
from core.stages import next_stage
from core.uow import UnitOfWork


@dataclass(frozen=True)
class OrderStep:
    """A move of a deal's order as asked for: start_order or submit_order (None: the
    deal's next move), the quote an order starts from, the PO number it is submitted with."""

    action: str | None = None
    quote_number: str | None = None
    po_number: str | None = None


NEXT_STEP = OrderStep()


def advance(
    uow: UnitOfWork,
    actor: Actor,
    number: str,
    *,
    step: OrderStep = NEXT_STEP,
    now: datetime,
    settings: Settings,
) -> Deal:
    """Move an approved deal to order_started (naming the quote), then to order_submitted.

    The step's action is the move asked for, refused when the deal's stage does not allow
    it; without it, the deal takes its next move.
    """
    session = uow.session
    deal = load_deal(session, actor, number, for_update=True)
    require_role(actor, "partner", "advance deals")
    source = deal.stage
    move = step.action or ("start_order" if source == "approved" else "submit_order")
    next_stage(source, move, deal.number, deal.moot())  # a move the stage forbids: refused
    if move == "start_order":
        authorise(actor, deal, "start_order")
        quote = _order_quote(deal, step.quote_number)
        deal.start_order(quote, now)
        event = Event("start_order", source, deal.stage, {"quote": quote.number})
        notice = Notice("order_started", {"quote": quote})
    else:
        authorise(actor, deal, "submit_order")
        deal.submit_order(step.po_number or "", now)
        event = Event("submit_order", source, deal.stage, {"po_number": deal.po_number})
        notice = Notice("order_submitted")
    audit(uow, deal, actor, now, event)
    notify_partner(uow, deal, notice, now=now, settings=settings)
    dm = Notice("partner_dm", {"event": deal.stage})
    notify_slack(uow, deal, dm, now=now, settings=settings)
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


@dataclass(frozen=True)
class QuoteAsk:
    """A quote as a partner asks for it: the prospect's domain, the product's code, the
    number of users."""

    domain: str
    product_code: str
    users: int


def add_quote(
    uow: UnitOfWork, actor: Actor, ask: QuoteAsk, *, now: datetime, settings: Settings
) -> Quote:
    """Add a quote to a prospect; it carries the reward margin only while the partner's
    deal for that prospect is approved and protected."""
    require_role(actor, "partner", "create quotes")
    if not 1 <= ask.users <= 1_000_000:
        raise Invalid([FieldError("number_of_users", "must be between 1 and 1,000,000")])
    session = uow.session
    domain = normalise_domain(ask.domain)
    prospect = session.scalar(select(Prospect).where(Prospect.domain == domain))
    if prospect is None:
        raise NotFound(f"no prospect {ask.domain}: register a deal for it first", field="domain")
    product = session.scalar(select(Product).where(Product.code == ask.product_code))
    if product is None:
        raise Invalid([FieldError("product", f"{ask.product_code!r} is not in the catalogue")])
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
    basis = QuoteBasis(partner, prospect, product, ask.users, deal, with_margin)
    quote = create_quote(session, basis, now=now, settings=settings, created_by=actor.email)
    if deal is not None:
        made = Event("quote", deal.stage, deal.stage, {"quote": quote.number})
        audit(uow, deal, actor, now, made)
    uow.commit()
    return quote
