"""Finding and redacting one person in text, JSON and raw mail (core/redact.py)."""

from __future__ import annotations

import base64
import json
from email.message import EmailMessage

from core.redact import (
    ERASED,
    Person,
    display_names,
    json_names,
    mail_text,
    name_words,
    raw_carries,
    redact_json,
    redact_raw,
)

JO = Person("jo.bloggs@example.co.uk").with_terms(
    ["Jo", "Bloggs", "Jo Bloggs", "Head of IT"], ["020 7946 0123"]
)


def _mail(body: str, *, to: str = "Jo Bloggs <jo.bloggs@example.co.uk>") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Ann Lee <ann@northwind.example>"
    msg["To"] = to
    msg["Subject"] = "Registration for Example Holdings"
    msg["Message-ID"] = "<reg-1@northwind.example>"
    msg.set_content(body)
    return msg


def test_the_address_matches_whatever_its_case_and_never_inside_a_longer_one() -> None:
    assert JO.carried_by("write to JO.Bloggs@Example.CO.UK today")
    assert JO.carried_by("<jo.bloggs@example.co.uk>.")
    assert not JO.carried_by("mojo.bloggs@example.co.uk")
    assert not JO.carried_by("jo.bloggs@example.co.uk.evil.example")
    assert not JO.carried_by("jo.bloggs@example.co")


def test_names_match_as_whole_words_and_phones_by_their_digits() -> None:
    text = "Jo Bloggs (Head of IT), call 020-7946-0123 or +44 (0)20 7946 0123. Join Joanna."
    redacted = JO.redact(text)
    assert redacted == f"{ERASED} ({ERASED}), call {ERASED} or +44 ({ERASED}. Join Joanna."
    assert not JO.named_in(redacted)


def test_a_name_in_html_escaped_form_is_found() -> None:
    person = Person("pat@example.com").with_terms(["O'Brien"])
    assert person.redact("<p>Pat O&#x27;Brien</p>") == f"<p>Pat {ERASED}</p>"


def test_blank_short_and_already_erased_values_are_no_terms() -> None:
    person = Person("a@b.example").with_terms(["", " ", "J", ERASED], ["12"])
    assert person.names == frozenset() and person.phones == frozenset({"12"})
    assert person.redact("J 12 x") == f"J {ERASED} x"


def test_name_words_keep_capitalised_words_of_two_letters_or_more() -> None:
    assert name_words(["Maria de la Cruz", "Jo Li"]) == ["Maria", "Cruz", "Jo", "Li"]


def test_json_is_redacted_value_by_value_and_keys_too() -> None:
    details = {"registration": {"end_user_email": "jo.bloggs@example.co.uk", "users": 250}}
    details["changes"] = {"Jo Bloggs": ["Bloggs", "Smith"]}  # type: ignore[assignment]
    out = redact_json(details, JO)
    assert out == {
        "registration": {"end_user_email": ERASED, "users": 250},
        "changes": {ERASED: [ERASED, "Smith"]},
    }
    assert json_names(details, JO) and not json_names(out, JO)


def test_plain_mail_is_redacted_in_headers_and_body_and_stays_a_message() -> None:
    raw = bytes(_mail("Contact Last Name: Bloggs\nEmail: jo.bloggs@example.co.uk\n"))
    out = redact_raw(raw, JO)
    assert b"Bloggs" not in out and b"jo.bloggs" not in out
    assert b"ann@northwind.example" in out and b"Message-ID: <reg-1@northwind.example>" in out
    assert f"Contact Last Name: {ERASED}".encode() in out


def test_encoded_parts_and_headers_are_decoded_redacted_and_encoded_again() -> None:
    msg = _mail("Kontakt: Jö Bloggs, jo.bloggs@example.co.uk " + "ü" * 80, to="x@y.example")
    msg["Cc"] = "=?utf-8?b?Sm8gQmxvZ2dz?= <jo.bloggs@example.co.uk>"  # "Jo Bloggs"
    msg.add_alternative("<p>Jo Bloggs</p>" + "é" * 100, subtype="html", cte="base64")
    raw = bytes(msg)
    assert raw_carries(raw, JO) and JO.named_in(mail_text(raw))
    out = redact_raw(raw, JO)
    assert out and not JO.named_in(mail_text(out)) and not raw_carries(out, JO)
    assert "ü" * 80 in mail_text(out) and "é" * 100 in mail_text(out)


def test_an_attachment_we_cannot_read_goes_with_the_names() -> None:
    msg = _mail("Jo Bloggs's CV attached")
    msg.add_attachment(b"%PDF-1.4 ...", maintype="application", subtype="pdf", filename="cv.pdf")
    out = redact_raw(bytes(msg), JO)
    assert b"%PDF" not in out and b"cv.pdf" in out


def test_mail_that_cannot_be_parsed_is_redacted_as_bytes() -> None:
    raw = b"\xff\xfe garbage From: jo.bloggs@example.co.uk \x00 Bloggs\r\n"
    out = redact_raw(raw, JO)
    assert b"jo.bloggs" not in out and b"Bloggs" not in out and out.startswith(b"\xff\xfe")


def test_a_name_in_a_single_byte_charset_is_found_and_redacted() -> None:
    person = Person("m@example.de").with_terms(["Müller"])
    raw = (
        b"From: m@example.de\r\nContent-Type: text/plain; charset=latin-1\r\n\r\nHerr M\xfcller\r\n"
    )
    out = redact_raw(raw, person)
    assert b"M\xfcller" not in out and b"m@example.de" not in out


def test_display_names_beside_the_address_are_found_decoded() -> None:
    msg = _mail("hi", to="=?utf-8?q?J=C3=B6_Bloggs?= <JO.BLOGGS@example.co.uk>, other@x.example")
    assert display_names(bytes(msg), "jo.bloggs@example.co.uk") == ["Jö Bloggs"]


def test_a_slack_payload_stays_json_when_redacted_value_by_value() -> None:
    body = json.dumps({"text": "Jo Bloggs registered", "blocks": [{"text": "Bloggs"}]})
    out = redact_json(json.loads(body), JO)
    assert out == {"text": f"{ERASED} registered", "blocks": [{"text": ERASED}]}


def test_the_quick_scan_finds_the_address_in_base64_quoted_printable_and_encoded_words() -> None:
    b64 = _mail("Email: jo.bloggs@example.co.uk ü", to="x@y.example")
    b64.set_content("Email: jo.bloggs@example.co.uk ü", cte="base64")
    qp = _mail("x" * 60 + " jo.bloggs@example.co.uk é", to="x@y.example")
    qp.set_content("x" * 60 + " jo.bloggs@example.co.uk é", cte="quoted-printable")
    word = b"To: =?utf-8?b?" + base64.b64encode(b"<jo.bloggs@example.co.uk>") + b"?=\r\n\r\nhi"
    for raw in (bytes(b64), bytes(qp), word):
        assert b"jo.bloggs@example.co.uk" not in raw
        assert raw_carries(raw, JO)
    assert not raw_carries(bytes(_mail("hello", to="x@y.example")), JO)
