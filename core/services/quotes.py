"""Quotes: generated on approval and added to a prospect later, priced by core.pricing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from core import protection
from core.config import Settings
from core.db import reserve_ids
from core.models import Deal, Partner, Product, Prospect, Quote, QuoteLine
from core.pricing import ListPrice, Priced, price_quote
from core.services.claims import claim


def margin_pct(partner: Partner, settings: Settings) -> Decimal:
    """The partner's reward margin: its tier's override, else the setting."""
    tier_pct = partner.tier.reward_margin_pct
    return settings.reward_margin_pct if tier_pct is None else tier_pct


def preview(
    partner: Partner, product: Product, users: int, settings: Settings, *, with_margin: bool
) -> Priced:
    """Price what a quote would be, without storing it (the review's quote preview)."""
    unit_price, currency = product.price_in(partner.currency)
    price = ListPrice(product.name, unit_price, currency, product.term_months)
    return price_quote(
        price,
        users,
        discount_pct=partner.tier.discount_pct,
        reward_margin_pct=margin_pct(partner, settings) if with_margin else Decimal(0),
    )


@dataclass(frozen=True)
class QuoteBasis:
    """What a quote prices and for whom: the partner, the prospect, the product and its
    users, the deal it belongs to, and whether the reward margin applies."""

    partner: Partner
    prospect: Prospect
    product: Product
    users: int
    deal: Deal | None
    with_margin: bool


def create_quote(
    session: Session, basis: QuoteBasis, *, now: datetime, settings: Settings, created_by: str
) -> Quote:
    """Store a priced quote with its lines, numbered Q-000001 from the id reserved for it."""
    priced = preview(
        basis.partner, basis.product, basis.users, settings, with_margin=basis.with_margin
    )
    [quote_id] = reserve_ids(session, Quote, 1)
    valid_until = (now + timedelta(days=settings.quote_valid_days)).date()
    quote = priced_quote(
        priced,
        basis,
        quote_id=quote_id,
        valid_until=valid_until,
        now=now,
        created_by=created_by,
    )
    session.add(quote)
    session.flush()
    return quote


def priced_quote(
    priced: Priced,
    basis: QuoteBasis,
    *,
    quote_id: int,
    valid_until: date,
    now: datetime,
    created_by: str,
) -> Quote:
    """A quote (not yet stored) of `priced`, with its lines, numbered from `quote_id`; its
    deal by id only, so the deal's loaded `quotes` stay as they are."""
    deal = basis.deal
    return Quote(
        id=quote_id,
        number=f"Q-{quote_id:06d}",
        prospect_id=basis.prospect.id,
        prospect=basis.prospect,
        partner_id=basis.partner.id,
        partner=basis.partner,
        deal_id=deal.id if deal else None,
        product_id=basis.product.id,
        product=basis.product,
        currency=priced.currency,
        number_of_users=basis.users,
        term_months=basis.product.term_months,
        discount_pct=priced.discount_pct,
        reward_margin_pct=priced.reward_margin_pct,
        list_amount=priced.list_amount,
        total=priced.total,
        valid_until=valid_until,
        created_at=now,
        created_by=created_by,
        lines=[
            QuoteLine(
                position=i,
                kind=line.kind,
                description=line.description,
                unit_price=line.unit_price,
                quantity=line.quantity,
                term_months=line.term_months,
                pct=line.pct,
                amount=line.amount,
            )
            for i, line in enumerate(priced.lines, start=1)
        ],
    )


def protecting_deal(
    session: Session, partner_id: int, prospect: Prospect, now: datetime
) -> Deal | None:
    """The partner's deal that protects `prospect` for them, if any (`core.protection`)."""
    return protection.own_protection(claim(session, prospect), partner_id, prospect.id, now)
