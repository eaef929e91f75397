"""Normalise a typed domain to the prospect's registrable domain (pure, offline)."""

from __future__ import annotations

import re
from functools import lru_cache

import idna
import tldextract

from core.errors import FieldError, Invalid

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


@lru_cache(maxsize=1)
def _extractor() -> tldextract.TLDExtract:
    # The bundled public suffix snapshot only: never fetch at run time.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def _invalid(message: str) -> Invalid:
    return Invalid([FieldError("domain", message)])


def _host_of(text: str) -> str:
    host = text.strip().strip("<>\"'").strip()
    if "@" in host and not _SCHEME.match(host):
        host = host.rsplit("@", 1)[1]  # an email address pasted as the domain
    host = _SCHEME.sub("", host)
    host = re.split(r"[/?#\s]", host, maxsplit=1)[0]
    host = host.rsplit("@", 1)[-1]  # user:pass@host
    if host.startswith("["):
        raise _invalid("an IP address is not a domain")
    host = host.split(":", 1)[0].rstrip(".")
    return host


def normalise_domain(text: str) -> str:
    """Return the registrable domain (IDNA-encoded, lower-case) of a typed domain or URL."""
    if not text or not text.strip():
        raise _invalid("is required")
    host = _host_of(text)
    if not host:
        raise _invalid(f"{text.strip()!r} has no host name")
    try:
        ascii_host = idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise _invalid(f"{host!r} is not a valid host name ({exc})") from None
    if re.fullmatch(r"[0-9.]+", ascii_host):
        raise _invalid("an IP address is not a domain")
    parts = _extractor()(ascii_host)
    if not parts.suffix:
        raise _invalid(f"{host!r} does not end in a public suffix such as .com or .co.uk")
    if not parts.domain:
        raise _invalid(f"{host!r} is a public suffix, not a company's domain")
    return f"{parts.domain}.{parts.suffix}"


def display_domain(ascii_domain: str) -> str:
    """Return the Unicode form of an IDNA-encoded domain, for people to read."""
    try:
        return idna.decode(ascii_domain)
    except idna.IDNAError:
        return ascii_domain
