"""Decide whether an email's sender is proven: DKIM verified here, else our server's word.

A message is proven when one of its DKIM signatures verifies, covers the whole body and the
From header, and its `d=` domain is aligned with the From domain (relaxed DMARC alignment:
the same organisational domain under the public suffix list). Failing that, when a trusted
authserv-id is configured, the receiving server's Authentication-Results (RFC 8601) may
vouch with `dmarc=pass` for the From domain or `dkim=pass` for an aligned `header.d`.

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

SPF never proves a sender: it checks the envelope sender, not the From header people read.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from dataclasses import dataclass
from email.utils import getaddresses
from functools import lru_cache
from typing import Any

import authres
import dkim
import dns.exception
import dns.nameserver
import dns.resolver
import idna
import tldextract
from dkim.canonicalization import CanonicalizationPolicy
from dkim.util import parse_tag_value
from dns.rdtypes.ANY.TXT import TXT

from intake.messages import decode_bytes, normalise_address

log = logging.getLogger(__name__)

# Each signature may cost a DNS lookup of a domain the sender chose: check only so many.
MAX_SIGNATURES = 8
_MAX_REASON = 400


@dataclass(frozen=True)
class Proof:
    proven: bool
    method: str  # "dkim" | "authserv" | "none"
    reason: str


@dataclass(frozen=True)
class ProofSettings:
    trusted_authserv_id: str | None
    dns_resolvers: tuple[str, ...]  # "host" or "host:port"; empty = system resolver
    dns_timeout_s: float  # for all the key lookups of one message together

    def __post_init__(self) -> None:
        # A mistyped resolver fails at start, not as "not proven" on every message.
        for entry in self.dns_resolvers:
            _nameserver(entry)
        if self.dns_timeout_s <= 0:
            raise ValueError("dns_timeout_s must be positive")


class _LookupFailed(Exception):
    """A DKIM key could not be fetched: DNS down, timed out, or no such record."""


def prove(raw: bytes, from_address: str, settings: ProofSettings) -> Proof:
    """Say whether the sender `from_address` of `raw` is proven; never raise."""
    try:
        # One parse for every check, so the From we align is the From that was signed.
        verifier = dkim.DKIM(raw, logger=_DKIM_LOG, timeout=settings.dns_timeout_s)
    except Exception as exc:
        log.debug("unparseable header block: %r", exc)
        return _none("the header block cannot be parsed")
    headers: list[list[bytes]] = verifier.headers
    from_domain, problem = _from_domain(headers, from_address)
    if problem:
        return _none(problem)
    verdict = _prove_dkim(verifier, from_domain, settings)
    if isinstance(verdict, Proof):
        return verdict
    trusted = (settings.trusted_authserv_id or "").strip().lower()
    if not trusted:
        return _none(f"{verdict}; no trusted Authentication-Results (none configured)")
    passed, why = _authserv(headers, trusted, from_domain)
    if passed:
        return Proof(True, "authserv", _clip(why))
    return _none(f"{verdict}; {why}")


def aligned(domain: str, from_domain: str) -> bool:
    """Return whether two domains share an organisational domain (relaxed DMARC alignment)."""
    org = _organisational(domain)
    return org is not None and org == _organisational(from_domain)


def _none(reason: str) -> Proof:
    return Proof(False, "none", _clip(reason))


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


def _short(value: bytes | str) -> str:
    """Render a sender-chosen value for a reason: printable and short."""
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    text = "".join(ch if ch.isprintable() else "?" for ch in text.strip())
    return text if len(text) <= 80 else text[:79] + "…"


# --- the From header --------------------------------------------------------------------


def _from_domain(headers: list[list[bytes]], from_address: str) -> tuple[str, str]:
    """Return the From domain, or a problem when the header is not exactly `from_address`."""
    expected = normalise_address(from_address or "")
    if not expected:
        return "", "no From address"
    values = [v for k, v in headers if k.lower() == b"from"]
    if len(values) != 1:
        # Two From headers let a verifier and a reader each see a different one.
        return "", f"the message has {len(values)} From headers"
    text = " ".join(decode_bytes(values[0], "utf-8").split())  # as the caller's parser does
    found = [normalise_address(a) for _, a in getaddresses([text]) if a]
    if len(found) > 1:
        return "", f"the From header names {len(found)} addresses"
    if found != [expected]:
        # Our parser and the one the caller used disagree: trust neither.
        return "", f"the From header does not hold {_short(expected)}"
    return expected.rpartition("@")[2], ""


# --- DKIM -------------------------------------------------------------------------------


def _prove_dkim(verifier: Any, from_domain: str, settings: ProofSettings) -> Proof | str:
    """Verify the signatures in turn; return a Proof on the first aligned pass, else why not."""
    signatures = [v for k, v in verifier.headers if k.lower() == b"dkim-signature"]
    if not signatures:
        return "no DKIM signature"
    lookup = _Lookup(settings)
    reasons: dict[str, int] = {}
    for idx, value in enumerate(signatures[:MAX_SIGNATURES]):
        domain, why = _check_one(verifier, idx, value, from_domain, lookup)
        if not why:
            return Proof(True, "dkim", f"dkim pass d={_short(domain)} aligned")
        reason = f"d={_short(domain) or '?'}: {why}"
        reasons[reason] = reasons.get(reason, 0) + 1
    # Say each reason once: a sender can repeat one bad signature to crowd out the rest.
    said = [r if n == 1 else f"{r} (x{n})" for r, n in reasons.items()]
    if len(signatures) > MAX_SIGNATURES:
        said.append(f"{len(signatures) - MAX_SIGNATURES} more not checked")
    return "no aligned DKIM signature (" + ", ".join(said) + ")"


def _check_one(
    verifier: Any, idx: int, value: bytes, from_domain: str, lookup: _Lookup
) -> tuple[str, str]:
    """Return the signature's domain and "" when it proves the sender, else the reason."""
    try:
        tags = parse_tag_value(value)
        domain = tags.get(b"d", b"").decode("ascii").strip().lower()
    except Exception:
        return "", "unparseable signature"
    refusal = _refusal(tags, verifier.body, domain, from_domain)
    if refusal:
        return domain, refusal
    try:
        verified = verifier.verify(idx=idx, dnsfunc=lookup)
    except _LookupFailed as exc:
        return domain, str(exc)
    except dkim.DKIMException as exc:
        log.debug("DKIM signature %d refused: %s", idx, exc)
        # dkimpy's messages end in hash dumps: keep the words before them.
        return domain, f"invalid signature ({_short(str(exc).split(' (')[0])})"
    except Exception as exc:
        # Hostile MIME can trip dkimpy in ways it does not name; one bad signature is no bug.
        log.debug("DKIM signature %d raised", idx, exc_info=exc)
        return domain, "unverifiable signature"
    return domain, "" if verified else "signature does not verify"


def _refusal(tags: dict[bytes, bytes], body: bytes, domain: str, from_domain: str) -> str:
    """Return why a signature cannot prove the sender whatever DNS says, or ""."""
    if not domain or not aligned(domain, from_domain):
        return f"not aligned with {from_domain}"
    signed = [h.strip().lower() for h in tags.get(b"h", b"").split(b":")]
    if b"from" not in signed:
        return "the From header is not signed"  # RFC 6376 6.1.1: ignore such signatures
    if b"l" in tags:
        # l= lets anyone append text below the signed part, and the appended part is the lie.
        try:
            policy = CanonicalizationPolicy.from_c_value(tags.get(b"c", b"simple/simple"))
            whole = len(policy.canonicalize_body(body))
            covered = int(tags[b"l"])
        except Exception:
            return "unreadable l= or c= tag"
        if covered < whole:
            return f"l= signs only {covered} of {whole} body bytes"
    return ""


class _DebugOnly(logging.LoggerAdapter[logging.Logger]):
    """Route dkimpy's messages to debug: on hostile input its errors are expected."""

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        super().log(logging.DEBUG, msg, *args, **kwargs)


_DKIM_LOG = _DebugOnly(logging.getLogger(__name__ + ".dkimpy"))


# --- DNS --------------------------------------------------------------------------------


class _Lookup:
    """Fetch DKIM key records through our resolvers, within one deadline per message."""

    def __init__(self, settings: ProofSettings) -> None:
        self._servers = settings.dns_resolvers
        # Signatures are sender-chosen: all their lookups share one message's time budget.
        self._deadline = time.monotonic() + settings.dns_timeout_s

    def __call__(self, name: bytes, timeout: float = 0) -> bytes:
        """Return the TXT record at `name` (dkimpy's dnsfunc); raise _LookupFailed."""
        # dkimpy's `timeout` is per lookup; the message's deadline is the one that holds.
        text = name.decode("ascii", "replace").rstrip(".")
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise _LookupFailed(f"DNS lookup of {_short(text)} skipped (time budget spent)")
        try:
            answer = self._resolver(left).resolve(text, "TXT", search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            raise _LookupFailed(f"no DKIM key at {_short(text)}") from None
        except dns.exception.Timeout:
            raise _LookupFailed(f"DNS lookup of {_short(text)} timed out") from None
        except dns.resolver.NoNameservers:
            raise _LookupFailed(f"DNS lookup of {_short(text)} failed (server error)") from None
        except dns.exception.DNSException as exc:
            raise _LookupFailed(f"DNS lookup of {_short(text)} failed ({_kind(exc)})") from None
        for rdata in answer.rrset or ():
            if isinstance(rdata, TXT):
                return b"".join(rdata.strings)
        raise _LookupFailed(f"no DKIM key at {_short(text)}")

    def _resolver(self, lifetime: float) -> dns.resolver.Resolver:
        """Build a resolver for our servers, or the system's when none are set."""
        try:
            resolver = dns.resolver.Resolver(configure=not self._servers)
        except dns.exception.DNSException as exc:
            raise _LookupFailed(f"no system DNS resolver ({_kind(exc)})") from None
        if self._servers:
            resolver.nameservers = [_nameserver(s) for s in self._servers]
        resolver.timeout = resolver.lifetime = lifetime
        return resolver


def _kind(exc: Exception) -> str:
    return type(exc).__name__


def _nameserver(entry: str) -> dns.nameserver.Do53Nameserver:
    """Parse "host", "host:port", "[v6]:port" or a bare IPv6 address; raise ValueError."""
    text, port = entry.strip(), "53"
    if text.startswith("[") and "]" in text:
        text, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or port
    elif text.count(":") == 1:
        text, port = text.split(":")
    try:
        address = str(ipaddress.ip_address(text))
        number = int(port)
    except ValueError:
        raise ValueError(f"DNS resolver {entry!r} is not an IP address or IP:port") from None
    if not 0 < number < 65536:
        raise ValueError(f"DNS resolver {entry!r} has an invalid port")
    return dns.nameserver.Do53Nameserver(address, number)


# --- Authentication-Results -------------------------------------------------------------


def _authserv(headers: list[list[bytes]], trusted: str, from_domain: str) -> tuple[bool, str]:
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
        return False, f"no trusted Authentication-Results (the topmost is from {_short(serv)})"
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
        if domain and _ascii_domain(domain) == from_domain:
            return f"dmarc=pass header.from={from_domain}"
    elif method == "dkim":
        domain = _property(result, "header", "d")
        if domain and aligned(domain, from_domain):
            return f"dkim=pass header.d={_short(domain)} aligned"
    return ""


def _property(result: Any, ptype: str, name: str) -> str:
    """Return the value of a result's `ptype.name` property, or ""."""
    for prop in result.properties or ():
        if str(prop.type).lower() == ptype and str(prop.name).lower() == name:
            return str(prop.value or "").strip().strip('"')
    return ""


# --- organisational domains -------------------------------------------------------------


@lru_cache(maxsize=1)
def _extractor() -> tldextract.TLDExtract:
    # The bundled public suffix snapshot only, private suffixes included: tenants of
    # github.io or herokuapp.com are different organisations.
    return tldextract.TLDExtract(
        suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
    )


def _ascii_domain(domain: str) -> str | None:
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
    name = _ascii_domain(domain)
    if name is None:
        return None
    parts = _extractor()(name)
    if parts.suffix:
        return f"{parts.domain}.{parts.suffix}" if parts.domain else None
    # No listed suffix (.example, .test, an internal TLD): the PSL default rule "*" applies.
    return ".".join(name.split(".")[-2:])
