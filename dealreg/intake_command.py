"""`dealreg intake ...`: parse one file, run the mailbox, list and retry stored messages;
and the intake's context, built once from the settings, for these and the worker."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from core.errors import DealError, Invalid
from core.models import Partner, Product
from core.services import inbound
from core.services.actors import identify
from core.services.register import validation_context
from core.validation import ProductRef, ValidationContext, validate_registration
from dealreg.output import CommandError, emit
from dealreg.wiring import App
from intake import messages, readahead
from intake.commands import Command
from intake.context import IntakeContext
from intake.pipeline import make_mailbox, run_forever, run_once
from intake.proof import proof_settings
from intake.settle import handle_stored

UNSAFE = (
    "WARNING: INTAKE_REQUIRE_SENDER_PROOF is off: anyone who puts a partner contact's address "
    "in From can register and change deals by email. Turn it on outside a closed test setup."
)


def warn_if_unsafe(app: App) -> None:
    """Say at start, on stderr, that email senders are taken on trust."""
    if not app.settings.intake_require_sender_proof:
        print(UNSAFE, file=sys.stderr, flush=True)


def intake_context(app: App) -> IntakeContext:
    """What the intake is handed: units of work, settings, clock and our own addresses."""
    try:
        proof_settings(app.settings)  # a mistyped resolver stops the start, not each message
    except ValueError as exc:
        raise CommandError(f"INTAKE_DNS_RESOLVERS: {exc}") from None
    own = {app.settings.intake_address.lower()}
    # The intake works through mail in batches: what it queues waits behind what people's
    # actions queue (a reviewer's approval email goes ahead of a backlog of confirmations).
    return IntakeContext(
        uow=app.background_uow, settings=app.settings, now=app.now, own_addresses=frozenset(own)
    )


def intake_parse(app: App, args: argparse.Namespace) -> int:
    """Print what a message file parses and validates to, and the command it holds, as JSON;
    write nothing."""
    try:
        raw = args.file.read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {args.file}: {exc.strerror}") from None
    own = frozenset({app.settings.intake_address.lower()})
    read = readahead.read(raw, headers_only=False, own_addresses=own)
    result = read.parsed
    assert result is not None  # the whole message was read
    out: dict[str, Any] = {
        "status": result.status,
        "registration": dict(result.fields),
        "errors": list(result.errors),
        "reason": result.reason,
        "command": command_json(read.command) if result.status != "ignored" else None,
    }
    if result.status == "ok":
        sender = messages.sender_address(messages.load(raw))
        ctx = _context_for(app, sender)
        try:
            out["registration"] = validate_registration(result.fields, ctx).to_json()
        except Invalid as exc:
            out["status"] = "invalid"
            out["errors"] = [e.as_dict() for e in exc.errors]
            out["reason"] = "invalid_fields"
    return emit(argparse.Namespace(json=True), out, "")


def command_json(command: Command | None) -> dict[str, Any] | None:
    """A command as `intake parse` prints it: its verb and what it names, or None."""
    if command is None:
        return None
    return {
        "verb": command.verb,
        "deal": command.deal or command.mentioned,
        "po_number": command.po_number,
        "users": command.users,
        "reason": command.reason,
    }


def _context_for(app: App, sender: str | None) -> ValidationContext:
    """The sender's partner rules when the database knows them, else neutral defaults."""
    now = datetime.now(UTC)
    url = app.settings.database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        # Connecting would create the file: a dry run writes nothing.
        return ValidationContext("GB", "GBP", (), now.date())
    try:
        with app.uow() as uow:
            if sender:
                try:
                    actor = identify(uow.session, channel="email", email=sender)
                except DealError:
                    actor = None
                if actor is not None and actor.partner_id is not None:
                    partner = uow.session.get_one(Partner, actor.partner_id)
                    return validation_context(uow.session, partner, now)
            products = tuple(
                ProductRef(p.code, p.name, tuple(p.aliases or ()))
                for p in uow.session.scalars(select(Product))
            )
    except SQLAlchemyError:
        products = ()
    return ValidationContext("GB", "GBP", products, now.date())


def intake_run(app: App, args: argparse.Namespace) -> int:
    """Read the mailbox and handle what arrives: once, or until SIGTERM or Ctrl-C."""
    warn_if_unsafe(app)
    ctx = intake_context(app)
    mailbox = make_mailbox(ctx)
    if args.once:
        report = run_once(ctx, mailbox)
        mailbox.close()
        print(f"{report.seen} seen, {report.failed} failed, handled: {report.handled}")
        return 1 if report.failed else 0
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        run_forever(ctx, mailbox, stop)
    except KeyboardInterrupt:
        stop.set()
    return 0


def intake_list(app: App, args: argparse.Namespace) -> int:
    """List the received messages, optionally of one status."""
    with app.uow() as uow:
        rows = [
            {
                "id": r.id,
                "status": r.status,
                "sender": r.sender,
                "subject": r.subject,
                "received_at": r.received_at.isoformat(),
                "deal_id": r.deal_id,
                "moved_to": r.moved_to,
                "attempts": r.attempts,
                "reason": r.reason,
            }
            for r in inbound.listing(uow.session, args.status)
        ]
    text = "\n".join(
        f"{r['id']:>6}  {r['status']:10} {r['sender'] or '-':32} {r['subject'] or ''}" for r in rows
    )
    return emit(args, rows, text or "no messages")


def intake_retry(app: App, args: argparse.Namespace) -> int:
    """Run one stored message through the pipeline again."""
    with app.uow() as uow:
        inbound.reset(uow, args.id)
    status = handle_stored(intake_context(app), args.id)
    print(f"message {args.id}: {status}")
    return 0
