"""Classifying inbound mail: what must never be answered, and whom to trust."""

from __future__ import annotations

import pytest

from intake.classify import authenticated, classify
from intake.messages import load, message_key, reply_headers, return_path, sender_address

OWN = {"deals@dealreg.localhost"}
FORM = "Company Name: Acme\nProduct: Email Archive\n"


def _kind(headers: str, body: str = FORM) -> str:
    raw = ("From: Ann Lee <ann@northwind.example>\n" + headers + "\n" + body).encode()
    return classify(load(raw), own_addresses=OWN).kind


def test_plain_form_from_a_person_is_a_registration():
    assert _kind("Subject: New deal\n") == "registration"


@pytest.mark.parametrize(
    "headers",
    [
        "Auto-Submitted: auto-replied\n",
        "Auto-Submitted: auto-generated\n",
        "X-Autoreply: yes\n",
        "X-Autorespond: Out of office\n",
        "X-Auto-Response-Suppress: All\n",
        "X-Auto-Response-Suppress: DR, OOF, AutoReply\n",
        "Precedence: auto_reply\n",
        "Subject: Automatic reply: Deal DR-000001\n",
        "Subject: Out of Office: back Monday\n",
        "Return-Path: <>\n",
    ],
)
def test_auto_replies_are_recognised(headers):
    assert _kind(headers) == "auto_reply"


def test_auto_submitted_no_is_a_person():
    assert _kind("Auto-Submitted: no\n") == "registration"


@pytest.mark.parametrize(
    "headers",
    [
        "Content-Type: multipart/report; report-type=delivery-status; boundary=x\n",
        "Subject: Undeliverable: Deal DR-000001\n",
        "Subject: Delivery Status Notification (Failure)\n",
    ],
)
def test_bounces_are_recognised(headers):
    assert _kind(headers) == "bounce"


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@mx.example", "postmaster@northwind.example"])
def test_mail_from_daemons_is_a_bounce(sender):
    raw = f"From: {sender}\nSubject: hello\n\n{FORM}".encode()
    assert classify(load(raw), own_addresses=OWN).kind == "bounce"


@pytest.mark.parametrize(
    "headers",
    [
        "Precedence: bulk\n",
        "Precedence: list\n",
        "Precedence: junk\n",
        "List-Id: <partners.lists.example>\n",
        "List-Unsubscribe: <mailto:leave@lists.example>\n",
    ],
)
def test_bulk_and_list_mail_is_recognised(headers):
    assert _kind(headers) == "bulk"


def test_noreply_sender_is_bulk():
    raw = f"From: no-reply@northwind.example\n\n{FORM}".encode()
    assert classify(load(raw), own_addresses=OWN).kind == "bulk"


def test_mail_from_our_own_address_is_own_whatever_the_case():
    raw = f"From: Deal Desk <Deals@DealReg.localhost>\n\n{FORM}".encode()
    assert classify(load(raw), own_addresses=OWN).kind == "own"


@pytest.mark.parametrize(
    "subject", ["help", "Registration form please", "Can you send form?", "Re: template"]
)
def test_subject_asking_for_the_form_without_one_is_a_form_request(subject):
    assert _kind(f"Subject: {subject}\n", "Hi, please send it.\n") == "form_request"


def test_subject_mentioning_the_form_with_a_form_in_the_body_is_a_registration():
    assert _kind("Subject: Registration form\n") == "registration"


def test_sender_address_is_lower_cased_with_an_ascii_domain():
    msg = load("From: =?utf-8?q?J=C3=BCrgen?= <Info@Bücher.de>\n\nx".encode())
    assert sender_address(msg) == "info@xn--bcher-kva.de"


def test_sender_address_is_none_without_from():
    assert sender_address(load(b"Subject: x\n\nbody")) is None


def test_return_path_distinguishes_null_from_absent():
    assert return_path(load(b"Return-Path: <>\n\nx")) == ""
    assert return_path(load(b"Subject: x\n\nx")) is None
    assert return_path(load(b"Return-Path: <Ann@Northwind.example>\n\nx")) == (
        "ann@northwind.example"
    )


def test_message_key_is_the_message_id_else_a_hash_of_the_bytes():
    raw = b"Message-ID:   <abc@host.example> \n\nx"
    assert message_key(load(raw), raw) == "<abc@host.example>"
    raw = b"Subject: x\n\nx"
    assert message_key(load(raw), raw).startswith("sha256:")


def test_reply_headers_thread_onto_the_message():
    raw = b"Message-ID: <b@h>\nReferences: <a@h>\n\nx"
    assert reply_headers(load(raw)) == ("<b@h>", "<a@h> <b@h>")
    assert reply_headers(load(b"Subject: x\n\nx")) == (None, None)


AR_OURS = "Authentication-Results: mx.dealreg.localhost; {}\n"
AR_FORGED = (
    "Authentication-Results: mx.dealreg.localhost; dmarc=pass header.from=northwind.example\n"
)


def _auth(*headers: str) -> bool:
    raw = ("".join(headers) + "From: ann@northwind.example\n\nx").encode()
    return authenticated(load(raw), "mx.dealreg.localhost")


@pytest.mark.parametrize(
    "results",
    [
        "dmarc=pass (p=none) header.from=northwind.example",
        "dkim=pass header.d=northwind.example header.s=s1",
        "dkim=pass header.d=mail.northwind.example",
        "spf=pass smtp.mailfrom=bounces@northwind.example",
    ],
)
def test_aligned_pass_from_our_server_authenticates(results):
    assert _auth(AR_OURS.format(results))


@pytest.mark.parametrize(
    "results",
    [
        "dmarc=fail header.from=northwind.example",
        "dkim=pass header.d=evil.example",
        "spf=pass smtp.mailfrom=x@evil.example",
        "none",
    ],
)
def test_failed_or_unaligned_results_do_not_authenticate(results):
    assert not _auth(AR_OURS.format(results))


def test_only_the_topmost_header_of_our_server_counts():
    assert not _auth(AR_OURS.format("dmarc=fail"), AR_FORGED)


def test_results_from_another_server_are_ignored():
    header = "Authentication-Results: mx.evil.example; dmarc=pass header.from=northwind.example\n"
    assert not _auth(header)
