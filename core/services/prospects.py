"""A prospect's page: whether it is free, and the deals and quotes the actor may see of it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFound
from core.models import Deal, Prospect, Quote
from core.protection import DomainCheck
from core.services.actors import Actor
from core.services.queries import search
from core.services.register import check_domain


@dataclass(frozen=True)
class ProspectPage:
    """A prospect as the actor may see it: its availability, and their deals and quotes."""

    domain: str
    company_name: str | None  # a partner sees the name its own newest registration typed
    check: DomainCheck
    deals: list[Deal]
    quotes: list[Quote]


def prospect_page(session: Session, actor: Actor, domain: str, now: datetime) -> ProspectPage:
    """The prospect with the deals and quotes the actor may see.

    A partner with no registration of it sees the same page whether or not someone else
    registered it: only whether it is free or protected, and until when.
    """
    check = check_domain(session, actor, domain, now)
    prospect = session.scalar(select(Prospect).where(Prospect.domain == check.domain))
    if prospect is None and actor.kind != "partner":
        raise NotFound(f"no prospect {domain}", field="domain")
    if prospect is None:
        return ProspectPage(check.domain, None, check, [], [])
    deals = [d for d in search(session, actor, None, limit=1000) if d.prospect_id == prospect.id]
    qstmt = select(Quote).where(Quote.prospect_id == prospect.id).order_by(Quote.id)
    name: str | None = prospect.company_name
    if actor.kind == "partner":
        qstmt = qstmt.where(Quote.partner_id == actor.partner_id)
        name = deals[0].company_name if deals else None  # newest first
    return ProspectPage(check.domain, name, check, deals, list(session.scalars(qstmt)))
