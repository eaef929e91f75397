"""Commands as partners write them (`intake.commands`), each in a whole email: a greeting,
courtesy around the command, a signature and the quoted history of our email below, read
the way the intake reads a message. Each phrasing names the command it must be read as, or
None when the message asks for nothing we may act on."""

from __future__ import annotations

from dataclasses import replace
from email.message import EmailMessage

import pytest

from intake import readahead
from intake.commands import Command

OWN = frozenset({"deals@dealreg.localhost"})
SUBJECT = "Re: Mimecast: deal DR-000123 approved"
SIGNATURE = "Best regards,\nAnn Example\nNorthwind Ltd | +44 20 7946 0000\n"
# Our email as mail clients quote it: what it says below must never be read as a command.
HISTORY = {
    "gmail": (
        "On Mon, 2 Mar 2026 at 10:02, Mimecast deal desk <deals@dealreg.localhost> wrote:\n"
        "> Deal DR-000123 is approved.\n> Next steps:\n> - start order DR-000123\n"
        "> - extend DR-000123\n"
    ),
    "outlook": (
        "-----Original Message-----\nFrom: deals@dealreg.localhost\nSubject: approved\n\n"
        "Start the order: start order DR-000123\nstatus DR-000123\n"
    ),
    "bare": "> status\n> withdraw DR-000123 lost to a competitor\n",
}


def email(text: str, subject: str = SUBJECT, history: str = "gmail") -> bytes:
    """A partner's reply: `text` (with `\\n` for new lines), signed, above our quoted email."""
    msg = EmailMessage()
    msg["From"] = "Ann Example <ann@northwind.example>"
    msg["To"] = "deals@dealreg.localhost"
    msg["Subject"] = subject
    msg["Message-ID"] = "<reply-1@northwind.example>"
    msg.set_content(f"{text}\n\n{SIGNATURE}\n{HISTORY[history]}")
    return bytes(msg)


def command_of(raw: bytes) -> Command | None:
    """The command the intake reads in a message, without what the subject mentions."""
    command = readahead.read(raw, headers_only=False, own_addresses=OWN).command
    return replace(command, mentioned=None) if command is not None else None


START = Command("start_order")
STATUS = Command("status")
EXTEND = Command("extend")
AMEND = Command("amend")
PO = "4500012345"


def submit(po: str = PO) -> Command:
    return Command("submit_order", po_number=po)


def withdraw(reason: str, note: str | None = None) -> Command:
    return Command("withdraw", reason=reason, note=note)


@pytest.mark.parametrize(
    ("text", "command"),
    [
        # Starting the order, with courtesy and synonyms.
        ("Start the order please", START),
        ("Hi,\n\nStart order please.", START),
        ("Yes, please go ahead and start the order", START),
        ("Go ahead with the order please.", START),
        ("Hi Ann,\nThanks for the approval, please start the order.\nCheers", START),
        ("Great news! Could you start the order?", START),
        ("Kindly place the order for this deal.", START),
        ("Please begin the order. Thank you!", START),
        ("Dear deal desk,\nplease process the order", START),
        (
            "Could you please go ahead and start the order for DR-000123?",
            replace(START, deal="DR-000123"),
        ),
        ("ok, start order with quote Q-7, thanks", replace(START, quote="Q-000007")),
        ("We'd like to start the order now.", START),
        ("Let's proceed with the order :)", START),
        ("Hello,\nhope you are well.\nStart the order please.", START),
        # Submitting it with the customer's PO, in a sentence.
        ("PO 4500012345 attached", submit()),
        ("Please process the order - PO is 4500012345", submit()),
        ("Hi,\nour PO number is 4500012345.\nThanks", submit()),
        ("purchase order 4500012345 attached", submit()),
        ("Please find attached PO 4500012345. Thanks!", submit()),
        ("Here is the customer's PO: 4500012345", submit()),
        ("The PO is 4500012345.", submit()),
        ("Submit the order with PO 4500012345 please", submit()),
        ("Place the order, PO# 4500-0123/A", submit("4500-0123/A")),
        ("P.O. number: 77", submit("77")),
        ("Thanks! PO number 4500012345 attached, please submit.", submit()),
        ("please submit the order", Command("submit_order")),
        # Asking for the status, as a question too.
        ("status pls", STATUS),
        ("Where are we with this one?", STATUS),
        ("Hi, status? Thanks", STATUS),
        ("What's the status?", STATUS),
        ("Hi team,\nany update?\nAnn", STATUS),
        ("What is the current status of this deal?", STATUS),
        ("Where do we stand on DR-000123?", replace(STATUS, deal="DR-000123")),
        ("Could you send me the status please?", STATUS),
        ("Any news on this one?", STATUS),
        # More protection time.
        ("Please extend by a month", replace(EXTEND, reason="by a month")),
        ("renew protection", EXTEND),
        (
            "More time please, the board meets in May",
            replace(EXTEND, reason="the board meets in May"),
        ),
        ("Hi,\nwe need more time.\nThanks", EXTEND),
        ("Could you extend the protection?", replace(EXTEND, reason="the protection")),
        # Quotes, lists, checks and help.
        ("Could you send us a new quote for 250 users?", Command("quote", users=250)),
        ("quote 1,200 users ACME-CRM please", Command("quote", users=1200, product="ACME-CRM")),
        ("Can you list my deals?", Command("deals")),
        ("Please check acme.co.uk", Command("check", domain="acme.co.uk")),
        ("help please", Command("help")),
        # Changing a deal: the Label: value lines below are read as a form elsewhere.
        (
            "Please amend DR-000123 as follows:\nNumber of Users: 300",
            replace(AMEND, deal="DR-000123"),
        ),
        ("Hi,\nchange:\nClose Date: 2026-09-30", AMEND),
        ("Please make the following changes:\nNumber of Users: 300", AMEND),
        # Ending a deal, with the reason as a code and the words it leaves as a note.
        ("withdraw", withdraw("other")),
        ("lost", withdraw("other", "lost")),
        ("Please withdraw this deal, registered in error.", withdraw("registered_in_error")),
        ("Lost to a competitor", withdraw("lost_to_competitor")),
        ("Lost - no budget", withdraw("no_budget")),
        (
            "Hi,\nunfortunately we lost this one to Proofpoint.",
            withdraw("lost_to_competitor", "Proofpoint"),
        ),
        ("lost: project cancelled", withdraw("project_cancelled")),
        (
            "withdraw DR-000123 - customer merged with another firm",
            replace(withdraw("other", "customer merged with another firm"), deal="DR-000123"),
        ),
        # Negated, conditional, questioning or future lines ask for nothing.
        ("Don't start the order yet", None),
        ("Please don't process the order.", None),
        ("should we start the order?", None),
        ("Can we start the order?", None),
        ("Start the order?", None),
        ("we will submit the PO next week", None),
        ("if they sign, start the order", None),
        ("Start the order once the customer signs.", None),
        ("The PO will follow next week.", None),
        ("PO: TBC", None),
        ("Waiting for the PO from the customer.", None),
        ("Do you need a PO number?", None),
        ("Hold off on the order for now please.", None),
        ("Thanks!", None),
        ("Thanks, we will be in touch.", None),
        ("Lost my password, how do I log in?", None),
        ("Status of the Acme project is green.", None),
        ("Is the extension possible?", None),
    ],
)
def test_a_phrasing_is_read_as_the_command_it_asks_for(text: str, command: Command | None) -> None:
    assert command_of(email(text)) == command


@pytest.mark.parametrize("history", sorted(HISTORY))
def test_commands_in_the_quoted_history_are_not_read(history: str) -> None:
    assert command_of(email("Thanks, talk soon.", subject="Re: our call", history=history)) is None
    assert command_of(email("Status please", history=history)) == STATUS


@pytest.mark.parametrize(
    ("subject", "text"),
    [
        ("Status of the Acme project", "Hello team, here is this week's update."),
        ("Weekly newsletter: deals of the week", "Read our latest offers online."),
        ("Extending our partnership", "Hi Ann,\nlet us talk next week."),
        ("Re: lunch", "Sounds good, see you at noon."),
        ("Our new address", "P.O. Box 123\nLondon"),
        ("Help with the portal", "I cannot log in."),
        ("Re: the order", "The order has been placed with our distributor already."),
        ("Delivery Status Notification (Failure)", "Delivery to the following recipients failed."),
        ("Re: quote", "Could you quote us for the whole team?"),
        ("Fwd: purchase order", "Forwarding the PO process document for your review."),
    ],
)
def test_ordinary_mail_is_no_command(subject: str, text: str) -> None:
    assert command_of(email(text, subject=subject, history="bare")) is None


def test_a_command_in_the_subject_is_read_when_the_text_holds_none() -> None:
    raw = email("Thanks, Ann", subject="Re: status please")
    read = readahead.read(raw, headers_only=False, own_addresses=OWN)
    assert read.command is not None and (read.command.verb, read.command.in_subject) == (
        "status",
        True,
    )


def test_the_deal_mentioned_elsewhere_is_kept_apart_from_the_commands_own() -> None:
    read = readahead.read(email("Start the order please"), headers_only=False, own_addresses=OWN)
    assert read.command == Command("start_order", mentioned="DR-000123")
