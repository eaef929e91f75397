"""Normalise a typed domain to the prospect's registrable domain (pure, offline)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import idna
from homoglyph import detect

# The library's UTS #39 skeleton: NFD, default-ignorables dropped, each character replaced by
# its prototype from confusables.txt, NFD again. Its public API offers only `detect`.
from homoglyph._skeleton import skeleton as _skeleton
from homoglyph.data import load_ucd

from core.errors import FieldError, Invalid

if TYPE_CHECKING:
    import tldextract

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


@lru_cache(maxsize=1)
def _extractor() -> tldextract.TLDExtract:
    # Imported on first use: tldextract brings `requests` along (a tenth of a second), which
    # a command that never reads a domain should not pay for.
    import tldextract

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


def display_both(ascii_domain: str) -> str:
    """Return the Unicode form of a domain with its punycode beside it when they differ."""
    shown = display_domain(ascii_domain)
    return shown if shown == ascii_domain else f"{shown} ({ascii_domain})"


@functools.lru_cache(maxsize=4096)
def skeleton(ascii_domain: str) -> str:
    """Return the confusable skeleton (Unicode TR39) of a domain, label by label.

    Two domains that look alike to the eye have the same skeleton: `hаrbourlights.co.uk`
    with a Cyrillic а, `rnicrosoft.com` and `microsoft.com`. The skeleton is a key for
    comparing, never a text to show.
    """
    return ".".join(_skeleton(label) for label in display_domain(ascii_domain).split("."))


@dataclass(frozen=True)
class Suspicion:
    """Why the letters of a domain deserve a second look, whatever else is registered."""

    label: str  # the label as people read it
    kind: str  # mixed_scripts | looks_latin | invisible | stacked_marks
    scripts: tuple[str, ...]  # the scripts of its letters, by name


_KINDS = {
    "mixed-script-confusable": "mixed_scripts",
    "mixed-script": "mixed_scripts",
    "whole-script-confusable": "looks_latin",
    "single-script-confusable": "looks_latin",
    "hidden-characters": "invisible",
    "combining-abuse": "stacked_marks",
}


@lru_cache(maxsize=1)
def _script_names() -> dict[str, str]:
    return {s["iso"]: s["name"].replace("_", " ") for s in load_ucd()["scripts"]}


def suspicion(ascii_domain: str) -> Suspicion | None:
    """Return what is odd about a domain's letters (TR39 mixed scripts and the like), if any.

    All-Cyrillic or all-Greek domains are not suspicious in themselves; a label that mixes
    scripts, or whose every letter can be read as a Latin one, is.
    """
    if not any(label.startswith("xn--") for label in ascii_domain.split(".")):
        return None  # plain ASCII letters: nothing to confuse
    for finding in detect(ascii_domain).findings:
        kind = _KINDS.get(str(finding["type"]))
        if kind is not None:
            names = _script_names()
            scripts = tuple(names.get(s, s) for s in finding["scripts"])
            return Suspicion(str(finding["label"]), kind, scripts)
    return None


def describe(found: Suspicion) -> str:
    """Say in words what is odd about a domain, for a reviewer or its registrant."""
    label = found.label
    if found.kind == "mixed_scripts":
        return f"“{label}” mixes {' and '.join(found.scripts)} letters in one label"
    if found.kind == "looks_latin":
        return f"every letter of “{label}” can be mistaken for a plain Latin letter"
    if found.kind == "invisible":
        return f"“{label}” holds invisible characters"
    return f"“{label}” stacks many accents on one letter"
