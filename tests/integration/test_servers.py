"""The throwaway servers the integration tests rely on really work."""

from __future__ import annotations

import smtplib
import socket
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from tests.servers import (
    DovecotServer,
    ImapAccount,
    PostgresServer,
    require_binary,
    services_required,
)

if TYPE_CHECKING:
    from tests.integration.smtp_server import SmtpServer


def test_db_url_runs_a_query_on_each_backend(db_url: str) -> None:
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (n integer)"))
            conn.execute(sa.text("INSERT INTO t VALUES (41)"))
            assert conn.execute(sa.text("SELECT n + 1 FROM t")).scalar_one() == 42
    finally:
        engine.dispose()


def test_each_postgres_test_gets_an_empty_database(postgres: PostgresServer, pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            tables = conn.execute(
                sa.text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            ).scalar_one()
            assert tables == 0
            assert conn.execute(sa.text("SHOW server_version")).scalar_one().startswith("1")
    finally:
        engine.dispose()
    assert pg_url != postgres.url


def test_dovecot_login_append_and_fetch(imap_account: ImapAccount) -> None:
    imap_account.append(b"Subject: hello\r\nMessage-ID: <a@x>\r\n\r\nbody\r\n")
    imap_account.append(b"Subject: other\r\n\r\nbody\r\n", folder="Archive")

    inbox = imap_account.messages()
    assert [raw for _flags, raw in inbox.values()] == [
        b"Subject: hello\r\nMessage-ID: <a@x>\r\n\r\nbody\r\n"
    ]
    assert len(imap_account.messages("Archive")) == 1
    assert imap_account.imap_url.startswith(f"imap://{imap_account.user}:")


def test_each_imap_account_starts_empty(imap_account: ImapAccount) -> None:
    assert imap_account.messages() == {}


def test_dovecot_restart_keeps_port_and_mail(dovecot: DovecotServer) -> None:
    account = dovecot.add_user()
    account.append(b"Subject: kept\r\n\r\nbody\r\n")
    port = dovecot.port

    dovecot.stop()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    dovecot.start()

    assert dovecot.port == port
    assert len(account.messages()) == 1


def test_smtp_server_records_envelope_and_bytes(smtp_server: SmtpServer) -> None:
    raw = b"From: a@example.com\r\nSubject: hi\r\n\r\nhello\r\n"
    with smtplib.SMTP("127.0.0.1", smtp_server.port, timeout=5) as client:
        client.sendmail("a@example.com", ["b@example.com", "c@example.com"], raw)

    [mail] = smtp_server.received
    assert mail.mail_from == "a@example.com"
    assert mail.rcpt_tos == ["b@example.com", "c@example.com"]
    assert mail.data == raw


def test_smtp_outage_refuses_then_recovers_on_same_port(smtp_server: SmtpServer) -> None:
    smtp_server.stop()
    with pytest.raises(OSError):
        smtplib.SMTP("127.0.0.1", smtp_server.port, timeout=2)

    smtp_server.start()
    with smtplib.SMTP("127.0.0.1", smtp_server.port, timeout=5) as client:
        client.sendmail("a@example.com", ["b@example.com"], b"Subject: x\r\n\r\ny\r\n")
    assert len(smtp_server.received) == 1


def test_missing_binary_skips_by_default() -> None:
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        require_binary(["/nonexistent/bin/initdb"], "PostgreSQL", env={})


def test_missing_binary_fails_when_services_are_required() -> None:
    with pytest.raises(pytest.fail.Exception, match="REQUIRE_SERVICES=1"):
        require_binary(["/nonexistent/bin/dovecot"], "Dovecot", env={"REQUIRE_SERVICES": "1"})


def test_present_binary_is_found_even_when_required() -> None:
    assert require_binary(["/bin/sh"], "a shell", env={"REQUIRE_SERVICES": "1"}) == "/bin/sh"


@pytest.mark.parametrize(("value", "required"), [("1", True), ("true", True), ("0", False)])
def test_require_services_reads_the_environment(value: str, required: bool) -> None:
    assert services_required({"REQUIRE_SERVICES": value}) is required
