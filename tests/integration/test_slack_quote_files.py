"""A quote's PDF shared as a file in the partner's own DM, over signed HTTP and the fake
Slack's external upload, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.app import make_client
from bot.delivery import deliver_slack_due
from core import quote_pdf
from core.models import Deal, OutboxMessage, Quote
from tests.factories import ANN, World, form, register
from tests.integration.bot_harness import BotHarness
from tests.slack_fake import Call, FakeSlack, Upload

ANN_DM = "DU01ANN"  # the fake's DM channel for Ann's Slack user, U01ANN


@pytest.fixture
def bot(slack_db_world: World, slack: FakeSlack) -> Iterator[BotHarness]:
    """The bot over HTTP on a free port, its database SQLite or PostgreSQL."""
    harness = BotHarness(slack_db_world, slack)
    yield harness
    harness.close()


def registered(world: World, bot: BotHarness) -> str:
    """Register Ann's deal and post its review message, as the worker would."""
    with world.uow() as uow:
        reg = register(
            uow, world.actor(ANN), form(), now=datetime.now(UTC), settings=bot.app.settings
        )
    bot.deliver()
    return reg.deal.number


def pdf_of(world: World, bot: BotHarness, number: str) -> tuple[str, bytes]:
    """The file name and bytes of quote `number`'s PDF, rendered from the database."""
    with world.uow() as uow:
        quote = uow.session.scalars(select(Quote).where(Quote.number == number)).one()
        return quote_pdf.filename(quote), quote_pdf.render(quote, bot.app.settings.vendor_name)


def newest_quote(world: World, deal_number: str) -> str:
    with world.uow() as uow:
        deal = uow.session.scalars(select(Deal).where(Deal.number == deal_number)).one()
        return deal.quotes[-1].number


def approval_dm(world: World, timeout: float = 10.0) -> OutboxMessage:
    """The approval's partner_dm row, once it has been attempted."""
    query = select(OutboxMessage).where(
        OutboxMessage.template == "partner_dm", OutboxMessage.body_text.contains("approved")
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with world.uow() as uow:
            row = uow.session.scalars(query).first()
            if row is not None and (row.sent_at or row.attempts) and row.claimed_by is None:
                return row
        time.sleep(0.05)
    raise AssertionError("the approval DM was not attempted")


def approval_posts(slack: FakeSlack) -> list[Call]:
    """The approval DMs posted to Ann."""
    posts = slack.calls_to("chat.postMessage")
    return [c for c in posts if c.params["channel"] == ANN_DM and "approved" in c.params["text"]]


def in_dm(upload: Upload) -> bool:
    return upload.channel == ANN_DM


def test_approval_shares_the_new_quotes_pdf_in_the_partners_dm(
    bot: BotHarness, slack_db_world: World, slack: FakeSlack
) -> None:
    number = registered(slack_db_world, bot)
    bot.click("U0REVIEW", "deal_approve", number)
    upload = slack.wait_for_upload(in_dm, timeout=30)
    filename, data = pdf_of(slack_db_world, bot, newest_quote(slack_db_world, number))
    assert (upload.filename, upload.data) == (filename, data)
    assert data.startswith(b"%PDF-")
    assert upload.comment is not None and filename.removesuffix(".pdf") in upload.comment
    assert len(approval_posts(slack)) == 1
    assert approval_dm(slack_db_world).sent_at is not None


def test_deal_quote_shares_the_pdf_in_the_askers_dm_and_no_channel(
    bot: BotHarness, slack_db_world: World, slack: FakeSlack
) -> None:
    number = registered(slack_db_world, bot)
    bot.command("U01ANN", f"quote {number} archive 300")
    answer = slack.wait_for("response_url", lambda p: "Quote Q-" in p["text"], timeout=30)
    assert "PDF is in your direct messages" in answer["text"]
    assert answer["response_type"] == "ephemeral"
    found = re.search(r"Q-\d{6}", answer["text"])
    assert found is not None
    upload = slack.wait_for_upload(lambda u: u.filename == f"{found[0]}.pdf")
    assert upload.channel == ANN_DM
    assert upload.data == pdf_of(slack_db_world, bot, found[0])[1]
    assert slack.wait_for("conversations.open")["users"] == "U01ANN"
    assert [u.channel for u in slack.shared_files()] == [ANN_DM]  # never a shared channel


def test_a_refused_upload_is_retried_without_posting_the_dm_again(
    bot: BotHarness, slack_db_world: World, slack: FakeSlack
) -> None:
    number = registered(slack_db_world, bot)
    slack.fail_once("files.completeUploadExternal", "invalid_channel")
    bot.click("U0REVIEW", "deal_approve", number)
    row = approval_dm(slack_db_world)
    assert (row.sent_at, row.attempts) == (None, 1)
    assert "invalid_channel" in (row.last_error or "")
    assert row.headers["channel"] == ANN_DM and row.headers["ts"]
    assert slack.shared_files() == []

    later = datetime.now(UTC) + timedelta(minutes=5)  # past the retry's back-off
    runtime = bot.app.runtime
    report = deliver_slack_due(runtime, make_client(bot.app.settings), later, "test-worker")
    assert report.sent == 1
    upload = slack.wait_for_upload(in_dm)
    assert upload.data == pdf_of(slack_db_world, bot, newest_quote(slack_db_world, number))[1]
    assert len(approval_posts(slack)) == 1
    assert approval_dm(slack_db_world).sent_at is not None


def test_a_refused_quote_pdf_keeps_the_quote_and_tells_the_partner(
    bot: BotHarness, slack_db_world: World, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    number = registered(slack_db_world, bot)
    slack.fail_once("files.completeUploadExternal", "invalid_channel")
    with caplog.at_level(logging.ERROR, logger="bot"):
        bot.command("U01ANN", f"quote {number} archive 300")
        answer = slack.wait_for("response_url", lambda p: "Quote Q-" in p["text"], timeout=30)
    assert "PDF could not be sent" in answer["text"]
    ref = re.search(r"reference ([0-9a-f]{8})", answer["text"])
    assert ref is not None
    logged = [r for r in caplog.records if ref[1] in r.getMessage()]
    assert logged and logged[0].exc_info is not None  # with its traceback
    found = re.search(r"Q-\d{6}", answer["text"])
    assert found is not None
    with slack_db_world.uow() as uow:
        assert uow.session.scalars(select(Quote).where(Quote.number == found[0])).one()
    assert slack.shared_files() == []
