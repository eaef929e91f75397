"""DKIM keys from DNS: our resolvers (as configured, checked at start), and the lookups of one
message within one time budget."""

from __future__ import annotations

import ipaddress
import time

import dns.exception
import dns.nameserver
import dns.resolver
from dns.rdtypes.ANY.TXT import TXT

from intake.headers import printable


class LookupFailed(Exception):
    """A DKIM key could not be fetched: DNS down, timed out, or no such record."""


class KeyLookup:
    """Fetch DKIM key records through our resolvers, within one deadline per message."""

    def __init__(self, servers: tuple[str, ...], timeout_s: float) -> None:
        self._servers = servers  # "host" or "host:port"; none: the system's resolver
        # Signatures are sender-chosen: all their lookups share one message's time budget.
        self._deadline = time.monotonic() + timeout_s

    def __call__(self, name: bytes, timeout: float = 0) -> bytes:
        """Return the TXT record at `name` (dkimpy's dnsfunc); raise LookupFailed."""
        # dkimpy's `timeout` is per lookup; the message's deadline is the one that holds.
        text = name.decode("ascii", "replace").rstrip(".")
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise LookupFailed(f"DNS lookup of {printable(text)} skipped (time budget spent)")
        try:
            answer = self._resolver(left).resolve(text, "TXT", search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            raise LookupFailed(f"no DKIM key at {printable(text)}") from None
        except dns.exception.Timeout:
            raise LookupFailed(f"DNS lookup of {printable(text)} timed out") from None
        except dns.resolver.NoNameservers:
            raise LookupFailed(f"DNS lookup of {printable(text)} failed (server error)") from None
        except dns.exception.DNSException as exc:
            raise LookupFailed(f"DNS lookup of {printable(text)} failed ({_kind(exc)})") from None
        for rdata in answer.rrset or ():
            if isinstance(rdata, TXT):
                return b"".join(rdata.strings)
        raise LookupFailed(f"no DKIM key at {printable(text)}")

    def _resolver(self, lifetime: float) -> dns.resolver.Resolver:
        """Build a resolver for our servers, or the system's when none are set."""
        try:
            resolver = dns.resolver.Resolver(configure=not self._servers)
        except dns.exception.DNSException as exc:
            raise LookupFailed(f"no system DNS resolver ({_kind(exc)})") from None
        if self._servers:
            resolver.nameservers = [nameserver(s) for s in self._servers]
        resolver.timeout = resolver.lifetime = lifetime
        return resolver


def _kind(exc: Exception) -> str:
    return type(exc).__name__


def nameserver(entry: str) -> dns.nameserver.Do53Nameserver:
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
