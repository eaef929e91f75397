"""A deal's claim moves: a new domain or product for an existing deal.

At `opportunity` the move is a registration's: the prospect is found or created (a lookalike
included in the claim) and the conflict recomputed. On an approved deal (an amendment the deal
desk approves) the new claim must be free, by the same rule as an approval. Either way the
partner may not end up with two active deals on one prospect and product.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from core import protection
from core.domains import display_both, skeleton
from core.errors import Conflict, FieldError, Invalid
from core.models import Deal, Product, Prospect
from core.services.claims import active_deals, claim, lock, lookalikes
from core.uow import UnitOfWork


def move_claim(
    uow: UnitOfWork, deal: Deal, domain: str | None, product_code: str | None, now: datetime
) -> None:
    """Point `deal` at the prospect of `domain` and at the product `product_code` (each None:
    unchanged), refusing a claim the deal may not take."""
    session = uow.session
    product = deal.product
    if product_code is not None and product_code != product.code:
        found = session.scalar(select(Product).where(Product.code == product_code))
        if found is None:
            raise Invalid([FieldError("product", "is no longer in the catalogue")])
        product = found
    prospect = deal.prospect if domain is None else _prospect(uow, domain, deal, now)
    if deal.stage == "approved":
        lock(session, prospect)
        others = [d for d in claim(session, prospect) if d.product_id == product.id]
    else:
        near = lookalikes(session, [prospect.domain])
        others = [d for d in active_deals(session, [p.id for p in near])]
        others = [d for d in others if d.product_id == product.id]
    others = [d for d in others if d.id != deal.id]
    twin = next(
        (d for d in others if d.prospect_id == prospect.id and d.partner_id == deal.partner_id),
        None,
    )
    if twin is not None:
        raise Conflict(
            f"cannot move {deal.number}: your deal {twin.number} already registers "
            f"{prospect.domain} for {product.name}",
            field="domain",
        )
    if deal.stage == "approved":
        holder = protection.protector(others, now)
        if holder is not None:
            raise Conflict(_held(deal, prospect, holder), field="domain")
    else:
        _, deal.conflict_with = protection.twin_and_rival(others, prospect, deal.partner_id, now)
    deal.prospect, deal.prospect_id = prospect, prospect.id
    deal.product, deal.product_id = product, product.id


def _prospect(uow: UnitOfWork, domain: str, deal: Deal, now: datetime) -> Prospect:
    """The prospect of `domain`, created (as a registration would) when there is none."""
    session = uow.session
    found = session.scalar(select(Prospect).where(Prospect.domain == domain))
    if found is not None:
        return found
    prospect = Prospect(
        domain=domain, skeleton=skeleton(domain), company_name=deal.company_name, created_at=now
    )
    session.add(prospect)
    session.flush()
    return prospect


def _held(deal: Deal, prospect: Prospect, holder: Deal) -> str:
    """Why the amendment cannot move `deal` to `prospect`: for the deal desk, who decide it."""
    until = f"protected until {holder.protection_expires_at:%Y-%m-%d}"
    return (
        f"cannot approve the amendment of {deal.number}: {display_both(prospect.domain)} "
        f"is held by {holder.number} for this product ({until})"
    )
