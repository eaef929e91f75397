"""What each `dealreg` subcommand does: resolve the actor, call one service, print."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from core import catalog, schema, services
from core.domains import describe, suspicion
from core.errors import NotFound
from core.models import Contact, Partner
from core.services import Actor
from dealreg import render
from dealreg.wiring import App

JOB_NAMES = ("outbox", "expire", "remind", "nudge", "poll")


class CommandError(Exception):
    """A command that cannot run as asked; printed as one line."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


Handler = Callable[[App, argparse.Namespace], int]
_HANDLERS: dict[str, Handler] = {}


def command(name: str) -> Callable[[Handler], Handler]:
    def wrap(fn: Handler) -> Handler:
        _HANDLERS[name] = fn
        return fn

    return wrap


def dispatch(app: App, args: argparse.Namespace) -> int:
    key = args.command + (f" {args.action}" if getattr(args, "action", None) else "")
    handler = _HANDLERS.get(key) or _HANDLERS.get(args.command)
    if handler is None:
        raise CommandError(f"{key}: not available", 2)
    return handler(app, args)


def emit(args: argparse.Namespace, data: Any, text: str) -> int:
    if getattr(args, "json", False):
        json.dump(data, sys.stdout, indent=2, default=str, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print(text)
    return 0


def actor(app: App, email: str | None, channel: str = "cli") -> Actor:
    if not email:
        return Actor(kind="reviewer", email="operator", name="operator", channel=channel)
    with app.uow() as uow:
        return services.identify(uow.session, channel=channel, email=email)


@command("init")
def init(app: App, args: argparse.Namespace) -> int:
    if app.settings.database_url.startswith("sqlite:///"):
        from pathlib import Path

        path = Path(app.settings.database_url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
    schema.upgrade(app.engine)
    print(f"database ready at revision {schema.current(app.engine)}")
    return 0


@command("catalog load")
def catalog_load(app: App, args: argparse.Namespace) -> int:
    try:
        text = args.file.read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot read {args.file}: {exc.strerror}") from None
    with app.uow() as uow:
        report = catalog.load(uow.session, text)
        uow.commit()
    data = {"added": report.added, "changed": report.changed, "unchanged": report.unchanged}
    lines = [f"added {a}" for a in report.added] + [f"changed {c}" for c in report.changed]
    lines.append(
        f"{len(report.added)} added, {len(report.changed)} changed, {report.unchanged} unchanged"
    )
    return emit(args, data, "\n".join(lines))


def _registrant(app: App, partner_name: str, email: str | None) -> Actor:
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
        who = services.identify(uow.session, channel="cli", email=email)
        if who.partner_id != partner.id:
            raise NotFound(f"{email} is not a contact of {partner_name}", field="by")
        return who


@command("deals register")
def deals_register(app: App, args: argparse.Namespace) -> int:
    try:
        raw = json.loads(args.file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CommandError(f"cannot read {args.file}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CommandError(f"{args.file} is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise CommandError(f"{args.file} must hold a JSON object of registration fields")
    who = _registrant(app, args.partner, args.by)
    with app.uow() as uow:
        result = services.register(uow, who, raw, now=app.now(), settings=app.settings)
        view = services.deal_view(result.deal, who)
    view["created"] = result.created
    word = "registered" if result.created else "already registered as"
    conflict = f" (conflict with {view['conflict_with']})" if view.get("conflict_with") else ""
    return emit(args, view, f"{word} {view['number']}{conflict}")


@command("deals list")
def deals_list(app: App, args: argparse.Namespace) -> int:
    who = actor(app, args.by)
    with app.uow() as uow:
        deals = services.search(uow.session, who, args.search, stage=args.stage, limit=args.limit)
        rows = [render.deal_row(d) for d in deals]
    return emit(args, rows, render.table(rows) if rows else "no deals")


@command("deals show")
def deals_show(app: App, args: argparse.Namespace) -> int:
    who = actor(app, args.by)
    with app.uow() as uow:
        view = services.deal_view(services.show(uow.session, who, args.number), who)
    return emit(args, view, render.deal_text(view))


def _act(app: App, args: argparse.Namespace, fn: Callable[..., Any], **kw: Any) -> Any:
    who = actor(app, args.by)
    with app.uow() as uow:
        result = fn(uow, who, args.number, now=app.now(), settings=app.settings, **kw)
        deal = result[0] if isinstance(result, tuple) else result
        return services.deal_view(deal, who)


def _done(args: argparse.Namespace, view: dict[str, Any], what: str) -> int:
    return emit(args, view, f"{view['number']} {what}: now {view['stage']}")


@command("deals approve")
def deals_approve(app: App, args: argparse.Namespace) -> int:
    view = _act(app, args, services.approve)
    q = view["quotes"][-1]
    extra = f"; quote {q['number']} {q['currency']} {q['total']}"
    return _done(args, view, f"approved until {view['protection_expires_at'][:10]}{extra}")


@command("deals reject")
def deals_reject(app: App, args: argparse.Namespace) -> int:
    view = _act(app, args, services.reject, reason=args.reason, note=args.note)
    return _done(args, view, f"rejected ({view['reject_reason']})")


@command("deals return")
def deals_return(app: App, args: argparse.Namespace) -> int:
    view = _act(app, args, services.return_for_info, question=args.question)
    return _done(args, view, "returned to the partner")


@command("deals answer")
def deals_answer(app: App, args: argparse.Namespace) -> int:
    view = _act(app, args, services.answer, text=args.text)
    return _done(args, view, "answered")


@command("deals advance")
def deals_advance(app: App, args: argparse.Namespace) -> int:
    view = _act(app, args, services.advance, quote_number=args.quote, po_number=args.po)
    return _done(args, view, "advanced")


@command("deals extend")
def deals_extend(app: App, args: argparse.Namespace) -> int:
    view = _act(app, args, services.request_extension)
    return _done(args, view, "extension requested")


@command("deals extension")
def deals_extension(app: App, args: argparse.Namespace) -> int:
    grant = args.decision == "grant"
    view = _act(app, args, services.decide_extension, grant=grant)
    until = view["protection_expires_at"][:10]
    return _done(
        args, view, f"extension {'granted: protected until ' + until if grant else 'declined'}"
    )


@command("deals quote")
def deals_quote(app: App, args: argparse.Namespace) -> int:
    who = actor(app, args.by)
    with app.uow() as uow:
        deal = services.show(uow.session, who, args.number)
        domain, product = deal.prospect.domain, args.product or deal.product.code
        users = args.users or deal.number_of_users
    with app.uow() as uow:
        quote = services.add_quote(
            uow,
            who,
            domain,
            product_code=product,
            users=users,
            now=app.now(),
            settings=app.settings,
        )
        view = services.quote_view(quote)
    margin = view["reward_margin_pct"]
    return emit(
        args,
        view,
        f"quote {view['number']}: {view['currency']} {view['total']} (reward margin {margin}%)",
    )


def _check_data(check: services.DomainCheck) -> dict[str, Any]:
    """What a partner may learn about a domain, and what is odd about the letters typed."""
    odd = suspicion(check.domain)
    return {
        "domain": check.domain,
        "status": check.status,
        "protected_until": check.protected_until.date().isoformat()
        if check.protected_until
        else None,
        "your_deal": check.your_deal,
        "warning": describe(odd) if odd else None,
    }


@command("deals check")
def deals_check(app: App, args: argparse.Namespace) -> int:
    who = actor(app, args.by)
    with app.uow() as uow:
        data = _check_data(services.check_domain(uow.session, who, args.domain, app.now()))
    return emit(args, data, render.check_text(data))


@command("deals prospect")
def deals_prospect(app: App, args: argparse.Namespace) -> int:
    who = actor(app, args.by)
    with app.uow() as uow:
        page = services.prospect_page(uow.session, who, args.domain, app.now())
        data = {
            "company_name": page.company_name,
            "domain": page.domain,
            **_check_data(page.check),
            "deals": [render.deal_row(d) for d in page.deals],
            "quotes": [services.quote_view(q) for q in page.quotes],
        }
    return emit(args, data, render.prospect_text(data))


@command("jobs run")
def jobs_run(app: App, args: argparse.Namespace) -> int:
    from dealreg import jobs

    result = jobs.run_job(app, args.name)
    return emit(args, result, f"{args.name}: {json.dumps(result, default=str)}")


@command("worker")
def worker(app: App, args: argparse.Namespace) -> int:
    from dealreg.wiring import configure_logging
    from dealreg.worker import run_worker

    configure_logging()
    return run_worker(app)


@command("run")
def run_all(app: App, args: argparse.Namespace) -> int:
    from dealreg.wiring import configure_logging
    from dealreg.worker import run_worker

    configure_logging()
    schema.upgrade(app.engine)
    return run_worker(app, with_bot=True)


@command("bot")
def bot(app: App, args: argparse.Namespace) -> int:
    from dealreg.bot_command import run_bot
    from dealreg.wiring import configure_logging

    configure_logging()
    return run_bot(app, args.port)


@command("status")
def status(app: App, args: argparse.Namespace) -> int:
    from core import jobs

    data = jobs.status(app.uow, app.now())
    return emit(args, data, render.status_text(data))
