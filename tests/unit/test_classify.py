"""Classifying inbound mail: what must never be answered, and whom to trust."""

from __future__ import annotations

import pytest

from intake.body import body_text
from intake.classify import Classification, classify
from intake.messages import load, message_key, reply_headers, return_path, sender_address
from intake.parser import is_form, parse_form

OWN = {"deals@dealreg.localhost"}
FORM = "Company Name: Acme\nDomain: acme.example\nProduct: Email Archive\n"
NO_FORM = "Hello, a quick question about the programme.\n"


def _kind(headers: str, body: str = FORM) -> str:
    raw = ("From: Ann Lee <ann@northwind.example>\n" + headers + "\n" + body).encode()
    return _classify(raw).kind


def _classify(raw: bytes) -> Classification:
    """Classify as the parser does: told whether the body holds a form."""
    msg = load(raw)
    return classify(msg, own_addresses=OWN, form_found=is_form(parse_form(body_text(msg))))


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
    assert _classify(raw).kind == "bounce"


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


# What a sending platform stamps on each message marks bulk mail, with a form or without.
SENDING_PLATFORM_STAMPS = [
    "List-Unsubscribe: <mailto:leave@lists.example>\n",
    "List-Unsubscribe-Post: List-Unsubscribe=One-Click\n",
    "Feedback-ID: 1:campaign:esp:123\n",
    "Return-Path: <bounce-md_30112948.55a02731@mandrill.example>\n",
    "Return-Path: <bounces+1137616-c1ad@em123.northwind.example>\n",
    "Return-Path: <bounces-main+x1y2@mail.example>\n",
    "Return-Path: <pm_bounces@pm.mtasv.net>\n",
    "Return-Path: <01000190abcd-1234@amazonses.com>\n",
    "Return-Path: <x7f3@bounce.news.example>\n",
]


@pytest.mark.parametrize("stamp", SENDING_PLATFORM_STAMPS)
def test_a_sending_platform_stamp_marks_bulk_mail_with_or_without_a_form(stamp):
    assert _kind(stamp + "Subject: Spring offers\n", NO_FORM) == "bulk"
    assert _kind(stamp + "Subject: New deal\n") == "bulk"


def test_noreply_sender_is_bulk():
    raw = f"From: no-reply@northwind.example\n\n{FORM}".encode()
    assert _classify(raw).kind == "bulk"


def test_mail_from_our_own_address_is_own_whatever_the_case():
    raw = f"From: Deal Desk <Deals@DealReg.localhost>\n\n{FORM}".encode()
    assert _classify(raw).kind == "own"


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


def test_return_path_without_an_at_sign_is_not_the_null_path():
    assert return_path(load(b"Return-Path: <nsb>\n\nx")) == "nsb"
    assert return_path(load(b"Return-Path: <EMAIL_FROM>\n\nx")) == "email_from"
    assert return_path(load(b"Return-Path: <<>>\n\nx")) == ""
    assert _kind("Return-Path: <nsb>\nSubject: New deal\n") == "registration"


# One sample per class of signal; intake.signals names the standard behind each.
@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        # Reports and receipts wherever their part sits in the MIME tree.
        ("Content-Type: multipart/report; report-type=feedback-report; boundary=x\n", "report"),
        ("Content-Type: multipart/report; report-type=tlsrpt; boundary=x\n", "report"),
        ("TLS-Report-Domain: northwind.example\n", "report"),
        (
            "Content-Type: multipart/report; report-type=disposition-notification; boundary=x\n",
            "auto_reply",
        ),
        ("Content-Type: message/delivery-status\n", "bounce"),
        ("Content-Type: multipart/report; boundary=x\n", "bounce"),
        ("X-Failed-Recipients: jo@fabrikam.example\n", "bounce"),
        ("X-MS-Exchange-Message-Is-Ndr: \n", "registration"),
        ("X-MS-Exchange-Message-Is-Ndr: True\n", "bounce"),
        # Auto-replies by header.
        ("Auto-Submitted: auto-replied (zimbra; vacation)\n", "auto_reply"),
        ('Auto-Submitted: auto-replied; owner-email="a@icloud.example"\n', "auto_reply"),
        ("X-Apple-Action: vacation\n", "auto_reply"),
        ("X-POST-MessageClass: 9; Autoresponder\n", "auto_reply"),
        ("X-Amazon-Auto-Reply: yes\n", "auto_reply"),
        ("X-Mailer: vacation 1.2\n", "auto_reply"),
        ("X-Auto-Response-Suppress: RN, NRN\n", "registration"),
        ("X-Zendesk-From-Account-Id: 68b8aed\n", "auto_reply"),
        ("X-RT-Loop-Prevention: help.example\n", "auto_reply"),
        ("X-OTRS-Loop: yes\n", "auto_reply"),
        ("X-Loop: partners@lists.example\n", "auto_reply"),
        ("X-Bluebottle-Request: <1234>\n", "auto_reply"),
        ("X-Delivery-Agent: TMDA/1.1.12 (Macallan)\n", "auto_reply"),
        # Lists and list managers.
        ("List-Subscribe: <mailto:partners-join@lists.example>\n", "bulk"),
        ("List-Help: <mailto:partners-help@lists.example>\n", "bulk"),
        ("Mailing-List: contact partners-help@lists.example; run by ezmlm\n", "bulk"),
        ("X-MLServer: fml [fml 4.0.3 release]\n", "bulk"),
        ("X-Mailing-List: partners@lists.example\n", "bulk"),
        ("X-Mailman-Version: 2.1.39\n", "bulk"),
        ("Feedback-ID: 1:campaign:esp:123\n", "bulk"),
    ],
)
def test_each_class_of_signal_is_recognised(headers, kind):
    assert _kind(headers) == kind


def test_a_report_part_inside_a_multipart_is_recognised():
    for ctype, kind in [
        ("message/delivery-status", "bounce"),
        ("message/feedback-report", "report"),
        ("message/disposition-notification", "auto_reply"),
    ]:
        raw = (
            "From: Ann Lee <ann@northwind.example>\n"
            'Content-Type: multipart/mixed; boundary="b"\n\n'
            f"--b\nContent-Type: text/plain\n\n{FORM}\n--b\nContent-Type: {ctype}\n\n"
            "Action: failed\n\n--b--\n"
        ).encode()
        assert _classify(raw).kind == kind


def test_a_report_inside_an_attached_message_is_that_message_s_kind_not_this_one_s():
    raw = (
        "From: Ann Lee <ann@northwind.example>\nSubject: FYI\n"
        'Content-Type: multipart/mixed; boundary="b"\n\n'
        f"--b\nContent-Type: text/plain\n\n{FORM}\n--b\nContent-Type: message/rfc822\n\n"
        'From: x@y.example\nContent-Type: multipart/report; boundary="c"\n\n'
        "--c\nContent-Type: message/delivery-status\n\nAction: failed\n\n--c--\n\n--b--\n"
    ).encode()
    assert _classify(raw).kind == "registration"


def test_a_calendar_reply_is_an_auto_reply_but_an_invitation_is_not():
    def kind(method: str) -> str:
        raw = (
            "From: Ann Lee <ann@northwind.example>\nSubject: Partner call\n"
            'Content-Type: multipart/mixed; boundary="b"\n\n'
            f"--b\nContent-Type: text/plain\n\n{FORM}\n--b\n"
            f"Content-Type: text/calendar; method={method}\n\nMETHOD:{method}\n\n--b--\n"
        ).encode()
        return _classify(raw).kind

    assert kind("REPLY") == "auto_reply"
    assert kind("COUNTER") == "auto_reply"
    assert kind("REQUEST") == "registration"


@pytest.mark.parametrize(
    ("sender", "kind"),
    [
        ("post_master@vtext.example", "bounce"),
        ("Mail Delivery Subsystem <MAILER-DAEMON>", "bounce"),
        ("<>", "bounce"),
        ("abuse@163.example", "report"),
        ("staff@hotmail.com", "report"),
        ("noreply-dmarc-support@google.example", "report"),
        ("newsalerts-noreply@news.example", "bulk"),
        ("no_reply@crm.example", "bulk"),
        ("partners-request@lists.example", "bulk"),
        ("owner-partners@lists.example", "bulk"),
        ("staff@northwind.example", "registration"),
        ("norbert@northwind.example", "registration"),
    ],
)
def test_role_and_null_senders_are_recognised(sender, kind):
    raw = f"From: {sender}\nSubject: hello\n\n{FORM}".encode()
    assert _classify(raw).kind == kind


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        ("Sender: partners-bounces@lists.example\n", "bulk"),
        ("Return-Path: <bounce-md_30112948.55a02731@mandrill.example>\n", "bulk"),
        ("Return-Path: <bounces+1137616-c1ad@em123.northwind.example>\n", "bulk"),
        ("Return-Path: <bounces-main+x1y2@mail.example>\n", "bulk"),
        ("Return-Path: <pm_bounces@pm.mtasv.net>\n", "bulk"),
        ("Return-Path: <01000190abcd-1234@amazonses.com>\n", "bulk"),
        ("Return-Path: <x7f3@bounce.news.example>\n", "bulk"),
        ("Return-Path: <postmaster@mx.example>\n", "bounce"),
        ("Return-Path: <prvs=46201db6f9=ann@northwind.example>\n", "registration"),
    ],
)
def test_envelope_and_sender_addresses_of_machines_are_recognised(header, kind):
    assert _kind(header + "Subject: New deal\n") == kind


@pytest.mark.parametrize(
    "subject",
    [
        "Automatic reply: Deal DR-000001",
        "Automatische Antwort: Deal DR-000001",
        "Réponse automatique : Deal DR-000001",
        "Respuesta automática: Deal DR-000001",
        "Risposta automatica: Deal DR-000001",
        "Automatisch antwoord: Deal DR-000001",
        "Automatiskt svar: Deal DR-000001",
        "Automaattinen vastaus: Deal DR-000001",
        "Odpowiedź automatyczna: Deal DR-000001",
        "Automatická odpověď: Deal DR-000001",
        "Automatikus válasz: Deal DR-000001",
        "Αυτόματη απάντηση: Deal DR-000001",
        "Автоматический ответ: Deal DR-000001",
        "自動応答: Deal DR-000001",
        "自动回复: Deal DR-000001",
        "자동 회신: Deal DR-000001",
        "Out of Office AutoReply: Deal DR-000001",
        "AUTO: Ann Lee is out of the office (returning 05/01/2027)",
        "Auto: Deal DR-000001",
        "Re: Out of office",
        "Recall: Deal registration",
        "Return Receipt (displayed) - Deal registration",
    ],
)
def test_auto_reply_subjects_in_the_languages_mail_clients_use_are_recognised(subject):
    assert _kind(f"Subject: {subject}\n") == "auto_reply"


@pytest.mark.parametrize(
    ("subject", "kind"),
    [
        ("Mail delivery failed: returning message to sender", "bounce"),
        ("Delivered: Deal DR-000001", "bounce"),
        ("Unzustellbar: Deal DR-000001", "bounce"),
        ("Warning: could not send message for past 4 hours", "bounce"),
        ("complaint about message from 192.0.2.1", "report"),
        ("Report Domain: northwind.example Submitter: google.com Report-ID: <1>", "report"),
        ("Automobile fleet deal", "registration"),
        ("Delivery of the hardware next week", "registration"),
        ("Recalling our meeting", "registration"),
    ],
)
def test_delivery_notice_and_report_subjects_are_recognised(subject, kind):
    assert _kind(f"Subject: {subject}\n") == kind
