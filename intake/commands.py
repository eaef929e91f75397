"""Commands by email, pure: what a partner asks for in a few words instead of a form.

A command is read from the first lines of the message's new text (above any quoted
original), or else from its subject once the `Re:`/`Fwd:` prefixes are gone, as people
write it: greetings, courtesy and thanks around it (`intake.phrasing`), and any of the
ways of asking for each verb (`intake.command_rules`). A sentence that says more than a
command, denies it, makes it wait on a condition or asks whether to do it is no command,
so ordinary mail ("Status of the Acme project") is never taken for one; a question for
the status is the status command.

    start order [Q-…]             status                 check <domain>
    submit order PO <number>      deals | my deals       help
    PO: <number>                  extend [reason]        amend | change (then Label: value)
    Purchase order: <number>      quote <N> users [<product>]
    withdraw [reason]             lost [to a competitor | no budget | no decision | …]

Any line may also name its deal (`DR-000123`); otherwise the deal is the one of our email
that the message answers (see `intake.decide`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from core.reasons import withdraw_code
from intake.command_rules import RULES
from intake.phrasing import Wording, core_of, sentences

# The non-empty lines of the new text read for a command: room for a greeting first.
LINES_READ = 4
MAX_LINE = 200
# The verbs a command may have.
VERBS = (
    "start_order", "submit_order", "quote", "extend", "status", "deals", "check", "help",
    "amend", "withdraw",
)  # fmt: skip

_PREFIX = re.compile(r"^\s*(?:(?:re|fwd?|aw|wg|sv|vs|tr|rif)\s*(?:\[\d+\])?\s*:\s*)+", re.I)
_QUOTES = "\"'“”‘’«»`"
_DEAL_ANYWHERE = re.compile(r"\bDR-?(\d{1,9})\b", re.IGNORECASE)
# "more time please, the board meets in May": the reason without the courtesy.
_COURTESY = re.compile(r"^(?:(?:please|pls|thanks|thank\s+you)\b[\s,;:\-–—]*)+", re.I)


@dataclass(frozen=True)
class Command:
    """One command read from a message, with what it names."""

    verb: str  # one of VERBS
    deal: str | None = None  # DR-…, when the command's line names one
    mentioned: str | None = None  # DR-…, the first written anywhere else in the message
    in_subject: bool = False  # read from the subject, the message's new text holding none
    quote: str | None = None
    po_number: str | None = None
    users: int | None = None
    product: str | None = None
    domain: str | None = None
    reason: str | None = None  # extend: the partner's words; withdraw: the reason's code
    note: str | None = None  # withdraw: the words the reason's code does not say


def read_command(subject: str, new_text: str) -> Command | None:
    """The command of a message: from its first lines of new text, else its subject."""
    lines = [line.strip() for line in new_text.splitlines() if line.strip()][:LINES_READ]
    for index, line in enumerate([*lines, _PREFIX.sub("", subject).strip()]):
        command = _read_line(line)
        if command is not None:
            mentioned = named_deal(subject, new_text)
            return replace(command, mentioned=mentioned, in_subject=index == len(lines))
    return None


def _read_line(line: str) -> Command | None:
    """The first command among a line's sentences: greetings and remarks before it are
    passed over, never words that deny, delay or question it."""
    line = line.strip().strip(_QUOTES).strip()  # a command copied with its quote marks
    if not line or len(line) > MAX_LINE:
        return None
    for sentence in sentences(line):
        command = _match(core_of(sentence.strip(_QUOTES)))
        if command is not None:
            return replace(command, deal=named_deal(sentence))
    return None


def _match(wording: Wording) -> Command | None:
    for verb, rule in RULES:
        found = rule.match(wording.words)
        if found is None:
            continue
        if wording.question and not wording.asked and verb != "status":
            return None  # "should we start the order?" asks us nothing
        groups = {k: v.strip() for k, v in found.groupdict().items() if v and v.strip()}
        if verb in ("withdraw", "lost"):
            return _ending(verb, groups)
        users = groups.get("users", "").replace(",", "")
        return Command(
            verb,
            quote=_numbered("Q", groups.get("quote")),
            po_number=groups.get("po"),
            users=int(users) if users else None,
            product=groups.get("product"),
            domain=groups.get("domain"),
            reason=_COURTESY.sub("", groups.get("reason", "")) or None,
        )
    return None


def _ending(verb: str, groups: dict[str, str]) -> Command | None:
    """`withdraw [reason]` or `lost [reason]`: the reason's code and the words it leaves."""
    words = re.sub(r"^(?:we\s+)?lost\b\s*[:,\-–—]?\s*", "", groups.get("reason", ""), flags=re.I)
    if not words.strip(" .!,;:-–—"):
        return Command("withdraw", reason="other", note="lost" if verb == "lost" else None)
    code, note = withdraw_code(words)
    if verb == "lost" and code == "other" and "object" not in groups and words[:1].isalnum():
        return None  # "Lost my password": a lost deal is "lost", "lost it", "lost - why"
    return Command("withdraw", reason=code, note=note)


def named_deal(*texts: str) -> str | None:
    """The first deal number (`DR-000123`) written in any of `texts`, in its full form."""
    for text in texts:
        found = _DEAL_ANYWHERE.search(text)
        if found is not None:
            return _numbered("DR", found.group(1))
    return None


def _numbered(prefix: str, text: str | None) -> str | None:
    """`DR-123`, `dr123` or `DR-000123` as `DR-000123` (and so for quotes' `Q-`)."""
    digits = re.sub(r"\D", "", text or "")
    return f"{prefix}-{int(digits):06d}" if digits else None
