"""Email intake end to end: a real Dovecot mailbox, the real pipeline, the real database."""

from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import func, select

from core.models import Deal, InboundEmail, OutboxMessage
from dealreg.intake_command import intake_context
from dealreg.wiring import App
from intake.mailbox import ImapMailbox
from intake.pipeline import run_forever, run_once
from tests.factories import ROOT, World, registration_email
from tests.servers import ImapAccount

CORPUS = ROOT / "tests" / "fixtures" / "email"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())["messages"]


def app_for(world: World, imap_url: str | None = None) -> App:
    settings = world.settings.model_copy(
        update={"imap_url": imap_url and __import__("pydantic").SecretStr(imap_url)}
    )
    app = App(settings)
    app.__dict__["engine"] = world.engine
    return app


def count(world: World, model: type, *where: object) -> int:
    with world.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model).where(*where)))


def expected_status(name: str) -> set[str]:
    e = EXPECTED[name]
    if e["status"] == "ignored":
        return {"ignored"}
    if e.get("stranger"):
        return {"refused"}
    if e["kind"] == "form_request":
        return {"answered"}
    if e["status"] == "invalid" or e.get("invalid_fields"):
        return {"invalid"}
    return {"registered", "duplicate"}


def test_corpus_through_dovecot_is_handled_once_and_answered(
    world: World, imap_account: ImapAccount
) -> None:
    for path in sorted(CORPUS.glob("*.eml")):
        imap_account.append(path.read_bytes())
    app = app_for(world, imap_account.imap_url)
    ctx = intake_context(app)
    box = ImapMailbox(imap_account.imap_url)
    report = run_once(ctx, box)
    assert report.failed == 0 and report.seen == len(EXPECTED)
    assert count(world, InboundEmail) == len(EXPECTED)
    by_file = _statuses_by_file(world)
    for name, status in by_file.items():
        assert status in expected_status(name), (name, status)
    assert imap_account.messages("INBOX") == {}
    accepted = sum(1 for s in by_file.values() if s in ("registered", "duplicate", "answered"))
    assert len(imap_account.messages("Processed")) == accepted
    assert count(world, Deal) == sum(1 for s in by_file.values() if s == "registered")
    # Ignored and refused mail is never answered; every other message got one reply.
    answered = sum(1 for s in by_file.values() if s not in ("ignored", "refused"))
    assert count(world, OutboxMessage) == answered
    with world.uow() as uow:
        rows = uow.session.scalars(select(OutboxMessage)).all()
    threaded = [r for r in rows if "In-Reply-To" in r.headers]
    assert all(r.headers["Auto-Submitted"] == "auto-replied" for r in threaded)
    # Only the message that had no Message-ID cannot be answered in its thread.
    assert len(rows) - len(threaded) == 1

    # A second run over the same messages (put back in the inbox) creates and sends nothing.
    for path in sorted(CORPUS.glob("*.eml")):
        imap_account.append(path.read_bytes())
    again = run_once(ctx, ImapMailbox(imap_account.imap_url))
    assert again.failed == 0
    assert count(world, OutboxMessage) == answered
    assert count(world, Deal) == sum(1 for s in by_file.values() if s == "registered")
    assert count(world, InboundEmail) == len(EXPECTED)


def _statuses_by_file(world: World) -> dict[str, str]:
    from intake import messages

    with world.uow() as uow:
        by_key = {r.message_key: r.status for r in uow.session.scalars(select(InboundEmail))}
    out = {}
    for path in sorted(CORPUS.glob("*.eml")):
        raw = path.read_bytes()
        out[path.name] = by_key[messages.message_key(messages.load(raw), raw)]
    return out


def test_same_deal_sent_twice_is_answered_already_registered(
    world: World, imap_account: ImapAccount
) -> None:
    imap_account.append(registration_email(1, message_id="<a@x>"))
    imap_account.append(registration_email(1, message_id="<b@x>"))
    run_once(intake_context(app_for(world)), ImapMailbox(imap_account.imap_url))
    with world.uow() as uow:
        templates = [r.template for r in uow.session.scalars(select(OutboxMessage))]
        deal = uow.session.scalars(select(Deal)).one()
    assert templates == ["registration_received", "intake_already_registered"]
    with world.uow() as uow:
        reply = uow.session.scalars(
            select(OutboxMessage).where(OutboxMessage.template == "intake_already_registered")
        ).one()
    assert deal.number in reply.body_text
    assert deal.channel == "email"


def test_reply_to_returned_registration_reopens_it(world: World, imap_account: ImapAccount) -> None:
    from tests import services
    from tests.factories import ANN, NOW, REVIEWER

    imap_account.append(registration_email(7))
    run_once(intake_context(app_for(world)), ImapMailbox(imap_account.imap_url))
    with world.uow() as uow:
        number = uow.session.scalars(select(Deal.number)).one()
    reviewer = world.actor(REVIEWER)
    with world.uow() as uow:
        services.return_for_info(
            uow, reviewer, number, question="Which tenant?", now=NOW, settings=world.settings
        )
    with world.uow() as uow:
        asked = uow.session.scalars(
            select(OutboxMessage).where(OutboxMessage.template == "deal_returned")
        ).one()
    from email.message import EmailMessage

    reply = EmailMessage()
    reply["From"] = ANN
    reply["To"] = "deals@dealreg.localhost"
    reply["Subject"] = "Re: " + asked.subject
    reply["Message-ID"] = "<answer-1@partner.example>"
    reply["In-Reply-To"] = asked.message_id
    reply["References"] = asked.message_id
    reply.set_content("The EU tenant, 250 seats.\n\nOn Wed, the desk wrote:\n> Which tenant?\n")
    imap_account.append(bytes(reply))
    run_once(intake_context(app_for(world)), ImapMailbox(imap_account.imap_url))
    with world.uow() as uow:
        deal = uow.session.scalars(select(Deal)).one()
        events = [e.action for e in deal.events]
        last = deal.events[-1].details
    assert deal.returned_question is None
    assert events[-1] == "answer"
    assert last["answer"] == "The EU tenant, 250 seats."


def test_intake_reconnects_after_dovecot_restart(world: World, imap_account: ImapAccount) -> None:
    for i in range(30):
        imap_account.append(registration_email(i))
    ctx = intake_context(app_for(world))
    stop = threading.Event()
    box = ImapMailbox(imap_account.imap_url)
    thread = threading.Thread(target=run_forever, args=(ctx, box, stop), kwargs={"wait_s": 1})
    thread.start()
    try:
        _until(lambda: count(world, Deal) >= 30)
        imap_account.server.restart()
        for i in range(30, 60):
            imap_account.append(registration_email(i))
        _until(lambda: count(world, Deal) >= 60, timeout=60)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert count(world, Deal) == 60
    assert imap_account.messages("INBOX") == {}


def _until(check, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting")
        time.sleep(0.2)


def test_unknown_sender_is_refused_without_reply(world: World, imap_account: ImapAccount) -> None:
    imap_account.append(registration_email(1, sender="mallory@evil.example"))
    run_once(intake_context(app_for(world)), ImapMailbox(imap_account.imap_url))
    assert count(world, InboundEmail, InboundEmail.status == "refused") == 1
    assert count(world, Deal) == 0 and count(world, OutboxMessage) == 0
    assert len(imap_account.messages("Rejected")) == 1


def test_oversize_message_is_kept_and_answered(world: World, imap_account: ImapAccount) -> None:
    big = registration_email(1, problems_to_solve="x" * 5000)
    imap_account.append(big)
    app = app_for(world)
    app.settings = app.settings.model_copy(update={"intake_max_bytes": 2048})
    run_once(intake_context(app), ImapMailbox(imap_account.imap_url))
    with world.uow() as uow:
        row = uow.session.scalars(select(InboundEmail)).one()
        reply = uow.session.scalars(select(OutboxMessage)).one()
    assert row.status == "refused" and reply.template == "intake_refused"
    assert count(world, Deal) == 0
    assert len(imap_account.messages("Rejected")) == 1


class ArrivingDuringRuns(ImapMailbox):
    """The real mailbox, with more mail appended (to the real server) just after each of
    the first fetches: mail that comes in while a run is handling the mail before it."""

    def __init__(self, account: ImapAccount, waves: list[list[bytes]]) -> None:
        super().__init__(account.imap_url)
        self.account, self.waves = account, waves

    def fetch_new(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        fetched = super().fetch_new(*args, **kwargs)
        if self.waves:
            for raw in self.waves.pop(0):
                self.account.append(raw)
        return fetched


def test_mail_arriving_during_a_run_is_handled_without_waiting_for_idle(
    world: World, imap_account: ImapAccount
) -> None:
    imap_account.append(registration_email(0))
    waves = [[registration_email(i) for i in range(w * 5 + 1, w * 5 + 6)] for w in range(3)]
    ctx = intake_context(app_for(world))
    stop = threading.Event()
    box = ArrivingDuringRuns(imap_account, waves)
    # The IDLE would wait a minute: everything must be handled long before that.
    thread = threading.Thread(target=run_forever, args=(ctx, box, stop), kwargs={"wait_s": 60})
    started = time.monotonic()
    thread.start()
    try:
        _until(lambda: count(world, Deal) >= 16, timeout=20)
    finally:
        stop.set()
        thread.join(timeout=90)
    assert time.monotonic() - started < 20
    assert count(world, Deal) == 16
    assert imap_account.messages("INBOX") == {}
