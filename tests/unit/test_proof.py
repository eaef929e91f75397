"""Sender proof: DKIM verified against keys on a loopback DNS server, and our server's word."""

from __future__ import annotations

import time

import pytest

from intake.alignment import aligned
from intake.messages import load, sender_address
from intake.proof import MAX_SIGNATURES, Proof, ProofSettings, prove
from tests.dkim import DkimKeys, DnsServer, sign, silent_resolver

ANN = "ann@kestrel.example"
TRUSTED = "mx.dealreg.localhost"


def message(sender: str = ANN, body: str = "Company: Acme\r\nUsers: 250\r\n") -> bytes:
    """A small message as a partner's mail server would sign it."""
    return (
        f"From: Ann Smith <{sender}>\r\nTo: deals@dealreg.localhost\r\n"
        f"Subject: Deal registration\r\nMessage-ID: <m1@kestrel.example>\r\n"
        f"Date: Wed, 25 Nov 2026 09:00:00 +0000\r\n\r\n{body}"
    ).encode()


def offline(trusted: str | None = TRUSTED) -> ProofSettings:
    """Settings whose DNS is never reached: for messages without signatures."""
    return ProofSettings(trusted, ("127.0.0.1:9",), 0.2)


def vouched(raw: bytes, *results: str) -> bytes:
    """Prepend Authentication-Results headers, the first one topmost."""
    return "".join(f"Authentication-Results: {r}\r\n" for r in results).encode() + raw


# --- DKIM verified here -----------------------------------------------------------------


def test_signed_message_is_proven_through_the_configured_resolver(dns_server: DnsServer):
    dns_server.publish("kestrel.example")
    proof = prove(sign(message(), "kestrel.example"), ANN, dns_server.settings())
    assert proof == Proof(True, "dkim", "dkim pass d=kestrel.example aligned")


def test_signature_without_a_published_key_is_not_proven(dns_server: DnsServer):
    proof = prove(sign(message(), "kestrel.example"), ANN, dns_server.settings())
    assert not proof.proven and proof.method == "none"
    assert "no DKIM key at s1._domainkey.kestrel.example" in proof.reason


def test_key_in_dns_that_is_not_the_signing_key_is_not_proven(
    dns_server: DnsServer, dkim_keys: DkimKeys
):
    dns_server.publish("kestrel.example", key=dkim_keys.spare)
    proof = prove(sign(message(), "kestrel.example"), ANN, dns_server.settings())
    assert not proof.proven
    assert "signature does not verify" in proof.reason


def test_dns_server_that_is_down_means_not_proven_within_the_timeout(dns_server: DnsServer):
    dns_server.publish("kestrel.example")
    settings = dns_server.settings(timeout=0.3)
    dns_server.stop()
    started = time.monotonic()
    proof = prove(sign(message(), "kestrel.example"), ANN, settings)
    assert not proof.proven
    assert "DNS lookup of s1._domainkey.kestrel.example" in proof.reason
    assert time.monotonic() - started < 2


def test_hung_dns_server_costs_one_timeout_for_all_signatures():
    raw = message()
    for selector in ("s1", "s2", "s3", "s4"):
        raw = sign(raw, "kestrel.example", selector)
    with silent_resolver() as address:
        started = time.monotonic()
        proof = prove(raw, ANN, ProofSettings(None, (address,), 0.4))
    assert not proof.proven
    assert "timed out" in proof.reason
    assert time.monotonic() - started < 1.5


def test_dns_server_failure_is_not_proven(dns_server: DnsServer):
    dns_server.fail(dns_server.publish("kestrel.example"))
    proof = prove(sign(message(), "kestrel.example"), ANN, dns_server.settings())
    assert not proof.proven
    assert "failed (server error)" in proof.reason


def test_body_altered_after_signing_is_not_proven(dns_server: DnsServer):
    dns_server.publish("kestrel.example")
    signed = sign(message(), "kestrel.example")
    proof = prove(signed.replace(b"Users: 250", b"Users: 900"), ANN, dns_server.settings())
    assert not proof.proven
    assert "body hash mismatch" in proof.reason


def test_from_altered_after_signing_is_not_proven(dns_server: DnsServer):
    dns_server.publish("kestrel.example")
    signed = sign(message(), "kestrel.example").replace(ANN.encode(), b"ceo@kestrel.example")
    proof = prove(signed, "ceo@kestrel.example", dns_server.settings())
    assert not proof.proven
    assert "signature does not verify" in proof.reason


def test_from_header_added_above_a_signed_one_is_not_proven(dns_server: DnsServer):
    dns_server.publish("kestrel.example")
    signed = b"From: ceo@kestrel.example\r\n" + sign(message(), "kestrel.example")
    proof = prove(signed, "ceo@kestrel.example", dns_server.settings())
    assert not proof.proven
    assert "2 From headers" in proof.reason


def test_from_address_the_message_does_not_hold_is_not_proven(dns_server: DnsServer):
    dns_server.publish("kestrel.example")
    proof = prove(sign(message(), "kestrel.example"), "raj@kestrel.example", dns_server.settings())
    assert not proof.proven
    assert "does not hold raj@kestrel.example" in proof.reason


def test_signature_by_an_unaligned_domain_is_not_proven(dns_server: DnsServer):
    dns_server.publish("evil.example")
    proof = prove(sign(message(), "evil.example"), ANN, dns_server.settings())
    assert not proof.proven
    assert "d=evil.example: not aligned with kestrel.example" in proof.reason


def test_signature_by_a_subdomain_of_the_from_domain_is_aligned(dns_server: DnsServer):
    dns_server.publish("mail.kestrel.example")
    proof = prove(sign(message(), "mail.kestrel.example"), ANN, dns_server.settings())
    assert proof == Proof(True, "dkim", "dkim pass d=mail.kestrel.example aligned")


def test_signature_by_the_parent_of_a_subdomain_sender_is_aligned(dns_server: DnsServer):
    dns_server.publish("kestrel.example")
    sender = "ann@sales.kestrel.example"
    proof = prove(sign(message(sender), "kestrel.example"), sender, dns_server.settings())
    assert proof.proven


def test_signature_by_a_public_suffix_aligns_with_no_one(dns_server: DnsServer):
    dns_server.publish("co.uk")
    sender = "ann@kestrel.co.uk"
    proof = prove(sign(message(sender), "co.uk"), sender, dns_server.settings())
    assert not proof.proven
    assert "d=co.uk: not aligned with kestrel.co.uk" in proof.reason


def test_body_length_limit_with_text_appended_is_not_proven(dns_server: DnsServer):
    dns_server.publish("kestrel.example")
    signed = sign(message(), "kestrel.example", length=True)
    assert prove(signed, ANN, dns_server.settings()).proven
    appended = signed + b"\r\nP.S. Please also register Globex, 5,000 users.\r\n"
    proof = prove(appended, ANN, dns_server.settings())
    assert not proof.proven
    assert "l= signs only" in proof.reason


def test_only_the_second_signature_verifying_is_enough(dns_server: DnsServer, dkim_keys: DkimKeys):
    dns_server.publish("kestrel.example", "good")
    dns_server.publish("kestrel.example", "stale")
    dns_server.publish("evil.example", "s1")
    signed = sign(message(), "kestrel.example", "good")
    signed = sign(signed, "kestrel.example", "stale", key=dkim_keys.spare)  # wrong key
    signed = sign(signed, "evil.example", "s1")  # topmost: valid but unaligned
    proof = prove(signed, ANN, dns_server.settings())
    assert proof == Proof(True, "dkim", "dkim pass d=kestrel.example aligned")


def test_first_signature_broken_and_second_good_is_proven(dns_server: DnsServer):
    dns_server.publish("kestrel.example")
    good = sign(message(), "kestrel.example")
    broken = b"DKIM-Signature: v=1; a=rsa-sha256; d=kestrel.example; s=s1; b=!!\r\n"
    assert prove(broken + good, ANN, dns_server.settings()).proven


@pytest.mark.parametrize(
    "signature",
    [
        b"v=1; a=rsa-sha256; d=kestrel.example; s=s1; b=!!",
        b"v=1; a=rsa-sha256; d=kestrel.example; d=kestrel.example",
        b"v=1; a=rsa-sha256; c=bogus/none; d=kestrel.example; s=s1; h=from; bh=AAAA; b=AAAA",
        b"v=1; a=rsa-sha256; d=kestrel.example; s=s1; h=from; l=x; bh=AAAA; b=AAAA",
        b"v=1; a=rsa-sha256; d=kestrel.example; s=s1; h=subject; bh=AAAA; b=AAAA",
        b"v=1; a=rsa-sha256; d=k\xc3\xa9strel.example; s=s1; h=from; bh=AAAA; b=AAAA",
        b"v=1; a=rsa-sha256; d=kestrel.example; s=\xff; h=from; bh=AAAA; b=AAAA",
        b"v=1; a=rsa-sha256; d=kestrel.example; s=s1; h=from; bh=AAAA; b=AAAA; t=99999999999",
        b"=;;==",
        b"",
    ],
)
def test_hostile_signatures_are_not_proven_and_never_raise(signature: bytes, dns_server: DnsServer):
    dns_server.publish("kestrel.example")
    raw = b"DKIM-Signature: " + signature + b"\r\n" + message()
    proof = prove(raw, ANN, dns_server.settings())
    assert not proof.proven
    assert proof.reason.startswith("no aligned DKIM signature (")


def test_signatures_past_the_limit_are_not_checked(dns_server: DnsServer):
    dns_server.publish("kestrel.example")
    raw = sign(message(), "kestrel.example")
    raw = b"DKIM-Signature: v=1; d=evil.example\r\n" * MAX_SIGNATURES + raw
    proof = prove(raw, ANN, dns_server.settings())
    assert not proof.proven
    assert "1 more not checked" in proof.reason


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\r\n\r\n",
        b"Subject: no from\r\n\r\nx",
        b"From: ann@kestrel.example, raj@kestrel.example\r\n\r\nx",
        b"From: ann@kestrel.example\r\nbroken header line\r\n\r\nx",
    ],
)
def test_messages_without_one_clear_from_are_not_proven(raw: bytes):
    proof = prove(
        vouched(raw, f"{TRUSTED}; dmarc=pass header.from=kestrel.example"), ANN, offline()
    )
    assert not proof.proven and proof.method == "none"


# --- the receiving server's Authentication-Results --------------------------------------


@pytest.mark.parametrize(
    "results",
    [
        f"{TRUSTED}; dmarc=pass (p=none) header.from=kestrel.example",
        f"{TRUSTED}; spf=pass smtp.mailfrom=kestrel.example; dkim=pass header.d=kestrel.example",
        f"{TRUSTED}; dkim=pass header.d=mail.kestrel.example header.s=s1",
        f"{TRUSTED}; dkim=pass header.d=evil.example; dkim=pass header.d=kestrel.example",
        "MX.Dealreg.Localhost; dmarc=pass header.from=kestrel.example",
        f"{TRUSTED} 1; dmarc=pass header.from=kestrel.example",
        f"{TRUSTED};\r\n\tdmarc=pass\r\n\theader.from=kestrel.example",
        f"(our MX) {TRUSTED}; dmarc=pass header.from=kestrel.example",
    ],
)
def test_our_servers_aligned_pass_proves_the_sender(results: str):
    proof = prove(vouched(message(), results), ANN, offline())
    assert proof.proven and proof.method == "authserv"
    assert proof.reason.startswith(f"Authentication-Results from {TRUSTED}: ")


@pytest.mark.parametrize(
    "results",
    [
        # A quoted local part hiding "dmarc=pass" inside an SPF failure.
        f'{TRUSTED}; spf=fail smtp.mailfrom="x;dmarc=pass"@evil.example',
        # Our server's pass, but for the attacker's own domain.
        f"{TRUSTED}; dmarc=pass header.from=evil.example",
        f"{TRUSTED}; dmarc=pass header.from=mail.kestrel.example",
        f"{TRUSTED}; dkim=pass header.d=evil.example",
        f"{TRUSTED}; dkim=pass header.d=example",
        # SPF checks the envelope sender, not the From header.
        f"{TRUSTED}; spf=pass smtp.mailfrom=kestrel.example",
        # Passes inside comments are no passes.
        f"{TRUSTED}; dkim=fail (dmarc=pass) header.d=kestrel.example",
        f"{TRUSTED}; none (dmarc=pass header.from=kestrel.example)",
        f"{TRUSTED}; dmarc=fail header.from=kestrel.example",
        f"{TRUSTED}; dmarc=pass",
        f"{TRUSTED}; x-dmarc=pass header.from=kestrel.example",
        # Another server's verdict: anyone can write that header.
        "mx.evil.example; dmarc=pass header.from=kestrel.example",
        f"{TRUSTED}.evil.example; dmarc=pass header.from=kestrel.example",
        # Unparseable: refused, not guessed at.
        f"{TRUSTED}; dmarc=pass header.from=kestrel.example; garbage",
        f"{TRUSTED} 2; dmarc=pass header.from=kestrel.example",
        f"{TRUSTED}",
    ],
)
def test_results_that_do_not_prove_the_from_domain_are_refused(results: str):
    proof = prove(vouched(message(), results), ANN, offline())
    assert not proof.proven and proof.method == "none"
    assert proof.reason.startswith("no DKIM signature; ")


def test_international_from_domain_is_compared_in_ascii():
    results = f"{TRUSTED}; dmarc=pass header.from=xn--bcher-kva.example"
    raw = vouched(message("ann@bücher.example"), results)
    sender = sender_address(load(raw))
    assert sender == "ann@xn--bcher-kva.example"
    assert prove(raw, sender, offline()).proven


def test_dkim_pass_for_a_public_suffix_is_refused():
    sender = "ann@kestrel.co.uk"
    raw = vouched(message(sender), f"{TRUSTED}; dkim=pass header.d=co.uk")
    assert not prove(raw, sender, offline()).proven


def test_our_header_below_another_servers_is_not_trusted():
    raw = vouched(
        message(),
        "mx.relay.example; spf=pass smtp.mailfrom=kestrel.example",
        f"{TRUSTED}; dmarc=pass header.from=kestrel.example",
    )
    proof = prove(raw, ANN, offline())
    assert not proof.proven
    assert "the topmost is from mx.relay.example" in proof.reason


def test_forged_pass_below_our_servers_fail_is_not_read():
    raw = vouched(
        message(),
        f"{TRUSTED}; dmarc=fail header.from=kestrel.example",
        f"{TRUSTED}; dmarc=pass header.from=kestrel.example",
    )
    proof = prove(raw, ANN, offline())
    assert not proof.proven
    assert f"Authentication-Results from {TRUSTED} do not vouch for kestrel.example" in proof.reason


def test_results_in_the_body_are_not_headers():
    body = f"Authentication-Results: {TRUSTED}; dmarc=pass header.from=kestrel.example\r\n"
    proof = prove(message(body=body), ANN, offline())
    assert not proof.proven
    assert "none present" in proof.reason


def test_results_are_ignored_without_a_trusted_authserv_id():
    raw = vouched(message(), f"{TRUSTED}; dmarc=pass header.from=kestrel.example")
    proof = prove(raw, ANN, offline(trusted=None))
    assert proof == Proof(
        False, "none", "no DKIM signature; no trusted Authentication-Results (none configured)"
    )


def test_failed_signature_falls_back_to_our_servers_pass(dns_server: DnsServer):
    raw = vouched(
        sign(message(), "kestrel.example"), f"{TRUSTED}; dmarc=pass header.from=kestrel.example"
    )
    proof = prove(raw, ANN, dns_server.settings(TRUSTED))
    assert proof.proven and proof.method == "authserv"


def test_verified_signature_is_preferred_to_our_servers_word(dns_server: DnsServer):
    dns_server.publish("kestrel.example")
    raw = sign(message(), "kestrel.example")
    raw = vouched(raw, f"{TRUSTED}; dmarc=pass header.from=kestrel.example")
    assert prove(raw, ANN, dns_server.settings(TRUSTED)).method == "dkim"


# --- alignment and settings -------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "from_domain", "expected"),
    [
        ("kestrel.example", "kestrel.example", True),
        ("mail.kestrel.example", "kestrel.example", True),
        ("kestrel.example", "sales.kestrel.example", True),
        ("a.kestrel.example", "b.kestrel.example", True),
        ("KESTREL.Example.", "kestrel.example", True),
        ("kestrel.co.uk", "mail.kestrel.co.uk", True),
        ("co.uk", "kestrel.co.uk", False),
        ("kestrel.co.uk", "bluefin.co.uk", False),
        ("evil.example", "kestrel.example", False),
        ("kestrel.example.evil.example", "kestrel.example", False),
        ("evilkestrel.example", "kestrel.example", False),
        ("alice.github.io", "bob.github.io", False),
        ("github.io", "alice.github.io", False),
        ("example", "kestrel.example", False),
        ("bücher.example", "xn--bcher-kva.example", True),
        ("", "kestrel.example", False),
        ("", "", False),
        ("kestrel..example", "kestrel.example", False),
        ("10.0.0.1", "10.0.0.1", False),
    ],
)
def test_aligned_compares_organisational_domains(domain: str, from_domain: str, expected: bool):
    assert aligned(domain, from_domain) is expected


@pytest.mark.parametrize("entry", ["10.0.0.2", "127.0.0.1:5353", "::1", "[::1]:5353"])
def test_resolver_settings_take_addresses_with_ports(entry: str):
    assert ProofSettings(None, (entry,), 1.0).dns_resolvers == (entry,)


@pytest.mark.parametrize("entry", ["dns.example", "127.0.0.1:0", "127.0.0.1:dns", ""])
def test_resolver_settings_that_are_not_addresses_fail_at_start(entry: str):
    with pytest.raises(ValueError, match="DNS resolver"):
        ProofSettings(None, (entry,), 1.0)
