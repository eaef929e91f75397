"""The intake loop: fetch, store, handle, then move — each message exactly once."""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

from core.services import inbound
from core.services.inbound import ACCEPTED, FINAL
from intake import messages
from intake.handler import IntakeContext, handle, refuse_oversize
from intake.mailbox import FetchedMessage, ImapMailbox, MailboxDisconnected
from intake.maildir import MaildirMailbox

log = logging.getLogger(__name__)

# Moves are sent after the outcomes they follow are committed, this many at a time: one
# MOVE command instead of a round trip per message. A crash before the move leaves the
# messages in the inbox, and the next run recognises them as handled and moves them.
MOVE_BATCH = 200


class Mailbox(Protocol):
    def fetch_new(self, after_uid: int, *, max_bytes: int | None = None) -> object: ...
    def move(self, uid: int, folder: str) -> None: ...
    def move_many(self, uids: list[int], folder: str) -> None: ...
    def wait(self, timeout_s: float) -> bool: ...
    def reconnect(self) -> None: ...
    def close(self) -> None: ...


@dataclass
class RunReport:
    seen: int = 0
    handled: dict[str, int] = field(default_factory=dict)
    failed: int = 0

    def count(self, status: str) -> None:
        self.handled[status] = self.handled.get(status, 0) + 1


def make_mailbox(ctx: IntakeContext) -> ImapMailbox | MaildirMailbox:
    """The IMAP folder of IMAP_URL, or the local Maildir when it is unset."""
    settings = ctx.settings
    if settings.imap_url is not None:
        return ImapMailbox(
            settings.imap_url.get_secret_value(), max_bytes=settings.intake_max_bytes
        )
    return MaildirMailbox(settings.maildir, max_bytes=settings.intake_max_bytes)


def run_once(ctx: IntakeContext, mailbox: Mailbox) -> RunReport:
    """Handle every message now in the mailbox; a message that failed stays for next time."""
    report = RunReport()
    settled: list[Settled] = []
    ctx.new_run()
    # Handled messages are moved out, so whatever is still here is due (or failed before).
    for fetched in mailbox.fetch_new(0, max_bytes=ctx.settings.intake_max_bytes):  # type: ignore[attr-defined]
        report.seen += 1
        try:
            done = settle(ctx, mailbox, fetched)
        except MailboxDisconnected:
            raise
        except Exception:
            report.failed += 1
            log.exception("intake: message uid=%s failed; it stays for a retry", fetched.uid)
            continue
        report.count(done.status)
        settled.append(done)
        if len(settled) >= MOVE_BATCH:
            move_settled(ctx, mailbox, settled)
            settled = []
    move_settled(ctx, mailbox, settled)
    return report


@dataclass(frozen=True)
class Settled:
    """A message whose outcome is committed: only the move is left."""

    row_id: int
    uid: int
    status: str
    folder: str


def settle(ctx: IntakeContext, mailbox: Mailbox, fetched: FetchedMessage) -> Settled:
    """Store and handle one message, committing its outcome; safe to repeat after a crash."""
    raw = fetched.raw if fetched.raw is not None else (fetched.headers or b"")
    msg = messages.load(raw)
    key = messages.message_key(msg, raw)
    with ctx.uow() as uow:
        stored = inbound.store(
            uow,
            key=key,
            raw=raw,
            message_id=messages.header(msg, "Message-ID").strip() or None,
            sender=messages.sender_address(msg),
            subject=messages.header(msg, "Subject"),
            mailbox="imap" if isinstance(mailbox, ImapMailbox) else "maildir",
            uidvalidity=getattr(fetched, "uidvalidity", None),
            uid=fetched.uid,
            size=fetched.size,
            now=ctx.now(),
        )
    status = stored.status
    if status not in FINAL:
        if fetched.too_large:
            status = refuse_oversize(ctx, stored.id, raw, fetched.size)
        else:
            fresh = (raw, key) if stored.new else None
            status = handle(ctx, stored.id, msg=msg, stored=fresh)
    folder = "Processed" if status in ACCEPTED else "Rejected"
    log.info("intake: %s uid=%s -> %s (%s)", key[:80], fetched.uid, status, folder)
    return Settled(stored.id, fetched.uid, status, folder)


def move_settled(ctx: IntakeContext, mailbox: Mailbox, settled: list[Settled]) -> None:
    """Move committed messages out of the inbox, one command per folder, and record it."""
    for folder in ("Processed", "Rejected"):
        batch = [s for s in settled if s.folder == folder]
        if not batch:
            continue
        mailbox.move_many([s.uid for s in batch], folder)
        with ctx.uow() as uow:
            inbound.mark_moved_many(uow, [s.row_id for s in batch], folder)


def process(ctx: IntakeContext, mailbox: Mailbox, fetched: FetchedMessage) -> str:
    """Store, handle and move one message; safe to repeat after a crash at any point."""
    done = settle(ctx, mailbox, fetched)
    move_settled(ctx, mailbox, [done])
    return done.status


def _wait(mailbox: Mailbox, wait_s: float, stop: threading.Event, slice_s: float = 2.0) -> None:
    """Wait for new mail up to `wait_s`, in slices short enough to notice `stop` quickly."""
    deadline = time.monotonic() + wait_s
    while not stop.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0 or mailbox.wait(min(remaining, slice_s)):
            return


def run_forever(
    ctx: IntakeContext,
    mailbox: Mailbox,
    stop: threading.Event,
    *,
    wait_s: float = 60.0,
    on_poll: object = None,
) -> None:
    """Handle mail as it arrives (IDLE where the server has it), reconnecting with back-off."""
    delay = 1.0
    while not stop.is_set():
        try:
            run_once(ctx, mailbox)
            delay = 1.0
            if callable(on_poll):
                on_poll(None)
            _wait(mailbox, wait_s, stop)
        except (MailboxDisconnected, OSError) as exc:
            if callable(on_poll):
                on_poll(str(exc))
            log.warning("intake: mailbox unavailable (%s); retrying in %.0fs", exc, delay)
            stop.wait(delay + random.uniform(0, delay / 4))
            delay = min(delay * 2, 60.0)
            try:
                mailbox.reconnect()
            except (MailboxDisconnected, OSError) as again:
                log.warning("intake: reconnect failed: %s", again)
        except Exception:
            log.exception("intake: run failed; retrying")
            stop.wait(delay)
            delay = min(delay * 2, 60.0)
    mailbox.close()
