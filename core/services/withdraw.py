"""A deal ends before its order: withdrawn by its partner or by the deal desk.

Its protection ends at once (`protection_expires_at` becomes the moment of withdrawal), its
quotes become `void` (they stay as documents), anything pending is dropped, and a rival
registration it blocked can now be approved: that rival's review card is updated to say so,
for the deal desk only (no partner learns who held the prospect).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from core.config import Settings
from core.fields import WITHDRAW_REASONS
from core.models import ACTIVE_STAGES, Deal
from core.reasons import withdraw_code
from core.services.actors import Actor, authorise, load_deal
from core.services.common import Event, Notice, audit, notify_partner, notify_slack
from core.services.sla import stop_clock
from core.uow import UnitOfWork


@dataclass(frozen=True)
class Withdrawal:
    """Why a deal ends: the reason (a code, its label, or words that name one; other words
    are `other`, kept in the note) and an optional note."""

    reason: str
    note: str | None = None


def withdraw(
    uow: UnitOfWork,
    actor: Actor,
    number: str,
    withdrawal: Withdrawal,
    *,
    now: datetime,
    settings: Settings,
) -> Deal:
    """Withdraw the deal (see the module's docstring)."""
    code, words = withdraw_code(withdrawal.reason)
    typed = (withdrawal.note or "").strip()[:2000]
    note = "\n".join(t for t in (words, typed) if t) or None
    session = uow.session
    deal = load_deal(session, actor, number, for_update=True)
    authorise(actor, deal, "withdraw")
    reached = deal.withdraw(code, note, now)
    if deal.review is not None:
        stop_clock(deal.review, now, settings)
    for quote in deal.quotes:
        if quote.status in ("valid", "ordered"):
            quote.status = "void"
    details = {"reason": code, "note": note}
    audit(uow, deal, actor, now, Event("withdraw", reached, deal.stage, details))
    label = WITHDRAW_REASONS[code]
    notice = Notice("deal_withdrawn", {"reason_label": label, "note": note, "by": actor.name})
    notify_partner(uow, deal, notice, now=now, settings=settings)
    payload = {
        "event": "withdrawn",
        "reason": code,
        "note": note,
        "by": actor.name,
        "by_email": actor.email,
        "at": now.isoformat(),
    }
    notify_slack(uow, deal, Notice("review_update", payload), now=now, settings=settings)
    dm = Notice("partner_dm", {"event": "withdrawn"})
    notify_slack(uow, deal, dm, now=now, settings=settings)
    for rival in blocked_by(uow, deal):
        unblocked = {"event": "unblocked", "by_deal": deal.number, "at": now.isoformat()}
        notify_slack(uow, rival, Notice("review_update", unblocked), now=now, settings=settings)
    uow.commit()
    return deal


def blocked_by(uow: UnitOfWork, deal: Deal) -> list[Deal]:
    """The other partners' active registrations that named `deal` as their conflict."""
    stmt = (
        select(Deal)
        .where(Deal.conflict_with_id == deal.id, Deal.stage.in_(ACTIVE_STAGES))
        .order_by(Deal.id)
    )
    return [d for d in uow.session.scalars(stmt) if d.partner_id != deal.partner_id]
