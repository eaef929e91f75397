"""Tell registrations apart from bounces, reports, auto-replies, bulk and our own mail (pure).

Nothing classified as `bounce`, `report`, `auto_reply`, `bulk` or `own` may ever be
answered: that is how intake avoids mail loops (RFC 3834). The kinds of signal behind
each, and the standard behind each signal, are in `intake.signals`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from intake import signals
from intake.messages import normalise_address, sender_address

IGNORED_KINDS = frozenset({"auto_reply", "bounce", "bulk", "report", "own"})

_FORM_REQUEST = re.compile(
    r"\b(?:help|form|template|registration form|send (?:me )?(?:the |a )?form|blank form)\b",
    re.I,
)


@dataclass(frozen=True)
class Classification:
    kind: str  # auto_reply | bounce | bulk | report | own | form_request | registration
    reason: str


def classify(msg: Message, *, own_addresses: set[str], form_found: bool) -> Classification:
    """Say what kind of mail this is; `form_found`: whether the parser found a form in it."""
    sender = sender_address(msg) or ""
    own = {normalise_address(a) or a.lower() for a in own_addresses}
    if sender and sender in own:
        return Classification("own", f"sent from our own address {sender}")
    facts = signals.read(msg)
    hit = signals.first(facts, form_found=form_found)
    if hit is not None:
        signal, detail = hit
        return Classification(signal.kind, f"{signal.name} ({signal.source}): {detail}")
    if _FORM_REQUEST.search(facts.subject) and not form_found:
        return Classification("form_request", "the subject asks for the form and there is none")
    return Classification("registration", "a message from a person")
