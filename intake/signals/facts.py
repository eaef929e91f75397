"""What the signals read from one message, each read once (pure).

The headers by name, the subject without reply prefixes, the sender addresses, the parts
of the MIME tree, and the opening of the body: its first two lines, where an
out-of-office reply says that it is one. Text the phrase lists are matched against is
folded once here (`fold`), so that each phrase matches with and without its diacritics.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses

from intake.body import html_to_text_fast
from intake.headers import decode_bytes
from intake.messages import header, normalise_address, return_path

MAX_PARTS = 200  # parts of the MIME tree looked at: report parts come first
MAX_DEPTH = 8
SUBJECT_CHARS = 300  # what a subject signal reads: every marker is at the start
OPENING_LINES = 2  # a greeting often stands alone on the first line
OPENING_LINE_CHARS = 300
# Bytes of the first text part decoded for its opening: plain text starts at once, HTML
# after its head and styles.
PLAIN_BYTES = 8_000
HTML_BYTES = 100_000


@dataclass(frozen=True)
class Part:
    """One part of the MIME tree: its type and the parameters the signals read."""

    ctype: str
    report_type: str = ""
    method: str = ""


@dataclass(frozen=True)
class Facts:
    """What the signals read from one message, each read once."""

    headers: Mapping[str, tuple[str, ...]]  # raw values by lower-cased name
    subject: str  # decoded, without Re:/Fwd: prefixes, lower-cased, its start only
    senders: tuple[str, ...]  # From, Sender and Return-Path addresses, lower-cased
    null_from: bool
    return_path: str | None
    parts: tuple[Part, ...]  # not inside attached messages: those are other mail
    folded_subject: str = ""  # `subject`, folded
    opening: str = ""  # the body's first lines, folded, one a line

    def value(self, name: str) -> str:
        """Return the first raw value of a header, unfolded and lower-cased, or ""."""
        values = self.headers.get(name)
        return " ".join(values[0].split()).lower() if values else ""

    def has(self, *names: str) -> str | None:
        """Return the first of `names` present with a value, or None."""
        return next((n for n in names if self.value(n)), None)


def read(msg: Message) -> Facts:
    """Read what the signals need from a message, in one pass over its headers."""
    index: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        index.setdefault(name.lower(), []).append(str(value))
    froms = [a for _, a in _addresses(index.get("from", []))]
    path = return_path(msg)
    subject = strip_reply_prefixes(" ".join(header(msg, "Subject")[:SUBJECT_CHARS].split()))
    parts, text_part = _walk(msg)
    return Facts(
        headers={k: tuple(v) for k, v in index.items()},
        subject=subject.lower(),
        senders=tuple(_senders(index, froms, path)),
        null_from=bool(index.get("from")) and not any(froms),
        return_path=path,
        parts=parts,
        folded_subject=fold(subject),
        opening=fold(_opening(text_part)) if text_part is not None else "",
    )


def strip_reply_prefixes(subject: str) -> str:
    """Return the subject without reply and forward prefixes."""
    return _REPLY_PREFIX.sub("", subject)


# Letters that are their own letter, not a base letter with a mark, so NFKD keeps them;
# mail written without diacritics spells them as their nearest ASCII letter. Curly
# apostrophes are the ones word processors type.
_OWN_LETTERS = str.maketrans(
    {"ı": "i", "ł": "l", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe",
     "\u2019": "'", "\u2018": "'", "\u02bc": "'"}
)  # fmt: skip


def fold(text: str) -> str:
    """Return text lower-cased without diacritics: "Réponse" and "Reponse" read alike."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    # Marks go; so do invisible format characters (a byte-order mark, a zero-width space).
    bare = "".join(
        c for c in decomposed if not unicodedata.combining(c) and unicodedata.category(c) != "Cf"
    )
    return unicodedata.normalize("NFC", bare.translate(_OWN_LETTERS))


_REPLY_PREFIX = re.compile(r"^(?:(?:re|fw|fwd|aw|wg|tr|sv|vs|antw)\s*(?:\[\d+\])?\s*:\s*)+", re.I)


def _addresses(values: list[str]) -> list[tuple[str, str]]:
    try:
        return getaddresses(values)
    except Exception:
        return []


def _senders(index: dict[str, list[str]], froms: list[str], path: str | None) -> list[str]:
    """Return the From, Sender and Return-Path addresses, lower-cased and IDNA-encoded."""
    found = froms + [a for _, a in _addresses(index.get("sender", []))]
    out = [normalise_address(a) or a.strip().lower() for a in found if a.strip()]
    return out + ([path] if path else [])


def _walk(msg: Message) -> tuple[tuple[Part, ...], Message | None]:
    """Return the parts of the MIME tree, depth first, without entering attached mail,
    and the part whose text opens the body (the first plain part, else the first HTML)."""
    out: list[Part] = []
    plain: Message | None = None
    html: Message | None = None
    stack: list[tuple[Message, int]] = [(msg, 0)]
    while stack and len(out) < MAX_PARTS:
        part, depth = stack.pop()
        ctype = _content_type(part)
        out.append(Part(ctype, _param(part, "report-type"), _param(part, "method")))
        payload = part.get_payload() if depth < MAX_DEPTH else None
        if isinstance(payload, list):
            if not ctype.startswith("message/"):
                stack += [(p, depth + 1) for p in reversed(payload) if isinstance(p, Message)]
        elif not _is_attachment(part):
            if plain is None and ctype == "text/plain":
                plain = part
            elif html is None and ctype == "text/html":
                html = part
    return tuple(out), plain or html


def _opening(part: Message) -> str:
    """Return the first lines of a text part, without quoted lines, one a line."""
    is_html = _content_type(part) == "text/html"
    text = _decoded(part, HTML_BYTES if is_html else PLAIN_BYTES)
    if is_html:
        text = html_to_text_fast(text)
    lines: list[str] = []
    for line in text.splitlines():
        line = " ".join(line.split())
        if line and not line.startswith(">"):
            lines.append(line[:OPENING_LINE_CHARS])
            if len(lines) == OPENING_LINES:
                break
    return "\n".join(lines)


def _decoded(part: Message, limit: int) -> str:
    """Decode the start of a leaf part's transfer encoding and charset; never raise."""
    try:
        payload = _start_of(part, limit).get_payload(decode=True)
    except Exception:
        payload = None
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return raw[:limit] if isinstance(raw, str) else ""
    try:
        charset = part.get_content_charset() or ""
    except Exception:
        charset = ""
    return decode_bytes(_whole_chars(payload, limit), charset)


def _start_of(part: Message, limit: int) -> Message:
    """Return the part, or a copy holding only the start of a long payload: what encodes
    `limit` bytes, so that a large part is not decoded twice whole."""
    raw = part.get_payload()
    if not isinstance(raw, str) or len(raw) <= 2 * limit:
        return part
    start = Message()
    start["Content-Transfer-Encoding"] = str(part.get("Content-Transfer-Encoding", ""))
    start.set_payload(raw[: 2 * limit])
    return start


def _whole_chars(data: bytes, limit: int) -> bytes:
    """Cut bytes at `limit`, back to the start of a UTF-8 sequence the cut would split."""
    if len(data) <= limit:
        return data
    data = data[:limit]
    for back in range(1, 4):
        if (data[-back] & 0xC0) != 0x80:  # the lead byte of the last sequence, or ASCII
            return data[:-back] if data[-back] >= 0xC0 else data
    return data


def _is_attachment(part: Message) -> bool:
    try:
        return (part.get_content_disposition() or "").lower() == "attachment"
    except Exception:
        return False


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type().lower()
    except Exception:
        return ""


def _param(part: Message, name: str) -> str:
    try:
        value = part.get_param(name)
    except Exception:
        return ""
    value = value[2] if isinstance(value, tuple) else value
    return str(value or "").strip().lower()
