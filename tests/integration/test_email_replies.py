"""Replies as partners write them, end to end through a real Dovecot mailbox: a command in
courteous words acts, a reply in a deal's thread that asks for nothing clear is told the
deal's stage and next steps (never sent the blank form), and the loop guard never swallows
an answer a person is waiting for."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.models import Deal, InboundEmail, OutboxMessage
from tests.factories import ANN, World, registration_email
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


def test_amend_and_withdraw_are_read_and_answered_as_not_done_by_email_yet(
    world: World, ann: Partner, monkeypatch: pytest.MonkeyPatch
) -> None:
    approval = approved(ann, world, monkeypatch)
    for text in ("Please amend as follows:\nNumber of Users: 300", "Lost - no budget"):
        answer = answer_to(ann, ann.write(text, answering=approval))
        assert "cannot be done by email yet" in answer.body_text
    deal = ann.deal("DR-000001")
    assert (deal.stage, deal.number_of_users) == ("approved", 250)


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
