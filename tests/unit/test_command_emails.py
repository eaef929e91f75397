"""Every next step in our emails is a command by email: a mailto link in the HTML whose
subject `intake.commands` reads back as that step, and the same command spelled in the text."""

from __future__ import annotations

from html import escape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from core import emails
from core.models import Deal, Quote
from core.protection import DomainCheck, check
from intake.commands import Command, read_command
from tests.unit.test_emails import HOSTILE, NOW, context_for, make_deal

INTAKE = "deals@vendor.example"
DEAL = "DR-000123"
PO = "4500012345"
VERBS = ("start_order", "submit_order", "quote", "extend", "status", "deals", "check")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def mailto_subjects(html: str) -> list[str]:
    """The subjects of the HTML's mailto links, each addressed to the intake mailbox."""
    parser = _Links()
    parser.feed(html)
    subjects = []
    for href in parser.hrefs:
        parts = urlsplit(href)
        assert parts.scheme == "mailto", href
        assert unquote(parts.path) == INTAKE, href
        subjects.append(parse_qs(parts.query, keep_blank_values=True)["subject"][0])
    return subjects


def as_sent(subject: str) -> str:
    """The subject as the partner sends it: the PO link waits for the PO number."""
    return subject + PO if subject.endswith(" PO ") else subject


def spelled(subject: str) -> str:
    """The command as the text part spells it."""
    return f'"{subject}<number>"' if subject.endswith(" PO ") else f'"{subject}"'


def commands_in(html: str) -> list[Command]:
    """The commands the HTML's links send, each read as intake reads a message's subject."""
    commands = []
    for subject in mailto_subjects(html):
        command = read_command(as_sent(subject), "")
        assert command is not None, subject
        commands.append(command)
    return commands


def render(name: str, deal: Deal, quote: Quote, **more: Any) -> emails.Rendered:
    ctx = {**context_for(name, deal, quote), "intake_address": INTAKE, **more}
    return emails.render(name, ctx)


def command_email(command: str, **more: Any) -> emails.Rendered:
    ctx = {"vendor_name": "Mimecast", "intake_address": INTAKE, "command": command, **more}
    return emails.render("intake_command", ctx)


@pytest.mark.parametrize(
    ("name", "stage", "verbs"),
    [
        (
            "deal_approved",
            "approved",
            {"start_order", "submit_order", "extend", "amend", "withdraw"},
        ),
        ("order_started", "order_started", {"submit_order"}),
        ("expiry_reminder", "approved", {"start_order", "extend"}),
        ("extension_granted", "approved", {"start_order"}),
        ("extension_declined", "approved", {"start_order"}),
        ("registration_received", "opportunity", {"status", "amend", "withdraw"}),
        ("deal_returned", "opportunity", {"status", "amend", "withdraw"}),
    ],
)
def test_each_next_step_links_the_command_for_its_deal_and_spells_it_in_the_text(
    name: str, stage: str, verbs: set[str]
) -> None:
    deal, quote = make_deal(stage=stage)

    out = render(name, deal, quote)

    commands = commands_in(out.html)
    assert {c.verb for c in commands} == verbs
    assert all(c.deal == DEAL for c in commands)
    assert all(c.po_number == PO for c in commands if c.verb == "submit_order")
    for subject in mailto_subjects(out.html):
        assert spelled(subject) in out.text
    assert INTAKE in out.text


@pytest.mark.parametrize(
    ("name", "slack"),
    [
        ("deal_approved", "/deal advance DR-000123"),
        ("deal_approved", "/deal extend DR-000123"),
        ("order_started", "/deal advance DR-000123"),
        ("expiry_reminder", "/deal advance DR-000123"),
        ("expiry_reminder", "/deal extend DR-000123"),
        ("extension_granted", "/deal advance DR-000123"),
        ("extension_declined", "/deal advance DR-000123"),
        ("deal_returned", "/deal show DR-000123"),
    ],
)
def test_the_slack_command_stays_beside_the_email_command(name: str, slack: str) -> None:
    deal, quote = make_deal()

    out = render(name, deal, quote)

    assert slack in out.text and f"<code>{slack}</code>" in out.html


def test_the_po_link_leaves_the_number_for_the_partner_to_type() -> None:
    deal, quote = make_deal(stage="order_started")

    out = render("order_started", deal, quote)

    [subject] = mailto_subjects(out.html)
    assert subject == f"submit order {DEAL} PO "
    assert read_command(subject, "") is None  # sent as it is, it submits nothing
    assert read_command(subject + PO, "") == Command(
        "submit_order", deal=DEAL, mentioned=DEAL, po_number=PO, in_subject=True
    )
    assert f'"submit order {DEAL} PO <number>"' in out.text
    assert "PO &lt;number&gt;" in out.html


def test_the_returned_registration_still_asks_for_a_reply_and_adds_status() -> None:
    deal, quote = make_deal(stage="opportunity")

    out = render("deal_returned", deal, quote)

    assert "Reply to this email with your answer" in out.text
    assert "<strong>Reply to this email</strong> with your answer" in out.html
    assert f'"status {DEAL}"' in out.text


def test_the_help_keeps_the_form_and_lists_every_command() -> None:
    deal, quote = make_deal()

    out = render("intake_form", deal, quote)

    typed = (
        "start order [Q-…]",
        "submit order PO <number>",
        "PO: <number>",
        "quote <N> users [<product>]",
        "extend [reason]",
        "status",
        "check <domain>",
    )
    for form in (*typed, "deals", "help"):
        assert f"\n  {form}  " in out.text
    for form in typed:
        assert f"<code>{escape(form)}</code>" in out.html
    assert "Company Name: " in out.text and "Company Name: " in out.html
    assert [(c.verb, c.deal) for c in commands_in(out.html)] == [("deals", None), ("help", None)]
    assert '"deals"' in out.text and '"help"' in out.text


def test_a_started_order_shows_its_quote_and_how_to_submit_it() -> None:
    deal, quote = make_deal(stage="order_started")

    out = command_email("start_order", deal=deal, quote=quote)

    assert out.subject == f"Mimecast: order started for {DEAL}"
    assert "Quote Q-000042" in out.text and "Total:       £37,800.00" in out.text
    assert [(c.verb, c.deal, c.po_number) for c in commands_in(out.html)] == [
        ("submit_order", DEAL, PO)
    ]
    assert f'"submit order {DEAL} PO <number>"' in out.text


def test_a_submitted_order_names_its_po_number() -> None:
    deal, _ = make_deal(stage="order_submitted")

    out = command_email("submit_order", deal=deal)

    assert out.subject == f"Mimecast: order submitted for {DEAL}"
    assert "purchase order PO-4711" in out.text and "PO-4711" in out.html
    assert [c.verb for c in commands_in(out.html)] == ["deals"]


def test_a_new_quote_is_shown_with_the_command_that_orders_it() -> None:
    deal, quote = make_deal()

    out = command_email("quote", deal=deal, quote=quote)

    assert out.subject == f"Mimecast: new quote Q-000042 for {DEAL}"
    assert "Valid until: 30 Jan 2027" in out.text and "£37,800.00" in out.html
    [command] = commands_in(out.html)
    assert (command.verb, command.quote, command.deal) == ("start_order", "Q-000042", DEAL)
    assert f'"start order Q-000042 {DEAL}"' in out.text


def test_an_extension_request_says_it_went_to_the_deal_desk() -> None:
    deal, _ = make_deal()

    out = command_email("extend", deal=deal)

    assert out.subject == f"Mimecast: extension requested for {DEAL}"
    assert "deal desk" in out.text and "31 Mar 2027" in out.text
    assert [c.verb for c in commands_in(out.html)] == ["start_order", "status"]


def test_status_gives_the_stage_protection_and_every_quote() -> None:
    deal, _ = make_deal()

    out = command_email("status", deal=deal)

    assert out.subject == f"Mimecast: status of {DEAL}"
    assert "Stage:           Approved" in out.text
    assert "Protected until: 31 Mar 2027" in out.text
    assert "- Q-000042: £37,800.00, valid until 30 Jan 2027" in out.text
    assert "<td>Q-000042</td>" in out.html and "30 Jan 2027" in out.html
    assert {c.verb for c in commands_in(out.html)} == {"start_order", "extend"}


def test_status_of_an_unprotected_deal_without_quotes() -> None:
    deal, _ = make_deal(stage="opportunity")
    deal.protection_expires_at = None
    deal.quotes = []

    out = command_email("status", deal=deal)

    assert "Protected until: not protected" in out.text and "No quotes yet." in out.text
    assert [(c.verb, c.deal) for c in commands_in(out.html)] == [("status", DEAL)]


def test_deals_are_listed_as_given_newest_first_with_a_status_link_each() -> None:
    older, _ = make_deal()
    newer, _ = make_deal(stage="opportunity", company="Beta GmbH")
    newer.number, newer.protection_expires_at = "DR-000200", None

    out = command_email("deals", deals=[newer, older])

    assert out.subject == "Mimecast: your deals"
    assert out.text.index("DR-000200") < out.text.index(DEAL)
    assert "- DR-000200  Beta GmbH (acme.co.uk)  Opportunity\n" in out.text
    assert f"- {DEAL}  Acme Ltd (acme.co.uk)  Approved, protected until 31 Mar 2027" in out.text
    assert [(c.verb, c.deal) for c in commands_in(out.html)] == [
        ("status", "DR-000200"),
        ("status", DEAL),
    ]


def test_no_deals_says_so() -> None:
    out = command_email("deals", deals=[])

    assert "You have no deals yet." in out.text and "You have no deals yet." in out.html
    assert [c.verb for c in commands_in(out.html)] == ["help"]


def _another_partners_deal() -> Deal:
    deal, _ = make_deal(company="Rival Prospect Ltd")
    deal.number, deal.partner_id = "DR-000777", 2
    deal.partner.name = "Contoso Partners"
    return deal


@pytest.mark.parametrize(
    ("found", "says"),
    [
        (DomainCheck("nobody.example", "free"), "nobody.example is free"),
        (
            DomainCheck("acme.co.uk", "yours", your_deal=DEAL),
            f"acme.co.uk is already yours: deal {DEAL}",
        ),
        (
            check([_another_partners_deal()], "acme.co.uk", 1, NOW),
            "acme.co.uk is protected until 31 Mar 2027",
        ),
    ],
)
def test_check_says_free_yours_or_protected_and_never_names_another_partner(
    found: DomainCheck, says: str
) -> None:
    out = command_email("check", check=found)

    assert out.subject == f"Mimecast: check of {found.domain}"
    assert says in out.text
    for body in (out.subject, out.text, out.html):
        assert "Contoso" not in body and "Rival" not in body and "DR-000777" not in body
    assert all(c.verb in ("help", "status") for c in commands_in(out.html))


@pytest.mark.parametrize("command", VERBS)
def test_a_refused_command_says_why_and_that_nothing_changed(command: str) -> None:
    out = command_email(command, error=f"cannot do that: {HOSTILE}")

    assert out.subject.startswith("Mimecast: could not ")
    assert f"cannot do that: {HOSTILE}" in out.text and "Nothing was changed." in out.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in out.html
    assert "<script>" not in out.html and "Nothing was changed." in out.html
    assert [c.verb for c in commands_in(out.html)] == ["help"]


def test_a_refused_command_on_a_deal_gives_its_stage_and_next_steps() -> None:
    deal, _ = make_deal(stage="opportunity")

    out = command_email("start_order", error="cannot start an order", deal=deal)

    assert out.subject == f"Mimecast: could not start the order for {DEAL}"
    assert f"Nothing was changed. Deal {DEAL} is at stage Opportunity." in out.text
    assert [(c.verb, c.deal) for c in commands_in(out.html)] == [("status", DEAL), ("help", None)]
