"""A person's data exported and erased with `dealreg privacy`, on SQLite and PostgreSQL: mail
taken in by the intake (from the Maildir), answered through the outbox folder, then the
database's own files (the SQLite file and its log, a `pg_dump`) scanned byte by byte."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from core.models import Deal, InboundEmail, OutboxMessage
from core.scrub import scrub
from core.services import erase, inbound
from core.services.amend import amend
from core.webhook_delivery import sync
from dealreg.intake_command import intake_context
from dealreg.privacy_command import TABLES
from intake.mailbox import ImapMailbox
from intake.pipeline import run_once
from tests.factories import ANN, NOW, REVIEWER, World, form, register, registration_email
from tests.integration.privacy_scan import Scan
from tests.integration.test_cli import Cli
from tests.integration.test_intake import app_for
from tests.integration.webhook_receiver import SECRET
from tests.servers import ImapAccount

JO = "jo.bloggs@example.co.uk"
SURNAME = "Bloggsworth"
LEAD = "lena.marsh@northwind.example"  # the partner's sales lead, not a catalogue contact


def deliver(cli: Cli, name: str, raw: bytes) -> None:
    """Put a message in the intake's Maildir and let the intake take it in."""
    new = cli.tmp / "maildir" / "new"
    new.mkdir(parents=True, exist_ok=True)
    (new / name).write_bytes(raw)
    cli.ok("intake", "run", "--once")


def registered(cli: Cli) -> str:
    """Jo's registration, emailed by Ann, approved, its mail sent; the deal's number."""
    raw = registration_email(
        1,
        end_user_last_name=SURNAME,
        end_user_email=JO,
        partner_sales_lead_name="Lena Marsh",
        partner_sales_lead_email=LEAD,
    )
    deliver(cli, "1.eml", raw)
    [deal] = cli.json("deals", "list")
    cli.ok("deals", "approve", deal["number"], "--reviewer", REVIEWER)
    cli.ok("jobs", "run", "outbox")
    return str(deal["number"])


def held(cli: Cli, address: str) -> dict[str, object]:
    """`privacy export` of `address`, less the moment it was made."""
    data: dict[str, object] = json.loads(cli.ok("privacy", "export", address))
    del data["exported_at"]
    return data


def test_export_lists_deals_messages_and_audit_entries(cli: Cli) -> None:
    number = registered(cli)
    data = json.loads(cli.ok("privacy", "export", JO.upper()))
    assert data["email"] == JO
    [deal] = data["deals"]
    assert (deal["number"], deal["roles"], deal["stage"]) == (number, ["end_user"], "approved")
    assert deal["registration"]["end_user_last_name"] == SURNAME
    [mail] = data["inbound_emails"]
    assert JO in mail["raw"] and mail["sender"] == ANN and mail["moved_to"] == "Processed"
    assert [e["action"] for e in data["audit_entries"]] == ["register"]
    assert data["audit_entries"][0]["details"]["registration"]["end_user_email"] == JO
    assert data["catalogue"] == []

    lead = json.loads(cli.ok("privacy", "export", LEAD))
    assert [d["roles"] for d in lead["deals"]] == [["sales_lead"]]
    assert len(lead["inbound_emails"]) == 1
    nobody = json.loads(cli.ok("privacy", "export", "nobody@example.org"))
    assert nobody["deals"] == nobody["inbound_emails"] == nobody["audit_entries"] == []


def test_erase_without_yes_says_what_would_go_and_changes_nothing(cli: Cli, scan: Scan) -> None:
    registered(cli)
    before = held(cli, JO)
    refused = cli("privacy", "erase", JO)
    assert refused.returncode == 1
    assert "--yes" in refused.stderr and "cannot be undone" in refused.stderr
    assert "deals: 1" in refused.stdout and "inbound emails: 1" in refused.stdout
    assert held(cli, JO) == before
    assert scan.finds(JO) and scan.finds(SURNAME)


def test_erase_leaves_no_trace_in_the_database_files_and_keeps_the_business_facts(
    cli: Cli, scan: Scan
) -> None:
    number = registered(cli)
    # Mail that mentions Jo without being about the deal, and a reply in the deal's thread.
    deliver(cli, "2.eml", registration_email(2, end_user_email=JO, end_user_last_name=SURNAME))
    assert scan.finds(JO) and scan.finds(SURNAME)
    assert _files_holding(cli, JO)

    result = json.loads(cli.ok("privacy", "erase", JO, "--yes", "--json"))
    assert len(result["deals"]) == 2 and result["inbound_emails"] == 2
    assert result["log_emptied"] is True

    assert not scan.finds(JO) and not scan.finds(SURNAME)
    assert not _files_holding(cli, JO) and not _files_holding(cli, SURNAME)
    shown = cli.json("deals", "show", number)
    assert (shown["stage"], shown["product"], shown["country"]) == (
        "approved",
        "email_security",
        "GB",
    )
    assert shown["number_of_users"] == 250 and shown["prospect"]["domain"] == "prospect1.com"
    for name in ("end_user_email", "end_user_last_name", "end_user_first_name", "end_user_phone"):
        assert shown[name] == "[erased]", name
    assert shown["partner_sales_lead_email"] == LEAD  # another person: kept
    erase = shown["history"][-1]
    assert (erase["action"], erase["actor"]) == ("erase", "operator")
    assert JO not in json.dumps(erase) and SURNAME not in json.dumps(erase)
    assert shown["history"][0]["details"]["registration"]["end_user_email"] == "[erased]"
    # Nothing is left to find, and a second erase changes nothing.
    assert json.loads(cli.ok("privacy", "export", JO))["deals"] == []
    again = json.loads(cli.ok("privacy", "erase", JO, "--yes", "--json"))
    assert again["deals"] == [] and again["inbound_emails"] == 0


def test_a_catalogue_contact_or_reviewer_is_refused_and_nothing_changes(
    cli: Cli, scan: Scan
) -> None:
    registered(cli)
    before = held(cli, ANN)
    refused = cli("privacy", "erase", ANN, "--yes")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "a contact of partner Northwind IT in the catalogue" in refused.stderr
    assert "remove them from the catalogue first" in refused.stderr
    assert held(cli, ANN) == before
    assert scan.finds(ANN)
    reviewer = cli("privacy", "erase", REVIEWER, "--yes")
    assert reviewer.returncode == 1 and "is a reviewer in the catalogue" in reviewer.stderr
    dry = cli("privacy", "erase", ANN)
    assert dry.returncode == 1 and "remove them from the catalogue first" in dry.stderr
    assert cli("privacy", "erase", "not-an-address").returncode == 1
    ours = cli("privacy", "erase", "Deals@dealreg.localhost", "--yes")
    assert ours.returncode == 1 and "the intake's own address" in ours.stderr


def _files_holding(cli: Cli, text: str) -> list[Path]:
    """Mail files (outbox copies, the Maildir) holding `text`, whatever its case."""
    folders = (cli.tmp / "outbox", cli.tmp / "maildir")
    paths = [p for folder in folders for p in folder.rglob("*") if p.is_file()]
    return [p for p in paths if text.lower().encode() in p.read_bytes().lower()]


def test_registration_from_a_file_is_erased_like_one_by_email(cli: Cli, scan: Scan) -> None:
    reg = cli.write("reg.json", form(end_user_email=JO, end_user_last_name=SURNAME))
    number = cli.json("deals", "register", "--partner", "Northwind IT", "--file", reg)["number"]
    cli.ok("jobs", "run", "outbox")
    cli.ok("privacy", "erase", JO, "--yes")
    assert not scan.finds(JO) and not scan.finds(SURNAME)
    assert cli.json("deals", "show", number)["stage"] == "opportunity"


def test_a_repeat_delivery_of_an_erased_message_creates_nothing(
    world: World, imap_account: ImapAccount
) -> None:
    raw = registration_email(7, end_user_email=JO, end_user_last_name=SURNAME)
    imap_account.append(raw)
    ctx = intake_context(app_for(world, imap_account.imap_url))
    assert run_once(ctx, ImapMailbox(imap_account.imap_url)).handled == {"registered": 1}
    before = _rows(world)
    with world.uow() as uow:
        erased, _ = erase.erase(uow, JO, NOW)
    assert len(erased.deals) == 1 and erased.inbound_emails == 1

    imap_account.append(raw)  # the same message, delivered again
    again = run_once(ctx, ImapMailbox(imap_account.imap_url))
    assert again.failed == 0 and imap_account.messages("INBOX") == {}
    assert _rows(world) == before
    with world.uow() as uow:
        row = uow.session.scalars(select(InboundEmail)).one()
    assert row.status == "registered" and row.raw
    assert JO.encode() not in row.raw.lower() and SURNAME.encode() not in row.raw


def _rows(world: World) -> tuple[int, ...]:
    with world.uow() as uow:
        count = uow.session.scalar
        return tuple(
            int(count(select(func.count()).select_from(model)) or 0)
            for model in (Deal, InboundEmail, OutboxMessage)
        )


def test_mail_not_yet_acted_on_is_closed_and_mail_to_them_is_never_sent(world: World) -> None:
    raw = registration_email(8, sender=JO, end_user_email=JO, end_user_last_name=SURNAME)
    with world.uow() as uow:
        for n, status in enumerate(("held", "received")):
            envelope = inbound.Envelope(f"key-{n}", f"<m{n}@x>", JO, "Registration")
            row = inbound.new(
                envelope=envelope, place=inbound.Place(None, None, None, 1), raw=raw, now=NOW
            )
            row.status = status
            uow.session.add(row)
        uow.session.add(
            OutboxMessage(
                kind="email", template="intake_form", to_addr=f"Jo <{JO}>", subject="Form",
                body_text=f"Dear {SURNAME}", headers={}, message_id="<o1@x>", created_at=NOW,
                next_attempt_at=NOW, attempts=0,
            )
        )  # fmt: skip
        uow.commit()
    with world.uow() as uow:
        done, _ = erase.erase(uow, JO, NOW)
    assert (done.deals, done.inbound_emails, done.outbox_messages) == ([], 2, 1)
    with world.uow() as uow:
        rows = uow.session.scalars(select(InboundEmail).order_by(InboundEmail.id)).all()
        sent = uow.session.scalars(select(OutboxMessage)).one()
    assert [(r.status, r.sender) for r in rows] == [("lapsed", "[erased]"), ("ignored", "[erased]")]
    # Known by the address alone, Jo's own mail goes whole: a surname typed in it is unknown.
    assert [(r.message_key, r.raw) for r in rows] == [("key-0", b""), ("key-1", b"")]
    assert done.inbound_dropped == 2
    assert (sent.to_addr, sent.body_text, sent.body_html) == ("Jo <[erased]>", "", None)
    assert sent.failed_at == NOW and sent.sent_at is None and sent.message_id == "<o1@x>"


def test_a_webhook_waiting_to_go_is_redacted_and_stays_json(db_url: str, tmp_path: Path) -> None:
    world = World(
        db_url, tmp_path, webhook_urls=["https://crm.example/hooks"], webhook_secret=SECRET
    )
    try:
        sync(world.uow, world.settings.webhook_urls, NOW)
        with world.uow() as uow:
            reg = form(end_user_email=JO, end_user_last_name=SURNAME)
            register(uow, world.actor(ANN), reg, now=NOW, settings=world.settings)
        with world.uow() as uow:
            erase.erase(uow, JO, NOW)
        with world.uow() as uow:
            hook = uow.session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == "webhook")
            ).one()
    finally:
        world.close()
    data = json.loads(hook.body_text)["data"]
    assert (data["end_user_email"], data["end_user_last_name"]) == ("[erased]", "[erased]")
    assert data["stage"] == "opportunity" and hook.message_id and hook.sent_at is None
    assert JO not in hook.body_text.lower() and SURNAME not in hook.body_text


def test_someone_an_amendment_replaced_is_erased_from_the_trail_names_and_all(
    world: World, scan: Scan
) -> None:
    with world.uow() as uow:
        reg = form(end_user_email=JO, end_user_last_name=SURNAME)
        number = register(uow, world.actor(ANN), reg, now=NOW, settings=world.settings).deal.number
    kim = {"end_user_email": "kim.new@example.co.uk", "end_user_last_name": "Newbury"}
    with world.uow() as uow:
        amend(uow, world.actor(ANN), number, changes=kim, now=NOW, settings=world.settings)
    with world.uow() as uow:
        done, _ = erase.erase(uow, JO, NOW)
    scrub(world.engine, TABLES)
    assert done.deals == [] and done.audit_entries == 2  # the registration, the amendment
    assert not scan.finds(JO) and not scan.finds(SURNAME)
    assert scan.finds("kim.new@example.co.uk") and scan.finds("Newbury")
