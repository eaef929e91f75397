"""Email senders proven before anything acts: forged mail is held, and only the contact's own
threaded reply to our confirmation releases it; one Message-ID cannot shadow another
sender's mail; automatic replies are capped per address."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from core import delivery, jobs
from core.mailer import make_mailer
from core.models import Deal, InboundEmail, OutboxMessage
from dealreg.intake_command import intake_context
from dealreg.wiring import App
from intake.mailbox import ImapMailbox
from intake.pipeline import RunReport, run_once
from tests.dkim import DnsServer, sign
from tests.factories import ANN, BOB, World, registration_email
from tests.integration.smtp_server import SmtpServer
from tests.servers import ImapAccount

TRUSTED = "mx.vendor.example"


def proving_app(world: World, imap_url: str, **overrides: Any) -> App:
    """The product as deployed: senders must be proven; our MX is `mx.vendor.example`."""
    settings = world.settings.model_copy(
        update={
            "imap_url": SecretStr(imap_url),
            "intake_require_sender_proof": True,
            "intake_trusted_authserv_id": TRUSTED,
            "intake_dns_resolvers": ["127.0.0.1:9"],  # nothing answers: no DNS from tests
            "intake_dns_timeout_s": 0.5,
            **overrides,
        }
    )
    app = App(settings)
    app.__dict__["engine"] = world.engine
    return app


def deliver(app: App, account: ImapAccount, *raws: bytes) -> RunReport:
    for raw in raws:
        account.append(raw)
    ctx = intake_context(app)
    mailbox = ImapMailbox(account.imap_url)
    try:
        return run_once(ctx, mailbox)
    finally:
        mailbox.close()


def rows(world: World, model: type[Any]) -> list[Any]:
    with world.uow() as uow:
        found = list(uow.session.scalars(select(model).order_by(model.id)))
        uow.session.expunge_all()
        return found


def forged(index: int, **changes: Any) -> bytes:
    """A registration in Ann's name sent by someone else: nothing vouches for it."""
    msg = message_from_bytes(registration_email(index, **changes), policy=policy.default)
    msg["Reply-To"] = "attacker@evil.example"
    msg["Sender"] = "attacker@evil.example"
    return b"Return-Path: <attacker@evil.example>\r\n" + bytes(msg)


def vouched(raw: bytes, results: str) -> bytes:
    return f"Authentication-Results: {results}\r\n".encode() + raw


def reply_to(row: OutboxMessage, sender: str = ANN, **headers: str) -> bytes:
    """The contact's reply to one of our emails, threaded to it."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "deals@dealreg.localhost"
    msg["Subject"] = "Re: " + row.subject
    msg["Message-ID"] = f"<reply-{row.id}-{sender}-{len(headers)}@partner.example>"
    msg["In-Reply-To"] = row.message_id
    msg["References"] = row.message_id
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("Yes, that was me.\n\n> Did you send this?")
    return bytes(msg)


def confirmation_request(world: World) -> OutboxMessage:
    [row] = [r for r in rows(world, OutboxMessage) if r.template == "intake_confirm"]
    return row


def test_a_forged_registration_is_held_and_only_the_contact_is_asked(
    world: World, imap_account: ImapAccount, smtp_server: SmtpServer
) -> None:
    app = proving_app(world, imap_account.imap_url)
    report = deliver(app, imap_account, forged(1))
    assert report.handled == {"held": 1}
    assert rows(world, Deal) == []
    [held] = rows(world, InboundEmail)
    assert held.status == "held" and held.proof is None and held.hold_token
    assert held.held_until == held.handled_at + timedelta(days=7)

    request = confirmation_request(world)
    assert request.to_addr == ANN  # never the Reply-To, Sender or Return-Path
    assert held.hold_token in request.message_id and held.hold_token in request.body_text
    assert [r.template for r in rows(world, OutboxMessage)] == ["intake_confirm"]

    settings = app.settings.model_copy(update={"smtp_url": SecretStr(smtp_server.url)})
    round_ = delivery.Round("t", app.now())
    sent = delivery.deliver_due(app.uow, make_mailer(settings), round_, settings=settings)
    assert sent.sent == 1
    [mail] = smtp_server.received
    assert mail.rcpt_tos == [ANN]
    parsed = mail.message
    assert parsed["Message-ID"] == request.message_id
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert "evil.example" not in mail.data.decode()


def test_the_contacts_threaded_reply_registers_the_held_deal_once(
    world: World, imap_account: ImapAccount
) -> None:
    app = proving_app(world, imap_account.imap_url)
    deliver(app, imap_account, forged(2))
    request = confirmation_request(world)

    report = deliver(app, imap_account, reply_to(request))
    assert report.handled == {"answered": 1, "registered": 1}
    [deal] = rows(world, Deal)
    assert deal.contact.email == ANN and deal.company_name == "Prospect 2 Ltd"
    held, reply = rows(world, InboundEmail)
    assert (held.status, held.proof, held.deal_id) == ("registered", "confirmed", deal.id)
    assert reply.status == "answered" and f"inbound {held.id}" in (reply.reason or "")
    confirmations = [r for r in rows(world, OutboxMessage) if r.template == "registration_received"]
    assert [c.to_addr for c in confirmations] == [ANN]

    # The same confirmation again, and another run: nothing more is made.
    again = deliver(app, imap_account, reply_to(request, X_Extra="again"))
    assert again.handled == {"answered": 1}
    assert len(rows(world, Deal)) == 1


def test_forged_or_automatic_confirmations_release_nothing(
    world: World, imap_account: ImapAccount
) -> None:
    app = proving_app(world, imap_account.imap_url)
    deliver(app, imap_account, forged(3))
    request = confirmation_request(world)
    guessed = EmailMessage()
    guessed["From"] = ANN
    guessed["Subject"] = "Re: confirm"
    guessed["Message-ID"] = "<guess@evil.example>"
    guessed["In-Reply-To"] = "<confirm.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA@dealreg.localhost>"
    guessed.set_content("yes")
    stranger = reply_to(request, sender="attacker@evil.example")
    rival = reply_to(request, sender=BOB)  # a partner contact, but not the one asked
    auto = reply_to(request, Auto_Submitted="auto-replied")  # Ann's out-of-office
    report = deliver(app, imap_account, bytes(guessed), stranger, rival, auto)
    assert report.failed == 0
    assert rows(world, Deal) == []
    statuses = sorted(r.status for r in rows(world, InboundEmail))
    assert statuses == ["held", "ignored", "refused", "refused", "refused"]
    # Nobody was answered: only the original request to Ann exists.
    assert [r.template for r in rows(world, OutboxMessage)] == ["intake_confirm"]
    # Ann's own reply still works afterwards.
    assert deliver(app, imap_account, reply_to(request)).handled["registered"] == 1


def test_a_held_message_lapses_and_a_late_confirmation_is_told_so(
    world: World, imap_account: ImapAccount
) -> None:
    app = proving_app(world, imap_account.imap_url, intake_hold_days=2)
    deliver(app, imap_account, forged(4))
    request = confirmation_request(world)
    assert jobs.lapse_held(app.uow, app.now() + timedelta(days=1)) == 0
    assert jobs.lapse_held(app.uow, app.now() + timedelta(days=2, minutes=1)) == 1
    [held] = rows(world, InboundEmail)
    assert held.status == "lapsed"
    assert jobs.status(app.uow, app.now())["inbound_held"] == 0

    deliver(app, imap_account, reply_to(request))
    assert rows(world, Deal) == []
    late = [r for r in rows(world, OutboxMessage) if r.template == "intake_refused"]
    assert [r.to_addr for r in late] == [ANN]
    assert "lapsed" in late[0].body_text


def test_mail_our_receiving_server_vouches_for_acts_at_once(
    world: World, imap_account: ImapAccount
) -> None:
    app = proving_app(world, imap_account.imap_url)
    good = vouched(
        registration_email(5),
        f"{TRUSTED}; spf=pass smtp.mailfrom=northwind.example; dkim=pass "
        "header.d=northwind.example; dmarc=pass header.from=northwind.example",
    )
    assert deliver(app, imap_account, good).handled == {"registered": 1}
    [row] = rows(world, InboundEmail)
    assert row.proof == "authserv"


def test_authentication_results_that_do_not_prove_the_from_domain_hold_the_message(
    world: World, imap_account: ImapAccount
) -> None:
    app = proving_app(world, imap_account.imap_url)
    tricks = [
        # Another server's verdict: anyone can write that header.
        "evil.example; dmarc=pass header.from=northwind.example",
        # A quoted local part that hides "dmarc=pass" inside an SPF failure.
        f'{TRUSTED}; spf=fail smtp.mailfrom="x;dmarc=pass"@evil.example',
        # Our server's pass, but for the attacker's own domain.
        f"{TRUSTED}; dmarc=pass header.from=evil.example",
        # A signature by a public suffix aligns with no one.
        f"{TRUSTED}; dkim=pass header.d=example",
        # SPF checks the envelope, not the From header.
        f"{TRUSTED}; spf=pass smtp.mailfrom=northwind.example",
        f"{TRUSTED}; dkim=fail header.d=northwind.example (dkim=pass)",
    ]
    raws = [vouched(registration_email(10 + i), t) for i, t in enumerate(tricks)]
    # A forged pass below our server's own (topmost) verdict is not read.
    below = vouched(registration_email(20), f"{TRUSTED}; dmarc=pass header.from=northwind.example")
    raws.append(vouched(below, f"{TRUSTED}; dmarc=fail header.from=northwind.example"))
    report = deliver(app, imap_account, *raws)
    assert report.handled == {"held": len(raws)}
    assert rows(world, Deal) == []


def test_one_from_address_exactly(world: World, imap_account: ImapAccount) -> None:
    app = proving_app(world, imap_account.imap_url)
    results = f"{TRUSTED}; dmarc=pass header.from=northwind.example"
    two = registration_email(30, sender=f"{ANN}, raj@northwind.example")
    twice = registration_email(31).replace(b"From: ", b"From: raj@northwind.example\r\nFrom: ", 1)
    report = deliver(app, imap_account, vouched(two, results), vouched(twice, results))
    assert report.handled == {"refused": 2}
    assert {r.reason for r in rows(world, InboundEmail)} == {"From must name exactly one address"}
    assert rows(world, OutboxMessage) == []


def test_a_message_id_used_by_a_rival_does_not_shadow_the_partners_mail(
    world: World, imap_account: ImapAccount
) -> None:
    app = proving_app(world, imap_account.imap_url, intake_require_sender_proof=False)
    first = registration_email(40, sender=BOB, message_id="<same@x>")
    second = registration_email(41, sender=ANN, message_id="<same@x>")
    assert deliver(app, imap_account, first).handled == {"registered": 1}
    assert deliver(app, imap_account, second).handled == {"registered": 1}
    deals = rows(world, Deal)
    assert sorted(d.contact.email for d in deals) == sorted([BOB, ANN])
    assert {r.message_id for r in rows(world, InboundEmail)} == {"<same@x>"}
    # The very same message delivered again is still handled once.
    assert deliver(app, imap_account, second).handled == {"registered": 1}
    assert len(rows(world, Deal)) == 2


def chatter(index: int) -> bytes:
    """A message from Ann with no form and no command: answered with the blank form."""
    msg = EmailMessage()
    msg["From"] = ANN
    msg["To"] = "deals@dealreg.localhost"
    msg["Subject"] = f"Lunch {index}"
    msg["Message-ID"] = f"<lunch-{index}@x>"
    msg.set_content("Shall we meet at noon?")
    return bytes(msg)


def test_automatic_replies_to_one_address_are_capped_per_hour(
    world: World, imap_account: ImapAccount
) -> None:
    app = proving_app(world, imap_account.imap_url, intake_replies_per_hour=3)
    results = f"{TRUSTED}; dmarc=pass header.from=northwind.example"
    report = deliver(app, imap_account, *[vouched(chatter(i), results) for i in range(5)])
    assert report.handled == {"answered": 5}
    replies = [r for r in rows(world, OutboxMessage) if r.template == "intake_form"]
    assert len(replies) == 3
    unanswered = [r for r in rows(world, InboundEmail) if "not answered" in (r.reason or "")]
    assert len(unanswered) == 2
    # A registration attempt is always answered, its errors past the cap too.
    bad = [
        vouched(registration_email(50 + i, number_of_users="lots", message_id=f"<b{i}@x>"), results)
        for i in range(2)
    ]
    assert deliver(app, imap_account, *bad).handled == {"invalid": 2}
    assert len([r for r in rows(world, OutboxMessage) if r.template == "intake_errors"]) == 2
    # A good registration is still confirmed: a new deal's confirmation is not capped.
    good = vouched(registration_email(60), results)
    assert deliver(app, imap_account, good).handled == {"registered": 1}
    assert [r.to_addr for r in rows(world, OutboxMessage) if r.template == "registration_received"]


def test_a_dkim_signature_aligned_with_from_is_verified_here_and_acts_at_once(
    world: World, imap_account: ImapAccount, dns_server: DnsServer
) -> None:
    dns_server.publish("northwind.example")
    app = proving_app(
        world, imap_account.imap_url, intake_trusted_authserv_id=None,
        intake_dns_resolvers=[dns_server.address], intake_dns_timeout_s=2.0,
    )  # fmt: skip
    signed = sign(registration_email(70), "northwind.example")
    by_subdomain = sign(registration_email(71), "mail.northwind.example", selector="s2")
    dns_server.publish("mail.northwind.example", selector="s2")
    report = deliver(app, imap_account, signed, by_subdomain)
    assert report.handled == {"registered": 2}
    assert {r.proof for r in rows(world, InboundEmail)} == {"dkim"}


def test_signatures_that_do_not_prove_the_sender_hold_the_message(
    world: World, imap_account: ImapAccount, dns_server: DnsServer
) -> None:
    dns_server.publish("evil.example")
    dns_server.publish("northwind.example")
    app = proving_app(
        world, imap_account.imap_url, intake_trusted_authserv_id=None,
        intake_dns_resolvers=[dns_server.address], intake_dns_timeout_s=1.0,
    )  # fmt: skip
    # Signed by the attacker's own domain, not the From domain.
    unaligned = sign(registration_email(80), "evil.example")
    # Signed by Northwind, then changed on the way (another prospect's domain).
    tampered = sign(registration_email(81), "northwind.example").replace(
        b"prospect81.com", b"prospect99.com"
    )
    # Signed with a selector whose key DNS does not have.
    unknown_key = sign(registration_email(82), "northwind.example", selector="gone")
    report = deliver(app, imap_account, unaligned, tampered, unknown_key)
    assert report.handled == {"held": 3}
    assert rows(world, Deal) == []
    reasons = [r.reason or "" for r in rows(world, InboundEmail)]
    assert all(r.startswith("held until its sender confirms it") for r in reasons)


def test_a_bug_of_ours_in_reading_is_logged_kept_for_retry_and_never_told_to_the_sender(
    world: World, imap_account: ImapAccount, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    from intake import parser

    def broken(msg: object) -> object:
        raise TypeError("a bug in reading the form")

    app = proving_app(world, imap_account.imap_url, intake_require_sender_proof=False)
    monkeypatch.setattr(parser, "_read_form", broken)
    report = deliver(app, imap_account, registration_email(90))
    assert (report.failed, report.handled) == (1, {})
    assert "a bug in reading the form" in caplog.text and "Traceback" in caplog.text
    [row] = rows(world, InboundEmail)
    assert (row.status, row.attempts) == ("received", 1)
    assert "TypeError" in (row.reason or "")
    assert rows(world, OutboxMessage) == []  # no "no form" reply for our own bug
    assert jobs.status(app.uow, app.now())["inbound_failed"] == 1
    assert len(imap_account.messages("INBOX")) == 1  # it waits in the inbox

    monkeypatch.undo()  # the fix is deployed: the next run registers it
    again = deliver(app, imap_account)
    assert again.handled == {"registered": 1}
    assert len(rows(world, InboundEmail)) == 1
    assert imap_account.messages("INBOX") == {}
