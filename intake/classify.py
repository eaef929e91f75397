"""Tell registrations apart from auto-replies, bounces, bulk mail and our own mail (pure).

Nothing classified as `auto_reply`, `bounce`, `bulk` or `own` may ever be answered: that is
how intake avoids mail loops (RFC 3834).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from intake.messages import (
    body_text,
    header,
    normalise_address,
    return_path,
    sender_address,
)

IGNORED_KINDS = frozenset({"auto_reply", "bounce", "bulk", "own"})

_DAEMONS = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon|mailerdaemon)@", re.I)
_NOREPLY = re.compile(r"^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|bounces?)(?:[-+.][^@]*)?@", re.I)
_BOUNCE_SUBJECT = re.compile(
    r"^(?:undeliverable|undelivered mail|delivery status notification|mail delivery failed"
    r"|delivery failure|returned mail|failure notice|delivery has failed|non[- ]delivery)",
    re.I,
)
_AUTO_SUBJECT = re.compile(
    r"^(?:automatic reply|auto[- ]?reply|autoreply|out of (?:the )?office|ooo\b"
    r"|abwesenheitsnotiz|automatische antwort|réponse automatique|absence)",
    re.I,
)
_SUPPRESS = frozenset({"all", "oof", "autoreply", "dr", "ndr"})
_FORM_REQUEST = re.compile(
    r"\b(?:help|form|template|registration form|send (?:me )?(?:the |a )?form|blank form)\b",
    re.I,
)


@dataclass(frozen=True)
class Classification:
    kind: str  # auto_reply | bounce | bulk | own | form_request | registration
    reason: str


def classify(
    msg: Message, *, own_addresses: set[str], form_found: bool | None = None
) -> Classification:
    """Say what kind of mail this is; `form_found` saves re-reading the body."""
    sender = sender_address(msg) or ""
    own = {normalise_address(a) or a.lower() for a in own_addresses}
    if sender and sender in own:
        return Classification("own", f"sent from our own address {sender}")
    for check in (_bounce, _auto_reply, _bulk):
        verdict = check(msg, sender)
        if verdict:
            return verdict
    subject = _subject(msg)
    if _FORM_REQUEST.search(subject) and not _has_form(msg, form_found):
        return Classification("form_request", "the subject asks for the form and there is none")
    return Classification("registration", "a message from a person")


def _subject(msg: Message) -> str:
    """Return the subject without reply and forward prefixes."""
    subject = " ".join(header(msg, "Subject").split())
    return re.sub(r"^(?:(?:re|fw|fwd|aw|wg|tr)\s*:\s*)+", "", subject, flags=re.I)


def _has_form(msg: Message, form_found: bool | None) -> bool:
    """Return whether the body holds a form (imported late: the parser imports us)."""
    if form_found is not None:
        return form_found
    from intake.parser import parse_form

    return bool(parse_form(body_text(msg)).fields)


def _bounce(msg: Message, sender: str) -> Classification | None:
    """Recognise delivery reports and mail from mailer daemons."""
    ctype = msg.get_content_type().lower() if _safe_type(msg) else ""
    if ctype == "multipart/report":
        return Classification("bounce", "a delivery report (multipart/report)")
    if _DAEMONS.match(sender):
        return Classification("bounce", f"sent by {sender}")
    if _BOUNCE_SUBJECT.match(_subject(msg)):
        return Classification("bounce", "a delivery failure subject")
    return None


def _auto_reply(msg: Message, sender: str) -> Classification | None:
    """Recognise auto-replies by their headers (RFC 3834 and vendor ones) and subjects."""
    auto = header(msg, "Auto-Submitted").split(";")[0].strip().lower()
    if auto and auto != "no":
        return Classification("auto_reply", f"Auto-Submitted: {auto}")
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"):
        if header(msg, name).strip():
            return Classification("auto_reply", f"{name} header")
    tokens = {t.strip().lower() for t in header(msg, "X-Auto-Response-Suppress").split(",")}
    if tokens & _SUPPRESS:
        return Classification("auto_reply", "X-Auto-Response-Suppress header")
    if header(msg, "Precedence").strip().lower() == "auto_reply":
        return Classification("auto_reply", "Precedence: auto_reply")
    if _AUTO_SUBJECT.match(_subject(msg)):
        return Classification("auto_reply", "an automatic reply subject")
    if return_path(msg) == "":
        return Classification("auto_reply", "an empty return path")
    return None


def _bulk(msg: Message, sender: str) -> Classification | None:
    """Recognise list, bulk and no-reply mail."""
    precedence = header(msg, "Precedence").strip().lower()
    if precedence in ("bulk", "list", "junk"):
        return Classification("bulk", f"Precedence: {precedence}")
    for name in ("List-Id", "List-Unsubscribe", "List-Post"):
        if header(msg, name).strip():
            return Classification("bulk", f"{name} header")
    if _NOREPLY.match(sender):
        return Classification("bulk", f"sent from a no-reply address {sender}")
    return None


def _safe_type(msg: Message) -> bool:
    """Return whether the content type can be read."""
    try:
        msg.get_content_type()
    except Exception:
        return False
    return True
