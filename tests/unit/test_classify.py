"""Classifying inbound mail: what must never be answered, and whom to trust."""

from __future__ import annotations

import pytest

from intake.classify import classify
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


def test_message_key_tells_apart_messages_that_share_a_message_id():
    first = b"Message-ID: <same@x>\nFrom: a@bluefin.example\n\nx"
    rival = b"Message-ID: <same@x>\nFrom: b@kestrel.example\n\nx"
    edited = b"Message-ID: <same@x>\nFrom: a@bluefin.example\n\ny"
    keys = {message_key(load(raw), raw) for raw in (first, rival, edited)}
    assert len(keys) == 3
    assert all(k.startswith("sha256:") for k in keys)


def test_message_key_is_the_same_for_one_message_delivered_by_two_routes():
    body = b"Message-ID: <m@x>\nFrom: a@bluefin.example\n\nx"
    one = b"Received: from a by b;\n\tMon, 1 Jan 2027\nReturn-Path: <a@bluefin.example>\n" + body
    two = b"Delivered-To: deals@v.example\nReceived: from c by d; Tue\n" + body
    assert message_key(load(one), one) == message_key(load(two), two)
    assert message_key(load(one), one) == message_key(load(body), body)


def test_reply_headers_thread_onto_the_message():
    raw = b"Message-ID: <b@h>\nReferences: <a@h>\n\nx"
    assert reply_headers(load(raw)) == ("<b@h>", "<a@h> <b@h>")
    assert reply_headers(load(b"Subject: x\n\nx")) == (None, None)
