"""What to do with one inbound message: every routing rule of the intake, pure.

The intake reads a message (`readahead.Read`), looks up what the database knows about
its sender and its thread (`Facts`), and asks `decide` for a `Decision`; `intake.act` then
carries it out. Nothing here touches the database, the clock or the network, so each rule
is tested on its own (tests/unit/test_decide.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from core.models import InboundEmail
from intake.commands import Command
from intake.parser import IntakeResult, is_form, parse_form
from intake.readahead import Read

# A reply to an approval email that asks for more time.
_EXTEND = re.compile(r"\bextend|\bextension\b", re.IGNORECASE)
# The commands about one deal; the others are about the partner (deals, check).
DEAL_COMMANDS = frozenset(
    {"start_order", "submit_order", "quote", "extend", "status", "amend", "withdraw"}
)
NO_DEAL = (
    "which deal? Write its number with the command (“{words} DR-000123”), or reply to one "
    "of our emails about it"
)
# Replies to these emails of ours act on their deal: an answer, or an extension request.
_ACTING_THREADS = ("deal_returned", "expiry_reminder")
# A reply in a deal's thread that asks for nothing we can read is told where the deal stands.
UNCLEAR = "{template} reply for {deal}: no command read, answered with its stage"


@dataclass(frozen=True)
class Facts:
    """What the database knows about a message, looked up before deciding."""

    partner_contact: bool  # the sender is one of a partner's contacts
    proven: bool  # the sender is proven (DKIM, our server's word, a confirmation, or off)
    # Our email that the message answers: its template and its deal's number.
    thread_template: str | None = None
    thread_deal: str | None = None
    # The message held for confirmation that the message names by its token, and whether
    # it is still held and not lapsed.
    held: InboundEmail | None = None
    held_live: bool = False


@dataclass(frozen=True)
class Decision:
    """One thing to do: the inbound status to record, and the action that goes with it.

    `action` is one of: close (record only), reply (queue `template` with `context`),
    hold (keep it, ask the sender to confirm), release (a confirmation: queue the held
    message again), register, answer (a returned registration), extend, command (a command
    by email: `Read.command`, about `deal`), status (a reply in `deal`'s thread without a
    clear command: answered with the deal's stage and next steps, as `status` is).

    `awaited`: a person waits for this answer (to a registration attempt, or a command, from
    a proven contact), so the loop guard never holds it back.
    """

    action: str
    status: str
    reason: str
    template: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    deal: str | None = None  # the deal an answer or extension is about
    awaited: bool = False


def decide(read: Read, facts: Facts) -> Decision:
    """Route one message: ignore, refuse, answer, hold, confirm, register or act on a deal."""
    parsed = read.parsed
    if parsed is None:
        return _too_large(read, facts)
    if parsed.status == "ignored":
        return Decision("close", "ignored", parsed.reason or parsed.classification.kind)
    if read.from_count != 1:
        # No reply: with several authors, or none, there is no one sender to answer.
        return Decision("close", "refused", "From must name exactly one address")
    if not facts.partner_contact:
        # No reply: the sender may be forged, and answering strangers makes backscatter.
        return Decision("close", "refused", f"unknown sender {read.sender}")
    if read.confirms:
        return _confirmation(read, facts)
    command = read.command
    if command is not None and (not command.in_subject or not _is_form(parsed)):
        # A command in the new text wins over any form quoted below it; one in the subject
        # yields to a form in the body.
        return _command(command, read, facts)
    threaded = _in_thread(read, facts)
    if threaded is not None:
        return threaded
    if parsed.classification.kind == "form_request":
        return Decision("reply", "answered", "intake_form", "intake_form")
    if parsed.status == "invalid":
        context = {"errors": parsed.errors, "original_subject": read.subject_line}
        return Decision("reply", "invalid", "intake_errors", "intake_errors", context)
    if not facts.proven:
        return _hold("a deal registration", read)
    return Decision("register", "registered", "a registration")


def _too_large(read: Read, facts: Facts) -> Decision:
    """A message too large to read: its partner sender is told so, once; no one else."""
    if read.automatic or not facts.partner_contact or read.from_count != 1:
        return Decision("close", "refused", "oversize, not answered")
    return Decision("reply", "refused", "oversize", "intake_refused", {"reason": "oversize"})


def _confirmation(read: Read, facts: Facts) -> Decision:
    """A reply to one of our confirmation requests releases the message it holds."""
    held = facts.held
    if held is None or held.sender != read.sender:
        # A guessed token, or a reply from someone else: the forger learns nothing.
        return Decision("close", "refused", "confirms no message held for it")
    if facts.held_live:
        return Decision("release", "answered", f"confirms inbound {held.id}")
    if held.status != "lapsed":
        return Decision("close", "answered", f"confirmed inbound {held.id} again")
    reason = f"confirms inbound {held.id}, which lapsed"
    return Decision("reply", "refused", reason, "intake_refused", {"reason": "hold_lapsed"})


def _is_form(parsed: IntakeResult) -> bool:
    return parsed.classification.kind == "registration"


def _command(command: Command, read: Read, facts: Facts) -> Decision:
    """A command by email: about the deal its line names, else the deal of the email it
    answers, else one named elsewhere in it. Help is answered to anyone; the rest act or
    tell, so they wait for an unproven sender's confirmation like a registration."""
    if command.verb == "help":
        return Decision("reply", "answered", "help", "intake_form", awaited=facts.proven)
    deal = command.deal or facts.thread_deal or command.mentioned
    words = command.verb.replace("_", " ")
    if command.verb in DEAL_COMMANDS and deal is None:
        context = {"command": command.verb, "error": NO_DEAL.format(words=words)}
        reason = f"{words}: no deal named"
        return Decision("reply", "invalid", reason, "intake_command", context, None, facts.proven)
    if not facts.proven:
        return _hold(f"the command “{words}”", read)
    reason = f"command: {words}" + (f" {deal}" if deal and command.verb in DEAL_COMMANDS else "")
    context = {"command": command.verb}
    return Decision("command", "answered", reason, "intake_command", context, deal, True)


def _in_thread(read: Read, facts: Facts) -> Decision | None:
    """A reply in a deal's thread: to our returned-registration or reminder email it answers
    or asks to extend; to any other, it is told the deal's stage and next steps (never sent
    the blank form)."""
    template, deal = facts.thread_template, facts.thread_deal
    if not template or not deal or _new_form(read):
        return None
    if not facts.proven:
        return _hold(f"a reply about {deal}", read)
    extend = template == "expiry_reminder" or (
        template == "deal_approved" and _EXTEND.search(read.reply_text)
    )
    if template not in _ACTING_THREADS and not extend:
        reason = UNCLEAR.format(template=template, deal=deal)
        context = {"command": "status", "unclear": True}
        return Decision("status", "answered", reason, "intake_command", context, deal=deal)
    action = "answer" if template == "deal_returned" else "extend"
    reason = f"{template} reply for {deal}"
    return Decision(action, "answered", reason, deal=deal)


def _new_form(read: Read) -> bool:
    """Whether a reply's own text holds a registration form: the summary of our email
    quoted below it is none."""
    parsed = read.parsed
    if parsed is None or not parsed.fields.get("company_name"):
        return False
    return is_form(parse_form(read.reply_text))


def _hold(what: str, read: Read) -> Decision:
    why = read.proof.reason if read.proof is not None else "not proven"
    reason = f"held until its sender confirms it: {why}"[:2000]
    return Decision("hold", "held", reason, "intake_confirm", {"what": what})
