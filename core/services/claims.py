"""A claim's deals from the database: a prospect, every prospect whose domain looks like it,
and their active deals.

A lookalike domain (`hаrbourlights.co.uk` with a Cyrillic а) is the same claim as the domain
it imitates. This module finds a prospect's lookalikes by their shared confusable skeleton
(one indexed lookup) and loads their deals; `core.protection` decides who protects them.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import or_, select
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


def lock(session: Session, prospect: Prospect) -> None:
    """Lock the prospect and its lookalikes, so that approvals among them run one at a time."""
    stmt = (
        select(Prospect.id)
        .where(or_(Prospect.id == prospect.id, Prospect.skeleton == prospect.skeleton))
        .order_by(Prospect.id)  # one order everywhere: two approvals cannot deadlock
        .with_for_update()
    )
    session.scalars(stmt).all()


def claim(session: Session, prospect: Prospect) -> list[Deal]:
    """The active deals on a stored prospect and on every prospect sharing its skeleton (the
    ones `lock` locks), oldest first: what `core.protection` decides from."""
    stmt = select(Prospect.id).where(
        or_(Prospect.id == prospect.id, Prospect.skeleton == prospect.skeleton)
    )
    return active_deals(session, session.scalars(stmt))
