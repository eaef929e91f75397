"""Commands by email, end to end: a partner registers by email, is approved from the CLI,
and takes the deal to a submitted order by replying, through a real Dovecot mailbox and a
real SMTP server, with every answer threaded to the message it answers."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from core import delivery
from core.mailer import make_mailer
from core.models import Deal, DealEvent, InboundEmail, OutboxMessage, Quote
from dealreg import cli
from dealreg.intake_command import intake_context
from dealreg.wiring import App
from intake.mailbox import ImapMailbox
from intake.pipeline import RunReport, run_once
from tests.factories import ANN, BOB, REVIEWER, World, registration_email
from tests.integration.smtp_server import SmtpServer
from tests.servers import ImapAccount


class Partner:
    """Ann, a partner contact, writing to the intake mailbox and reading our answers."""

    def __init__(self, world: World, account: ImapAccount, smtp: SmtpServer) -> None:
        self.world, self.account = world, account
        settings = world.settings.model_copy(
            update={"imap_url": SecretStr(account.imap_url), "smtp_url": SecretStr(smtp.url)}
        )
        self.app = App(settings)
        self.app.__dict__["engine"] = world.engine
        self.sent = 0

    def send(self, raw: bytes) -> RunReport:
        self.account.append(raw)
        mailbox = ImapMailbox(self.account.imap_url)
        try:
            return run_once(intake_context(self.app), mailbox)
        finally:
            mailbox.close()

    def write(
        self, text: str, *, answering: OutboxMessage | None = None, sender: str = ANN
    ) -> bytes:
        """A message of `text`, as a reply to one of our emails when `answering` is given."""
        self.sent += 1
        msg = EmailMessage()
        msg["From"] = sender
        msg["To"] = "deals@dealreg.localhost"
        msg["Subject"] = f"Re: {answering.subject}" if answering else text.splitlines()[0]
        msg["Message-ID"] = f"<cmd-{self.sent}@partner.example>"
        if answering is not None:
            msg["In-Reply-To"] = answering.message_id
            msg["References"] = answering.message_id
        quoted = "\n".join(
            f"> {line}" for line in (answering.body_text if answering else "").splitlines()
        )
        msg.set_content(f"{text}\n\nAnn\n\nOn Tuesday, the deal desk wrote:\n{quoted}\n")
        return bytes(msg)

    def last(self, template: str) -> OutboxMessage:
        return [r for r in self.outbox() if r.template == template][-1]

    def outbox(self) -> list[OutboxMessage]:
        with self.world.uow() as uow:
            return list(uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))

    def deal(self, number: str) -> Deal:
        with self.world.uow() as uow:
            return uow.session.scalars(select(Deal).where(Deal.number == number)).one()


@pytest.fixture
def ann(world: World, imap_account: ImapAccount, smtp_server: SmtpServer) -> Partner:
    return Partner(world, imap_account, smtp_server)


def answer_to(ann: Partner, raw: bytes) -> OutboxMessage:
    """Send `raw`; our one answer to it, threaded to it."""
    before = len(ann.outbox())
    report = ann.send(raw)
    assert report.failed == 0
    answers = [r for r in ann.outbox()[before:] if r.template == "intake_command"]
    assert len(answers) == 1, [r.template for r in ann.outbox()[before:]]
    message_id = f"<cmd-{ann.sent}@partner.example>"
    assert answers[0].headers["In-Reply-To"] == message_id
    assert answers[0].to_addr == ANN
    return answers[0]


def approve_from_the_cli(world: World, number: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", world.settings.database_url)
    monkeypatch.setenv("OUTBOX_DIR", str(world.settings.outbox_dir))
    assert cli.main(["deals", "approve", number, "--reviewer", REVIEWER]) == 0


def test_a_partner_takes_an_emailed_deal_to_a_submitted_order_by_replying(
    world: World, ann: Partner, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ann.send(registration_email(1)).handled == {"registered": 1}
    [deal] = [ann.deal("DR-000001")]
    approve_from_the_cli(world, deal.number, monkeypatch)
    approval = ann.last("deal_approved")

    started = answer_to(ann, ann.write("start order", answering=approval))
    assert ann.deal(deal.number).stage == "order_started"
    assert "order" in started.subject.lower() and deal.number in started.body_text

    submitted = answer_to(ann, ann.write("PO: 4500012345", answering=started))
    after = ann.deal(deal.number)
    assert (after.stage, after.po_number) == ("order_submitted", "4500012345")
    assert "4500012345" in submitted.body_text

    # Every answer went out through SMTP, threaded to the message it answers.
    settings = ann.app.settings
    report = delivery.deliver_due(
        ann.app.uow, make_mailer(settings), delivery.Round("t", ann.app.now()), settings=settings
    )
    assert report.failed == 0
    answers = [m.message for m in smtp_server.received if m.message["Subject"] == started.subject]
    assert [m["In-Reply-To"] for m in answers] == ["<cmd-1@partner.example>"]


def test_quote_status_deals_and_check_are_answered(
    world: World, ann: Partner, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann.send(registration_email(1))
    ann.send(registration_email(2))
    approve_from_the_cli(world, "DR-000001", monkeypatch)
    approval = ann.last("deal_approved")

    quoted = answer_to(ann, ann.write("quote 300 users", answering=approval))
    with world.uow() as uow:
        newest = uow.session.scalars(select(Quote).order_by(Quote.id.desc())).first()
    assert newest is not None and newest.number_of_users == 300 and newest.deal_id == 1
    assert newest.number in quoted.body_text and newest.reward_margin_pct > 0  # still protected

    status = answer_to(ann, ann.write("status DR-000002"))
    assert "DR-000002" in status.body_text and "Opportunity" in status.body_text

    deals = answer_to(ann, ann.write("my deals"))
    text = deals.body_text
    assert text.index("DR-000002") < text.index("DR-000001")  # newest first
    assert "prospect1.com" in text and "prospect2.com" in text

    mine = answer_to(ann, ann.write("check prospect1.com"))
    assert "DR-000001" in mine.body_text
    free = answer_to(ann, ann.write("check nobody-has-this.com"))
    assert "free" in free.body_text.lower()


def test_another_partners_deal_is_answered_as_if_it_did_not_exist(
    world: World, ann: Partner, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann.send(registration_email(1))
    approve_from_the_cli(world, "DR-000001", monkeypatch)
    before = ann.deal("DR-000001")

    for command in ("status DR-000001", "start order DR-000001", "status DR-000999"):
        raw = ann.write(command, sender=BOB)
        out = len(ann.outbox())
        ann.send(raw)
        [answer] = [r for r in ann.outbox()[out:] if r.template == "intake_command"]
        assert answer.to_addr == BOB
        number = command.split()[-1]
        assert f"no deal {number}" in answer.body_text
        assert "Prospect 1 Ltd" not in answer.body_text and "Northwind" not in answer.body_text
    assert ann.deal("DR-000001").stage == before.stage == "approved"


def test_an_illegal_move_is_told_with_the_stage_and_the_moves_allowed_and_changes_nothing(
    world: World, ann: Partner
) -> None:
    ann.send(registration_email(1))
    received = ann.last("registration_received")
    events = _events(world)

    refused = answer_to(ann, ann.write("start order", answering=received))
    assert "cannot start an order" in refused.body_text
    assert "Opportunity" in refused.body_text and "allowed now" in refused.body_text
    # The deal named, and only the moves a partner may make: none of the deal desk's.
    assert "the deal DR-000001 is at stage" in refused.body_text
    assert "allowed now: amend the registration, withdraw" in refused.body_text
    assert "approve" not in refused.body_text.split("allowed now")[1].split("\n")[0]
    assert ann.deal("DR-000001").stage == "opportunity"
    assert _events(world) == events
    with world.uow() as uow:
        row = uow.session.scalars(select(InboundEmail).order_by(InboundEmail.id.desc())).first()
    assert row is not None and row.status == "invalid" and "cannot start" in (row.reason or "")


def test_the_same_command_delivered_twice_acts_once(
    world: World, ann: Partner, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann.send(registration_email(1))
    approve_from_the_cli(world, "DR-000001", monkeypatch)
    raw = ann.write("start order DR-000001")
    answer_to(ann, raw)
    events = _events(world)
    replies = len(ann.outbox())
    report = ann.send(raw)
    assert report.failed == 0 and report.handled == {"answered": 1}
    assert _events(world) == events and len(ann.outbox()) == replies


def test_a_message_that_is_neither_a_form_nor_a_command_gets_the_help_once(ann: Partner) -> None:
    report = ann.send(ann.write("Lunch on Friday?\nShall we meet at noon?"))
    assert report.handled == {"answered": 1}
    [help_reply] = ann.outbox()
    assert help_reply.template == "intake_form"
    for verb in ("start order", "PO:", "quote", "extend", "status", "deals", "check", "help"):
        assert verb in help_reply.body_text


def test_a_command_from_an_unproven_sender_waits_for_its_confirmation(
    world: World, imap_account: ImapAccount, smtp_server: SmtpServer
) -> None:
    world.settings = world.settings.model_copy(
        update={
            "intake_require_sender_proof": True,
            "intake_dns_resolvers": ["127.0.0.1:9"],
            "intake_dns_timeout_s": 0.5,
        }
    )
    ann = Partner(world, imap_account, smtp_server)
    report = ann.send(ann.write("my deals"))
    assert report.handled == {"held": 1}
    assert [r.template for r in ann.outbox()] == ["intake_confirm"]


def _events(world: World) -> list[Any]:
    with world.uow() as uow:
        return list(uow.session.scalars(select(DealEvent.id).order_by(DealEvent.id)))


def pdf_parts(message: EmailMessage) -> dict[str, bytes]:
    """The PDF attachments of a received message, by file name."""
    return {
        str(part.get_filename()): bytes(part.get_content())
        for part in message.iter_attachments()
        if part.get_content_type() == "application/pdf"
    }


def test_the_approval_and_each_emailed_quote_carry_the_quote_as_a_pdf(
    world: World, ann: Partner, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core import quote_pdf

    ann.send(registration_email(1))
    approve_from_the_cli(world, "DR-000001", monkeypatch)
    approval = ann.last("deal_approved")
    quoted = answer_to(ann, ann.write("quote 300 users", answering=approval))
    status = answer_to(ann, ann.write("status", answering=approval))
    settings = ann.app.settings
    report = delivery.deliver_due(
        ann.app.uow, make_mailer(settings), delivery.Round("t", ann.app.now()), settings=settings
    )
    assert report.failed == 0

    with world.uow() as uow:
        quotes = list(uow.session.scalars(select(Quote).order_by(Quote.id)))
        pdfs = {q.number: quote_pdf.render(q, settings.vendor_name) for q in quotes}
    assert len(pdfs) == 2
    received = {m.message["Subject"]: m.message for m in smtp_server.received}
    first, second = sorted(pdfs)
    assert pdf_parts(received[approval.subject]) == {f"{first}.pdf": pdfs[first]}
    assert pdf_parts(received[quoted.subject]) == {f"{second}.pdf": pdfs[second]}
    assert pdf_parts(received[status.subject]) == {}  # only the emails that hand a quote over
    # The text and HTML bodies are still there, beside the PDF.
    body = received[approval.subject].get_body(("html", "plain"))
    assert body is not None and first in body.get_content()
