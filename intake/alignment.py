"""Relaxed DMARC alignment: whether two domains share an organisational domain, one label
below the public suffix (pure)."""

from __future__ import annotations

from functools import lru_cache

import idna
import tldextract


def aligned(domain: str, from_domain: str) -> bool:
    """Return whether two domains share an organisational domain (relaxed DMARC alignment)."""
    org = _organisational(domain)
    return org is not None and org == _organisational(from_domain)


@lru_cache(maxsize=1)
def _extractor() -> tldextract.TLDExtract:
    # The bundled public suffix snapshot only, private suffixes included: tenants of
    # github.io or herokuapp.com are different organisations.
    return tldextract.TLDExtract(
        suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
    )


def ascii_domain(domain: str) -> str | None:
    """Return a lower-case A-label domain, or None when it is not a host name."""
    name = domain.strip().lower().removesuffix(".")
    try:
        name = idna.encode(name, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return None
    labels = name.split(".")
    if len(labels) < 2 or "" in labels or labels[-1].isdigit():
        return None  # a bare label, an empty label or an IP address
    return name


@lru_cache(maxsize=4096)
def _organisational(domain: str) -> str | None:
    """Return the organisational domain: one label below the public suffix."""
    name = ascii_domain(domain)
    if name is None:
        return None
    parts = _extractor()(name)
    if parts.suffix:
        return f"{parts.domain}.{parts.suffix}" if parts.domain else None
    # No listed suffix (.example, .test, an internal TLD): the PSL default rule "*" applies.
    return ".".join(name.split(".")[-2:])
