"""What the service-level clock sends, and to whom: the reminders at 50% and 90% of a
registration's business time to whoever claimed it (else its route's reviewers, else every
reviewer), in the review card's thread and by email; the escalation, once it is due, to the
escalation channel and address.

Each step is claimed before it is sent (`claim_step`), so several workers running the job
at once send it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, select, update

from core import outbox
from core.config import Settings
from core.locales import locale_for
from core.models import Deal, Review, Reviewer
from core.services.common import Notice, notify_slack
from core.services.sla import ESCALATED, PERCENT
from core.uow import UnitOfWork

_AWAITING = select(Deal.id).where(Deal.stage == "opportunity", Deal.returned_question.is_(None))


@dataclass(frozen=True)
class Person:
    """Someone a reminder is for: their email, name and Slack user id (if known)."""

    email: str
    name: str
    slack_user_id: str | None = None


def claim_step(uow: UnitOfWork, deal_id: int, due_at: datetime, step: int) -> bool:
    """Take `step` of the deal's clock for this unit of work; False when another worker
    took it (or a later one), the clock was restarted, or no decision is awaited any more."""
    stmt = (
        update(Review)
        .where(
            Review.deal_id == deal_id,
            Review.sla_notified < step,
            Review.review_due_at == due_at,
            Review.deal_id.in_(_AWAITING),
        )
        .values(sla_notified=step)
        .execution_options(synchronize_session=False)
    )
    result = uow.session.execute(stmt)
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


def reminded(uow: UnitOfWork, review: Review) -> list[Person]:
    """Who the reminders are for: the claimer, else the route's reviewers, else every one."""
    wanted = [review.claimed_by] if review.claimed_by else list(review.route_reviewers or [])
    query = select(Reviewer).order_by(Reviewer.email)
    if wanted:
        query = query.where(Reviewer.email.in_(wanted))
    found = {r.email: Person(r.email, r.name, r.slack_user_id) for r in uow.session.scalars(query)}
    # Someone named but not in the catalogue (any more) still gets the email.
    missing = [Person(email, email) for email in wanted if email not in found]
    return [*found.values(), *missing]


def notify_step(uow: UnitOfWork, deal: Deal, step: int, now: datetime, settings: Settings) -> None:
    """Queue the notices of the clock's `step` about `deal` (reminder or escalation)."""
    review = deal.review
    assert review is not None and review.review_due_at is not None
    due_at = review.review_due_at
    key = f"sla:{deal.id}:{step}:{due_at:%Y%m%dT%H%M%S}"
    details: dict[str, Any] = {"due_at": due_at.isoformat(), "claimed_by": review.claimed_by}
    if step == ESCALATED:
        if settings.slack_escalation_channel:
            notice = Notice("sla_escalation", details, channel=settings.slack_escalation_channel)
            notify_slack(uow, deal, notice, now=now, settings=settings, dedupe_key=key)
        if settings.escalation_email:
            mail = _mail(deal, "sla_escalation", settings.escalation_email, details, settings)
            outbox.enqueue(uow, mail, now=now, settings=settings, dedupe_key=f"{key}:email")
        return
    people = reminded(uow, review)
    details["percent"] = PERCENT[step]
    details["mention"] = [p.slack_user_id for p in people if p.slack_user_id]
    details["names"] = [p.name for p in people if not p.slack_user_id]
    notify_slack(uow, deal, Notice("sla_reminder", details), now=now, settings=settings,
                 dedupe_key=key)  # fmt: skip
    for person in people:
        mail = _mail(deal, "sla_reminder", person.email, {**details, "name": person.name}, settings)
        outbox.enqueue(
            uow, mail, now=now, settings=settings, dedupe_key=f"{key}:{person.email}"[:300]
        )


def _mail(
    deal: Deal, template: str, to: str, details: dict[str, Any], settings: Settings
) -> outbox.Email:
    """An email to the desk about `deal`, its times in the business zone."""
    due_at = deal.review.review_due_at if deal.review else None
    # To the desk, not the partner: no partner's greeting, no stage bar.
    context = {**details, "deal": deal, "due_at": due_at, "contact": None, "progress": []}
    return outbox.Email(template, to, context, locale_for(None), deal=deal,
                        tz=settings.business_timezone)  # fmt: skip
