"""The intake loop: fetch, store, handle, then move — each message exactly once."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Protocol, TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import SessionTransaction

from core.models import InboundEmail
from core.services import inbound
from core.services.inbound import ACCEPTED, FINAL
from core.uow import SavepointUnitOfWork, UnitOfWork
from intake import act, messages, readahead
from intake.act import IntakeContext, sender_proof
from intake.decide import decide
from intake.mailbox import FetchedMessage, ImapMailbox, MailboxDisconnected
from intake.maildir import MaildirMailbox
from intake.proof import Proof, ProofSettings
from intake.readahead import Job, Read, ReadAhead

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


class Mailbox(Protocol):
    def fetch_new(
        self, after_uid: int, *, max_bytes: int | None = None
    ) -> Iterable[FetchedMessage]: ...
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


def run_once(ctx: IntakeContext, mailbox: Mailbox, ahead: ReadAhead | None = None) -> RunReport:
    """Handle every message now in the mailbox; a message that failed stays for next time.

    A long run reads each batch ahead in a child process (`ahead`, kept by a caller that
    runs again; else started here when the run proves long, and stopped at its end).
    """
    own = ahead is None and ctx.settings.intake_read_ahead
    if own:
        ahead = ReadAhead(ctx.own_addresses, _child_proof(ctx))
    try:
        return _run(ctx, mailbox, ahead)
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
        if any(_connection_lost(exc) for _, exc in failed):
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
            _record_failure(ctx, row_id, exc)


def handle_stored(ctx: IntakeContext, row_id: int) -> str:
    """Decide and act on one stored message again (confirmed, or retried after a fix)."""
    with ctx.uow() as uow:
        row = uow.session.get_one(InboundEmail, row_id)
        if row.status in FINAL:
            return row.status
        raw, method = row.raw, row.proof
        read = readahead.read(raw, headers_only=False, own_addresses=ctx.own_addresses)
        proof = Proof(True, method, "") if method else sender_proof(ctx.settings, raw, read.sender)
        fetched = FetchedMessage(uidvalidity=0, uid=0, raw=raw, size=len(raw))
        done, failed = _act_all(ctx, uow, [(fetched, row, replace(read, proof=proof))])
    if failed:
        raise failed[0][1]
    return done[0][1].status


def _record_failure(ctx: IntakeContext, row_id: int, exc: BaseException) -> None:
    """Count a failure of ours against the message, for `dealreg status`; never raises."""
    try:
        with ctx.uow() as uow:
            inbound.record_failure(uow, row_id, f"{type(exc).__name__}: {exc}")
    except Exception:
        log.warning("intake: could not record the failure of inbound %s", row_id)


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
                and ahead.send([_job(f) for f in batch], ctx.contexts)
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


def _job(fetched: FetchedMessage) -> Job:
    if fetched.raw is not None:
        return fetched.raw, False
    return fetched.headers or b"", True


def _batches(items: Iterable[FetchedMessage], size: int) -> Iterator[list[FetchedMessage]]:
    batch: list[FetchedMessage] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# A message whose outcome is committed, with the row that records it: only the move is left.
Settled = tuple[FetchedMessage, InboundEmail]
Failed = tuple[int, BaseException]  # the message's uid and what went wrong
Item = tuple[FetchedMessage, InboundEmail, Read]  # a stored message and its reading


def settle_batch(
    ctx: IntakeContext,
    mailbox: Mailbox,
    batch: list[FetchedMessage],
    reads: list[Read | None] | None = None,
) -> tuple[list[Settled], list[Failed]]:
    """Store a batch in one transaction, then decide and act on it in one more; safe to
    repeat.

    This transaction belongs to the pipeline: each message is acted on in a savepoint of
    it, so one that fails leaves only itself `received` for a retry, and the batch's
    registrations are made together in one more. A crash before the commit loses the
    batch's outcomes together, and the next run handles the stored messages again.
    """
    loaded: list[tuple[FetchedMessage, Read]] = []
    failed: list[Failed] = []
    kind = "imap" if isinstance(mailbox, ImapMailbox) else "maildir"
    for fetched, read in zip(batch, reads or [None] * len(batch), strict=True):
        try:
            loaded.append((fetched, _read(ctx, fetched, read)))
        except Exception as exc:
            failed.append((fetched.uid, exc))
            _keep_unread(ctx, fetched, kind, exc)
    if not loaded:
        return [], failed
    now = ctx.now()
    with ctx.uow() as uow:
        try:
            rows = inbound.store(uow, [_new_row(f, read, kind, now) for f, read in loaded])
        except Exception as error:
            return [], failed + [(fetched.uid, error) for fetched, _ in loaded]
        items = [(f, row, read) for (f, read), row in zip(loaded, rows, strict=True)]
        done, lost = _act_all(ctx, uow, items)
    for uid, problem in lost:
        row_id = next((row.id for f, row, _ in items if f.uid == uid), None)
        if row_id is not None and not _connection_lost(problem):
            _record_failure(ctx, row_id, problem)
    for fetched, row in done:
        log.info("intake: uid=%s -> %s (%s)", fetched.uid, row.status, folder_for(row.status))
    return done, failed + lost


def _read(ctx: IntakeContext, fetched: FetchedMessage, read: Read | None) -> Read:
    """What the message holds (read here unless read ahead), with how its sender is proven.

    Both outside any transaction: the database is not held meanwhile, and proving the
    sender may ask DNS for a DKIM key.
    """
    raw, headers_only = _job(fetched)
    if read is None:
        read = readahead.read(raw, headers_only=headers_only, own_addresses=ctx.own_addresses)
    if read.proof is not None:
        return read  # proven, or not, by the reader
    return replace(read, proof=sender_proof(ctx.settings, raw, read.sender))


def _child_proof(ctx: IntakeContext) -> ProofSettings | None:
    """What the reader process needs to prove senders too (nothing when the check is off)."""
    return act.proof_settings(ctx.settings) if ctx.settings.intake_require_sender_proof else None


def _keep_unread(ctx: IntakeContext, fetched: FetchedMessage, kind: str, exc: Exception) -> None:
    """Keep a message that reading failed on (our bug), and count the failure against it.

    It stays in the inbox to be read again; `dealreg status` shows it meanwhile.
    """
    raw = _job(fetched)[0]
    key = messages.message_key(messages.load(raw), raw)
    unread = Read(key=key, message_id=None, sender=None, subject="", parsed=None)
    try:
        with ctx.uow() as uow:
            [row] = inbound.store(uow, [_new_row(fetched, unread, kind, ctx.now())])
    except Exception:
        log.warning("intake: could not keep unread message uid=%s", fetched.uid)
        return
    _record_failure(ctx, row.id, exc)


def _new_row(fetched: FetchedMessage, read: Read, kind: str, now: datetime) -> InboundEmail:
    proof = read.proof
    return inbound.new(
        key=read.key,
        raw=_job(fetched)[0],
        message_id=read.message_id,
        sender=read.sender,
        subject=read.subject,
        mailbox=kind,
        uidvalidity=getattr(fetched, "uidvalidity", None),
        uid=fetched.uid,
        size=fetched.size,
        now=now,
        proof=proof.method if proof is not None and proof.proven else None,
    )


def _act_all(
    ctx: IntakeContext, uow: UnitOfWork, items: list[Item]
) -> tuple[list[Settled], list[Failed]]:
    """Decide and act on stored messages in the unit of work's transaction, and commit.

    A message handled before (a replay) is settled as it stands.
    """
    session = uow.session
    finished = [(f, row) for f, row, _ in items if row.status in FINAL]
    failed: list[Failed] = []
    try:
        batch = session.get_transaction() or session.begin()
        registrations: list[Item] = []
        for item in items:
            fetched, row, read = item
            if row.status in FINAL:
                continue
            acted, exc = _attempt(batch, partial(_decide_and_act, ctx, row, read))
            if exc is not None:
                failed.append((fetched.uid, exc))
            elif not acted:
                registrations.append(item)
        _register(ctx, batch, registrations, failed)
        uow.commit()
    except Exception as exc:
        # The transaction is lost: only what was final before it can still be moved.
        done = {f.uid for f, _ in finished} | {uid for uid, _ in failed}
        failed += [(f.uid, exc) for f, _, _ in items if f.uid not in done]
        return finished, failed
    lost = {uid for uid, _ in failed}
    return [(f, row) for f, row, _ in items if f.uid not in lost], failed


def _decide_and_act(ctx: IntakeContext, row: InboundEmail, read: Read, uow: UnitOfWork) -> bool:
    """Act on one message; False for a registration, which is made with the batch's others."""
    decision = decide(read, act.facts(ctx, uow.session, read))
    if decision.action == "register":
        return False
    act.carry_out(ctx, uow, row, read, decision)
    return True


def _register(
    ctx: IntakeContext, batch: SessionTransaction, registrations: list[Item], failed: list[Failed]
) -> None:
    """The batch's registrations, made together: one lookup and one INSERT for them all.

    Should that fail, each is made alone, so that only the message at fault is left over.
    """
    if not registrations:
        return
    together = [(row, read) for _, row, read in registrations]
    _, exc = _attempt(batch, partial(_register_in, ctx, together))
    if exc is None:
        return
    for fetched, row, read in registrations:
        _, exc = _attempt(batch, partial(_register_in, ctx, [(row, read)]))
        if exc is not None:
            failed.append((fetched.uid, exc))


def _register_in(
    ctx: IntakeContext, batch: list[tuple[InboundEmail, Read]], uow: UnitOfWork
) -> bool:
    act.register_all(ctx, uow, batch)
    return True


_T = TypeVar("_T")


def _attempt(
    batch: SessionTransaction, work: Callable[[UnitOfWork], _T]
) -> tuple[_T, None] | tuple[None, Exception]:
    """Run `work` in a unit of work on a savepoint of the batch's transaction: its result
    (what it did kept, rows it added written), or the error it was rolled back for.

    An error that took the batch's transaction (or its connection) with it is raised.
    """
    try:
        with SavepointUnitOfWork(batch.session) as uow:
            result = work(uow)
            uow.commit()
        return result, None
    except Exception as exc:
        if not batch.is_active or _connection_lost(exc):
            raise  # the batch's transaction is gone with its connection
        return None, exc


def folder_for(status: str) -> str:
    """Where a handled message is moved: Processed if it was accepted, else Rejected."""
    return "Processed" if status in ACCEPTED else "Rejected"


def _connection_lost(exc: BaseException) -> bool:
    return isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    )


def move_settled(ctx: IntakeContext, mailbox: Mailbox, settled: list[Settled]) -> None:
    """Move committed messages out of the inbox, one command per folder, and record it."""
    for folder in ("Processed", "Rejected"):
        batch = [(f, row) for f, row in settled if folder_for(row.status) == folder]
        if not batch:
            continue
        mailbox.move_many([f.uid for f, _ in batch], folder)
        with ctx.uow() as uow:
            inbound.mark_moved_many(uow, sorted({row.id for _, row in batch}), folder)


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
