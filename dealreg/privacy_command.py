"""`dealreg privacy export EMAIL` and `dealreg privacy erase EMAIL --yes`: answer a
person's request to see, or to erase, what is held about them (docs/privacy.md)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from sqlalchemy.exc import OperationalError

from core.mail_files import remove_carrying, remove_copies
from core.scrub import Scrubbed, scrub
from core.services import erase, privacy
from dealreg.output import CommandError, emit
from dealreg.wiring import App

# The tables an erasure rewrites, for PostgreSQL's VACUUM.
TABLES = ("deals", "deal_events", "reviews", "inbound_emails", "outbox")


def _address(text: str) -> str:
    address = text.strip()
    if "@" not in address.strip("@"):
        raise CommandError(f"{text!r} is not an email address")
    return address


def privacy_export(app: App, args: argparse.Namespace) -> int:
    """Print as JSON everything held about the person at EMAIL."""
    with app.read_uow() as uow:
        data = privacy.export(uow.session, _address(args.email), app.now())
    json.dump(data, sys.stdout, indent=2, default=str, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


def privacy_erase(app: App, args: argparse.Namespace) -> int:
    """Erase the person at EMAIL with --yes; without it, say what would be erased."""
    address = _address(args.email)
    if address.lower() == app.settings.intake_address.strip().lower():
        # Every message came to it: erasing it would redact all the mail there is.
        raise CommandError(f"{address} is the intake's own address (INTAKE_ADDRESS), no person")
    if not args.yes:
        with app.read_uow() as uow:
            plan = erase.preview(privacy.find(uow.session, address))
        emit(args, plan, _plan_text(plan))
        if plan["refused"]:
            raise CommandError(str(plan["refused"]))
        raise CommandError("nothing erased: an erasure cannot be undone; add --yes to erase")
    with app.uow() as uow:
        done, person = erase.erase(uow, address, app.now())
    settings = app.settings
    files = remove_copies(settings.outbox_dir, done.message_ids)
    files += remove_carrying([settings.outbox_dir, settings.maildir], person)
    # The erasure is committed: whatever happens to the scrub, say what was erased first.
    problem = None
    try:
        scrubbed = scrub(app.engine, TABLES)
    except OperationalError as exc:  # the database is busy (SQLite's lock), or went away
        scrubbed, problem = Scrubbed(vacuumed=False, log_emptied=False), str(exc.orig)
    result = {**asdict(done), "files_removed": files, **asdict(scrubbed)}
    del result["message_ids"]
    emit(args, result, _done_text(address, result))
    if problem or not scrubbed.log_emptied:
        why = problem or "another process is reading, so the write-ahead log keeps old pages"
        raise CommandError(
            f"erased, but the old bytes are not yet scrubbed from the database's files ({why}): "
            "run the erase again to scrub them"
        )
    return 0


def _plan_text(plan: dict[str, object]) -> str:
    lines = [f"{plan['email']}: would erase"]
    lines += [f"  {k.replace('_', ' ')}: {v}" for k, v in plan.items() if isinstance(v, int)]
    return "\n".join(lines)


def _done_text(address: str, result: dict[str, object]) -> str:
    deals = result["deals"]
    assert isinstance(deals, list)
    return "\n".join(
        [
            f"{address}: erased",
            f"  deals: {len(deals)} {' '.join(deals)}".rstrip(),
            f"  inbound emails: {result['inbound_emails']} redacted "
            f"({result['inbound_dropped']} dropped whole: no part could be kept)",
            f"  outbox messages: {result['outbox_messages']}",
            f"  audit entries: {result['audit_entries']}",
            f"  mail files removed: {result['files_removed']}",
        ]
    )
