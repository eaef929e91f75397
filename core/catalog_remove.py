"""`dealreg catalog remove`: a reviewer or partner contact taken out of the catalogue.

A reviewer's row goes, and the open reviews routed to them alone go to the rest of the
desk; a reviewer a stored rule names is refused until the rule no longer does (its route
would be left with no one). A contact's row stays, marked removed, for the deals they
registered, which keep their partner. Either no longer acts; loading a catalogue that
lists them again brings them back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import Conflict, NotFound
from core.models import Contact, Deal, Review, Reviewer, Rule


def remove(session: Session, email: str, now: datetime) -> str:
    """Take the person at `email` out of the catalogue; what they were."""
    address = email.strip().lower()
    reviewer = session.scalar(select(Reviewer).where(func.lower(Reviewer.email) == address))
    contact = session.scalar(
        select(Contact).where(func.lower(Contact.email) == address, Contact.removed_at.is_(None))
    )
    if reviewer is None and contact is None:
        raise NotFound(f"{address} is not a reviewer or partner contact in the catalogue",
                       field="email")  # fmt: skip
    removed = []
    if reviewer is not None:
        _refuse_if_a_rule_names(session, address)
        _hand_back(session, address)
        session.delete(reviewer)
        removed.append("reviewer")
    if contact is not None:
        contact.removed_at = now
        contact.slack_user_id = None  # the Slack account may be someone else's next
        removed.append(f"contact of partner {contact.partner.name}")
    session.flush()
    return " and ".join(removed)


def _refuse_if_a_rule_names(session: Session, address: str) -> None:
    named = [
        rule.name
        for rule in session.scalars(select(Rule).order_by(Rule.position))
        if address in (r.lower() for r in rule.reviewers or [])
    ]
    if named:
        raise Conflict(
            f"{address} is a reviewer of rule {', '.join(named)}: take them out of the "
            "catalogue file's rules and load it first",
            field="email",
        )


def _hand_back(session: Session, address: str) -> None:
    """Take the reviewer off the open reviews routed to them; one routed to them alone goes
    to every reviewer."""
    open_reviews = (
        select(Review)
        .join(Deal, Deal.id == Review.deal_id)
        .where(Deal.stage == "opportunity", Review.route_reviewers.is_not(None))
    )
    for review in session.scalars(open_reviews):
        kept = [r for r in review.route_reviewers or [] if r.lower() != address]
        if len(kept) != len(review.route_reviewers or []):
            review.route_reviewers = kept or None
        if (review.claimed_by or "").lower() == address:
            review.claimed_by = review.claimed_at = None
