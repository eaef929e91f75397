"""Replies as partners write them, end to end through a real Dovecot mailbox: a command in
courteous words acts, a reply in a deal's thread that asks for nothing clear is told the
deal's stage and next steps (never sent the blank form), and the loop guard never swallows
an answer a person is waiting for."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.models import Deal, InboundEmail, OutboxMessage
from intake.reply import AWAITED_CEILING
from tests.factories import ANN, BOB, World, registration_email
from tests.integration.smtp_server import SmtpServer
from tests.integration.test_email_commands import Partner, answer_to, approve_from_the_cli
from tests.servers import ImapAccount


@pytest.fixture
def ann(world: World, imap_account: ImapAccount, smtp_server: SmtpServer) -> Partner:
    return Partner(world, imap_account, smtp_server)


def approved(ann: Partner, world: World, monkeypatch: pytest.MonkeyPatch) -> OutboxMessage:
    """Ann's deal DR-000001, registered by email and approved: our approval email."""
    assert ann.send(registration_email(1)).handled == {"registered": 1}
    approve_from_the_cli(world, "DR-000001", monkeypatch)
    return ann.last("deal_approved")


def test_courteous_replies_start_and_submit_the_order(
    world: World, ann: Partner, monkeypatch: pytest.MonkeyPatch
) -> None:
    approval = approved(ann, world, monkeypatch)

    started = answer_to(ann, ann.write("Hi,\n\nStart the order please.", answering=approval))
    assert ann.deal("DR-000001").stage == "order_started"
    assert "is now an order" in started.body_text

    text = "Thanks!\nPlease process the order - PO is 4500012345"
    submitted = answer_to(ann, ann.write(text, answering=started))
    deal = ann.deal("DR-000001")
    assert (deal.stage, deal.po_number) == ("order_submitted", "4500012345")
    assert "4500012345" in submitted.body_text


@pytest.mark.parametrize(
    "text", ["Thanks, great news!", "Should we start the order?", "Don't start the order yet."]
)
def test_a_reply_in_the_deals_thread_without_a_clear_command_is_told_its_stage(
    world: World, ann: Partner, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    approval = approved(ann, world, monkeypatch)

    answer = answer_to(ann, ann.write(text, answering=approval))

    assert ann.deal("DR-000001").stage == "approved"  # nothing acted on
    body = answer.body_text
    assert "could not tell what your reply asks" in body and "Approved" in body
    assert '"start order DR-000001"' in body and '"extend DR-000001"' in body  # next steps
    assert "mailto:" in answer.body_html and "Company Name:" not in body  # never the form
    assert [r.template for r in ann.outbox()].count("intake_form") == 0


def test_an_amendment_by_email_applies_details_and_asks_the_desk_for_the_claim(
    world: World, ann: Partner, monkeypatch: pytest.MonkeyPatch
) -> None:
    approval = approved(ann, world, monkeypatch)
    text = "Hi,\nPlease amend as follows:\nNumber of Users: 300\nContact Name: Sam Carter-Jones"

    answer = answer_to(ann, ann.write(text, answering=approval))

    deal = ann.deal("DR-000001")
    assert (deal.number_of_users, deal.contact_name) == (250, "Sam Carter-Jones")
    assert deal.amendment == {"number_of_users": [250, 300]}
    body = answer.body_text
    assert "Contact Name: Sam Carter → Sam Carter-Jones" in body
    assert "Number of Users: 250 → 300" in body and "deal desk for approval" in body


def test_a_bad_amendment_by_email_is_answered_with_the_field_and_changes_nothing(
    world: World, ann: Partner
) -> None:
    assert ann.send(registration_email(1)).handled == {"registered": 1}
    received = ann.last("registration_received")
    text = "change\nNumber of Users: lots\nClose Date: 2027-06-30"

    answer = answer_to(ann, ann.write(text, answering=received))

    assert "not carried out" in answer.body_text and "Number of Users:" in answer.body_text
    deal = ann.deal("DR-000001")
    assert (deal.number_of_users, str(deal.close_date)) == (250, "2027-03-31")  # all or nothing
    fixed = answer_to(ann, ann.write("change\nNumber of Users: 300", answering=received))
    assert "Number of Users: 250 → 300" in fixed.body_text
    assert ann.deal("DR-000001").number_of_users == 300  # at opportunity: applied at once


def test_lost_by_email_withdraws_the_deal_and_a_rival_cannot(
    world: World, ann: Partner, monkeypatch: pytest.MonkeyPatch
) -> None:
    approval = approved(ann, world, monkeypatch)
    ann.send(ann.write("withdraw DR-000001 registered in error", sender=BOB))
    rival = ann.outbox()[-1]
    assert (rival.to_addr, rival.template) == (BOB, "intake_command")
    assert "no deal DR-000001" in rival.body_text and "Northwind" not in rival.body_text
    assert ann.deal("DR-000001").stage == "approved"

    answer = answer_to(ann, ann.write("Hi,\n\nLost - no budget.", answering=approval))

    deal = ann.deal("DR-000001")
    assert (deal.stage, deal.withdraw_reason) == ("withdrawn", "no_budget")
    assert "is withdrawn" in answer.body_text and "No budget" in answer.body_text
    assert deal.protection_expires_at is not None


def test_every_registration_and_command_is_answered_past_the_hourly_cap(
    world: World, imap_account: ImapAccount, smtp_server: SmtpServer
) -> None:
    cap = 5  # the default: at most 5 automatic replies to one address in an hour
    world.settings = world.settings.model_copy(update={"intake_replies_per_hour": cap})
    ann = Partner(world, imap_account, smtp_server)
    raws = [
        registration_email(i, number_of_users="lots" if i % 3 == 0 else "250") for i in range(1, 21)
    ]
    for raw in raws:  # one at a time, as a partner sends them within the hour
        ann.send(raw)
    with world.uow() as uow:
        rows = list(uow.session.scalars(select(InboundEmail).order_by(InboundEmail.id)))
        deals = len(list(uow.session.scalars(select(Deal))))
    assert len(rows) == 20 and deals == 14
    assert not [r.reason for r in rows if "not answered" in (r.reason or "")]
    answers = [r for r in ann.outbox() if r.to_addr == ANN]
    templates = [r.template for r in answers]
    assert templates.count("intake_errors") == 6 > cap
    assert templates.count("intake_confirmation") + templates.count("registration_received") == 14
    # Each answer is threaded to the message it answers: all twenty were answered.
    assert {r.headers["In-Reply-To"] for r in answers} == {
        f"<reg-{i}@partner.example>" for i in range(1, 21)
    }

    # A command is answered too; mail that asks for nothing is held to the cap.
    assert "DR-000014" in answer_to(ann, ann.write("Could you list my deals please?")).body_text
    report = ann.send(ann.write("Lunch on Friday?\nShall we meet at noon?"))
    assert report.handled == {"answered": 1}
    assert [r.template for r in ann.outbox()].count("intake_form") == 0
    with world.uow() as uow:
        last = uow.session.scalars(select(InboundEmail).order_by(InboundEmail.id.desc())).first()
    assert last is not None and "not answered" in (last.reason or "")


def test_awaited_answers_have_a_ceiling_so_an_undetected_responder_cannot_loop_forever(
    world: World, imap_account: ImapAccount, smtp_server: SmtpServer
) -> None:
    world.settings = world.settings.model_copy(update={"intake_replies_per_hour": 1})
    ann = Partner(world, imap_account, smtp_server)
    for i in range(1, AWAITED_CEILING + 2):  # the same bad form, quoted back each time
        ann.send(registration_email(i, number_of_users="lots"))
    with world.uow() as uow:
        rows = list(uow.session.scalars(select(InboundEmail).order_by(InboundEmail.id)))
    unanswered = [r for r in rows if "not answered" in (r.reason or "")]
    assert len(rows) == AWAITED_CEILING + 1 and len(unanswered) == 1
    assert unanswered[0].id == rows[-1].id
    assert [r.template for r in ann.outbox()].count("intake_errors") == AWAITED_CEILING
