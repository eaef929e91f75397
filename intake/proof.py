"""Decide whether an email's sender is proven: DKIM verified here, else our server's word.

A message is proven when one of its DKIM signatures verifies, covers the whole body and the
From header, and its `d=` domain is aligned with the From domain (relaxed DMARC alignment:
the same organisational domain under the public suffix list, `intake.alignment`). Failing
that, when a trusted authserv-id is configured, the receiving server's Authentication-Results
(RFC 8601) may vouch with `dmarc=pass` for the From domain or `dkim=pass` for an aligned
`header.d`; which header counts is `intake.authserv`'s rule.

SPF never proves a sender: it checks the envelope sender, not the From header people read.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from email.utils import getaddresses
from typing import Any

import dkim
from dkim.canonicalization import CanonicalizationPolicy
from dkim.util import parse_tag_value

from core.config import Settings
from intake import authserv
from intake.alignment import aligned
from intake.dnskeys import KeyLookup, LookupFailed, nameserver
from intake.headers import printable
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
            nameserver(entry)
        if self.dns_timeout_s <= 0:
            raise ValueError("dns_timeout_s must be positive")


def proof_settings(settings: Settings) -> ProofSettings:
    """The sender proof's settings; raises ValueError on a malformed resolver."""
    return _proof_settings(
        settings.intake_trusted_authserv_id,
        tuple(settings.intake_dns_resolvers),
        settings.intake_dns_timeout_s,
    )


@functools.lru_cache(maxsize=8)
def _proof_settings(
    trusted: str | None, resolvers: tuple[str, ...], timeout: float
) -> ProofSettings:
    return ProofSettings(trusted, resolvers, timeout)


def sender_proof(settings: Settings, raw: bytes, sender: str | None) -> Proof:
    """How the sender of `raw` is proven; always proven when the check is turned off."""
    if not settings.intake_require_sender_proof:
        return Proof(True, "off", "sender proof turned off (INTAKE_REQUIRE_SENDER_PROOF)")
    if not sender:
        return Proof(False, "none", "no sender address")
    return prove(raw, sender, proof_settings(settings))


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
    passed, why = authserv.judge(headers, trusted, from_domain)
    if passed:
        return Proof(True, "authserv", _clip(why))
    return _none(f"{verdict}; {why}")


def _none(reason: str) -> Proof:
    return Proof(False, "none", _clip(reason))


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


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
        return "", f"the From header does not hold {printable(expected)}"
    return expected.rpartition("@")[2], ""


# --- DKIM -------------------------------------------------------------------------------


def _prove_dkim(verifier: Any, from_domain: str, settings: ProofSettings) -> Proof | str:
    """Verify the signatures in turn; return a Proof on the first aligned pass, else why not."""
    signatures = [v for k, v in verifier.headers if k.lower() == b"dkim-signature"]
    if not signatures:
        return "no DKIM signature"
    lookup = KeyLookup(settings.dns_resolvers, settings.dns_timeout_s)
    reasons: dict[str, int] = {}
    for idx, value in enumerate(signatures[:MAX_SIGNATURES]):
        domain, why = _check_one(verifier, idx, value, from_domain, lookup)
        if not why:
            return Proof(True, "dkim", f"dkim pass d={printable(domain)} aligned")
        reason = f"d={printable(domain) or '?'}: {why}"
        reasons[reason] = reasons.get(reason, 0) + 1
    # Say each reason once: a sender can repeat one bad signature to crowd out the rest.
    said = [r if n == 1 else f"{r} (x{n})" for r, n in reasons.items()]
    if len(signatures) > MAX_SIGNATURES:
        said.append(f"{len(signatures) - MAX_SIGNATURES} more not checked")
    return "no aligned DKIM signature (" + ", ".join(said) + ")"


def _check_one(
    verifier: Any, idx: int, value: bytes, from_domain: str, lookup: KeyLookup
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
    except LookupFailed as exc:
        return domain, str(exc)
    except dkim.DKIMException as exc:
        log.debug("DKIM signature %d refused: %s", idx, exc)
        # dkimpy's messages end in hash dumps: keep the words before them.
        return domain, f"invalid signature ({printable(str(exc).split(' (')[0])})"
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
