"""`dealreg deals register|approve|...`: the moves. Resolve the actor, call one service,
print what it returns."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core.errors import NotFound
from core.models import Contact, Partner
from core.services.actors import Actor, identify
from core.services.orders import OrderStep, QuoteAsk, add_quote, advance
from core.services.register import Request, register, validate
from core.services.review import (
    Rejection,
    answer,
    approve,
    decide_extension,
    reject,
    request_extension,
    return_for_info,
)
from core.services.views import deal_view, quote_view, show
from dealreg.deals_read import actor
from dealreg.output import CommandError, emit
from dealreg.wiring import App


def _registrant(app: App, partner_name: str, email: str | None) -> Actor:
    """The partner's contact who registers: `email`, else the partner's first contact."""
    with app.uow() as uow:
        partner = uow.session.scalar(select(Partner).where(Partner.name == partner_name))
        if partner is None:
            raise NotFound(f"no partner named {partner_name!r}", field="partner")
        if email is None:
            contact = uow.session.scalar(
                select(Contact).where(Contact.partner_id == partner.id).order_by(Contact.id)
            )
            if contact is None:
                raise NotFound(f"partner {partner_name!r} has no contacts", field="partner")
            email = contact.email
        who = identify(uow.session, channel="cli", email=email)
        if who.partner_id != partner.id:
            raise NotFound(f"{email} is not a contact of {partner_name}", field="by")
        return who


def json_object(path: Path) -> dict[str, Any]:
    """The JSON object of registration fields `path` holds; else why it cannot be read."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise CommandError(f"{path} must hold a JSON object of registration fields")
    return raw


def deals_register(app: App, args: argparse.Namespace) -> int:
    """Register a deal from a JSON file of its fields, as one of the partner's contacts."""
    raw = json_object(args.file)
    who = _registrant(app, args.partner, args.by)
    with app.uow() as uow:
        now = app.now()
        values = validate(uow.session, who, raw, now)
        [result] = register(uow, [Request(who, values)], now=now, settings=app.settings)
        view = deal_view(result.deal, who)
    view["created"] = result.created
    word = "registered" if result.created else "already registered as"
    conflict = f" (conflict with {view['conflict_with']})" if view.get("conflict_with") else ""
    return emit(args, view, f"{word} {view['number']}{conflict}")


def _act(app: App, args: argparse.Namespace, fn: Callable[..., Any], **kw: Any) -> Any:
    who = actor(app, args.by)
    with app.uow() as uow:
        result = fn(uow, who, args.number, now=app.now(), settings=app.settings, **kw)
        deal = result[0] if isinstance(result, tuple) else result
        return deal_view(deal, who)


def _done(args: argparse.Namespace, view: dict[str, Any], what: str) -> int:
    return emit(args, view, f"{view['number']} {what}: now {view['stage']}")


def deals_approve(app: App, args: argparse.Namespace) -> int:
    """Approve a registration, as a reviewer."""
    view = _act(app, args, approve)
    if view["stage"] != "approved":  # the first of two approvals: recorded, not yet approved
        return _done(args, view, "approved 1 of 2: a different reviewer must approve too")
    q = view["quotes"][-1]
    extra = f"; quote {q['number']} {q['currency']} {q['total']}"
    return _done(args, view, f"approved until {view['protection_expires_at'][:10]}{extra}")


def deals_reject(app: App, args: argparse.Namespace) -> int:
    """Reject a registration with a reason, as a reviewer."""
    view = _act(app, args, reject, rejection=Rejection(args.reason, args.note))
    return _done(args, view, f"rejected ({view['reject_reason']})")


def deals_return(app: App, args: argparse.Namespace) -> int:
    """Return a registration to the partner with a question, as a reviewer."""
    view = _act(app, args, return_for_info, question=args.question)
    return _done(args, view, "returned to the partner")


def deals_answer(app: App, args: argparse.Namespace) -> int:
    """Answer the deal desk's question, as the partner."""
    view = _act(app, args, answer, text=args.text)
    return _done(args, view, "answered")


def deals_advance(app: App, args: argparse.Namespace) -> int:
    """Start the order from a quote, then submit it with the PO number."""
    step = OrderStep(quote_number=args.quote, po_number=args.po)
    view = _act(app, args, advance, step=step)
    return _done(args, view, "advanced")


def deals_extend(app: App, args: argparse.Namespace) -> int:
    """Ask the deal desk to extend the protection, as the partner."""
    view = _act(app, args, request_extension)
    return _done(args, view, "extension requested")


def deals_extension(app: App, args: argparse.Namespace) -> int:
    """Grant or decline a requested extension, as a reviewer."""
    grant = args.decision == "grant"
    view = _act(app, args, decide_extension, grant=grant)
    until = view["protection_expires_at"][:10]
    return _done(
        args, view, f"extension {'granted: protected until ' + until if grant else 'declined'}"
    )


def deals_quote(app: App, args: argparse.Namespace) -> int:
    """Add a quote for the deal's prospect, as the partner."""
    who = actor(app, args.by)
    with app.uow() as uow:
        deal = show(uow.session, who, args.number)
        domain, product = deal.prospect.domain, args.product or deal.product.code
        users = args.users or deal.number_of_users
    with app.uow() as uow:
        ask = QuoteAsk(domain, product, users)
        quote = add_quote(uow, who, ask, now=app.now(), settings=app.settings)
        view = quote_view(quote)
    margin = view["reward_margin_pct"]
    return emit(
        args,
        view,
        f"quote {view['number']}: {view['currency']} {view['total']} (reward margin {margin}%)",
    )
