"""Read messages ahead of the database work, on a second process when there is much to read.

Reading a message (MIME, its form, its classification) and validating the registration in
it take as long as storing it. Neither needs the database, so a large mailbox is read one
batch ahead by a child process while this one stores and answers the batch before: two
cores at work instead of one. The child is pure computation: if it dies, reading goes on
in this process, and nothing it did needs undoing.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import re
import signal
import threading
import time
from dataclasses import dataclass
from email.message import Message
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from core.errors import Invalid
from core.validation import Registration, ValidationContext, validate_registration
from intake import body, classify, messages, parser
from intake.commands import Command, read_command
from intake.proof import Proof, ProofSettings, prove

log = logging.getLogger(__name__)

# A child that died or would not start is not tried again for this long: a crash loop would
# cost more than reading here.
RETRY_AFTER_S = 300.0


@dataclass(frozen=True)
class Read:
    """Everything reading one message found: what the intake stores, decides and answers by.

    `registration` is set when its form validated in `context`; `proof` (how its sender is
    proven) is added by the intake process, which may ask DNS for it.
    """

    key: str
    message_id: str | None
    sender: str | None
    subject: str
    parsed: parser.IntakeResult | None  # None: only the headers were read (too large)
    automatic: bool = False  # mail never to be answered (auto-reply, bounce, list, ours)
    from_count: int = 1
    references: tuple[str, ...] = ()  # the Message-IDs it answers
    reply_headers: tuple[str | None, str | None] = (None, None)  # for our reply to it
    reply_text: str = ""  # its new text, above any quoted original
    command: Command | None = None  # a command by email (`intake.commands`) in it
    registration: Registration | None = None
    context: ValidationContext | None = None
    proof: Proof | None = None

    @property
    def subject_line(self) -> str:
        return self.subject.strip()[:200]

    @property
    def confirm_tokens(self) -> list[str]:
        """The tokens of our confirmation requests that this message answers."""
        return [m.group(1) for ref in self.references if (m := _CONFIRM_ID.match(ref))]

    @property
    def confirms(self) -> bool:
        return bool(self.confirm_tokens)


# The Message-ID of a confirmation request carries its token (see `confirmation_id`).
_CONFIRM_ID = re.compile(r"^<confirm\.([A-Za-z0-9_-]{20,64})@[^<>\s]+>$")


def confirmation_id(token: str, intake_address: str) -> str:
    """The Message-ID of the confirmation request for a held message: it carries the token."""
    domain = intake_address.rpartition("@")[2] or "dealreg.localhost"
    return f"<confirm.{token}@{domain}>"


Contexts = dict[str, ValidationContext]


def read(
    raw: bytes,
    *,
    headers_only: bool,
    own_addresses: frozenset[str],
    contexts: Contexts | None = None,
    msg: Message | None = None,
    proof: ProofSettings | None = None,
) -> Read:
    """Read one message: its identity and form, the form validated if possible, and, given
    `proof`, how its sender is proven (the only step that may ask DNS, for a DKIM key).

    `contexts` holds the validation context of each sender already known as a partner
    contact; a registration from anyone else is validated later, in the intake process.
    """
    if msg is None:
        msg = messages.load(raw)
    sender = messages.sender_address(msg)
    parsed = None
    if not headers_only:
        parsed = parser.parse_message(raw, own_addresses=own_addresses, msg=msg)
        kind = parsed.classification.kind
    else:
        kind = classify.classify(msg, own_addresses=set(own_addresses), form_found=False).kind
    subject = messages.header(msg, "Subject")
    reply_text = body.reply_text(msg) if parsed is not None else ""
    context = (contexts or {}).get(sender) if sender else None
    registration = None
    if context is not None and parsed is not None and is_registration(parsed):
        # An invalid form is answered from the intake's own validation, with every error.
        with contextlib.suppress(Invalid):
            registration = validate_registration(parsed.fields, context)
    return Read(
        key=messages.message_key(msg, raw),
        message_id=messages.header(msg, "Message-ID").strip() or None,
        sender=sender,
        subject=subject,
        parsed=parsed,
        automatic=kind in classify.IGNORED_KINDS,
        from_count=messages.from_count(msg),
        references=tuple(messages.references(msg)),
        reply_headers=messages.reply_headers(msg),
        reply_text=reply_text,
        command=read_command(subject, reply_text) if parsed is not None else None,
        registration=registration,
        context=context if registration is not None else None,
        proof=prove(raw, sender, proof) if proof is not None and sender else None,
    )


def is_registration(parsed: parser.IntakeResult) -> bool:
    """Whether a parsed message is a registration form to validate and make."""
    return (
        parsed.status == "ok"
        and parsed.classification.kind == "registration"
        and bool(parsed.fields.get("company_name"))
    )


# One message to read: its bytes, and whether they are only its headers (too large to fetch).
Job = tuple[bytes, bool]


def read_all(
    jobs: list[Job], own_addresses: frozenset[str], contexts: Contexts, proof: ProofSettings | None
) -> list[Read | None]:
    """Read a batch; a message that could not be read is None (the caller reads it again)."""
    out: list[Read | None] = []
    for raw, headers_only in jobs:
        try:
            out.append(
                read(
                    raw,
                    headers_only=headers_only,
                    own_addresses=own_addresses,
                    contexts=contexts,
                    proof=proof,
                )
            )
        except Exception:
            log.exception("intake: reading a message failed")
            out.append(None)
    return out


def _serve(conn: Connection, own_addresses: frozenset[str], proof: ProofSettings | None) -> None:
    """The child's loop: read each batch sent, until the parent closes the pipe or dies."""
    # Ctrl-C in a terminal reaches the whole process group: the parent decides when to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    contexts: Contexts = {}
    while True:
        try:
            reset, known, jobs = conn.recv()
        except (EOFError, OSError):
            return
        if reset:
            contexts.clear()
        contexts.update(known)
        reads = read_all(jobs, own_addresses, contexts, proof)
        try:
            conn.send(reads)
        except OSError:
            return  # the parent is gone


class ReadAhead:
    """A child process that reads the batch after the one being stored."""

    def __init__(self, own_addresses: frozenset[str], proof: ProofSettings | None = None) -> None:
        self.own_addresses = own_addresses
        self.proof = proof  # the sender proof's settings, when it is on
        self._conn: Connection | None = None
        self._proc: BaseProcess | None = None
        self._lock = threading.Lock()
        # The senders' contexts the child holds, and whether it must forget them first.
        self._sent: Contexts = {}
        self._reset = False
        self._retry_at = 0.0  # after losing a child, when to try starting one again
        self.batches = 0  # batches the child has read

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def forget(self) -> None:
        """Have the child forget the contexts sent so far (a new run looks them up again)."""
        self._sent, self._reset = {}, True

    @property
    def ahead(self) -> bool:
        return self._conn is not None

    def start(self) -> bool:
        """Start the child process (once); False when it cannot be started."""
        with self._lock:
            if self._conn is not None:
                return True
            if time.monotonic() < self._retry_at:
                return False
            try:
                ctx = multiprocessing.get_context("forkserver")
                ctx.set_forkserver_preload(["intake.readahead"])
                parent, child = ctx.Pipe()
                proc = ctx.Process(
                    target=_serve, args=(child, self.own_addresses, self.proof), daemon=True,
                    name="dealreg-intake-reader",
                )  # fmt: skip
                proc.start()
                child.close()
            except Exception as exc:
                log.warning("intake: reading stays in this process (%s)", exc)
                self._retry_at = time.monotonic() + RETRY_AFTER_S
                return False
            self._conn, self._proc = parent, proc
            return True

    def send(self, jobs: list[Job], contexts: Contexts) -> bool:
        """Hand a batch to the child; False (and the child stopped) when it is gone.

        Only the contexts the child does not hold yet are sent along.
        """
        if self._conn is None:
            return False
        known = {k: v for k, v in contexts.items() if self._sent.get(k) != v}
        try:
            self._conn.send((self._reset, known, jobs))
            self._sent.update(known)
            self._reset = False
            return True
        except (OSError, ValueError) as exc:
            self._lost(exc)
            return False

    def receive(self, count: int) -> list[Read | None]:
        """The child's reading of the batch sent last; all None when the child is gone."""
        if self._conn is not None:
            try:
                reads: list[Read | None] = self._conn.recv()
                if len(reads) == count:
                    self.batches += 1
                    return reads
                self._lost(RuntimeError(f"{len(reads)} results for {count} messages"))
            except (EOFError, OSError) as exc:
                self._lost(exc)
        return [None] * count

    def _lost(self, exc: BaseException) -> None:
        log.warning("intake: the reader process is gone (%s); reading in this process", exc)
        self._retry_at = time.monotonic() + RETRY_AFTER_S
        self.stop()

    def stop(self) -> None:
        with self._lock:
            conn, proc = self._conn, self._proc
            self._conn = self._proc = None
        if conn is not None:
            conn.close()  # the child sees EOF and exits
        if proc is not None:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
