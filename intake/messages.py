"""Turn raw message bytes into a message, its key, its sender and its thread (pure).

Its readable text is `intake.body`'s.
"""

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

from intake.headers import POLICY
from intake.headers import decode_bytes as decode_bytes  # re-exported: callers decode here

# Parts past these are not read: a form is near the top, and each part costs time.
MAX_HEADER_FIELDS = 1_000  # of the message's own header block
MAX_PARTS = 2_000  # lines that may open a MIME part, in the raw bytes

_SURROGATE = re.compile("[\udc80-\udcff]")  # an 8-bit byte the parser could not decode


def load(raw: bytes) -> EmailMessage:
    """Parse raw bytes into a message, leniently: never raise."""
    data = _bounded(raw if isinstance(raw, bytes) else bytes(raw or b""))
    for pol in (POLICY, policy.compat32):
        try:
            msg = email.message_from_bytes(data, _class=EmailMessage, policy=pol)
        except Exception:
            continue
        return msg  # type: ignore[return-value]
    msg = EmailMessage()
    msg.set_payload(data.decode("latin-1"), "us-ascii")
    return msg


def _bounded(data: bytes) -> bytes:
    """Cut what the parser would spend most on and no form needs: the header fields past
    MAX_HEADER_FIELDS, and the parts past MAX_PARTS.

    The parser spends microseconds on each header field and tens of them on each part,
    and every header lookup walks all the fields: a message of a million empty parts or
    header lines would stall the intake. Mail that any person writes has far fewer.
    """
    head_end = _header_end(data)
    head = data[:head_end]
    if head.count(b"\n") > MAX_HEADER_FIELDS:
        data = _first_fields(head) + data[head_end:]
    if data.count(b"\n--") <= MAX_PARTS:
        return data
    at = -1
    for _ in range(MAX_PARTS + 1):
        at = data.find(b"\n--", at + 1)
    return data[: at + 1]


def _header_end(data: bytes) -> int:
    """Return where the header block ends (its blank line), or the end of the data."""
    ends = [i for i in (data.find(b"\n\n"), data.find(b"\n\r\n")) if i >= 0]
    return min(ends) + 1 if ends else len(data)


def _first_fields(head: bytes) -> bytes:
    """Return the first MAX_HEADER_FIELDS header fields, with their folded lines."""
    lines = head.split(b"\n")
    fields = 0
    for i, line in enumerate(lines):
        if line[:1] not in (b" ", b"\t"):
            fields += 1
            if fields > MAX_HEADER_FIELDS:
                return b"\n".join(lines[:i]) + b"\n"
    return head


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
    if _SURROGATE.search(text) is None:
        return text
    data = text.encode("utf-8", "surrogateescape")
    return decode_bytes(data, "")


# Header fields that servers on the way prepend to a message. The same message delivered
# twice differs only in these, so they are left out of its identity.
_TRACE_FIELDS = frozenset(
    {
        b"received",
        b"return-path",
        b"delivered-to",
        b"x-original-to",
        b"envelope-to",
        b"authentication-results",
        b"arc-authentication-results",
        b"arc-message-signature",
        b"arc-seal",
        b"received-spf",
        b"x-spam-status",
        b"x-spam-score",
        b"x-spam-level",
        b"x-spam-flag",
        b"x-spam-checker-version",
    }
)
_FIELD_NAME = re.compile(rb"^([!-9;-~]+)[ \t]*:")


def message_key(msg: Message, raw: bytes) -> str:
    """Return the message's identity: a hash of its bytes after the trace fields on top.

    The bytes hold the Message-ID and From, so a message that reuses another's Message-ID,
    from another sender or with other content, is a different message; the same message
    delivered again by another route (other Received lines, other line endings) is the
    same one.
    """
    data = (raw or b"").replace(b"\r\n", b"\n")
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end + 1
        line = data[start:end]
        if line[:1] in (b" ", b"\t") and start > 0:
            start = end  # the folded continuation of a trace field
            continue
        name = _FIELD_NAME.match(line)
        if name is None or name.group(1).lower() not in _TRACE_FIELDS:
            break
        start = end
    return "sha256:" + hashlib.sha256(data[start:]).hexdigest()


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


def from_count(msg: Message) -> int:
    """Return how many addresses the From lines name, over every From line."""
    try:
        return len([a for _, a in getaddresses(header_all(msg, "From")) if a])
    except Exception:
        return 0


def return_path(msg: Message) -> str | None:
    """Return the Return-Path address: "" for the null path, None when absent or empty.

    Only `<>` is the null path (RFC 5321 4.5.5); IIS writes it `<<>>`. A path without an
    `@` (`<nsb>`, a template's unfilled `<EMAIL_FROM>`) is a broken address, not a null
    one, and is returned as written, lower-cased.
    """
    values = header_all(msg, "Return-Path")
    value = values[0].strip() if values else ""
    if not value:
        return None
    if _NULL_PATH.fullmatch(value):
        return ""
    return normalise_address(value) or value.strip("<> \t").lower()


_NULL_PATH = re.compile(r"<\s*(?:<\s*>)?\s*>")


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


def references(msg: Message) -> list[str]:
    """Return the Message-IDs a message answers (In-Reply-To, then References)."""
    refs = header_all(msg, "In-Reply-To") + header_all(msg, "References")
    return re.findall(r"<[^<>\s]+>", " ".join(refs))
