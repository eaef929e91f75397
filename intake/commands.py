"""Commands by email, pure: what a partner asks for in a few words instead of a form.

A command is a whole line: one of the first non-empty lines of the message's new text
(above any quoted original), or else its subject once the `Re:`/`Fwd:` prefixes are gone.
Words are matched case-insensitively and a line that says more than the command is no
command, so ordinary mail ("Status of the Acme project") is never taken for one.

    start order [Q-…]             status                 check <domain>
    submit order PO <number>      deals | my deals       help
    PO: <number>                  extend [reason]
    Purchase order: <number>      quote <N> users [<product>]

Any line may also name its deal (`DR-000123`); otherwise the deal is the one of our email
that the message answers (see `intake.decide`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

# The non-empty lines of the new text read for a command: room for a greeting first.
LINES_READ = 4
MAX_LINE = 200

_END = r"\s*[.!]?\s*$"
_ORDER = r"\s+(?:the\s+)?order"
_USERS = r"(?P<users>\d[\d,]{0,9})"
_PO_LABEL = r"P\.?O\.?(?:\s+number)?"
_PRODUCT = r"(?P<product>[A-Za-z0-9][\w\-]{0,59})"
_PO = r"(?P<po>[A-Za-z0-9][A-Za-z0-9_\-/.]{0,99}?)"
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (verb, re.compile(pattern, re.IGNORECASE))
    for verb, pattern in (
        ("start_order", rf"^start{_ORDER}(?:\s+(?P<quote>Q-?\d{{1,9}}))?{_END}"),
        ("submit_order", rf"^submit{_ORDER}(?:\s+(?:with\s+)?{_PO_LABEL}\s*[:#]?\s*{_PO})?{_END}"),
        ("submit_order", rf"^(?:{_PO_LABEL}|purchase\s+order(?:\s+number)?)\s*[:#]\s*{_PO}{_END}"),
        ("quote", rf"^quote\s+{_USERS}\s+(?:users?|seats?)(?:\s+{_PRODUCT})?{_END}"),
        ("extend", rf"^(?:extend|extension)\b(?:\s*[:,\-]\s*|\s+)?(?P<reason>.{{0,180}}?){_END}"),
        ("status", rf"^status{_END}"),
        ("deals", rf"^(?:my\s+)?deals{_END}"),
        ("check", rf"^check\s+(?P<domain>[^\s@]+\.[^\s@]+?){_END}"),
        ("help", rf"^help{_END}"),
    )
)  # fmt: skip
_PREFIX = re.compile(r"^\s*(?:(?:re|fwd?|aw|wg|sv|vs|tr|rif)\s*(?:\[\d+\])?\s*:\s*)+", re.I)
_QUOTES = "\"'“”‘’«»`"
_DEAL_ANYWHERE = re.compile(r"\bDR-?(\d{1,9})\b", re.IGNORECASE)


@dataclass(frozen=True)
class Command:
    """One command read from a message, with what it names."""

    verb: str  # start_order | submit_order | quote | extend | status | deals | check | help
    deal: str | None = None  # DR-…, when the command's line names one
    mentioned: str | None = None  # DR-…, the first written anywhere else in the message
    in_subject: bool = False  # read from the subject, the message's new text holding none
    quote: str | None = None
    po_number: str | None = None
    users: int | None = None
    product: str | None = None
    domain: str | None = None
    reason: str | None = None


def read_command(subject: str, new_text: str) -> Command | None:
    """The command of a message: from its first lines of new text, else its subject."""
    lines = [line.strip() for line in new_text.splitlines() if line.strip()][:LINES_READ]
    for index, line in enumerate([*lines, _PREFIX.sub("", subject).strip()]):
        command = _match(line)
        if command is not None:
            mentioned = named_deal(subject, new_text)
            return replace(command, mentioned=mentioned, in_subject=index == len(lines))
    return None


def _match(line: str) -> Command | None:
    line = line.strip().strip(_QUOTES).strip()  # a command copied with its quote marks
    if not line or len(line) > MAX_LINE:
        return None
    deal = named_deal(line)  # anywhere in the line: "status DR-000004", "DR-4 start order"
    words = " ".join(_DEAL_ANYWHERE.sub(" ", line).split())
    for verb, rule in _RULES:
        found = rule.match(words)
        if found is None:
            continue
        groups = {k: v for k, v in found.groupdict().items() if v}
        users = groups.get("users", "").replace(",", "")
        return Command(
            verb,
            deal=deal,
            quote=_numbered("Q", groups.get("quote")),
            po_number=groups.get("po"),
            users=int(users) if users else None,
            product=groups.get("product"),
            domain=groups.get("domain"),
            reason=groups.get("reason"),
        )
    return None


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
