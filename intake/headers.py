"""Read header values and decode text in any charset, in time linear in their length (pure)."""

from __future__ import annotations

import binascii
import functools
import re
from email import policy
from email.headerregistry import HeaderRegistry, UnstructuredHeader

_ASCII_ALIASES = {"us-ascii", "ascii", "ansi_x3.4-1968", "646", "unknown-8bit", "x-unknown"}
# Mail labelled latin-1 is nearly always windows-1252 (the WHATWG encoding rule).
_CHARSET_FIXUPS = {
    "iso-8859-1": "windows-1252",
    "latin1": "windows-1252",
    "latin-1": "windows-1252",
}


class _CachedHeaders(policy.EmailPolicy):
    """The default policy, reading every header in time linear in its length.

    The stdlib's header parser is slow per character and worse than linear on long
    unstructured values (a 400 KB encoded Subject took seconds), so it only sees short
    values, each distinct one parsed once: the same From and Message-ID are read many
    times per message. Longer values are decoded here in one pass; the MIME headers of
    every part are read the compat32 way (a plain string), which the parser and our
    walk over thousands of parts need to be cheap.
    """

    def header_fetch_parse(self, name: str, value: str) -> str:
        if hasattr(value, "name"):
            return super().header_fetch_parse(name, value)  # type: ignore[no-any-return]
        if name.lower() in _MIME_FIELDS:
            return _unfold(value)[:_STRUCTURED_MAX]
        if len(value) <= _CACHED_HEADER_MAX:
            return _parse_header(self, name, value)
        return _parse_long(name.lower(), value)


_CACHED_HEADER_MAX = 2000  # longer values are decoded in one pass, and not kept
# A structured value past this is cut: no address list or parameter we read is longer.
_STRUCTURED_MAX = 4000
# Address, date, MIME and Message-ID fields; Subject and the rest are free text.
_STRUCTURED_FIELDS = frozenset(
    name
    for name, cls in HeaderRegistry().registry.items()
    if not issubclass(cls, UnstructuredHeader)
)
_MIME_FIELDS = frozenset({"content-type", "content-disposition", "content-transfer-encoding"})
_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,75})\?([bBqQ])\?([^?\s]*)\?=")


@functools.lru_cache(maxsize=4096)
def _parse_header(pol: policy.EmailPolicy, name: str, value: str) -> str:
    return policy.EmailPolicy.header_fetch_parse(pol, name, value)  # type: ignore[no-any-return]


# Few, as each may be megabytes; the message being read asks for its Subject many times.
@functools.lru_cache(maxsize=4)
def _parse_long(name: str, value: str) -> str:
    if name not in _STRUCTURED_FIELDS:
        return decode_words(_unfold(value))
    return _unfold(value)[:_STRUCTURED_MAX]


def _unfold(value: str) -> str:
    return "".join(value.splitlines())


def decode_words(text: str) -> str:
    """Decode the RFC 2047 encoded words in a header value, in one pass."""
    out: list[str] = []
    run: list[bytes] = []  # adjacent words of one charset, decoded together (RFC 2047 6.2)
    charset = ""
    end = 0
    for match in _ENCODED_WORD.finditer(text):
        between = text[end : match.start()]
        word_charset = match.group(1).split("*", 1)[0].lower()
        if run and (between.strip() or word_charset != charset):
            out.append(decode_bytes(b"".join(run), charset))
            run = []
        if not run:
            out.append(between)
        run.append(_word_bytes(match.group(2), match.group(3)))
        charset, end = word_charset, match.end()
    if run:
        out.append(decode_bytes(b"".join(run), charset))
    out.append(text[end:])
    return "".join(out)


def _word_bytes(encoding: str, data: str) -> bytes:
    """Return the bytes of one encoded word's payload (B or Q encoding)."""
    raw = data.encode("ascii", "replace")
    try:
        if encoding in "bB":
            return binascii.a2b_base64(raw + b"=" * (-len(raw) % 4))
        return binascii.a2b_qp(raw, header=True)
    except (binascii.Error, ValueError):
        return raw


POLICY = _CachedHeaders()


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


def printable(value: bytes | str) -> str:
    """Render a sender-chosen value for our own text (a reason, a log): printable and short."""
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    text = "".join(ch if ch.isprintable() else "?" for ch in text.strip())
    return text if len(text) <= 80 else text[:79] + "…"
