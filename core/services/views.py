"""One deal or one quote as its reader may see it: loaded, and as the SPEC's JSON."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFound
from core.fields import FIELDS, progress
from core.models import Deal, DealEvent, Quote
from core.pricing import round_money
from core.services.actors import Actor, load_deal


def show(session: Session, actor: Actor, number: str) -> Deal:
    """Load a deal by number; one the actor may not see is not found."""
    return load_deal(session, actor, number)


def find_quote(session: Session, actor: Actor, number: str) -> Quote:
    """Load a quote by number; a partner sees only their own (another's is not found)."""
    key = number.strip().upper()
    quote = session.scalar(select(Quote).where(Quote.number == key))
    if quote is None or not (
        actor.kind in ("reviewer", "system") or quote.partner_id == actor.partner_id
    ):
        raise NotFound(f"no quote {key}", field="quote")
    return quote


def quote_view(quote: Quote) -> dict[str, Any]:
    """Give the SPEC's JSON of one quote: its lines, amounts and dates."""
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
                "unit_price": _plain(line.unit_price),
                "quantity": line.quantity,
                "term_months": line.term_months,
                "pct": None if line.pct is None else _plain(line.pct),
                "amount": str(round_money(line.amount, quote.currency)),
            }
            for line in quote.lines
        ],
        "discount_pct": _plain(quote.discount_pct),
        "reward_margin_pct": _plain(quote.reward_margin_pct),
        "list_amount": str(round_money(quote.list_amount, quote.currency)),
        "total": str(round_money(quote.total, quote.currency)),
        "valid_until": quote.valid_until.isoformat(),
        "created_at": quote.created_at.isoformat(),
        "status": quote.status,
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
    review = deal.review
    awaited = deal.stage == "opportunity" and not deal.returned_question
    view.update(registration_json(deal))
    view.update(
        {
            "channel": deal.channel,
            "partner": deal.partner.name,
            "contact_email": deal.contact.email,
            "prospect": {
                "company_name": deal.prospect.company_name,
                "domain": deal.prospect.domain,
            },
            "progress": progress(deal.stage, deal.withdrawn_from),
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
            "amendment": deal.amendment,
            "review_due_at": _iso(review.review_due_at) if awaited and review else None,
            "claimed_by": review.claimed_by if review else None,
            "withdraw_reason": deal.withdraw_reason,
            "withdraw_note": deal.withdraw_note,
            "quotes": [quote_view(q) for q in deal.quotes],
            "history": [history_entry(e) for e in deal.events],
        }
    )
    return view


def history_entry(event: DealEvent) -> dict[str, Any]:
    """One entry of a deal's `history` in the SPEC's JSON."""
    return {
        "at": event.at.isoformat(),
        "actor": event.actor,
        "channel": event.channel,
        "action": event.action,
        "from": event.from_stage,
        "to": event.to_stage,
        "details": event.details,
    }


def _plain(value: Decimal) -> str:
    """A decimal without trailing zeros and never in exponent form: "10", "12.5", "3.5"."""
    return format(value.normalize(), "f")


def _iso(value: Any) -> str | None:
    return None if value is None else str(value.isoformat())


def registration_json(deal: Deal) -> dict[str, Any]:
    """The deal's registration fields as the SPEC's JSON (as a registration file holds them)."""
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
