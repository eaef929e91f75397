"""GET /metrics from the bot and from `dealreg worker` (METRICS_PORT), parsed with
prometheus_client's parser: every gauge equals what the database holds, on SQLite and on
PostgreSQL, and each process's own instruments count what it did."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event, select, update

from core import jobs, metrics
from core.fields import STAGES
from core.gauges import ClosedCounts
from core.models import Deal, InboundEmail, JobRun, OutboxMessage, Review, WebhookEndpoint
from core.services import inbound, review
from core.services.inbound import Envelope, Place
from core.uow import UnitOfWork
from tests.factories import ANN, NOW, REVIEWER, World, form, register, registration_email
from tests.integration.bot_harness import BotHarness
from tests.integration.smtp_server import SmtpServer
from tests.integration.worker_process import dealreg_worker
from tests.servers import free_port
from tests.slack_fake import FakeSlack

ROOT = Path(__file__).resolve().parents[2]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
GAUGES = (
    "dealreg_deals",
    "dealreg_outbox_messages",
    "dealreg_inbound_messages",
    "dealreg_reviews_overdue",
    "dealreg_job_last_run_failed",
    "dealreg_webhook_endpoints",
)


def parse(text: str) -> tuple[Samples, set[str]]:
    """Every sample by (name, labels), and every name a rule could use."""
    samples: Samples = {}
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}
        names.update(family.name + s for s in suffixes.get(family.type, ()))
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples, names


def of(samples: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: value for (n, labels), value in samples.items() if n == name}


def get(url: str) -> tuple[str, str]:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return resp.headers["Content-Type"], resp.read().decode()


def label(**labels: str) -> frozenset[tuple[str, str]]:
    return frozenset(labels.items())


def populate(world: World) -> list[str]:
    """Deals at known stages (registered, approved, lapsed), outbox rows in each state and
    of a kind of their own, held and failed mail, job runs (one failed), endpoints."""
    numbers = []
    lapsing = NOW - timedelta(days=world.settings.protection_days + 1)
    for index, at in enumerate([NOW, lapsing, NOW, NOW]):
        with world.uow() as uow:
            raw = form(domain=f"metrics-prospect{index}.com", company_name=f"Metrics {index} Ltd")
            done = register(uow, world.actor(ANN), raw, now=at, settings=world.settings)
            numbers.append(done.deal.number)
    with world.uow() as uow:
        review.approve(uow, world.actor(REVIEWER), numbers[0], now=NOW, settings=world.settings)
    assert jobs.expire(world.uow, NOW, world.settings) == [numbers[1]]
    with world.uow() as uow:
        s = uow.session
        ids = list(s.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)))
        states = [
            {"failed_at": NOW, "attempts": 12},
            {"attempts": 2},
            {"claimed_at": datetime.now(UTC), "claimed_by": "elsewhere"},
            {"sent_at": NOW},
        ]
        for row_id, values in zip(ids, states, strict=False):
            s.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(**values))
        s.add(_webhook_row())
        s.add(WebhookEndpoint(url="https://crm.example/hook", enabled=True, created_at=NOW))
        s.add(WebhookEndpoint(url="https://old.example/hook", enabled=False, created_at=NOW))
        for index, (status, attempts) in enumerate([("held", 0), ("held", 0), ("received", 2)]):
            row = _inbound(index)
            row.status, row.attempts = status, attempts
            s.add(row)
        uow.commit()
    jobs.record_run(world.uow, "expire", NOW, NOW + timedelta(seconds=1), None)
    jobs.record_run(world.uow, "sla", NOW, NOW + timedelta(seconds=2), "RuntimeError: boom")
    return numbers


def _webhook_row() -> OutboxMessage:
    return OutboxMessage(
        kind="webhook",
        template="deal.registered",
        to_addr="https://crm.example/hook",
        subject="deal.registered",
        body_text="{}",
        headers={},
        message_id="msg_metrics_1",
        created_at=NOW,
        next_attempt_at=NOW,
    )


def _inbound(index: int) -> InboundEmail:
    key = f"sha256:metrics-{index}"
    return inbound.new(
        envelope=Envelope(key, f"<m{index}@partner.example>", ANN, "Deal registration"),
        place=Place("maildir", None, None, 10),
        raw=b"Subject: x\r\n\r\nx\r\n",
        now=NOW,
    )


def expected(world: World, now: datetime) -> Samples:
    """The gauges as the database holds them, counted row by row here."""
    out: Samples = {}
    with world.uow() as uow:
        s = uow.session
        deals = list(s.scalars(select(Deal)))
        for stage in STAGES:
            count = sum(d.stage == stage for d in deals)
            out[("dealreg_deals", label(stage=stage))] = count
        unsent = [r for r in s.scalars(select(OutboxMessage)) if r.sent_at is None]
        for kind in {r.kind for r in unsent}:
            for state in ("pending", "retrying", "claimed", "failed"):
                count = sum(r.kind == kind and _state(r) == state for r in unsent)
                out[("dealreg_outbox_messages", label(kind=kind, state=state))] = count
        mail = list(s.scalars(select(InboundEmail)))
        held = sum(m.status == "held" for m in mail)
        failed = sum(m.status == "received" and m.attempts > 0 for m in mail)
        out[("dealreg_inbound_messages", label(state="held"))] = held
        out[("dealreg_inbound_messages", label(state="failed"))] = failed
        stage = {d.id: d.stage for d in deals}
        overdue = sum(
            r.review_due_at is not None
            and r.review_due_at < now
            and stage[r.deal_id] == "opportunity"
            for r in s.scalars(select(Review))
        )
        out[("dealreg_reviews_overdue", label())] = overdue
        for run in s.scalars(select(JobRun)):
            failed_run = float(run.last_error is not None)
            out[("dealreg_job_last_run_failed", label(job=run.name))] = failed_run
        endpoints = list(s.scalars(select(WebhookEndpoint)))
        out[("dealreg_webhook_endpoints", label(state="enabled"))] = sum(
            e.enabled for e in endpoints
        )
    return out


def _state(row: OutboxMessage) -> str:
    if row.failed_at is not None:
        return "failed"
    if row.claimed_at is not None:
        return "claimed"
    return "retrying" if row.attempts > 0 else "pending"


def assert_gauges_match(samples: Samples, want: Samples) -> None:
    got = {key: value for key, value in samples.items() if key[0] in GAUGES}
    for key, value in want.items():
        assert got.get(key) == value, (key, got.get(key), value)
    extra = {k for k in got if k not in want and k[0] != "dealreg_webhook_endpoints"}
    assert not extra, extra


def matching(scrape: Callable[[], Samples], world: World, timeout_s: float = 15) -> Samples:
    """A scrape whose gauges equal the database's as read right after it; while rows
    still change under a process at work, scrape again."""
    deadline = time.monotonic() + timeout_s
    while True:
        samples = scrape()
        want = expected(world, datetime.now(UTC))
        if time.monotonic() > deadline:
            assert_gauges_match(samples, want)
        try:
            assert_gauges_match(samples, want)
            return samples
        except AssertionError:
            time.sleep(0.2)


# -- the bot --------------------------------------------------------------------------------


def test_the_bots_metrics_match_the_database_and_time_its_slack_requests(
    slack_db_world: World, slack: FakeSlack
) -> None:
    populate(slack_db_world)
    bot = BotHarness(slack_db_world, slack)
    try:
        before, _ = parse(bot.get("/metrics").body.decode())
        assert bot.command("U01ANN", "help").status == 200
        unsigned = bot.post("command=/deal", "application/x-www-form-urlencoded", secret=None)
        assert unsigned.status == 401
        assert bot.get("/metrics").status == 200
        # The bot posts the review cards meanwhile: compare once its rows stand still.
        samples = matching(lambda: parse(bot.get("/metrics").body.decode())[0], slack_db_world)
        assert samples[("dealreg_database_up", label())] == 1
        # Each of the three kinds of row is there, the webhook one read from its row.
        kinds = {dict(k)["kind"] for k in of(samples, "dealreg_outbox_messages")}
        assert kinds == {"email", "slack", "webhook"}
        assert samples[("dealreg_deals", label(stage="opportunity"))] == 2
        assert samples[("dealreg_reviews_overdue", label())] == 2
        assert samples[("dealreg_webhook_endpoints", label(state="disabled"))] == 1
        for kind in ("command", "refused"):
            name = "dealreg_slack_request_seconds_count"
            grew = samples[(name, label(kind=kind))] - before.get((name, label(kind=kind)), 0)
            assert grew >= 1, kind
    finally:
        bot.close()


def test_the_bots_metrics_are_prometheus_text_with_every_name_the_alert_rules_use(
    sqlite_world: World, bot: BotHarness
) -> None:
    with urllib.request.urlopen(bot.base + "/metrics", timeout=30) as resp:
        content_type, text = resp.headers["Content-Type"], resp.read().decode()
    assert content_type.startswith("text/plain; version=0.0.4")
    _, names = parse(text)
    rules = (ROOT / "ops" / "prometheus" / "dealreg.rules.yml").read_text()
    used = set(re.findall(r"\b(dealreg_[a-z_]+)", rules))
    assert used and used <= names, used - names
    assert "process_resident_memory_bytes" in names


def test_a_database_that_cannot_be_read_gives_database_up_zero_and_still_answers(
    tmp_path: Path,
) -> None:
    def unreadable() -> UnitOfWork:
        raise OSError("database unreachable")

    text = generate_latest(metrics.registry(unreadable, lambda: NOW)).decode()
    samples, names = parse(text)
    assert samples[("dealreg_database_up", label())] == 0
    assert "dealreg_deals" not in names
    assert "dealreg_slack_request_seconds" in names


def test_closed_deals_are_counted_again_once_their_count_is_old(sqlite_world: World) -> None:
    closed = ClosedCounts(sqlite_world.uow, refresh_s=0.0)
    assert closed.counts()["expired"] == 0
    numbers = populate(sqlite_world)
    assert numbers
    closed.counts()  # starts the recount; the scrape shows the count before meanwhile
    deadline = time.monotonic() + 10
    while closed.counts()["expired"] != 1:
        assert time.monotonic() < deadline, "the closed deals were not counted again"
        time.sleep(0.05)


def test_a_registration_that_lapses_unreviewed_is_no_longer_awaited_nor_overdue(
    world: World,
) -> None:
    registered = NOW - timedelta(days=world.settings.protection_days + 1)
    with world.uow() as uow:
        done = register(uow, world.actor(ANN), form(), now=registered, settings=world.settings)
    registry = metrics.registry(world.uow, lambda: NOW)
    samples, _ = parse(generate_latest(registry).decode())
    assert samples[("dealreg_reviews_overdue", label())] == 1
    assert jobs.expire(world.uow, NOW, world.settings) == [done.deal.number]
    with world.uow() as uow:
        # Its due time cleared: the overdue count's index range holds only awaited reviews.
        assert uow.session.get_one(Review, done.deal.id).review_due_at is None
    samples, _ = parse(generate_latest(registry).decode())
    assert samples[("dealreg_reviews_overdue", label())] == 0


# SQLite's statistics after years of use: a million rows, each value of an index shared by
# many (so a rare one, an unsent row or a held message, looks common).
SKEWED = {
    ("deals", "ix_deals_stage"): "1000000 333333",
    ("outbox", "ix_outbox_pending"): "1000000 500000 500000",
    ("inbound_emails", "ix_inbound_status"): "1000000 333333",
    ("reviews", "ix_reviews_due"): "1000000 500000",
}


def test_the_scrape_searches_its_indexes_on_sqlite_whatever_the_statistics_say(
    sqlite_world: World,
) -> None:
    populate(sqlite_world)
    engine = sqlite_world.engine
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.exec_driver_sql("DELETE FROM sqlite_stat1")
        for (table, index), stat in SKEWED.items():
            rows = "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)"
            conn.exec_driver_sql(rows, (table, index, stat))
            conn.exec_driver_sql(rows, (table, None, "1000000"))
    engine.dispose()  # connections read the statistics when they open
    sent: list[tuple[str, Any]] = []

    def grab(_conn: Any, _cur: Any, statement: str, params: Any, *_: Any) -> None:
        sent.append((statement, params))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        generate_latest(metrics.registry(sqlite_world.uow, lambda: NOW))
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    queries = [(sql, params) for sql, params in sent if sql.lstrip().startswith("SELECT")]
    assert len(queries) == 7  # closed deals (the first scrape), then one per family
    with engine.connect() as conn:
        for sql, params in queries:
            plan = [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]
            scans = [
                step for step in plan if re.match(r"SCAN (deals|outbox|inbound|reviews)", step)
            ]
            assert not scans, (sql, plan)


# -- the worker -----------------------------------------------------------------------------


@pytest.fixture
def worker_metrics(
    world: World, smtp_server: SmtpServer, tmp_path: Path
) -> Iterator[tuple[str, list[str]]]:
    """`dealreg worker` with METRICS_PORT, over a database populated beforehand and a
    registration waiting in its Maildir; its /metrics URL and the deals' numbers."""
    numbers = populate(world)
    (tmp_path / "maildir" / "new").mkdir(parents=True)
    (tmp_path / "maildir" / "new" / "1.eml").write_bytes(registration_email(1))
    port = free_port()
    settings = {"SMTP_URL": smtp_server.url, "METRICS_PORT": str(port)}
    with dealreg_worker(world.settings.database_url, tmp_path, **settings):
        yield f"http://127.0.0.1:{port}/metrics", numbers


def test_the_workers_metrics_match_the_database_and_count_its_mail(
    world: World, worker_metrics: tuple[str, list[str]]
) -> None:
    url, _ = worker_metrics

    def settled() -> Samples | None:
        try:
            samples, _ = parse(get(url)[1])
        except OSError:
            return None  # not listening yet
        registered = samples.get(("dealreg_intake_messages_total", label(outcome="registered")))
        waiting = [
            samples.get(("dealreg_outbox_messages", label(kind="email", state=state)))
            for state in ("pending", "retrying")
        ]
        return samples if registered == 1 and waiting == [0, 0] else None

    _wait_for(settled, 30, "the worker to read its mail and send what it queued")
    samples = matching(lambda: parse(get(url)[1])[0], world)

    def counted_as_sent() -> Samples | None:
        """The scrape once it has counted and timed what this worker sent (every email row
        sent since it started): a row is marked sent just before its send is counted."""
        found = parse(get(url)[1])[0]
        with world.uow() as uow:
            rows = list(uow.session.scalars(select(OutboxMessage)))
        sent = sum(r.kind == "email" and r.sent_at is not None and r.sent_at > NOW for r in rows)
        counted = found[("dealreg_outbox_deliveries_total", label(kind="email", outcome="sent"))]
        timed = found[("dealreg_outbox_delivery_seconds_count", label(kind="email"))]
        return found if counted == timed == sent > 0 else None

    _wait_for(counted_as_sent, 10, "the worker's counters to match the rows it sent")
    with world.uow() as uow:
        runs = {r.name: r for r in uow.session.scalars(select(JobRun))}
    finished = of(samples, "dealreg_job_last_finished_timestamp_seconds")
    assert {dict(k)["job"] for k in finished} == set(runs)
    assert finished[label(job="expire")] == runs["expire"].last_finished_at.timestamp()  # type: ignore[union-attr]


def _wait_for(probe: Callable[[], Samples | None], timeout_s: float, what: str) -> Samples:
    deadline = time.monotonic() + timeout_s
    while (found := probe()) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
    return found
