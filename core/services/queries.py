"""Reading deals: search, list, show, the prospect page; partners see only their own."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select, union
from sqlalchemy.orm import Session

from core.domains import normalise_domain
from core.errors import DealError, NotFound
from core.fields import FIELDS, progress
from core.models import Deal, Prospect, Quote
from core.pricing import round_money
from core.protection import DomainCheck
from core.services.common import Actor, load_deal
from core.services.register import check_domain


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, with `%`, `_` and `\\` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _scope(actor: Actor, stage: str | None) -> list[ColumnElement[bool]]:
    """The conditions every result meets: the partner's own deals, the stage asked for."""
    where: list[ColumnElement[bool]] = []
    if actor.kind == "partner":
        where.append(Deal.partner_id == actor.partner_id)
    if stage:
        where.append(Deal.stage == stage)
    return where


def _newest(stmt: Select[Any], limit: int) -> Select[Any]:
    """The ids of the newest `limit` deals a branch finds, as one part of a UNION."""
    branch = stmt.order_by(Deal.id.desc()).limit(limit).subquery()
    return select(branch.c.id)


def search(
    session: Session,
    actor: Actor,
    text: str | None = None,
    *,
    stage: str | None = None,
    limit: int = 50,
) -> list[Deal]:
    """Deals matching part of the number, prospect name or domain, newest first."""
    where = _scope(actor, stage)
    stmt = select(Deal).where(*where)
    term = (text or "").strip()
    if term:
        pattern = like_pattern(term.lower())
        name: ColumnElement[bool] = Prospect.company_name.ilike(pattern, escape="\\")
        if actor.kind == "partner":
            # The prospect's name is its first registration's, maybe another partner's: it
            # narrows by its index, but a partner's deal matches by the name it typed itself,
            # so a search cannot spell out a rival's name.
            name = and_(name, Deal.company_name.ilike(pattern, escape="\\"))
        by_prospect: list[ColumnElement[bool]] = [name, Prospect.domain.ilike(pattern, escape="\\")]
        with contextlib.suppress(DealError):  # not every search term is a domain
            by_prospect.append(Prospect.domain == normalise_domain(term))
        # One branch per table, each with its own newest `limit`: the number branch and
        # the prospect branch can each use their trigram index on PostgreSQL, which one
        # OR across the join cannot. The newest `limit` of the union are the answer.
        numbers = select(Deal.id).where(
            Deal.number.ilike(like_pattern(term.upper()), escape="\\"), *where
        )
        prospects = select(Deal.id).join(Deal.prospect).where(or_(*by_prospect), *where)
        ids = union(_newest(numbers, limit), _newest(prospects, limit)).subquery()
        # Joined first, the few ids drive the query: PostgreSQL keeps the written join
        # order past eight joins (the eager loads), and would otherwise read every deal.
        stmt = stmt.join(ids, Deal.id == ids.c.id)
    found = session.scalars(stmt.order_by(Deal.id.desc()).limit(limit)).unique()
    return list(found)


def show(session: Session, actor: Actor, number: str) -> Deal:
    return load_deal(session, actor, number)


def quote_view(quote: Quote) -> dict[str, Any]:
    return {
        "number": quote.number,
        "product": quote.product.code,
        "currency": quote.currency,
        "number_of_users": quote.number_of_users,
        "term_months": quote.term_months,
        "lines": [
            {
                "kind": line.kind,
                "description": line.description,
                "unit_price": str(line.unit_price.normalize()),
                "quantity": line.quantity,
                "term_months": line.term_months,
                "pct": None if line.pct is None else str(line.pct.normalize()),
                "amount": str(round_money(line.amount, quote.currency)),
            }
            for line in quote.lines
        ],
        "discount_pct": str(quote.discount_pct.normalize()),
        "reward_margin_pct": str(quote.reward_margin_pct.normalize()),
        "list_amount": str(round_money(quote.list_amount, quote.currency)),
        "total": str(round_money(quote.total, quote.currency)),
        "valid_until": quote.valid_until.isoformat(),
        "created_at": quote.created_at.isoformat(),
    }


def deal_view(deal: Deal, actor: Actor) -> dict[str, Any]:
    """The SPEC's JSON of one deal: fields, stage, partner, prospect, quotes, history.

    A partner's view holds only what its own registration says: the company name it typed,
    and no trace of a conflicting registration (those are for reviewers).
    """
    view = _deal_view(deal)
    if actor.kind == "partner":
        view["prospect"]["company_name"] = deal.company_name
        del view["conflict_with"]
        for event in view["history"]:
            event["details"] = {k: v for k, v in event["details"].items() if k != "conflict_with"}
    return view


def _deal_view(deal: Deal) -> dict[str, Any]:
    view: dict[str, Any] = {"number": deal.number, "stage": deal.stage}
    view.update(_fields(deal))
    view.update(
        {
            "channel": deal.channel,
            "partner": deal.partner.name,
            "contact_email": deal.contact.email,
            "prospect": {
                "company_name": deal.prospect.company_name,
                "domain": deal.prospect.domain,
            },
            "progress": progress(deal.stage),
            "conflict_with": deal.conflict_with.number if deal.conflict_with else None,
            "created_at": deal.created_at.isoformat(),
            "approved_at": _iso(deal.approved_at),
            "protection_expires_at": _iso(deal.protection_expires_at),
            "reject_reason": deal.reject_reason,
            "review_note": deal.review_note,
            "returned_question": deal.returned_question,
            "po_number": deal.po_number,
            "order_quote": next(
                (q.number for q in deal.quotes if q.id == deal.order_quote_id), None
            ),
            "extensions_granted": deal.extensions_granted,
            "quotes": [quote_view(q) for q in deal.quotes],
            "history": [
                {
                    "at": e.at.isoformat(),
                    "actor": e.actor,
                    "channel": e.channel,
                    "action": e.action,
                    "from": e.from_stage,
                    "to": e.to_stage,
                    "details": e.details,
                }
                for e in deal.events
            ],
        }
    )
    return view


def _iso(value: Any) -> str | None:
    return None if value is None else str(value.isoformat())


def _fields(deal: Deal) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for spec in FIELDS:
        if spec.name == "domain":
            out["domain"] = deal.prospect.domain
        elif spec.name == "product":
            out["product"] = deal.product.code
        else:
            value = getattr(deal, spec.name)
            if hasattr(value, "isoformat"):
                value = value.isoformat()
            elif spec.name == "projected_value":
                value = str(round_money(value, deal.currency))
            out[spec.name] = value
    out["currency"] = deal.currency
    return out


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
