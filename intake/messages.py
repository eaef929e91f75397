"""Turn raw message bytes into a message, its key, its sender and its readable text (pure)."""

from __future__ import annotations

import contextlib
import email
import functools
import hashlib
import re
from email import policy
from email.message import EmailMessage, Message
from email.utils import getaddresses

import idna
from inscriptis import get_text

MAX_DEPTH = 8
MAX_TEXT = 500_000
FORWARD_MARKER = "---------- Forwarded message ---------"

_WS = re.compile(r"[\u00a0\u2007\u202f]")
_INVISIBLE = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_TAGS = re.compile(r"<[^>]{0,2000}>")
_ASCII_ALIASES = {"us-ascii", "ascii", "ansi_x3.4-1968", "646", "unknown-8bit", "x-unknown"}
# Mail labelled latin-1 is nearly always windows-1252 (the WHATWG encoding rule).
_CHARSET_FIXUPS = {
    "iso-8859-1": "windows-1252",
    "latin1": "windows-1252",
    "latin-1": "windows-1252",
}


class _CachedHeaders(policy.EmailPolicy):
    """The default policy, parsing each distinct header value once instead of on every read.

    Parsed headers are immutable strings, so equal (name, value) pairs can share one; the
    same From, Content-Type and Message-ID are read many times per message.
    """

    def header_fetch_parse(self, name: str, value: str) -> str:
        if hasattr(value, "name") or len(value) > _CACHED_HEADER_MAX:
            return super().header_fetch_parse(name, value)  # type: ignore[no-any-return]
        return _parse_header(self, name, value)


_CACHED_HEADER_MAX = 2000


@functools.lru_cache(maxsize=4096)
def _parse_header(pol: policy.EmailPolicy, name: str, value: str) -> str:
    return policy.EmailPolicy.header_fetch_parse(pol, name, value)  # type: ignore[no-any-return]


_POLICY = _CachedHeaders()


def load(raw: bytes) -> EmailMessage:
    """Parse raw bytes into a message, leniently: never raise."""
    data = raw if isinstance(raw, bytes) else bytes(raw or b"")
    for pol in (_POLICY, policy.compat32):
        try:
            msg = email.message_from_bytes(data, _class=EmailMessage, policy=pol)
        except Exception:
            continue
        return msg  # type: ignore[return-value]
    msg = EmailMessage()
    msg.set_payload(data.decode("latin-1"), "us-ascii")
    return msg


def header(msg: Message, name: str) -> str:
    """Return the first `name` header as text (decoded when possible), or ""."""
    values = header_all(msg, name)
    return values[0] if values else ""


def header_all(msg: Message, name: str) -> list[str]:
    """Return every `name` header as text, topmost first."""
    try:
        values = [str(v) for v in msg.get_all(name) or []]
    except Exception:
        values = [str(v) for k, v in msg.raw_items() if k.lower() == name.lower()]
    return [_unescape(v) for v in values]


def _unescape(text: str) -> str:
    """Decode the raw 8-bit bytes the parser kept as surrogates (UTF-8, else windows-1252)."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    data = text.encode("utf-8", "surrogateescape")
    return decode_bytes(data, "")


def message_key(msg: Message, raw: bytes) -> str:
    """Return the message's identity: its normalised Message-ID, else a hash of the bytes."""
    value = header(msg, "Message-ID").strip()
    match = re.search(r"<([^<>\s]{1,900})>", value)
    ident = match.group(1) if match else value.strip("<> \t")
    if ident and not re.search(r"\s", ident) and len(ident) <= 900:
        return f"<{ident}>"
    return "sha256:" + hashlib.sha256(raw or b"").hexdigest()


@functools.lru_cache(maxsize=1024)
def normalise_address(addr: str) -> str | None:
    """Lower-case an addr-spec and IDNA-encode its domain; None when it is not one."""
    addr = addr.strip().strip("<>").strip()
    if addr.count("@") < 1:
        return None
    local, _, domain = addr.rpartition("@")
    if not local or not domain:
        return None
    domain = domain.strip().rstrip(".").lower()
    try:
        domain = idna.encode(domain, uts46=True).decode("ascii")
    except Exception:
        with contextlib.suppress(Exception):
            domain = domain.encode("idna").decode("ascii")
    return f"{local.lower()}@{domain}"


def _addresses(msg: Message, name: str) -> list[str]:
    """Return the addr-specs of an address header, parsed leniently."""
    try:
        hdr = msg.get(name)
        addrs = getattr(hdr, "addresses", None)
        if addrs:
            return [_unescape(a.addr_spec) for a in addrs if a.addr_spec and a.addr_spec != "<>"]
    except Exception:
        pass
    try:
        return [a for _, a in getaddresses(header_all(msg, name)) if a]
    except Exception:
        return []


def sender_address(msg: Message) -> str | None:
    """Return the From address, lower-cased with an ASCII (IDNA) domain, or None."""
    for addr in _addresses(msg, "From"):
        norm = normalise_address(addr)
        if norm:
            return norm
    return None


def return_path(msg: Message) -> str | None:
    """Return the Return-Path address: "" for the null path `<>`, None when absent."""
    values = header_all(msg, "Return-Path")
    if not values:
        return None
    value = values[0].strip()
    if value in ("<>", "") or re.fullmatch(r"<\s*>", value):
        return ""
    return normalise_address(value) or ""


def reply_headers(msg: Message) -> tuple[str | None, str | None]:
    """Return the In-Reply-To and References values for a reply to `msg`."""
    mid = header(msg, "Message-ID").strip()
    match = re.search(r"<[^<>\s]+>", mid)
    if not match:
        return None, None
    refs = re.findall(r"<[^<>\s]+>", header(msg, "References"))
    if not refs:
        refs = re.findall(r"<[^<>\s]+>", header(msg, "In-Reply-To"))[:1]
    refs = [*[r for r in refs if r != match.group(0)][-20:], match.group(0)]
    return match.group(0), " ".join(refs)


def body_text(msg: Message, *, prefer: str = "text/plain") -> str:
    """Return the readable text of a message: `prefer`red alternative first, HTML converted."""
    try:
        text = _part_text(msg, 0, prefer)
    except Exception:
        text = ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", _WS.sub(" ", text))
    return text[:MAX_TEXT]


def _part_text(part: Message, depth: int, prefer: str) -> str:
    """Return the text of one part, walking containers and forwarded messages."""
    if depth > MAX_DEPTH:
        return ""
    ctype = _content_type(part)
    if ctype == "message/rfc822" or (ctype.startswith("message/") and part.is_multipart()):
        return _forwarded_text(part, depth, prefer)
    if part.is_multipart():
        children = _children(part)
        if ctype == "multipart/alternative":
            return _alternative_text(children, depth, prefer)
        texts = (_part_text(c, depth + 1, prefer) for c in children if not _is_attachment(c))
        return "\n\n".join(t for t in texts if t.strip())
    if ctype == "text/plain" or ctype == "text" or not ctype:
        return _decoded(part)
    if ctype == "text/html":
        return html_to_text(_decoded(part))
    return ""


def _alternative_text(children: list[Message], depth: int, prefer: str) -> str:
    """Return the preferred alternative when it has text, else the richest other one."""
    by_type: dict[str, str] = {}
    for child in children:
        ctype = _content_type(child)
        if ctype not in by_type:
            by_type[ctype] = _part_text(child, depth + 1, prefer)
    chosen = by_type.get(prefer, "")
    if chosen.strip():
        return chosen
    for text in reversed(list(by_type.values())):
        if text.strip():
            return text
    return ""


def _forwarded_text(part: Message, depth: int, prefer: str) -> str:
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
    return "\n".join(lines) + "\n\n" + _part_text(inner, depth + 1, prefer)


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
    if payload is None:
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    try:
        charset = part.get_content_charset() or ""
    except Exception:
        charset = ""
    return decode_bytes(payload, charset)


def decode_bytes(data: bytes, charset: str) -> str:
    """Decode bytes in a declared charset, falling back to UTF-8 and windows-1252."""
    charset = charset.strip().strip('"').lower()
    charset = _CHARSET_FIXUPS.get(charset, charset)
    candidates = ["utf-8", "windows-1252"] if charset in _ASCII_ALIASES or not charset else []
    if charset and charset not in _ASCII_ALIASES:
        candidates = [charset, "utf-8"]
    for name in candidates:
        try:
            return data.decode(name)
        except (LookupError, UnicodeError, ValueError):
            continue
    try:
        return data.decode(candidates[0], errors="replace")
    except (LookupError, UnicodeError, ValueError):
        return data.decode("utf-8", errors="replace")


def html_to_text(html: str) -> str:
    """Convert HTML to text, keeping each table row on one line."""
    html = re.sub(r"(?is)<(head|style|script)\b.*?</\1\s*>", " ", html)
    try:
        return get_text(html)
    except Exception:
        text = re.sub(r"(?i)<\s*(br|/p|/div|/tr|/h\d)\b[^>]*>", "\n", html)
        text = re.sub(r"(?i)<\s*/t[dh]\s*>", "  ", text)
        return _TAGS.sub("", text)
