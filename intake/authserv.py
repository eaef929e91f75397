"""Our receiving server's word on a sender: its Authentication-Results (RFC 8601).

Which Authentication-Results header counts: only the topmost one in the message, and only
when its authserv-id is the trusted one. Every server prepends its header, so ours is above
anything the sender or a relay before us wrote; a header with our id further down is a
forgery (or a stale copy) and is never reached. If our server writes several headers (one
per milter, say), only the topmost counts: run the DMARC check last so its header is on top.
A hop that adds its own header after our server makes the topmost one foreign, and the
message is not proven: point the trusted id at that last hop instead. ARC-Authentication-Results are
ignored: trusting them would need ARC verification and a list of trusted sealers. This rule
still relies on our server always adding its header or stripping foreign copies of its id
(RFC 8601 section 5), since a message it did not stamp shows the sender's headers on top.
"""

from __future__ import annotations

import logging
from typing import Any

import authres

from intake.alignment import aligned, ascii_domain
from intake.headers import printable

log = logging.getLogger(__name__)


def judge(headers: list[list[bytes]], trusted: str, from_domain: str) -> tuple[bool, str]:
    """Judge the topmost Authentication-Results header: (passed, why)."""
    values = [v for k, v in headers if k.lower() == b"authentication-results"]
    if not values:
        return False, "no trusted Authentication-Results (none present)"
    text = " ".join(values[0].decode("utf-8", "replace").split())
    try:
        parsed = authres.AuthenticationResultsHeader.parse_value(text)
    except Exception as exc:
        log.debug("unparseable Authentication-Results: %r", exc)
        return False, "no trusted Authentication-Results (the topmost cannot be parsed)"
    serv = str(parsed.authserv_id or "").strip().lower()
    if serv != trusted:
        return False, f"no trusted Authentication-Results (the topmost is from {printable(serv)})"
    for result in parsed.results:
        why = _vouches(result, from_domain)
        if why:
            return True, f"Authentication-Results from {serv}: {why}"
    return False, f"Authentication-Results from {serv} do not vouch for {from_domain}"


def _vouches(result: Any, from_domain: str) -> str:
    """Return what a result proves about the From domain, or ""."""
    method = str(result.method or "").lower()
    if str(result.result or "").lower() != "pass":
        return ""
    if method == "dmarc":
        domain = _property(result, "header", "from").rpartition("@")[2]
        if domain and ascii_domain(domain) == from_domain:
            return f"dmarc=pass header.from={from_domain}"
    elif method == "dkim":
        domain = _property(result, "header", "d")
        if domain and aligned(domain, from_domain):
            return f"dkim=pass header.d={printable(domain)} aligned"
    return ""


def _property(result: Any, ptype: str, name: str) -> str:
    """Return the value of a result's `ptype.name` property, or ""."""
    for prop in result.properties or ():
        if str(prop.type).lower() == ptype and str(prop.name).lower() == name:
            return str(prop.value or "").strip().strip('"')
    return ""
