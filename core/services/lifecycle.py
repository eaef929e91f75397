"""What happens to a deal over time: its registration or its protection lapses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select

from core.config import Settings
from core.models import Deal
from core.services.actors import SYSTEM
from core.services.common import Event, Notice, audit, notify_partner
from core.services.sla import stop_clock
from core.uow import UnitOfWork


def opportunity_lapses_at(deal: Deal, settings: Settings) -> datetime:
    """An unreviewed registration lapses after the protection period, like an approved one."""
    return deal.created_at + timedelta(days=settings.protection_days)


def expire_lapsed(
    uow_factory: Callable[[], UnitOfWork], now: datetime, settings: Settings
) -> list[str]:
    """Expire every registration whose window lapsed without an order; each once."""
    with uow_factory() as uow:
        cutoff = now - timedelta(days=settings.protection_days)
        ids = uow.session.scalars(
            select(Deal.id).where(
                or_(
                    and_(Deal.stage == "approved", Deal.protection_expires_at <= now),
                    and_(Deal.stage == "opportunity", Deal.created_at <= cutoff),
                )
            )
        ).all()
    expired: list[str] = []
    for deal_id in ids:
        with uow_factory() as uow:
            stmt = select(Deal).where(Deal.id == deal_id).with_for_update(skip_locked=True, of=Deal)
            deal = uow.session.scalar(stmt)
            # Another worker may have taken or finished it since the scan.
            if deal is None or deal.stage not in ("approved", "opportunity"):
                continue
            lapsed_at = deal.protection_expires_at or opportunity_lapses_at(deal, settings)
            if lapsed_at > now:
                continue
            source = deal.stage
            deal.expire(now)
            if deal.review is not None:  # no decision is awaited any more: no due time
                stop_clock(deal.review, now, settings)
            details = {"lapsed_at": lapsed_at.isoformat()}
            audit(uow, deal, SYSTEM, now, Event("expire", source, deal.stage, details))
            notice = Notice("deal_expired")
            key = f"deal_expired:{deal.id}"
            notify_partner(uow, deal, notice, now=now, settings=settings, dedupe_key=key)
            uow.commit()
            expired.append(deal.number)
    return expired
