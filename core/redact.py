"""Finding and redacting one person's data in text, JSON and raw mail (pure: no I/O).

A `Person` is what identifies someone in what we hold: their address, and the names,
phones and job title found beside it. Matching ignores case; a name or title matches as a
whole word, a phone by its digits whatever the spacing, the address as a whole address.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import html
import quopri
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses
from functools import cached_property
from typing import Any

ERASED = "[erased]"
_MIN_PHONE_DIGITS = 6  # fewer digits would match dates, amounts and deal numbers


def normalise_address(address: str) -> str:
    """An email address as compared: trimmed and lower-cased."""
    return address.strip().lower()


@dataclass(frozen=True)
class Person:
    """One person's address and the other strings that name them (names, phones, title)."""

    address: str
    names: frozenset[str] = field(default_factory=frozenset)
    phones: frozenset[str] = field(default_factory=frozenset)

    def with_terms(self, names: Iterable[str] = (), phones: Iterable[str] = ()) -> Person:
        """This person with more names and phones (blanks and erased values left out)."""
        more = {n.strip() for n in names if _useful(n)}
        calls = {p.strip() for p in phones if _useful(p)}
        return Person(self.address, self.names | more, self.phones | calls)

    @cached_property
    def _address(self) -> re.Pattern[str]:
        # Not inside a longer address: no local-part character before, no domain label after.
        return re.compile(rf"(?<![\w.%+-]){re.escape(self.address)}(?![\w-]|\.\w)", re.IGNORECASE)

    @cached_property
    def _pattern(self) -> re.Pattern[str]:
        parts = [self._address.pattern]
        words = sorted(self.names | {html.escape(n) for n in self.names}, key=len, reverse=True)
        parts += [rf"(?<!\w){re.escape(w)}(?!\w)" for w in words]
        parts += [_phone_pattern(p) for p in sorted(self.phones, key=len, reverse=True)]
        return re.compile("|".join(parts), re.IGNORECASE)

    @cached_property
    def _needles(self) -> tuple[str, ...]:
        # Plain substrings every match contains (a phone's last four digits), found by a
        # quick search first: the patterns themselves are slow to run over whole messages.
        words = {self.address, *(n.lower() for n in self.names)}
        words |= {html.escape(n).lower() for n in self.names}
        return (*words, *(re.sub(r"\D", "", p)[-4:] or p.lower() for p in self.phones))

    def carried_by(self, text: str) -> bool:
        """Whether `text` holds this person's address."""
        if self.address not in text.lower():
            return False
        return self._address.search(text) is not None

    def named_in(self, text: str) -> bool:
        """Whether `text` holds the address or any other string that names this person."""
        lowered = text.lower()
        if not any(n in lowered for n in self._needles):
            return False
        return self._pattern.search(text) is not None

    def redact(self, text: str) -> str:
        """`text` with every string naming this person replaced by `[erased]`."""
        return self._pattern.sub(ERASED, text) if self.named_in(text) else text


def name_words(names: Iterable[str]) -> list[str]:
    """The words of names that are names themselves: capitalised, two letters or more (so
    "de" and "la" of "de la Cruz" are not redacted wherever they stand)."""
    return [w for n in names for w in n.split() if len(w) >= 2 and w[0].isupper()]


def display_names(raw: bytes, address: str) -> list[str]:
    """The display names a message's address headers give beside `address`."""
    try:
        msg = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
    except Exception:
        return []
    values = [_header_text(v) for h in _ADDRESS_HEADERS for v in msg.get_all(h, [])]
    return [
        n.strip() for n, a in getaddresses(values) if a.strip().lower() == address and n.strip()
    ]


_ADDRESS_HEADERS = ("From", "To", "Cc", "Reply-To", "Sender", "Delivered-To")


def _useful(value: str | None) -> bool:
    return bool(value) and len(str(value).strip()) >= 2 and str(value).strip() != ERASED


def _phone_pattern(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    literal = rf"(?<!\w){re.escape(phone)}(?!\w)"
    if len(digits) < _MIN_PHONE_DIGITS:
        return literal
    spaced = r"[\s().\-/]*".join(digits)
    return rf"{literal}|(?<!\d){spaced}(?!\d)"


def redact_json(value: Any, person: Person) -> Any:
    """A JSON value with every string (and key) naming `person` redacted."""
    if isinstance(value, str):
        return person.redact(value)
    if isinstance(value, list):
        return [redact_json(v, person) for v in value]
    if isinstance(value, dict):
        return {person.redact(k): redact_json(v, person) for k, v in value.items()}
    return value


def json_names(value: Any, person: Person) -> bool:
    """Whether any string of a JSON value names `person`."""
    if isinstance(value, str):
        return person.named_in(value)
    if isinstance(value, list):
        return any(json_names(v, person) for v in value)
    if isinstance(value, dict):
        return any(person.named_in(k) or json_names(v, person) for k, v in value.items())
    return False


# Raw mail. The bytes are read as Latin-1, which maps each byte to one character and back,
# so a literal pass leaves every other byte as it was; encoded parts and headers are decoded
# to be read, and encoded again when redacted.


def mail_text(raw: bytes) -> str:
    """Everything a message says, as text: its bytes, and its encoded headers and parts
    decoded (a name in base64 or quoted-printable is found too)."""
    texts = [raw.decode("utf-8", "replace")]
    try:
        msg = BytesParser(policy=policy.compat32).parsebytes(raw)
        for part in msg.walk():
            texts += [_header_text(v) for v in part.values()]
            if not part.is_multipart():
                texts.append(_payload_text(part))
    except Exception:  # a message too broken to parse is read as bytes alone
        pass
    return "\n".join(texts)


def redact_raw(raw: bytes, person: Person) -> bytes:
    """The message with every string naming `person` redacted; b"" when a trace of them
    would remain (a part that cannot be read and rewritten)."""
    try:
        out = _redact_mime(raw, person)
    except Exception:  # unparseable: the literal pass alone, then the check below
        out = raw
    out = _literal(out, person)
    return b"" if person.named_in(mail_text(out)) else out


def _literal(raw: bytes, person: Person) -> bytes:
    # Once as UTF-8 (most mail), once as Latin-1 (a name in a single-byte charset); bytes
    # that are neither come back as they were.
    text = person.redact(raw.decode("utf-8", "surrogateescape"))
    raw = text.encode("utf-8", "surrogateescape")
    return person.redact(raw.decode("latin-1")).encode("latin-1")


def raw_carries(raw: bytes, person: Person) -> bool:
    """Whether a message holds `person`'s address, as it is or in an encoded part or header.

    Quick, for scanning every stored message: quoted-printable is undone over the whole
    message, and each run of base64 lines and each encoded word is decoded, without parsing
    the message's structure."""
    return any(person.carried_by(view) for view in _views(raw))


_BASE64_RUN = re.compile(rb"(?:^[A-Za-z0-9+/]{8,}={0,2}\r?$\n?)+", re.MULTILINE)
_ENCODED_WORD = re.compile(rb"=\?[^?\s]+\?[bB]\?([A-Za-z0-9+/=]+)\?=")


def _views(raw: bytes) -> Iterator[str]:
    yield raw.decode("latin-1")
    lowered = raw.lower()
    if b"quoted-printable" in lowered or b"=?" in lowered:
        yield binascii.a2b_qp(raw, header=True).decode("utf-8", "replace")
    if b"base64" in lowered or b"=?" in lowered:
        runs = _BASE64_RUN.findall(raw) + _ENCODED_WORD.findall(raw)
        for run in runs:
            with contextlib.suppress(binascii.Error, ValueError):
                yield binascii.a2b_base64(run).decode("utf-8", "replace")


def _redact_mime(raw: bytes, person: Person) -> bytes:
    """Rewrite what the literal pass cannot see: encoded headers and parts, and attachments
    we cannot read; the rest is left byte for byte to the literal pass."""
    msg = BytesParser(policy=policy.compat32).parsebytes(raw)
    changed = False
    for part in msg.walk():
        changed |= _redact_headers(part, person)
        if part.is_multipart() or not named_part(part, person):
            continue
        if part.get_content_maintype() not in ("text", "message"):
            part.set_payload("")  # an attachment we cannot read goes with the names
            changed = True
        elif _encoding(part) in ("base64", "quoted-printable"):
            _rewrite_text(part, person)
            changed = True
    return msg.as_bytes(policy=policy.compat32) if changed else raw


def named_part(part: Message, person: Person) -> bool:
    """Whether a leaf part names `person`, or is one we cannot read in a message that does."""
    if part.get_content_maintype() in ("text", "message"):
        return person.named_in(_payload_text(part))
    return bool(part.get_payload())


def _redact_headers(part: Message, person: Person) -> bool:
    changed = False
    for name, value in list(part.items()):
        if "=?" in str(value) and person.named_in(_header_text(value)):
            part.replace_header(name, person.redact(_header_text(value)))
            changed = True
    return changed


def _encoding(part: Message) -> str:
    return str(part.get("Content-Transfer-Encoding", "")).strip().lower()


def _header_text(value: Any) -> str:
    try:
        return str(make_header(decode_header(str(value))))
    except Exception:
        return str(value)


def _payload_text(part: Message) -> str:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return str(part.get_payload())
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, "replace")
    except LookupError:
        return data.decode("utf-8", "replace")


def _rewrite_text(part: Message, person: Person) -> None:
    charset = part.get_content_charset() or "utf-8"
    try:
        "".encode(charset)
    except LookupError:
        charset = "utf-8"
    data = person.redact(_payload_text(part)).encode(charset, "replace")
    if _encoding(part) == "base64":
        part.set_payload(base64.encodebytes(data).decode("ascii"))
    else:
        part.set_payload(quopri.encodestring(data).decode("ascii"))
