"""The deal desk decides an amendment request of an approved deal's claim fields.

Approved: the values apply (a new domain must be free, as at approval), a new quote is made
with the reward margin, and the deal's earlier valid quotes are `superseded`; the protection
window stays as it was. Declined: nothing changes but the request is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.config import Settings
from core.fields import change_lines
from core.models import Deal, Product, Quote
from core.pricing import Priced
from core.services.actors import Actor, authorise, load_deal, require_role
from core.services.amend import apply_values
from core.services.common import Event, Notice, audit, notify_partner, notify_slack
from core.services.quotes import QuoteBasis, create_quote, preview
from core.uow import UnitOfWork


@dataclass(frozen=True)
class Verdict:
    """The deal desk's answer to a request: yes or no, and a note for the partner."""

    approve: bool
    note: str | None = None


def decide_amendment(
    uow: UnitOfWork,
    actor: Actor,
    number: str,
    verdict: Verdict,
    *,
    now: datetime,
    settings: Settings,
) -> tuple[Deal, Quote | None]:
    """Approve or decline the deal's pending amendment request; the new quote if approved."""
    approve, note = verdict.approve, verdict.note
    verb = "approve amendments" if approve else "decline amendments"
    require_role(actor, "reviewer", verb)
    deal = load_deal(uow.session, actor, number, for_update=True)
    authorise(actor, deal, "approve_amendment" if approve else "decline_amendment")
    changes = deal.decide_amendment(approve, now)
    details: dict[str, Any] = dict(changes)
    if note and note.strip():
        details = {**details, "note": note.strip()[:1000]}
    quote = None
    if approve:
        apply_values(uow, deal, {k: new for k, (_, new) in changes.items()}, now)
        quote = _requote(uow, deal, actor, now, settings)
        details["quote"] = quote.number
    action = "amend_approved" if approve else "amend_declined"
    audit(uow, deal, actor, now, Event(action, deal.stage, deal.stage, details))
    context: dict[str, Any] = {
        "changes": change_lines(changes, deal.country),
        "note": details.get("note"),
    }
    if quote is not None:
        context["quote"] = quote
    notify_partner(uow, deal, Notice(action, context), now=now, settings=settings)
    payload = {
        "event": action,
        "changes": changes,
        "by": actor.name,
        "by_email": actor.email,
        "at": now.isoformat(),
    }
    notify_slack(uow, deal, Notice("review_update", payload), now=now, settings=settings)
    dm = Notice("partner_dm", {"event": action})
    notify_slack(uow, deal, dm, now=now, settings=settings)
    uow.commit()
    return deal, quote


def _requote(uow: UnitOfWork, deal: Deal, actor: Actor, now: datetime, settings: Settings) -> Quote:
    """A new quote with the reward margin; the deal's earlier valid quotes are superseded."""
    session = uow.session
    for earlier in deal.quotes:
        if earlier.status == "valid":
            earlier.status = "superseded"
    basis = QuoteBasis(
        deal.partner, deal.prospect, deal.product, deal.number_of_users, deal, with_margin=True
    )
    quote = create_quote(session, basis, now=now, settings=settings, created_by=actor.email)
    session.flush()
    session.refresh(deal, ["quotes"])
    return quote


def amendment_preview(session: Session, deal: Deal, settings: Settings) -> Priced | None:
    """The quote the pending request's values would give (for the deal desk's card); None
    when nothing is pending."""
    changes = deal.amendment
    if changes is None:
        return None
    users = int(changes.get("number_of_users", [None, deal.number_of_users])[1])
    product: Product | None = deal.product
    if "product" in changes:
        code = changes["product"][1]
        product = session.scalar(select(Product).where(Product.code == code))
    if product is None:  # taken out of the catalogue since: approval will say so
        return None
    return preview(deal.partner, product, users, settings, with_margin=True)
