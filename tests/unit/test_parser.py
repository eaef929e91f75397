"""The email form parser: the fixture corpus and each label rule."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from intake import readahead
from intake.headers import decode_words
from intake.messages import header, load, message_key, sender_address
from intake.parser import parse_form, parse_message

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "email"
EXPECTED = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))["messages"]
OWN = {"deals@dealreg.localhost"}


def test_corpus_has_every_file_and_at_least_thirty():
    assert sorted(EXPECTED) == sorted(p.name for p in CORPUS.glob("*.eml"))
    assert len(EXPECTED) >= 30


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_message_parses_as_expected(name):
    expected = EXPECTED[name]
    raw = (CORPUS / name).read_bytes()
    result = parse_message(raw, own_addresses=OWN)
    assert result.classification.kind == expected["kind"], result.classification.reason
    if "status" in expected:
        assert result.status == expected["status"]
    if "fields" in expected:
        assert result.fields == expected["fields"]
    if "reason" in expected:
        assert result.reason == expected["reason"]
    if "unknown_labels" in expected:
        assert result.unknown_labels == expected["unknown_labels"]
    msg = load(raw)
    if "sender" in expected:
        assert sender_address(msg) == expected["sender"]
    # A message's identity survives the line endings it is stored with.
    crlf = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    assert message_key(msg, raw) == message_key(load(crlf), crlf)
    assert message_key(msg, raw).startswith("sha256:")


def _form(*lines: str) -> dict[str, str]:
    return parse_form("\n".join(lines)).fields


def test_second_contact_phone_without_sections_is_end_user_phone():
    fields = _form("Contact Phone: 111", "Contact Phone: 222")
    assert fields == {"contact_phone": "111", "end_user_phone": "222"}


def test_contact_phone_under_end_user_section_is_end_user_phone():
    assert _form("End User", "Contact Phone: 222") == {"end_user_phone": "222"}


def test_company_name_in_partner_section_is_ignored():
    fields = _form(
        "== Partner ==", "Company Name: Northwind IT", "== Company ==", "Company Name: Acme"
    )
    assert fields == {"company_name": "Acme"}


def test_second_company_name_without_sections_is_the_partners_and_ignored():
    assert _form("Company Name: Acme", "Company Name: Northwind IT") == {"company_name": "Acme"}


def test_partner_contact_email_is_ignored_but_end_user_contact_email_is_kept():
    fields = _form(
        "Partner", "Contact Email: ann@n.example", "End User", "Contact Email: j@a.example"
    )
    assert fields == {"end_user_email": "j@a.example"}


def test_contact_name_under_end_user_is_split_into_first_and_last():
    fields = _form("End User", "Contact Name: José María Müller")
    assert fields == {"end_user_first_name": "José María", "end_user_last_name": "Müller"}


@pytest.mark.parametrize(
    "line",
    [
        "Zip Code: X1",
        "Postcode: X1",
        "Post Code - X1",
        "ZIP\tX1",
        "zip code / postcode:   X1",
        "* Postcode *: X1",
        "- **Postcode:** X1",
        "| Postcode | X1 |",
        "Postcode      X1",
        "POSTCODE (optional): X1",
    ],
)
def test_labels_match_loosely_whatever_the_separator_and_markers(line):
    assert _form(line) == {"postcode": "X1"}


@pytest.mark.parametrize(
    ("label", "name"),
    [
        ("State", "state"),
        ("County", "state"),
        ("Province", "state"),
        ("Region", "state"),
        ("What Problems Will Mimecast Solve", "problems_to_solve"),
        ("What problems will it solve?", "problems_to_solve"),
        ("What problems would Acme Security solve", "problems_to_solve"),
        ("WebEx or Meeting", "meeting_date"),
        ("Meeting Date", "meeting_date"),
        ("Partner Sales Lead (Optional)", "partner_sales_lead_name"),
        ("Partner Sales Lead Email (Optional)", "partner_sales_lead_email"),
        ("Number of Users", "number_of_users"),
        ("Users", "number_of_users"),
        ("Seats", "number_of_users"),
        ("Projected Value", "projected_value"),
        ("Deal Value", "projected_value"),
        ("Contact Role", "end_user_role"),
        ("Role", "end_user_role"),
        ("Email", "end_user_email"),
        ("E-mail", "end_user_email"),
        ("Domain", "domain"),
        ("Website", "domain"),
        ("end_user_position", "end_user_position"),
    ],
)
def test_label_variants_map_to_field_names(label, name):
    assert _form(f"{label}: v") == {name: "v"}


def test_section_headings_may_be_decorated():
    form = parse_form("# Company\n**Partner**\n== End User ==\nOPPORTUNITY DETAILS:\n")
    assert form.sections_seen == ["company", "partner", "end_user", "opportunity"]


def test_multi_line_value_is_joined_with_newlines():
    fields = _form("What Problems Will It Solve:", "Spam.", "Phishing.", "Migrating To: None")
    assert fields["problems_to_solve"] == "Spam.\nPhishing."


def test_paragraph_after_blank_line_joins_free_text_only_when_a_label_follows():
    assert _form("Problems: a", "", "b", "Product: p")["problems_to_solve"] == "a\n\nb"
    assert _form("Problems: a", "", "Thanks for your help", "Ann") == {"problems_to_solve": "a"}


def test_blank_line_ends_a_short_field():
    assert _form("Product: Email Archive", "", "Ann Lee") == {"product": "Email Archive"}


def test_unknown_labels_are_reported():
    form = parse_form("Product: p\nCompetitor: Proofpoint\nhttps://example.com\n")
    assert form.fields == {"product": "p"}
    assert form.unknown_labels == ["competitor"]


def test_quoted_reply_below_a_new_form_is_not_read():
    text = "Users: 20\n\nOn Mon, 1 Jan 2027, Ann wrote:\n> Users: 10\n> Product: p\n"
    assert _form(text) == {"number_of_users": "20"}


def test_form_only_in_quoted_text_is_read():
    assert _form("Please register.", "", "> Users: 10", "> Product: p") == {
        "number_of_users": "10",
        "product": "p",
    }


def test_signature_is_not_read_as_fields():
    assert _form("Product: p", "-- ", "Ann", "Email: ann@northwind.example") == {"product": "p"}


def test_inline_forwarded_form_is_read():
    text = "FYI\n\n-----Original Message-----\nFrom: Sam\nSent: Monday\n\nProduct: p\nUsers: 5\n"
    assert _form(text) == {"product": "p", "number_of_users": "5"}


def test_outlook_mailto_suffix_is_dropped_from_values():
    assert _form("Email: j@a.example<mailto:j@a.example>") == {"end_user_email": "j@a.example"}


def test_repeated_label_keeps_the_first_value():
    assert _form("Product: a", "Product: b") == {"product": "a"}


def test_message_without_form_is_answered_with_the_blank_form():
    raw = b"From: ann@northwind.example\nSubject: hello\n\nJust saying hi.\n"
    result = parse_message(raw, own_addresses=set())
    assert result.status == "invalid"
    assert result.reason == "no_form"
    assert result.classification.kind == "form_request"
    assert result.fields == {}
    assert result.errors and result.errors[0]["field"] is None


@pytest.mark.parametrize(
    "body",
    [
        "Call me back?\n\nRegards,\nAnn\nE-mail: ann@northwind.example\n",
        "Priority: URGENT\nThe portal is down.\n",
        "Web: www.northwind.example\nNews of the week.\n",
        "Fill your details:\nAddress: ....\nCountry: ....\nEmail: a@b.example\n",
        "Product: partner portal\nPriority: high\nIt is down.\n",
    ],
)
def test_stray_labels_are_no_form_and_get_the_blank_form(body):
    raw = f"From: ann@northwind.example\nSubject: hello\n\n{body}".encode()
    result = parse_message(raw, own_addresses=set())
    assert (result.status, result.classification.kind) == ("invalid", "form_request")
    assert result.fields == {}


@pytest.mark.parametrize(
    "body",
    [
        "Company Name: Acme\nDomain: acme.example\n",
        "Company Name: Acme\nProduct: Email Archive\nNumber of Users: 20\n",
        "Company Name: Acme\nDomain:\nProduct:\nClose Date:\n",
    ],
)
def test_enough_of_the_form_is_a_registration_even_with_blanks(body):
    raw = f"From: ann@northwind.example\nSubject: New deal\n\n{body}".encode()
    result = parse_message(raw, own_addresses=set())
    assert (result.status, result.classification.kind) == ("ok", "registration")
    assert result.fields["company_name"] == "Acme"


def test_values_left_as_dots_or_underscores_are_blank():
    assert _form("Company Name: ......", "Domain: ____", "Product: [ ]") == {}


def test_a_form_below_a_stray_label_is_still_found():
    text = "Priority: URGENT\n\n> Company Name: Acme\n> Domain: acme.example\n"
    assert _form(text) == {"company_name": "Acme", "domain": "acme.example"}


def test_auto_reply_is_ignored_even_with_a_form_in_it():
    raw = b"From: ann@northwind.example\nAuto-Submitted: auto-replied\n\nProduct: p\n"
    result = parse_message(raw, own_addresses=set())
    assert (result.status, result.fields) == ("ignored", {})


def _timed(fn):
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def _fastest(fn, runs=3):
    """The result of `fn` and its fastest time of `runs`: the least disturbed by load."""
    times = []
    for _ in range(runs):
        result, elapsed = _timed(fn)
        times.append(elapsed)
    return result, min(times)


# Reading grows linearly with the message: ten times the bytes may take ten times as long,
# with room for noise, never the hundred times a quadratic step would. A ratio measured in
# one run, not a fixed time, so a slow or busy machine does not fail it.
MAX_GROWTH = 30


def test_a_one_megabyte_encoded_subject_is_read_in_linear_time():
    word = b" =?utf-8?q?Die_hei=C3=9Fe_Zypernsonne_qu=C3=A4lte_Max?=\n"

    def message(size):
        raw = b"From: ann@northwind.example\nSubject:" + word * (size // len(word))
        return raw + b"\n\nCompany Name: Acme\nDomain: acme.example\n"

    small, large = message(100_000), message(1_000_000)
    _, base = _fastest(lambda: readahead.read(small, headers_only=False, own_addresses=OWN))
    read, elapsed = _fastest(lambda: readahead.read(large, headers_only=False, own_addresses=OWN))
    assert read.subject.startswith("Die heiße Zypernsonne quälte Max")
    assert read.parsed is not None and read.parsed.status == "ok"
    assert elapsed < MAX_GROWTH * base + 0.05, f"{elapsed:.3f} s against {base:.3f} s"


@pytest.mark.parametrize("shape", ["text", "html", "parts", "header lines"])
def test_a_ten_megabyte_message_is_read_in_linear_time(shape):
    small, large = _message_of(shape, 1_000_000), _message_of(shape, 10_000_000)
    _, base = _fastest(lambda: parse_message(small, own_addresses=OWN))
    result, elapsed = _fastest(lambda: parse_message(large, own_addresses=OWN), runs=1)
    assert result.status in ("ok", "invalid")
    assert elapsed < MAX_GROWTH * base + 0.05, f"{shape}: {elapsed:.2f} s against {base:.3f} s"


def _message_of(shape: str, size: int) -> bytes:
    head = b"From: ann@northwind.example\nSubject: New deal\n"
    if shape == "text":
        return head + b"\nCompany Name: Acme\n" + b"Lorem ipsum dolor sit amet.\n" * (size // 28)
    if shape == "html":
        row = b"<tr><td>Users</td><td>20</td></tr>\n"
        return head + b"Content-Type: text/html\n\n<table>" + row * (size // len(row))
    if shape == "parts":
        part = b"--b\nContent-Type: text/plain\n\nhello\n"
        body = part * (size // len(part)) + b"--b--\n"
        return head + b'Content-Type: multipart/mixed; boundary="b"\n\n' + body
    line = b"X-Filler: a header line that repeats\n"
    return head + line * (size // len(line)) + b"\nCompany Name: Acme\n"


def test_long_encoded_words_decode_like_short_ones():
    short = "Subject: =?utf-8?q?R=C3=A9ponse?= =?utf-8?b?YXV0b21hdGlxdWU=?= ok\n\nx"
    assert header(load(short.encode()), "Subject") == "Réponseautomatique ok"
    assert decode_words("=?utf-8?q?R=C3=A9?= =?utf-8?q?ponse?= x") == "Réponse x"
    assert decode_words("=?utf-8?b?w6k?=") == "é"  # missing padding
    assert decode_words("a =?x-bogus?q?=C3=A9?= b") == "a é b"  # unknown charset: UTF-8
