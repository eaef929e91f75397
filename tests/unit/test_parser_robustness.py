"""No bytes make email intake raise: CPython's odd-message corpus and random input."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.body import body_text
from intake.messages import (
    load,
    message_key,
    reply_headers,
    return_path,
    sender_address,
)
from intake.parser import parse_form, parse_message
from intake.proof import ProofSettings, prove
from intake.readahead import read

OWN = {"deals@dealreg.localhost"}
# Nothing answers on the discard port: a key lookup gives up within 0.2 s, and stays offline.
PROOF = ProofSettings("mx.dealreg.localhost", ("127.0.0.1:9",), 0.2)


def _cpython_corpus() -> list[Path]:
    """Find CPython's email test messages in this install or Debian's test suite package."""
    for base in (
        Path(sysconfig.get_paths()["stdlib"]) / "test" / "test_email" / "data",
        Path("/usr/lib/python3.11/test/test_email/data"),
    ):
        found = sorted(base.glob("msg_*.txt"))
        if found:
            return found
    return []


CPYTHON = _cpython_corpus()


def _exercise(raw: bytes) -> None:
    """Run every public entry point of intake over raw bytes."""
    result = parse_message(raw, own_addresses=OWN)
    assert result.status in ("ok", "invalid", "ignored")
    assert all(isinstance(v, str) for v in result.fields.values())
    msg = load(raw)
    assert message_key(msg, raw)
    sender_address(msg)
    return_path(msg)
    reply_headers(msg)
    assert isinstance(body_text(msg), str)
    assert isinstance(body_text(msg, prefer="text/html"), str)
    for headers_only in (False, True):  # as the intake reads it, whole or too large
        read(raw, headers_only=headers_only, own_addresses=frozenset(OWN))
    assert not prove(raw, sender_address(msg) or "a@b.example", PROOF).proven


@pytest.mark.skipif(not CPYTHON, reason="CPython's test_email data is not installed here")
@pytest.mark.parametrize("path", CPYTHON, ids=lambda p: p.name)
def test_cpython_email_corpus_never_raises(path):
    _exercise(path.read_bytes())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_random_bytes_never_raise(raw):
    _exercise(raw)


HEADER_NAMES = st.sampled_from(
    [
        "From",
        "To",
        "Subject",
        "Message-ID",
        "Return-Path",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Content-Disposition",
        "Auto-Submitted",
        "Precedence",
        "List-Id",
        "X-Auto-Response-Suppress",
        "Authentication-Results",
        "References",
        "MIME-Version",
    ]
)
HEADER_VALUES = st.one_of(
    st.text(max_size=120),
    st.sampled_from(
        [
            "multipart/mixed; boundary=",
            'multipart/alternative; boundary="b"',
            "multipart/report; boundary=b",
            "text/plain; charset=x-bogus",
            "text/html; charset=utf-16",
            "text/plain; charset=utf-7",
            "message/rfc822",
            "base64",
            "quoted-printable",
            "=?utf-8?b?!!!?=",
            "=?x-unknown?q?=FF=FE?=",
            "<>",
            "<@>",
            "a@b@c",
            '"unterminated <x@y',
            "mx.dealreg.localhost; dkim=pass header.d=",
        ]
    ),
)
BODY_CHUNKS = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300),
    st.sampled_from(
        [
            "--b\r\nContent-Type: text/plain\r\n\r\nProduct: p\r\n",
            "--b--\r\n",
            "--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: x\r\n",
            "> Company Name: Acme\n",
            "-----Original Message-----\n",
            "Company Name: " + "A" * 50_000 + "\n",
            "x" * 100_000,
            "<table><tr><td>Users</td><td>" * 200,
            "=\r\n=4=ZZ",
            "PGRpdj5Qcm9kdWN0OiBwPC9kaXY+",
        ]
    ),
)


@st.composite
def messages(draw):
    """Build a message from random headers and a random mixture of body chunks."""
    lines = [
        f"{draw(HEADER_NAMES)}: {draw(HEADER_VALUES)}"
        for _ in range(draw(st.integers(min_value=0, max_value=12)))
    ]
    head = "\r\n".join(lines).encode("utf-8", "surrogatepass")
    parts = [
        c if isinstance(c, bytes) else c.encode("utf-8", "surrogatepass")
        for c in draw(st.lists(BODY_CHUNKS, max_size=6))
    ]
    return head + b"\r\n\r\n" + b"".join(parts)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages())
def test_random_header_and_body_mixtures_never_raise(raw):
    _exercise(raw)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=3000))
def test_parse_form_never_raises_on_any_text(text):
    form = parse_form(text)
    assert all(isinstance(v, str) and v for v in form.fields.values())


def test_huge_single_line_is_handled():
    raw = b"From: ann@northwind.example\n\nProduct: " + b"x" * 2_000_000 + b"\n"
    assert parse_message(raw, own_addresses=OWN).status in ("ok", "invalid")
