"""The deal desk's moves: approve (with the automatic quote), reject, return, extensions."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from core import protection
from core.config import Settings
from core.domains import display_both
from core.errors import Conflict, DealError, FieldError, Invalid, NotAllowed
from core.fields import REJECT_REASONS
from core.models import Deal, Quote
from core.services.actors import Actor, authorise, load_deal, require_role
from core.services.claims import claim, lock
from core.services.common import Event, Notice, audit, notify_partner, notify_slack
from core.services.desk import review_of, rule_actor
from core.services.quotes import QuoteBasis, create_quote
from core.services.sla import start_clock, stop_clock
from core.uow import UnitOfWork

log = logging.getLogger(__name__)


def approve(
    uow: UnitOfWork, actor: Actor, number: str, *, now: datetime, settings: Settings
) -> tuple[Deal, Quote | None]:
    """Approve a registration: protection window, automatic quote with the reward margin.

    Under a two-person rule the first approval is only recorded (no quote: None); the
    second, by another reviewer, approves."""
    # First: the refusal below names the rival deal, which only reviewers may learn.
    require_role(actor, "reviewer", "approve registrations")
    session = uow.session
    deal = load_deal(session, actor, number, for_update=True)
    # Serialise approvals of one prospect and its lookalikes so two reviewers cannot
    # approve rivals at once.
    lock(session, deal.prospect)
    same = [d for d in claim(session, deal.prospect) if d.product_id == deal.product_id]
    rival = protection.protector((d for d in same if d.id != deal.id), now)
    if rival is not None and deal.stage == "opportunity":
        raise Conflict(_refusal(deal, rival), field="deal")
    authorise(actor, deal, "approve")
    if _first_of_two(uow, deal, actor, now, settings):
        return deal, None
    deal.approve(actor.email, now, timedelta(days=settings.protection_days))
    stop_clock(review_of(deal), now, settings, decided=True)
    audit(uow, deal, actor, now, Event("approve", "opportunity", deal.stage))
    basis = QuoteBasis(
        deal.partner, deal.prospect, deal.product, deal.number_of_users, deal, with_margin=True
    )
    quote = create_quote(session, basis, now=now, settings=settings, created_by=actor.email)
    session.flush()
    session.refresh(deal, ["quotes"])
    notice = Notice("deal_approved", {"quote": quote, "rule_line": _rule_line(deal, actor)})
    notify_partner(uow, deal, notice, now=now, settings=settings)
    _tell_slack(uow, deal, "approved", actor, now, settings)
    uow.commit()
    return deal, quote


def _refusal(deal: Deal, rival: Deal) -> str:
    """Why `deal` cannot be approved while `rival` is, for the reviewer."""
    until = f"protected until {rival.protection_expires_at:%Y-%m-%d}"
    if rival.prospect_id == deal.prospect_id:
        return (
            f"cannot approve {deal.number}: {rival.number} is already approved for this "
            f"prospect and product ({until})"
        )
    return (
        f"cannot approve {deal.number}: its domain {display_both(deal.prospect.domain)} looks "
        f"like {display_both(rival.prospect.domain)}, and {rival.number} is already approved "
        f"for that prospect and this product ({until})"
    )


def reason_code(text: str) -> tuple[str, str | None]:
    """Map a typed reason to its code; free text becomes `other` with the text as note."""
    key = text.strip().lower().replace("-", "_").replace(" ", "_")
    if key in REJECT_REASONS:
        return key, None
    for code, label in REJECT_REASONS.items():
        if text.strip().lower() == label.lower():
            return code, None
    if not text.strip():
        raise Invalid([FieldError("reason", "is required")])
    return "other", text.strip()


@dataclass(frozen=True)
class Rejection:
    """Why a registration is rejected: the reason as typed (a code, its label, or free
    text) and the reviewer's note."""

    reason: str
    note: str | None = None


def reject(
    uow: UnitOfWork,
    actor: Actor,
    number: str,
    *,
    rejection: Rejection,
    now: datetime,
    settings: Settings,
) -> Deal:
    """Reject a registration with a reason code and a note."""
    code, free_text = reason_code(rejection.reason)
    note = "\n".join(t for t in (rejection.note, free_text) if t) or None
    session = uow.session
    deal = load_deal(session, actor, number, for_update=True)
    authorise(actor, deal, "reject")
    deal.reject(actor.email, code, note, now)
    stop_clock(review_of(deal), now, settings, decided=True)
    details = {"reason": code, "note": note}
    audit(uow, deal, actor, now, Event("reject", "opportunity", deal.stage, details))
    notice = Notice("deal_rejected", {"reason_label": REJECT_REASONS[code], "note": note})
    notify_partner(uow, deal, notice, now=now, settings=settings)
    _tell_slack(uow, deal, "rejected", actor, now, settings)
    uow.commit()
    return deal


def return_for_info(
    uow: UnitOfWork, actor: Actor, number: str, *, question: str, now: datetime, settings: Settings
) -> Deal:
    """Ask the partner for more information; the deal stays an opportunity."""
    if not question.strip():
        raise Invalid([FieldError("question", "is required: say what information is missing")])
    session = uow.session
    deal = load_deal(session, actor, number, for_update=True)
    authorise(actor, deal, "return")
    deal.return_for_info(question.strip(), now)
    review = review_of(deal)
    stop_clock(review, now, settings)  # the partner's turn: the desk's clock stops
    review.first_approved_by = review.first_approved_at = None  # a return ends the wait
    details = {"question": question.strip()}
    audit(uow, deal, actor, now, Event("return", deal.stage, deal.stage, details))
    notice = Notice("deal_returned", {"question": question})
    notify_partner(uow, deal, notice, now=now, settings=settings)
    _tell_slack(uow, deal, "returned", actor, now, settings)
    uow.commit()
    return deal


def answer(
    uow: UnitOfWork, actor: Actor, number: str, *, text: str, now: datetime, settings: Settings
) -> Deal:
    """Record the partner's answer to a returned registration; it is back in the queue."""
    if not text.strip():
        raise Invalid([FieldError("answer", "is required")])
    session = uow.session
    deal = load_deal(session, actor, number, for_update=True)
    authorise(actor, deal, "answer")
    question = deal.answer(now)
    start_clock(review_of(deal), now, settings)  # answered: the desk's clock starts again
    details = {"question": question, "answer": text}
    audit(uow, deal, actor, now, Event("answer", deal.stage, deal.stage, details))
    notice = Notice("partner_answer", {"answer": text})
    notify_slack(uow, deal, notice, now=now, settings=settings)
    uow.commit()
    return deal


def request_extension(
    uow: UnitOfWork,
    actor: Actor,
    number: str,
    *,
    reason: str | None = None,
    now: datetime,
    settings: Settings,
) -> Deal:
    """Ask the deal desk to extend an approved deal's protection, saying why if given."""
    session = uow.session
    deal = load_deal(session, actor, number, for_update=True)
    authorise(actor, deal, "request_extension")
    if not deal.request_extension(now, settings.max_extensions):
        return deal  # already pending: asking twice is the same request
    why = {"reason": reason.strip()[:500]} if reason and reason.strip() else {}
    audit(uow, deal, actor, now, Event("request_extension", deal.stage, deal.stage, why))
    notify_slack(uow, deal, Notice("extension_request", why), now=now, settings=settings)
    uow.commit()
    return deal


def decide_extension(
    uow: UnitOfWork,
    actor: Actor,
    number: str,
    *,
    grant: bool,
    now: datetime,
    settings: Settings,
) -> Deal:
    """Grant (protection extended by the setting's days) or decline an extension."""
    session = uow.session
    deal = load_deal(session, actor, number, for_update=True)
    action = "grant_extension" if grant else "decline_extension"
    authorise(actor, deal, action)
    if not grant:
        deal.decline_extension(now)
        audit(uow, deal, actor, now, Event(action, deal.stage, deal.stage))
    else:
        extension = timedelta(days=settings.extension_days)
        old_end = deal.grant_extension(now, extension, settings.max_extensions)
        assert deal.protection_expires_at is not None
        audit(uow, deal, actor, now, Event(action, deal.stage, deal.stage))
        span = {"from": old_end.isoformat(), "to": deal.protection_expires_at.isoformat()}
        audit(uow, deal, actor, now, Event("protection_extended", deal.stage, deal.stage, span))
    template = "extension_granted" if grant else "extension_declined"
    notify_partner(uow, deal, Notice(template), now=now, settings=settings)
    _tell_slack(uow, deal, template, actor, now, settings)
    uow.commit()
    return deal


def _tell_slack(
    uow: UnitOfWork, deal: Deal, event: str, actor: Actor, now: datetime, settings: Settings
) -> None:
    """Update the review message in place and tell the partner by DM."""
    payload = {"event": event, "by": actor.name, "by_email": actor.email, "at": now.isoformat()}
    notify_slack(uow, deal, Notice("review_update", payload), now=now, settings=settings)
    notify_slack(uow, deal, Notice("partner_dm", payload), now=now, settings=settings)


def _first_of_two(
    uow: UnitOfWork, deal: Deal, actor: Actor, now: datetime, settings: Settings
) -> bool:
    """Under a two-person rule, record the first approval and say so; refuse a second by
    the same reviewer. False when this approval approves."""
    review = review_of(deal)
    if not review.second_approval or deal.stage != "opportunity":
        return False
    first = review.first_approved_by
    if first is None:
        review.first_approved_by, review.first_approved_at = actor.email, now
        audit(uow, deal, actor, now, Event("approve_first", deal.stage, deal.stage))
        _tell_slack(uow, deal, "first_approval", actor, now, settings)
        uow.commit()
        return True
    if first == actor.email:
        raise NotAllowed(
            f"you gave {deal.number}'s first approval; a different reviewer must give the second",
            field="actor",
        )
    return False


def approve_automatically(
    uow: UnitOfWork, number: str, rule: str, *, now: datetime, settings: Settings
) -> None:
    """Approve a registration as rule `rule` decided, through the reviewers' own `approve`;
    if it cannot be (a rival approved meanwhile), it waits for the reviewers as any other."""
    try:
        approve(uow, rule_actor(rule), number, now=now, settings=settings)
    except DealError as refused:
        uow.rollback()
        log.warning("rule %s could not approve %s: %s", rule, number, refused)


def _rule_line(deal: Deal, actor: Actor) -> str | None:
    """How a rule's automatic approval explains itself, for the partner's email."""
    if not actor.email.startswith("rule:") or deal.review is None:
        return None
    notes = deal.review.rule_notes or []
    return next((n["text"] for n in notes if n.get("kind") == "approved"), None)
