"""The `retention` job (`dealreg jobs run retention`), on SQLite and PostgreSQL: raw mail
handled, and mail sent, more than RAW_MAIL_RETENTION_DAYS ago loses its bytes, to the
database's own files; recent mail and every key stay."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, text, update

from core.db import make_engine, make_session_factory
from core.mailer import eml_name
from core.models import Deal, InboundEmail, OutboxMessage
from core.scrub import Scrubbed, scrub
from core.uow import UnitOfWork
from tests.factories import registration_email
from tests.integration.privacy_scan import Scan
from tests.integration.test_cli import Cli
from tests.integration.test_privacy import deliver


def marked(index: int, marker: str) -> bytes:
    """A registration email carrying `marker` in a header only the raw mail keeps."""
    return f"X-Campaign: {marker}\r\n".encode() + registration_email(index)


def test_retention_drops_old_raw_mail_and_sent_bodies_but_not_recent_ones(
    cli: Cli, scan: Scan, db_url: str
) -> None:
    deliver(cli, "old.eml", marked(1, "quokka-old"))
    deliver(cli, "new.eml", marked(2, "wombat-new"))
    cli.ok("jobs", "run", "outbox")
    old, new = (d["number"] for d in sorted(cli.json("deals", "list"), key=lambda d: d["number"]))
    said = {n: f"Its number is {n};" for n in (old, new)}
    assert scan.finds("quokka-old") and scan.finds(said[old])
    old_ids = _age(db_url, old, timedelta(days=366))

    result = json.loads(cli.ok("jobs", "run", "retention", "--json"))
    assert result == {"raw_dropped": 1, "bodies_dropped": 1, "files_removed": 1}

    assert not scan.finds("quokka-old") and not scan.finds(said[old])
    assert scan.finds("wombat-new") and scan.finds(said[new])
    with _uow(db_url) as uow:
        rows = {r.id: r for r in uow.session.scalars(select(InboundEmail))}
        sent = {m.deal_id: m for m in uow.session.scalars(select(OutboxMessage))}
    aged = rows[old_ids[0]]
    assert aged.raw == b"" and aged.message_key and aged.status == "registered"
    assert [r.raw != b"" for i, r in rows.items() if i != aged.id] == [True]
    kept = sent[old_ids[1]]
    assert (kept.body_text, kept.body_html) == ("", None) and kept.message_id and kept.subject
    assert not (cli.tmp / "outbox" / eml_name(kept.message_id)).exists()
    assert len(list((cli.tmp / "outbox").glob("*.eml"))) == 1

    retry = cli("intake", "retry", str(aged.id))
    assert retry.returncode == 1 and "no bytes left to run again" in retry.stderr
    # The dropped message delivered again is still known by its key: nothing new.
    deliver(cli, "old-again.eml", marked(1, "quokka-old"))
    assert len(cli.json("intake", "list")) == 2
    again = json.loads(cli.ok("jobs", "run", "retention", "--json"))
    assert again == {"raw_dropped": 0, "bodies_dropped": 0, "files_removed": 0}
    assert cli.json("status")["jobs"]["retention"]["last_error"] is None


def test_mail_waiting_or_unsent_is_kept_whatever_its_age(cli: Cli, db_url: str) -> None:
    deliver(cli, "old.eml", marked(1, "quokka-old"))
    [deal] = cli.json("deals", "list")
    _age(db_url, deal["number"], timedelta(days=400))  # received long ago, its reply unsent
    with _uow(db_url) as uow:
        uow.session.execute(update(InboundEmail).values(status="held"))
        uow.commit()
    result = json.loads(cli.ok("jobs", "run", "retention", "--json"))
    assert result == {"raw_dropped": 0, "bodies_dropped": 0, "files_removed": 0}


@contextlib.contextmanager
def _uow(db_url: str) -> Iterator[UnitOfWork]:
    engine = make_engine(db_url)
    try:
        with UnitOfWork(make_session_factory(engine)) as uow:
            yield uow
    finally:
        engine.dispose()


def _age(db_url: str, number: str, by: timedelta) -> tuple[int, int]:
    """Make a deal's inbound message received, and its sent mail sent, `by` earlier; their
    ids (the message's, the deal's)."""
    with _uow(db_url) as uow:
        s = uow.session
        deal = s.scalars(select(Deal).where(Deal.number == number)).one()
        row = s.scalars(select(InboundEmail).where(InboundEmail.deal_id == deal.id)).one()
        row.received_at -= by
        for message in s.scalars(select(OutboxMessage).where(OutboxMessage.deal_id == deal.id)):
            message.sent_at = message.sent_at and message.sent_at - by
            message.created_at -= by
        uow.commit()
        return row.id, deal.id


def test_a_reader_holding_an_old_snapshot_keeps_the_log_and_the_scrub_says_so(
    tmp_path: Path,
) -> None:
    path = tmp_path / "busy.db"
    args = {"timeout": 0.2, "check_same_thread": False}
    engine = make_engine(f"sqlite:///{path}", connect_args=args)
    reader = sqlite3.connect(path, isolation_level=None)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (b BLOB)"))
            conn.execute(text("INSERT INTO t VALUES (randomblob(100000))"))
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM t").fetchone()  # holds its snapshot
        with engine.begin() as conn:
            conn.execute(text("UPDATE t SET b = x''"))
        assert scrub(engine, ["t"]) == Scrubbed(vacuumed=True, log_emptied=False)
        reader.execute("COMMIT")
        assert scrub(engine, ["t"]) == Scrubbed(vacuumed=True, log_emptied=True)
        assert Path(f"{path}-wal").stat().st_size == 0
    finally:
        reader.close()
        engine.dispose()
