"""Commands by email (`intake.commands`): each form a partner may write, and ordinary mail
that must not be taken for a command."""

from __future__ import annotations

from dataclasses import replace

import pytest

from intake.commands import Command, named_deal, read_command


@pytest.mark.parametrize(
    ("subject", "text", "command"),
    [
        ("Re: DR-000001 approved", "start order\n\n> On Tue, we wrote:", Command("start_order")),
        ("", "Hi,\n\nStart the order Q-12\nThanks, Ann", Command("start_order", quote="Q-000012")),
        ("", "PO: 4500012345", Command("submit_order", po_number="4500012345")),
        ("", "Purchase order: 4500-0123/A", Command("submit_order", po_number="4500-0123/A")),
        ("", "P.O. number # 77", Command("submit_order", po_number="77")),
        ("", "SUBMIT ORDER PO 4500012345", Command("submit_order", po_number="4500012345")),
        ("", "submit order", Command("submit_order")),
        ("", "quote 300 users", Command("quote", users=300)),
        (
            "",
            "Quote DR-7 1,200 users ACME-CRM",
            Command("quote", deal="DR-000007", users=1200, product="ACME-CRM"),
        ),
        ("", "extend", Command("extend")),
        ("", "Extend: budget moved to Q2", Command("extend", reason="budget moved to Q2")),
        ("", "status DR-000004", Command("status", deal="DR-000004")),
        ("", "dr4 status.", Command("status", deal="DR-000004")),
        ("", "My deals", Command("deals")),
        ("", "deals", Command("deals")),
        ("", "check acme.co.uk", Command("check", domain="acme.co.uk")),
        ("help", "", Command("help")),
        ("Re: Fwd: status", "", Command("status")),
    ],
)
def test_each_command_is_read_with_what_it_names(subject: str, text: str, command: Command) -> None:
    found = read_command(subject, text) or Command("none")
    assert replace(found, mentioned=None, in_subject=False) == command
    assert found.in_subject == (not text.strip())


@pytest.mark.parametrize(
    ("subject", "text"),
    [
        ("Status of the Acme project", "Hello team, here is this week's update."),
        ("Extending our partnership", "Hi Ann,"),
        ("Our new address", "P.O. Box 123\nLondon"),
        ("Quote", "Could you quote us for the whole team?"),
        ("Help with the portal", "I cannot log in."),
        ("Deals of the week", "50% off everything!"),
        ("check this out", "a link"),
        ("", "Hi,\nhope you are well.\nMeeting on Tuesday?\nBest,\nAnn\nstatus"),  # too far down
    ],
)
def test_ordinary_mail_is_no_command(subject: str, text: str) -> None:
    assert read_command(subject, text) is None


def test_the_new_text_is_read_before_the_subject() -> None:
    assert read_command("help", "status DR-9") == Command(
        "status", deal="DR-000009", mentioned="DR-000009"
    )


def test_a_deal_named_elsewhere_in_the_message_is_kept_apart_from_the_commands_own() -> None:
    command = read_command("Re: DR-000002 approved", "start order\nfor DR-3, as agreed")
    assert command == Command("start_order", mentioned="DR-000002")


def test_a_command_copied_with_its_quote_marks_is_read() -> None:
    for line in ('"start order DR-000001"', "“status”", "'my deals'"):
        assert read_command("", line) is not None, line


def test_a_deal_number_is_found_anywhere_in_its_full_form() -> None:
    assert named_deal("no number", "about dr-12 and DR-000013") == "DR-000012"
    assert named_deal("DR-", "ADR-5") is None
