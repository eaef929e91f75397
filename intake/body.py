"""The readable text of a message: the preferred alternative, HTML converted, forwarded
messages inlined, within a budget of parts and characters (pure)."""

from __future__ import annotations

import html as htmllib
import re
from dataclasses import dataclass
from email.message import Message

from inscriptis import get_text

from intake.headers import decode_bytes
from intake.messages import header

MAX_DEPTH = 8
MAX_TEXT = 500_000
# Parts past these are not read: a form is near the top, and each part costs time.
MAX_WALK_PARTS = 500  # parts visited for the readable text
MAX_HTML = 2_000_000  # characters of one HTML part read: its text is longer than MAX_TEXT
RICH_HTML_MAX = 100_000  # characters of HTML given to the layout-keeping converter
FORWARD_MARKER = "---------- Forwarded message ---------"

_WS = re.compile(r"[\u00a0\u2007\u202f]")
_INVISIBLE = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_TAGS = re.compile(r"<[^<>]{0,2000}>")
_HIDDEN_OPEN = re.compile(r"(?i)<(head|style|script)\b")
_BREAK = re.compile(r"(?i)<\s*(?:br|/p|/div|/tr|/li|/h\d)\b[^<>]{0,2000}>")
_CELL_END = re.compile(r"(?i)<\s*/t[dh]\s*>")


def body_text(msg: Message, *, prefer: str = "text/plain") -> str:
    """Return the readable text of a message: `prefer`red alternative first, HTML converted."""
    try:
        text = _part_text(msg, 0, _Walk(prefer))
    except Exception:
        text = ""
    text = text[: MAX_TEXT * 2].replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", _WS.sub(" ", text))
    return text[:MAX_TEXT]


def has_alternatives(msg: Message) -> bool:
    """Return whether the message holds a multipart/alternative (where `prefer` matters)."""
    for count, part in enumerate(msg.walk()):
        if count > MAX_WALK_PARTS:
            return False
        if _content_type(part) == "multipart/alternative":
            return True
    return False


@dataclass
class _Walk:
    """One reading of a message's text, and what it may still spend.

    The form is near the top, so the walk stops when the text is long enough, and the
    layout-keeping HTML converter (slow per byte) reads only the first stretch of HTML.
    """

    prefer: str
    parts: int = MAX_WALK_PARTS
    chars: int = MAX_TEXT
    rich_html: int = RICH_HTML_MAX

    def spent(self) -> bool:
        return self.parts <= 0 or self.chars <= 0


def _part_text(part: Message, depth: int, walk: _Walk) -> str:
    """Return the text of one part, walking containers and forwarded messages."""
    walk.parts -= 1
    if depth > MAX_DEPTH or walk.spent():
        return ""
    ctype = _content_type(part)
    if ctype == "message/rfc822" or (ctype.startswith("message/") and part.is_multipart()):
        return _forwarded_text(part, depth, walk)
    if part.is_multipart():
        children = _children(part)
        if ctype == "multipart/alternative":
            return _alternative_text(children, depth, walk)
        return _mixed_text(children, depth, walk)
    text = _leaf_text(part, ctype, walk)
    walk.chars -= len(text)
    return text


def _mixed_text(children: list[Message], depth: int, walk: _Walk) -> str:
    """Join the text of each part that is not an attachment, in order."""
    texts = []
    for child in children:
        if walk.spent():
            break
        if not _is_attachment(child):
            texts.append(_part_text(child, depth + 1, walk))
    return "\n\n".join(t for t in texts if t.strip())


def _leaf_text(part: Message, ctype: str, walk: _Walk) -> str:
    """Return the text of a leaf part: plain as it is, HTML converted, others nothing."""
    if ctype == "text/plain" or ctype == "text" or not ctype:
        return _decoded(part)
    if ctype != "text/html":
        return ""
    html = _strip_hidden(_decoded(part)[:MAX_HTML])
    if len(html) > walk.rich_html:
        return html_to_text_fast(html)
    walk.rich_html -= len(html)
    return html_to_text(html)


def _alternative_text(children: list[Message], depth: int, walk: _Walk) -> str:
    """Return the preferred alternative when it has text, else the richest other one."""
    firsts: dict[str, Message] = {}
    for child in children:
        firsts.setdefault(_content_type(child), child)
    preferred = firsts.pop(walk.prefer, None)
    if preferred is not None:
        text = _part_text(preferred, depth + 1, walk)
        if text.strip():
            return text
    # RFC 2046 5.1.4: alternatives come in increasing faithfulness, the richest last.
    for child in reversed(list(firsts.values())):
        text = _part_text(child, depth + 1, walk)
        if text.strip():
            return text
    return ""


def _forwarded_text(part: Message, depth: int, walk: _Walk) -> str:
    """Render an attached message as an inline forward: marker, headers, body."""
    inner = part.get_payload()
    inner = inner[0] if isinstance(inner, list) and inner else inner
    if not isinstance(inner, Message):
        return ""
    lines = [FORWARD_MARKER]
    for name in ("From", "Date", "Subject", "To"):
        value = header(inner, name)
        if value:
            lines.append(f"{name}: {' '.join(value.split())}")
    return "\n".join(lines) + "\n\n" + _part_text(inner, depth + 1, walk)


def _children(part: Message) -> list[Message]:
    """Return the sub-parts of a multipart, or none when the structure is broken."""
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _content_type(part: Message) -> str:
    """Return the lower-cased content type, "" when it cannot be read."""
    try:
        return part.get_content_type().lower()
    except Exception:
        return ""


def _is_attachment(part: Message) -> bool:
    """Return whether a part is an attachment (forwarded messages are never skipped)."""
    if _content_type(part).startswith("message/"):
        return False
    try:
        disposition = (part.get_content_disposition() or "").lower()
    except Exception:
        disposition = ""
    return disposition == "attachment"


def _decoded(part: Message) -> str:
    """Decode a leaf part's transfer encoding and charset; never raise."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    try:
        charset = part.get_content_charset() or ""
    except Exception:
        charset = ""
    return decode_bytes(payload, charset)


def html_to_text(html: str) -> str:
    """Convert HTML to text, keeping each table row on one line."""
    html = _strip_hidden(html)
    try:
        return str(get_text(html))
    except Exception:
        return html_to_text_fast(html)


def html_to_text_fast(html: str) -> str:
    """Convert HTML to text in one pass: rows and blocks to lines, cells apart by spaces."""
    text = _BREAK.sub("\n", _strip_hidden(html))
    text = _TAGS.sub("", _CELL_END.sub("  ", text))
    return htmllib.unescape(text)


def _strip_hidden(html: str) -> str:
    """Drop the head, style and script elements, in one pass (an unclosed one ends it)."""
    lower = html.lower()
    out: list[str] = []
    pos = 0
    while (match := _HIDDEN_OPEN.search(html, pos)) is not None:
        out.append(html[pos : match.start()])
        close = lower.find("</" + match.group(1).lower(), match.end())
        end = html.find(">", close) if close >= 0 else -1
        pos = end + 1 if end >= 0 else len(html)
        out.append(" ")
    out.append(html[pos:])
    return "".join(out)


_QUOTE_START = re.compile(r"^On .+ wrote:\s*$|^-{2,}\s*Original Message", re.IGNORECASE)


def reply_text(msg: Message) -> str:
    """Return the new text of a reply: what stands above the quoted original."""
    lines = []
    for line in body_text(msg).splitlines():
        if line.startswith(">") or line.strip() == "--" or _QUOTE_START.match(line):
            break
        lines.append(line)
    return "\n".join(lines).strip()[:3000] or "(no text)"
