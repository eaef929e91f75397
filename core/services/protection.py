"""Who protects a prospect: the deals on it and on every prospect whose domain looks like it.

A lookalike domain (`hаrbourlights.co.uk` with a Cyrillic а) is the same claim as the domain
it imitates: registration, approval, quotes and `/deal check` all ask this module, which
finds a prospect's lookalikes by their shared confusable skeleton (one indexed lookup).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from core.domains import skeleton
from core.models import ACTIVE_STAGES, Deal, Prospect


def lookalikes(session: Session, domains: Iterable[str]) -> list[Prospect]:
    """The prospects of `domains` and every prospect that looks like one of them."""
    wanted = set(domains)
    if not wanted:
        return []
    skeletons = {skeleton(d) for d in wanted}
    # By domain too: the prospect itself is found even if its stored skeleton is stale.
    stmt = select(Prospect).where(
        or_(Prospect.domain.in_(wanted), Prospect.skeleton.in_(skeletons))
    )
    return list(session.scalars(stmt.order_by(Prospect.id)))


def active_deals(session: Session, prospect_ids: Iterable[int]) -> list[Deal]:
    """The active deals on these prospects, oldest first."""
    ids = list(prospect_ids)
    if not ids:
        return []
    stmt = select(Deal).where(Deal.prospect_id.in_(ids), Deal.stage.in_(ACTIVE_STAGES))
    return list(session.scalars(stmt.order_by(Deal.id)))


def _alike(prospect_id: int) -> ColumnElement[bool]:
    """Deals whose prospect is this one or looks like it."""
    own_skeleton = select(Prospect.skeleton).where(Prospect.id == prospect_id).scalar_subquery()
    lookalike_ids = select(Prospect.id).where(Prospect.skeleton == own_skeleton)
    return or_(Deal.prospect_id == prospect_id, Deal.prospect_id.in_(lookalike_ids))


def lock(session: Session, prospect: Prospect) -> None:
    """Lock the prospect and its lookalikes, so that approvals among them run one at a time."""
    stmt = (
        select(Prospect.id)
        .where(or_(Prospect.id == prospect.id, Prospect.skeleton == prospect.skeleton))
        .order_by(Prospect.id)  # one order everywhere: two approvals cannot deadlock
        .with_for_update()
    )
    session.scalars(stmt).all()


def approved_rival(session: Session, deal: Deal, now: datetime) -> Deal | None:
    """Another approved, protected deal on the deal's product for its prospect or a lookalike;
    the first approved of them."""
    stmt = (
        select(Deal)
        .where(
            _alike(deal.prospect_id),
            Deal.product_id == deal.product_id,
            Deal.id != deal.id,
            Deal.stage == "approved",
            Deal.protection_expires_at > now,
        )
        .order_by(Deal.approved_at, Deal.id)
        .limit(1)
    )
    return session.scalar(stmt)


def approved_before(session: Session, deal: Deal, now: datetime) -> bool:
    """Whether another partner's deal on the same product, for the deal's prospect or a
    lookalike, was approved before it and still protects."""
    if deal.approved_at is None:
        return False
    stmt = select(Deal.id).where(
        _alike(deal.prospect_id),
        Deal.product_id == deal.product_id,
        Deal.partner_id != deal.partner_id,
        Deal.stage == "approved",
        Deal.protection_expires_at > now,
        Deal.approved_at < deal.approved_at,
    )
    return session.scalar(stmt.limit(1)) is not None
