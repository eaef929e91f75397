"""Who acts: the person resolved at the edge, and the deals they may see and move."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import NotAllowed, NotFound
from core.models import Contact, Deal, Reviewer, deal_number
from core.stages import required_role


@dataclass(frozen=True)
class Actor:
    """Who is acting, resolved at the edge: a partner contact, a reviewer or the system."""

    kind: str  # partner | reviewer | system
    email: str
    name: str
    channel: str  # slack | email | cli | system
    partner_id: int | None = None
    contact_id: int | None = None
    slack_user_id: str | None = None

    @property
    def is_reviewer(self) -> bool:
        return self.kind == "reviewer"


SYSTEM = Actor(kind="system", email="system", name="dealreg", channel="system")


def identify(
    session: Session,
    *,
    channel: str,
    email: str | None = None,
    slack_user_id: str | None = None,
) -> Actor:
    """Resolve a person by Slack id or email to a partner contact or a reviewer.

    With a Slack id, an email matches only people bound to no Slack id: one bound to another
    Slack user is that user alone, whatever email a Slack profile shows.
    """
    for kind, row in (
        ("reviewer", _find(session, Reviewer, email, slack_user_id)),
        ("partner", _find(session, Contact, email, slack_user_id)),
    ):
        if row is not None:
            return Actor(
                kind=kind,
                email=row.email,
                name=row.name,
                channel=channel,
                partner_id=row.partner_id if isinstance(row, Contact) else None,
                contact_id=row.id if isinstance(row, Contact) else None,
                slack_user_id=row.slack_user_id,
            )
    who = email or slack_user_id or "this person"
    raise NotFound(
        f"{who} is not a registered partner contact or reviewer; ask your partner manager "
        "or the deal desk to add you",
        field="actor",
    )


_Person = TypeVar("_Person", Contact, Reviewer)


def _find(
    session: Session, model: type[_Person], email: str | None, slack_user_id: str | None
) -> _Person | None:
    row = None
    current = select(model)
    if model is Contact:  # a contact taken out of the catalogue no longer acts
        current = current.where(Contact.removed_at.is_(None))
    if slack_user_id:
        row = session.scalars(current.where(model.slack_user_id == slack_user_id)).first()
    if row is None and email:
        stmt = current.where(func.lower(model.email) == email.lower())
        if slack_user_id:
            stmt = stmt.where(model.slack_user_id.is_(None))
        row = session.scalars(stmt).first()
    return row


def require_role(actor: Actor, role: str, what: str) -> None:
    """Refuse unless `actor` has `role`, naming the missing right."""
    if role == "reviewer" and not actor.is_reviewer:
        raise NotAllowed(f"only reviewers can {what}", field="actor")
    if role == "partner" and actor.kind != "partner":
        raise NotAllowed(f"only the registering partner's contacts can {what}", field="actor")


def visible(actor: Actor, deal: Deal) -> bool:
    return actor.kind in ("reviewer", "system") or deal.partner_id == actor.partner_id


def load_deal(session: Session, actor: Actor, number: str, *, for_update: bool = False) -> Deal:
    """Load a deal by number; one the actor may not see is reported as not found."""
    key = number.strip().upper()
    if key.isdigit():
        key = deal_number(int(key))
    stmt = select(Deal).where(Deal.number == key)
    if for_update:
        stmt = stmt.with_for_update(of=Deal)
    deal = session.scalar(stmt)
    if deal is None or not visible(actor, deal):
        raise NotFound(f"no deal {key}", field="deal")
    return deal


def authorise(actor: Actor, deal: Deal, action: str) -> None:
    """Refuse `action` on `deal` unless `actor` has the role the stage machine names for it;
    a partner's move is refused as not found on another partner's deal."""
    role = required_role(action)
    if role == "either":  # the deal's own partner, or the deal desk
        role = "reviewer" if actor.is_reviewer else "partner"
    if role in ("partner", "reviewer"):
        require_role(actor, role, _WHAT.get(action, action))
    if role == "partner" and deal.partner_id != actor.partner_id:
        raise NotFound(f"no deal {deal.number}", field="deal")
    if role == "reviewer" and not actor.email.startswith("rule:"):
        _within_route(actor, deal, _WHAT.get(action, action))


def _within_route(actor: Actor, deal: Deal, what: str) -> None:
    """Refuse a reviewer outside the reviewers the deal's route lists (if it lists any)."""
    review = deal.review
    if review is None or not review.route_reviewers:
        return
    if actor.email.lower() not in review.route_reviewers:
        raise NotAllowed(
            f"only the reviewers of the {review.route_rule} route can {what} for {deal.number}",
            field="actor",
        )


_WHAT = {
    "approve": "approve registrations",
    "reject": "reject registrations",
    "return": "return registrations for information",
    "grant_extension": "grant extensions",
    "decline_extension": "decline extensions",
    "start_order": "advance this deal",
    "submit_order": "advance this deal",
    "request_extension": "request an extension",
    "answer": "answer for this deal",
    "amend": "amend this deal",
    "request_amendment": "amend this deal",
    "approve_amendment": "approve amendments",
    "decline_amendment": "decline amendments",
    "withdraw": "withdraw this deal",
}
