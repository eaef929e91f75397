"""DKIM fixtures: a loopback DNS server for key records, throwaway keys and a signer.

Fixtures (import them into a conftest, or list this module in `pytest_plugins`):
- `dkim_keys` (session): `DkimKeys` with `rsa` (the key `sign` uses by default) and `spare`
  (another RSA pair, for "the key in DNS is not the signing key"). Each is a `DkimKey` with
  `private_pem` (PEM bytes, as dkimpy takes them) and `txt` (the DNS record text). There is no
  ed25519 key: dkimpy needs PyNaCl for those, and it is not installed.
- `dns_server`: a fresh `DnsServer` on 127.0.0.1 for one test. `publish(domain, selector)`
  serves a key record, `address` is "127.0.0.1:PORT" for the `intake_dns_resolvers` setting,
  and `settings()` builds a `ProofSettings` pointing at it.

`sign(raw, domain)` prepends a DKIM-Signature made with the session key, and
`silent_resolver()` holds a UDP port where a DNS server would hang.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dkim
import pytest
from dkim.util import get_linesep
from dnslib import QTYPE, RCODE, RR, TXT, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer

from intake.proof import ProofSettings

log = logging.getLogger(__name__)

OPENSSL = "openssl"
KEY_BITS = 2048


@dataclass(frozen=True)
class DkimKey:
    private_pem: bytes
    txt: str  # "v=DKIM1; k=rsa; p=..."


@dataclass(frozen=True)
class DkimKeys:
    rsa: DkimKey
    spare: DkimKey


def generate_rsa_key(bits: int = KEY_BITS) -> DkimKey:
    """Make a throwaway RSA key pair with openssl (what dkimpy's own dknewkey uses)."""
    with tempfile.TemporaryDirectory() as tmp:
        private, public = Path(tmp, "key.pem"), Path(tmp, "pub.pem")
        subprocess.run(
            [OPENSSL, "genrsa", "-out", private, str(bits)], check=True, capture_output=True
        )
        subprocess.run(
            [OPENSSL, "rsa", "-in", private, "-pubout", "-out", public],
            check=True,
            capture_output=True,
        )
        der = "".join(
            line for line in public.read_text().splitlines() if not line.startswith("-----")
        )
        return DkimKey(private.read_bytes(), f"v=DKIM1; k=rsa; p={der}")


@functools.cache
def session_keys() -> DkimKeys:
    """Return this process's key pairs, made on first use."""
    return DkimKeys(generate_rsa_key(), generate_rsa_key())


def sign(
    raw: bytes, domain: str, selector: str = "s1", *, key: DkimKey | None = None, **kw: Any
) -> bytes:
    """Return `raw` with a DKIM-Signature for `domain` prepended (`kw` go to dkim.sign)."""
    private = (key or session_keys().rsa).private_pem
    kw.setdefault("linesep", get_linesep(raw))
    header = dkim.sign(raw, selector.encode(), domain.encode(), private, **kw)
    return bytes(header) + raw


class _Zone(BaseResolver):  # type: ignore[misc]
    """Answer TXT queries from a dict filled at run time; NXDOMAIN for anything else."""

    def __init__(self) -> None:
        self.records: dict[str, str] = {}
        self.failing: set[str] = set()
        self.lock = threading.Lock()

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        with self.lock:
            text, failing = self.records.get(name), name in self.failing
        if failing:
            reply.header.rcode = RCODE.SERVFAIL
        elif text is None:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype in (QTYPE.TXT, QTYPE.ANY):
            # A TXT string holds at most 255 bytes; a 2048-bit key record needs two.
            data = text.encode()
            chunks = [data[i : i + 255] for i in range(0, len(data), 255)]
            reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(chunks), ttl=60))
        return reply


@dataclass
class DnsServer:
    """A UDP DNS server on loopback serving the TXT records a test adds."""

    host: str = "127.0.0.1"
    zone: _Zone = field(default_factory=_Zone)
    _server: Any = None
    _thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server.server_address[1])

    @property
    def address(self) -> str:
        """Return "host:port", the form `intake_dns_resolvers` takes."""
        return f"{self.host}:{self.port}"

    def start(self) -> DnsServer:
        """Bind a free port and serve in a background thread."""
        logger = DNSLogger(log="error", logf=log.warning)
        self._server = DNSServer(self.zone, address=self.host, port=0, logger=logger)
        # A short poll interval makes stop() quick.
        self._thread = threading.Thread(
            target=self._server.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call twice."""
        if self._thread is None:
            return
        self._server.server.shutdown()
        self._server.server.server_close()
        self._thread.join(timeout=5)
        self._thread = None

    def add_txt(self, name: str, text: str) -> None:
        """Serve `text` as the TXT record of `name`."""
        with self.zone.lock:
            self.zone.records[name.rstrip(".").lower()] = text

    def fail(self, name: str) -> None:
        """Answer SERVFAIL for `name`, as a broken authoritative server does."""
        with self.zone.lock:
            self.zone.failing.add(name.rstrip(".").lower())

    def remove(self, name: str) -> None:
        """Stop serving `name`."""
        with self.zone.lock:
            self.zone.records.pop(name.rstrip(".").lower(), None)
            self.zone.failing.discard(name.rstrip(".").lower())

    def publish(self, domain: str, selector: str = "s1", key: DkimKey | None = None) -> str:
        """Serve a DKIM key record at `selector._domainkey.domain` and return that name."""
        name = f"{selector}._domainkey.{domain}"
        self.add_txt(name, (key or session_keys().rsa).txt)
        return name

    def settings(
        self, trusted_authserv_id: str | None = None, timeout: float = 2.0
    ) -> ProofSettings:
        """Return proof settings that look DKIM keys up here."""
        return ProofSettings(trusted_authserv_id, (self.address,), timeout)


@contextlib.contextmanager
def silent_resolver() -> Iterator[str]:
    """Yield "127.0.0.1:PORT" of a bound UDP port that never answers: a hung DNS server."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture(scope="session")
def dkim_keys() -> DkimKeys:
    """Provide the session's throwaway RSA key pairs."""
    return session_keys()


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    """Run a DNS server with an empty zone on a free loopback port for one test."""
    server = DnsServer().start()
    try:
        yield server
    finally:
        server.stop()
