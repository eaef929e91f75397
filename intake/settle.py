"""One batch of mail from fetched to filed: read and proven outside any transaction, stored in
one transaction, decided and acted on in one more, then moved out of the inbox; and a
stored message due again (confirmed, or retried) decided and acted on the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import SessionTransaction

from core.models import InboundEmail
from core.services import inbound
from core.services.inbound import ACCEPTED, FINAL, Envelope, Place
from core.uow import SavepointUnitOfWork, UnitOfWork
from intake import act, messages, readahead
from intake.context import IntakeContext
from intake.decide import decide
from intake.mailbox import FOLDERS, FetchedMessage, ImapMailbox, Mailbox
from intake.proof import Proof, sender_proof
from intake.readahead import Job, Read

log = logging.getLogger(__name__)

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
        if row_id is not None and not connection_lost(problem):
            record_failure(ctx, row_id, problem)
    for fetched, row in done:
        log.info("intake: uid=%s -> %s (%s)", fetched.uid, row.status, folder_for(row.status))
    return done, failed + lost


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


def _read(ctx: IntakeContext, fetched: FetchedMessage, read: Read | None) -> Read:
    """What the message holds (read here unless read ahead), with how its sender is proven.

    Both outside any transaction: the database is not held meanwhile, and proving the
    sender may ask DNS for a DKIM key.
    """
    raw, headers_only = job(fetched)
    if read is None:
        read = readahead.read(raw, headers_only=headers_only, own_addresses=ctx.own_addresses)
    if read.proof is not None:
        return read  # proven, or not, by the reader
    return replace(read, proof=sender_proof(ctx.settings, raw, read.sender))


def _keep_unread(ctx: IntakeContext, fetched: FetchedMessage, kind: str, exc: Exception) -> None:
    """Keep a message that reading failed on (our bug), and count the failure against it.

    It stays in the inbox to be read again; `dealreg status` shows it meanwhile.
    """
    raw = job(fetched)[0]
    key = messages.message_key(messages.load(raw), raw)
    unread = Read(key=key, message_id=None, sender=None, subject="", parsed=None)
    try:
        with ctx.uow() as uow:
            [row] = inbound.store(uow, [_new_row(fetched, unread, kind, ctx.now())])
    except Exception:
        log.warning("intake: could not keep unread message uid=%s", fetched.uid)
        return
    record_failure(ctx, row.id, exc)


def _new_row(fetched: FetchedMessage, read: Read, kind: str, now: datetime) -> InboundEmail:
    proof = read.proof
    return inbound.new(
        envelope=Envelope(read.key, read.message_id, read.sender, read.subject),
        place=Place(kind, getattr(fetched, "uidvalidity", None), fetched.uid, fetched.size),
        raw=job(fetched)[0],
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
        if not batch.is_active or connection_lost(exc):
            raise  # the batch's transaction is gone with its connection
        return None, exc


def record_failure(ctx: IntakeContext, row_id: int, exc: BaseException) -> None:
    """Count a failure of ours against the message, for `dealreg status`; never raises."""
    try:
        with ctx.uow() as uow:
            inbound.record_failure(uow, row_id, f"{type(exc).__name__}: {exc}")
    except Exception:
        log.warning("intake: could not record the failure of inbound %s", row_id)


def connection_lost(exc: BaseException) -> bool:
    """Whether an error took the database connection with it (the server went away)."""
    return isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    )


def job(fetched: FetchedMessage) -> Job:
    """What there is to read of a fetched message: its bytes, or only its headers."""
    if fetched.raw is not None:
        return fetched.raw, False
    return fetched.headers or b"", True


def folder_for(status: str) -> str:
    """Where a handled message is moved: Processed if it was accepted, else Rejected."""
    return FOLDERS.processed if status in ACCEPTED else FOLDERS.rejected


def move_settled(ctx: IntakeContext, mailbox: Mailbox, settled: list[Settled]) -> None:
    """Move committed messages out of the inbox, one command per folder, and record it."""
    for folder in (FOLDERS.processed, FOLDERS.rejected):
        batch = [(f, row) for f, row in settled if folder_for(row.status) == folder]
        if not batch:
            continue
        mailbox.move_many([f.uid for f, _ in batch], folder)
        with ctx.uow() as uow:
            inbound.mark_moved_many(uow, sorted({row.id for _, row in batch}), folder)
