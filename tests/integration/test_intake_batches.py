"""The intake's batches: read ahead in a child process with the same outcomes as reading
in-process (a child that dies costs only speed), and registered together, with a message
the database refuses failing alone."""

from __future__ import annotations

import mailbox
import os
import signal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core.models import Deal, InboundEmail, OutboxMessage
from dealreg.intake_command import intake_context
from dealreg.wiring import App
from intake.maildir import MaildirMailbox
from intake.pipeline import AHEAD_AFTER, BATCH, run_once
from intake.readahead import ReadAhead
from tests.factories import BOB, JANA, ROOT, World, registration_email

CORPUS = ROOT / "tests" / "fixtures" / "email"


def mail() -> list[bytes]:
    """The whole corpus, then registrations enough to be read ahead, resends among them."""
    out = [p.read_bytes() for p in sorted(CORPUS.glob("*.eml"))]
    for n in range(1, 101):
        sender = (BOB, JANA)[n % 2]
        local: dict[str, Any] = (
            {"country": "US", "state": "CA", "postcode": "94105", "projected_value": "120000",
             "contact_phone": "+1 212 555 0100", "end_user_phone": "+1 415 555 0132"}
            if sender == BOB
            else {"country": "DE", "state": "BE", "postcode": "10115",
                  "projected_value": "40.000", "contact_phone": "+49 30 1234567",
                  "end_user_phone": "+49 30 901820"}
        )  # fmt: skip
        domain = f"ahead{n // 2 if n % 10 == 0 else n}.com"  # every tenth resends
        out.append(registration_email(1000 + n, sender=sender, domain=domain, **local))
    out.append(registration_email(2000, product="Quantum Firewall"))  # invalid: no such product
    return out


def run(tmp: Path, ahead: ReadAhead | None, read_ahead: bool) -> dict[str, Any]:
    tmp.mkdir(parents=True, exist_ok=True)
    world = World(f"sqlite:///{tmp / 'db.sqlite'}", tmp)
    box = mailbox.Maildir(world.settings.maildir, create=True)
    for raw in mail():
        box.add(raw)
    settings = world.settings.model_copy(update={"intake_read_ahead": read_ahead})
    app = App(settings)
    app.__dict__["engine"] = world.engine
    report = run_once(intake_context(app), MaildirMailbox(settings.maildir), ahead)
    with world.uow() as uow:
        s = uow.session
        inbound = {
            r.message_key: (r.status, r.reason, r.deal_id) for r in s.scalars(select(InboundEmail))
        }
        deals = [
            (d.number, d.partner_id, d.company_name, d.currency, str(d.projected_value),
             d.country, d.state, d.contact_phone, d.close_date, d.number_of_users)
            for d in s.scalars(select(Deal).order_by(Deal.id))
        ]  # fmt: skip
        sent = sorted(
            (m.to_addr, m.template, m.subject, m.deal_id) for m in s.scalars(select(OutboxMessage))
        )
    world.close()
    return {"report": report, "inbound": inbound, "deals": deals, "outbox": sent}


def test_read_ahead_gives_the_same_outcomes_as_reading_in_process(tmp_path: Path) -> None:
    ahead = ReadAhead(frozenset({"deals@dealreg.localhost"}))
    try:
        child = run(tmp_path / "ahead", ahead, read_ahead=True)
        assert ahead.batches > 0  # the child did read
    finally:
        ahead.stop()
    here = run(tmp_path / "here", None, read_ahead=False)
    total = len(mail())
    assert total > (AHEAD_AFTER + 2) * BATCH
    assert child["report"].seen == here["report"].seen == total
    assert child["report"].failed == here["report"].failed == 0
    assert child["report"].handled == here["report"].handled
    assert child["report"].handled["registered"] >= 50
    assert child["report"].handled["duplicate"] >= 5
    assert child["inbound"] == here["inbound"]
    assert child["deals"] == here["deals"]
    assert child["outbox"] == here["outbox"]


def test_a_run_that_proves_long_starts_and_stops_its_own_reader(tmp_path: Path) -> None:
    out = run(tmp_path, None, read_ahead=True)
    assert out["report"].failed == 0
    assert out["report"].seen == len(mail())
    assert _readers() == set()  # the child it started is gone


def test_a_reader_killed_mid_run_leaves_the_run_to_read_in_process(tmp_path: Path) -> None:
    ahead = ReadAhead(frozenset())
    assert ahead.start()
    assert ahead.pid is not None
    os.kill(ahead.pid, signal.SIGKILL)
    try:
        out = run(tmp_path, ahead, read_ahead=True)
    finally:
        ahead.stop()
    assert out["report"].failed == 0
    assert out["report"].seen == len(mail())
    assert not ahead.ahead  # given up on, for this process's lifetime of the object
    statuses = {status for status, _, _ in out["inbound"].values()}
    assert "received" not in statuses


def _readers() -> set[int]:
    """Live processes forked by this process's forkserver: the readers (zombies excluded)."""
    parents: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(entry.name)] = (int(fields[1]), cmdline)
    servers = {
        pid for pid, (ppid, cmd) in parents.items() if ppid == os.getpid() and "forkserver" in cmd
    }
    return {pid for pid, (ppid, _) in parents.items() if ppid in servers}


_DOOM = {
    "sqlite": [
        "CREATE TRIGGER doomed BEFORE INSERT ON deals WHEN NEW.company_name = 'Doomed Ltd' "
        "BEGIN SELECT RAISE(ABORT, 'doomed'); END",
    ],
    "postgresql": [
        "CREATE FUNCTION doomed() RETURNS trigger AS $$ BEGIN "
        "IF NEW.company_name = 'Doomed Ltd' THEN RAISE EXCEPTION 'doomed'; END IF; "
        "RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER doomed BEFORE INSERT ON deals FOR EACH ROW EXECUTE FUNCTION doomed()",
    ],
}


def test_a_registration_the_database_refuses_fails_alone_and_is_retried(world: World) -> None:
    """One insert refused (here by a trigger) fails the batch's joint registration; each is
    then made alone, so the rest are registered and only that message stays for a retry."""
    box = mailbox.Maildir(world.settings.maildir, create=True)
    for n in range(1, 10):
        name = "Doomed Ltd" if n == 4 else f"Batch {n} Ltd"
        box.add(registration_email(3000 + n, company_name=name, domain=f"batch{n}.com"))
    with world.engine.begin() as conn:
        for sql in _DOOM[world.engine.dialect.name]:
            conn.exec_driver_sql(sql)
    app = App(world.settings)
    app.__dict__["engine"] = world.engine
    report = run_once(intake_context(app), MaildirMailbox(world.settings.maildir))
    assert report.seen == 9
    assert report.failed == 1
    assert report.handled == {"registered": 8}
    with world.uow() as uow:
        names = set(uow.session.scalars(select(Deal.company_name)))
        waiting = uow.session.scalars(
            select(InboundEmail.subject).where(InboundEmail.status == "received")
        ).all()
    assert names == {f"Batch {n} Ltd" for n in range(1, 10) if n != 4}
    assert waiting == ["Deal registration 3004"]
    assert len(list(Path(world.settings.maildir, "new").iterdir())) == 1  # left in the inbox

    on_table = " ON deals" if world.engine.dialect.name == "postgresql" else ""
    with world.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER doomed" + on_table)
    again = run_once(intake_context(app), MaildirMailbox(world.settings.maildir))
    assert again.handled == {"registered": 1}
    with world.uow() as uow:
        assert uow.session.scalar(select(Deal.number).where(Deal.company_name == "Doomed Ltd"))
