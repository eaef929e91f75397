"""The deal desk's queue: the registrations awaiting a reviewer's decision, and those
returned to their partner, in one query with the review joined."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, String, cast, func, or_, select
from sqlalchemy.orm import Session, aliased

from core.models import Deal, Partner, Product, Review, Reviewer
from core.services.actors import Actor
from core.services.queries import like_pattern


@dataclass(frozen=True)
class QueueRow:
    """One registration of the queue, as the desk scans it."""

    number: str
    company: str
    partner: str
    product: str
    users: int
    due_at: datetime | None  # aware UTC; None when no due time is set
    claimed_by: str | None  # the claimant's name (their email when not a reviewer now)
    conflict_with: str | None  # the number of the registration it conflicts with
    returned: bool  # waiting for the partner's answer, not the desk
    total: int  # how many registrations its group (awaiting or returned) holds


def _in_route(actor: Actor) -> ColumnElement[bool]:
    """Deals of no route, or of a route listing the actor, as `_within_route` allows.

    The reviewers are a JSON list of emails: its text holds the quoted email, alike on
    SQLite and PostgreSQL, where a JSON containment test is written differently by each."""
    quoted = like_pattern(json.dumps(actor.email.lower()))
    listed = cast(Review.route_reviewers, String).like(quoted, escape="\\")
    return or_(Review.route_reviewers.is_(None), listed)


def desk_queue(session: Session, actor: Actor, *, limit: int = 100) -> list[QueueRow]:
    """The opportunities awaiting a decision, soonest due first (no due time last), then
    those returned to their partner; only the routes the reviewer belongs to."""
    other = aliased(Deal)
    returned = Deal.returned_question.is_not(None)
    stmt = (
        select(
            Deal.number,
            Deal.company_name,
            Partner.name,
            Product.name,
            Deal.number_of_users,
            Review.review_due_at,
            func.coalesce(Reviewer.name, Review.claimed_by),
            other.number,
            returned,
            func.count().over(partition_by=returned),
        )
        .join(Partner, Deal.partner_id == Partner.id)
        .join(Product, Deal.product_id == Product.id)
        .outerjoin(Review, Review.deal_id == Deal.id)
        .outerjoin(Reviewer, Reviewer.email == Review.claimed_by)
        .outerjoin(other, other.id == Deal.conflict_with_id)
        .where(Deal.stage == "opportunity", _in_route(actor))
        .order_by(returned, Review.review_due_at.is_(None), Review.review_due_at, Deal.id)
        .limit(limit)
    )
    return [
        QueueRow(*row[:5], _aware(row[5]), row[6], row[7], bool(row[8]), row[9])
        for row in session.execute(stmt)
    ]


def _aware(at: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; they are stored as UTC.
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at
