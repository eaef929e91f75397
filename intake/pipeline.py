"""The intake loop: fetch, store, handle, then move — each message exactly once.

A run takes the inbox in batches (`intake.settle` does each), read in this process or, for
a long run, one batch ahead in a child process (`intake.readahead`); a run that handled mail
is followed by another at once, and one that found nothing waits on the mailbox.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field

from core import metrics
from core.services import inbound
from intake.context import IntakeContext
from intake.mailbox import FetchedMessage, ImapMailbox, Mailbox, MailboxDisconnected
from intake.maildir import MaildirMailbox
from intake.proof import ProofSettings, proof_settings
from intake.readahead import Read, ReadAhead
from intake.settle import (
    Settled,
    connection_lost,
    handle_stored,
    job,
    move_settled,
    record_failure,
    settle_batch,
)

log = logging.getLogger(__name__)

# Moves are sent after the outcomes they follow are committed, this many at a time: one
# MOVE command instead of a round trip per message. A crash before the move leaves the
# messages in the inbox, and the next run recognises them as handled and moves them.
MOVE_BATCH = 200
# Batches read in this process before reading moves to a child process: a short run (the
# usual poll) never pays for starting one.
AHEAD_AFTER = 2
# Messages stored in one transaction and then handled in one more (their registrations
# made together): a commit per message costs more than handling one. Small batches keep
# SQLite's write lock short (under 50 ms), so other writers waiting on it get their turn.
BATCH = 25


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


def run_once(ctx: IntakeContext, mailbox: Mailbox, ahead: ReadAhead | None = None) -> RunReport:
    """Handle every message now in the mailbox; a message that failed stays for next time.

    A long run reads each batch ahead in a child process (`ahead`, kept by a caller that
    runs again; else started here when the run proves long, and stopped at its end).
    """
    own = ahead is None and ctx.settings.intake_read_ahead
    if own:
        ahead = ReadAhead(ctx.own_addresses, _child_proof(ctx))
    try:
        report = _run(ctx, mailbox, ahead)
        metrics.record_intake(report.handled, report.failed)
        return report
    finally:
        if own and ahead is not None:
            ahead.stop()


def _run(ctx: IntakeContext, mailbox: Mailbox, ahead: ReadAhead | None) -> RunReport:
    report = RunReport()
    settled: list[Settled] = []
    ctx.new_run()
    if ahead is not None:
        ahead.forget()
    # Handled messages are moved out, so whatever is still here is due (or failed before).
    fetched = mailbox.fetch_new(0, max_bytes=ctx.settings.intake_max_bytes)
    batches = _read_ahead(ctx, _batches(fetched, BATCH), ahead)
    for batch, reads in batches:
        report.seen += len(batch)
        done, failed = settle_batch(ctx, mailbox, batch, reads)
        for uid, exc in failed:
            log.error("intake: message uid=%s failed; it stays for a retry", uid, exc_info=exc)
        report.failed += len(failed)
        for _, row in done:
            report.count(row.status)
        settled += done
        if len(settled) >= MOVE_BATCH:
            move_settled(ctx, mailbox, settled)
            settled = []
        if any(connection_lost(exc) for _, exc in failed):
            # The database went away: stop here, so that no later message (a resent
            # registration, say) is handled before an earlier one that failed.
            break
    batches.close()  # collects a batch still being read ahead
    move_settled(ctx, mailbox, settled)
    handle_released(ctx, report)
    return report


def handle_released(ctx: IntakeContext, report: RunReport) -> None:
    """Handle the stored messages due again that are out of the mailbox: those their
    senders just confirmed, and retries. One that fails is counted and tried next run."""
    with ctx.uow() as uow:
        ids = inbound.released(uow.session)
    for row_id in ids:
        try:
            report.count(handle_stored(ctx, row_id))
        except Exception as exc:
            log.error(
                "intake: stored message %s failed; it stays for a retry", row_id, exc_info=exc
            )
            report.failed += 1
            record_failure(ctx, row_id, exc)


def _read_ahead(
    ctx: IntakeContext,
    batches: Iterator[list[FetchedMessage]],
    ahead: ReadAhead | None,
) -> Generator[tuple[list[FetchedMessage], list[Read | None]], None, None]:
    """Each batch with its reading: done by `ahead` while the batch before is handled,
    from the (AHEAD_AFTER + 1)th batch on; None where this process is to read it."""
    waiting: list[FetchedMessage] | None = None  # sent to the child, not yet received
    try:
        for index, batch in enumerate(batches):
            before = None
            if waiting is not None:
                # Received before the next batch is sent: the two processes never both
                # send at once, so neither waits on a full pipe forever.
                before, waiting = (waiting, ahead.receive(len(waiting))), None  # type: ignore[union-attr]
            if (
                ahead is not None
                and index >= AHEAD_AFTER
                and ahead.start()
                and ahead.send([job(f) for f in batch], ctx.contexts)
            ):
                waiting = batch
            if before is not None:
                yield before
            if waiting is None:
                yield batch, [None] * len(batch)
        if waiting is not None:
            last, waiting = waiting, None
            yield last, ahead.receive(len(last))  # type: ignore[union-attr]
    finally:
        if waiting is not None and ahead is not None:
            ahead.receive(len(waiting))  # the run stopped early: drop the reading


def _batches(items: Iterable[FetchedMessage], size: int) -> Iterator[list[FetchedMessage]]:
    batch: list[FetchedMessage] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _child_proof(ctx: IntakeContext) -> ProofSettings | None:
    """What the reader process needs to prove senders too (nothing when the check is off)."""
    return proof_settings(ctx.settings) if ctx.settings.intake_require_sender_proof else None


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
    ahead = (
        ReadAhead(ctx.own_addresses, _child_proof(ctx)) if ctx.settings.intake_read_ahead else None
    )
    try:
        _poll(ctx, mailbox, stop, wait_s, on_poll, ahead)
    finally:
        if ahead is not None:
            ahead.stop()
        mailbox.close()


def _poll(
    ctx: IntakeContext,
    mailbox: Mailbox,
    stop: threading.Event,
    wait_s: float,
    on_poll: object,
    ahead: ReadAhead | None,
) -> None:
    delay = 1.0
    while not stop.is_set():
        try:
            report = run_once(ctx, mailbox, ahead)
            delay = 1.0
            if callable(on_poll):
                on_poll(None)
            # Mail that arrived during the run was announced to the commands of the run,
            # not to the IDLE that follows it: look again until a run handles nothing.
            if report.seen > report.failed:
                continue
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
