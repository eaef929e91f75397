"""The outbox against a real SMTP server (aiosmtpd) and a real SQLite file database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core import delivery, outbox
from core.config import Settings
from core.db import Base, make_engine, make_session_factory
from core.delivery import Round
from core.mailer import FileMailer, SmtpMailer, build_message, make_mailer
from core.models import OutboxMessage
from core.uow import UnitOfWork, UowFactory

try:
    from tests.integration.smtp_server import RecordingHandler, SmtpServer, free_port
except ModuleNotFoundError:  # tests/ is not a package: pytest put this folder on sys.path
    from smtp_server import RecordingHandler, SmtpServer, free_port  # type: ignore[no-redef]

T0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
SENDER = "Deal Registration <deals@dealreg.test>"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{tmp_path / 'dealreg.db'}",
        intake_address="deals@dealreg.test",
        smtp_url=None,
        outbox_dir=tmp_path / "outbox",
    )


@pytest.fixture
def uow_factory(settings: Settings) -> Iterator[UowFactory]:
    engine = make_engine(settings.database_url)
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    yield lambda: UnitOfWork(factory)
    engine.dispose()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def add_emails(
    uow_factory: UowFactory,
    settings: Settings,
    count: int = 1,
    dedupe_key: str | None = None,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
) -> list[OutboxMessage]:
    """Queue `count` emails in one committed transaction, as a service would; the rows
    written."""
    before = {row.id for row in all_rows(uow_factory)}
    with uow_factory() as uow:
        for i in range(count):
            outbox.enqueue(
                uow,
                outbox.Email(
                    "intake_form",
                    f"ann{i}@northwind.example",
                    {"country": "GB"},
                    "en_GB",
                    in_reply_to=in_reply_to,
                    references=references,
                ),
                now=T0,
                settings=settings,
                dedupe_key=dedupe_key,
            )
        uow.commit()
    return [row for row in all_rows(uow_factory) if row.id not in before]


def all_rows(uow_factory: UowFactory) -> list[OutboxMessage]:
    with uow_factory() as uow:
        return list(uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_enqueued_reply_is_delivered_once_with_threading_headers(
    uow_factory: UowFactory, settings: Settings, smtp_server: SmtpServer
) -> None:
    [row] = add_emails(
        uow_factory,
        settings,
        in_reply_to="<reg-1@northwind.example>",
        references=["<root@northwind.example>"],
    )
    report = delivery.deliver_due(
        uow_factory, SmtpMailer(smtp_server.url, sender=SENDER), Round("w1", T0)
    )
    again = delivery.deliver_due(
        uow_factory, SmtpMailer(smtp_server.url, sender=SENDER), Round("w1", T0)
    )

    assert (report.sent, report.retrying, report.failed) == (1, 0, 0)
    assert again.sent == 0
    [got] = smtp_server.received
    assert got.mail_from == "deals@dealreg.test"
    assert got.rcpt_tos == ["ann0@northwind.example"]
    msg = got.message
    assert msg["Message-ID"] == row.message_id and row.message_id.endswith("@dealreg.test>")
    assert msg["In-Reply-To"] == "<reg-1@northwind.example>"
    assert msg["References"] == "<root@northwind.example> <reg-1@northwind.example>"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["Subject"] == "Mimecast deal registration form"
    assert msg.get_content_type() == "multipart/alternative"
    assert msg.get_body(("html",)) is not None
    assert "Company Name:" in msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    [sent] = all_rows(uow_factory)
    assert sent.sent_at == T0 and sent.claimed_by is None and sent.attempts == 0


def test_email_that_answers_nothing_is_marked_auto_generated(
    uow_factory: UowFactory, settings: Settings
) -> None:
    [row] = add_emails(uow_factory, settings)

    assert row.headers["Auto-Submitted"] == "auto-generated"
    assert "In-Reply-To" not in row.headers and "References" not in row.headers


def test_server_down_keeps_rows_pending_then_sends_each_once_after_backoff(
    uow_factory: UowFactory, settings: Settings
) -> None:
    port = free_port()
    mailer = SmtpMailer(f"smtp://127.0.0.1:{port}", sender=SENDER, timeout=5)
    add_emails(uow_factory, settings, count=3)

    down = delivery.deliver_due(uow_factory, mailer, Round("w1", T0))
    not_yet = delivery.deliver_due(uow_factory, mailer, Round("w1", T0 + timedelta(seconds=20)))

    assert (down.sent, down.retrying, down.failed) == (0, 3, 0)
    assert not_yet == delivery.DeliveryReport()
    rows = all_rows(uow_factory)
    for row in rows:
        assert row.sent_at is None and row.failed_at is None and row.claimed_at is None
        assert row.attempts == 1 and row.last_error
        assert T0 + timedelta(seconds=30) <= row.next_attempt_at <= T0 + timedelta(seconds=33)
    later = max(r.next_attempt_at for r in rows) + timedelta(seconds=1)
    with SmtpServer(port) as server:
        up = delivery.deliver_due(uow_factory, mailer, Round("w1", later))
        after = delivery.deliver_due(uow_factory, mailer, Round("w1", later + timedelta(hours=2)))
        received = server.received
    assert (up.sent, after.sent) == (3, 0)
    assert sorted(r.message["Message-ID"] for r in received) == sorted(r.message_id for r in rows)


def test_row_fails_after_max_attempts_and_an_operator_can_requeue_it(
    uow_factory: UowFactory, settings: Settings
) -> None:
    port = free_port()
    mailer = SmtpMailer(f"smtp://127.0.0.1:{port}", sender=SENDER, timeout=5)
    add_emails(uow_factory, settings, count=2)

    first = delivery.deliver_due(uow_factory, mailer, Round("w1", T0, max_attempts=2))
    second = delivery.deliver_due(
        uow_factory, mailer, Round("w1", T0 + timedelta(minutes=5), max_attempts=2)
    )

    assert (first.retrying, second.failed) == (2, 2)
    with uow_factory() as uow:
        assert delivery.pending_counts(uow.session)["failed"] == 2
        assert delivery.requeue_failed(uow.session, T0 + timedelta(minutes=10)) == 2
        uow.commit()
    with SmtpServer(port) as server:
        report = delivery.deliver_due(uow_factory, mailer, Round("w1", T0 + timedelta(minutes=10)))
        assert report.sent == 2 and len(server.received) == 2
    with uow_factory() as uow:
        assert delivery.pending_counts(uow.session) == {
            "pending": 0,
            "retrying": 0,
            "claimed": 0,
            "failed": 0,
            "sent": 2,
        }


def test_recipient_refused_for_good_fails_at_once(
    uow_factory: UowFactory, settings: Settings, smtp_server: SmtpServer
) -> None:
    smtp_server.handler.refuse.add("ann0@northwind.example")
    add_emails(uow_factory, settings, count=2)

    report = delivery.deliver_due(
        uow_factory, SmtpMailer(smtp_server.url, sender=SENDER), Round("w1", T0)
    )

    assert (report.sent, report.failed, report.retrying) == (1, 1, 0)
    failed = [r for r in all_rows(uow_factory) if r.failed_at is not None]
    assert [r.to_addr for r in failed] == ["ann0@northwind.example"]
    assert "550" in (failed[0].last_error or "")


def test_two_workers_delivering_at_once_send_each_message_once(
    uow_factory: UowFactory, settings: Settings, smtp_server: SmtpServer
) -> None:
    add_emails(uow_factory, settings, count=30)
    start = threading.Barrier(2)
    reports: dict[str, list[delivery.DeliveryReport]] = {"w1": [], "w2": []}

    def work(worker_id: str) -> None:
        mailer = SmtpMailer(smtp_server.url, sender=SENDER)
        start.wait()
        while True:
            report = delivery.deliver_due(uow_factory, mailer, Round(worker_id, T0, limit=4))
            reports[worker_id].append(report)
            if report == delivery.DeliveryReport():
                return

    threads = [threading.Thread(target=work, args=(w,)) for w in reports]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    ids = [r.message["Message-ID"] for r in smtp_server.received]
    assert len(ids) == 30 and len(set(ids)) == 30
    assert sum(r.sent for rs in reports.values() for r in rs) == 30
    assert all(row.sent_at is not None for row in all_rows(uow_factory))


def test_claim_of_a_crashed_worker_is_taken_over_once_stale(
    uow_factory: UowFactory, settings: Settings
) -> None:
    [row] = add_emails(uow_factory, settings)

    crashed = delivery.claim_due(uow_factory, Round("crashed", T0, limit=10))
    fresh = delivery.claim_due(uow_factory, Round("w2", T0 + timedelta(minutes=1), limit=10))
    stale = delivery.claim_due(uow_factory, Round("w2", T0 + timedelta(minutes=11), limit=10))

    assert (crashed, fresh, stale) == ([row.id], [], [row.id])


def test_same_dedupe_key_is_queued_once(uow_factory: UowFactory, settings: Settings) -> None:
    [first] = add_emails(uow_factory, settings, dedupe_key="reminder:DR-000001:14")
    again = add_emails(uow_factory, settings, dedupe_key="reminder:DR-000001:14")
    with uow_factory() as uow:
        twice = [
            outbox.enqueue(
                uow,
                outbox.Email("intake_form", "ann@northwind.example", {}, "en_GB"),
                now=T0,
                settings=settings,
                dedupe_key="form:1",
            )
            for _ in range(2)
        ]
        uow.commit()

    assert first.dedupe_key == "reminder:DR-000001:14" and again == []
    assert twice == [True, False]  # the second found the first waiting in the unit of work
    assert [row.dedupe_key for row in all_rows(uow_factory)] == [
        "reminder:DR-000001:14",
        "form:1",
    ]


def test_file_mailer_writes_parseable_eml_files(
    uow_factory: UowFactory, settings: Settings
) -> None:
    rows = add_emails(uow_factory, settings, count=2)
    mailer = make_mailer(settings)
    assert isinstance(mailer, FileMailer)

    report = delivery.deliver_due(uow_factory, mailer, Round("w1", T0), settings=settings)

    assert report.sent == 2
    files = sorted(settings.outbox_dir.iterdir())
    assert len(files) == 2 and all(f.suffix == ".eml" for f in files)
    parsed = [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]
    assert sorted(str(m["Message-ID"]) for m in parsed) == sorted(r.message_id for r in rows)
    assert all(m["From"] == "Deal Registration <deals@dealreg.test>" for m in parsed)


def test_built_message_carries_row_headers_and_both_bodies(
    uow_factory: UowFactory, settings: Settings
) -> None:
    [row] = add_emails(uow_factory, settings, in_reply_to="reg-9@northwind.example")

    msg = build_message(row, SENDER)

    assert msg["In-Reply-To"] == "<reg-9@northwind.example>"
    assert msg["Date"] and msg["Message-ID"] == row.message_id
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example:2525", ("smtp", "mail.example", 2525, None, "")),
        ("smtps://u%40x:p%3Aw@mail.example", ("smtps", "mail.example", 465, "u@x", "p:w")),
        ("smtp+starttls://u:p@mail.example", ("smtp+starttls", "mail.example", 587, "u", "p")),
        ("smtp+insecure://localhost", ("smtp+insecure", "localhost", 25, None, "")),
    ],
)
def test_smtp_url_is_parsed_with_decoded_credentials(url: str, expected: tuple[Any, ...]) -> None:
    m = SmtpMailer(url, sender=SENDER)

    assert (m.scheme, m.host, m.port, m.user, m.password) == expected


def test_smtp_mailer_repr_hides_credentials() -> None:
    m = SmtpMailer("smtps://alice:s3cr3t@mail.example", sender=SENDER)

    assert "s3cr3t" not in repr(m) and "alice" not in repr(m)


def test_smtp_url_with_unknown_scheme_is_refused() -> None:
    with pytest.raises(ValueError):
        SmtpMailer("http://mail.example", sender=SENDER)


def test_mail_a_person_waits_for_is_claimed_ahead_of_a_batchs_backlog(
    settings: Settings,
) -> None:
    engine = make_engine(settings.database_url)
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)

    def queue(to: str, *, background: bool) -> None:
        with UnitOfWork(factory, background=background) as uow:
            email = outbox.Email("intake_form", to, {"country": "GB"}, "en_GB")
            outbox.enqueue(uow, email, now=T0, settings=settings)
            uow.commit()

    for i in range(3):
        queue(f"backlog{i}@northwind.example", background=True)
    queue("approved@northwind.example", background=False)  # queued last, due no sooner

    first = delivery.claim_due(lambda: UnitOfWork(factory), Round("w1", T0, limit=1))
    rest = delivery.claim_due(lambda: UnitOfWork(factory), Round("w1", T0, limit=10))
    with UnitOfWork(factory) as uow:
        to = {r.id: r.to_addr for r in uow.session.scalars(select(OutboxMessage))}
    assert [to[i] for i in first] == ["approved@northwind.example"]
    assert [to[i] for i in rest] == [f"backlog{i}@northwind.example" for i in range(3)]
    engine.dispose()


class QueuesOnArrival(RecordingHandler):
    """Record every message; when the `at`-th arrives, run `action` (once)."""

    def __init__(self, at: int, action: Any) -> None:
        super().__init__()
        self.at, self.action = at, action

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        if len(self.received) == self.at:
            self.action()
        return answer


def test_the_outbox_job_sends_mail_queued_meanwhile_ahead_of_a_backlog(
    settings: Settings, tmp_path: Path
) -> None:
    from pydantic import SecretStr

    from dealreg.job_runner import ROUND, run_job
    from dealreg.wiring import App

    def urgent() -> None:  # a reviewer's click, committed while the backlog goes out
        with app.uow() as uow:
            email = outbox.Email("intake_form", "urgent@northwind.example", {}, "en_GB")
            outbox.enqueue(uow, email, now=app.now(), settings=app.settings)
            uow.commit()

    server = SmtpServer()
    server.handler = QueuesOnArrival(5, urgent)
    with server:
        app = App(settings.model_copy(update={"smtp_url": SecretStr(server.url)}))
        Base.metadata.create_all(app.engine)
        with app.background_uow() as uow:  # an intake batch's confirmations
            for i in range(8 * ROUND):
                email = outbox.Email("intake_form", f"b{i}@northwind.example", {}, "en_GB")
                outbox.enqueue(uow, email, now=app.now(), settings=app.settings)
            uow.commit()
        result = run_job(app, "outbox")
        order = [r.rcpt_tos[0] for r in server.received]
    assert result["sent"] == 8 * ROUND + 1
    # Queued after the 5th, it goes with the next round, not after the 80 of the backlog.
    assert ROUND <= order.index("urgent@northwind.example") <= 2 * ROUND
