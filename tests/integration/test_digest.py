"""The deal desk's morning digest: `dealreg jobs run digest --at …` as the worker runs it, on
SQLite and PostgreSQL, to the fake Slack (message, then the chart in its thread) and, without
Slack, by email to the reviewers with the chart inline; once per channel and business day,
even with two workers at the same moment.

Deals registered Wed 25 Nov 2026 09:30 UTC (London: GMT), decided on Friday 27 Nov; the
digest runs on Monday 30 Nov, whose last business day is that Friday.
"""

from __future__ import annotations

import email
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from core.models import OutboxMessage
from core.services.review import Rejection, approve, reject, return_for_info
from tests.factories import ANN, NOW, REVIEWER, World, form, register, with_rules
from tests.integration.bot_harness import SECRET, TOKEN
from tests.integration.test_cli import Cli
from tests.integration.two_workers import run_twice_at_once
from tests.slack_fake import FakeSlack, texts

MONDAY = "2026-11-30T08:45:00Z"
PRIYA = "priya@vendor.example"


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def desk_week(world: World) -> None:
    """Four deals on Wednesday and one on Monday morning; Friday: one approved (17.5
    business hours), one rejected (18.5), one returned; one left overdue; one DACH deal
    routed to its own channel."""
    s, desk = world.settings, world.actor(REVIEWER)
    numbers = []
    for domain, when in [("a.com", NOW), ("b.com", NOW), ("c.com", NOW), ("d.com", NOW),
                         ("e.com", at(30, 8))]:  # fmt: skip
        with world.uow() as uow:
            deal = register(uow, world.actor(ANN), form(domain=domain), now=when, settings=s)
            uow.commit()
            numbers.append(deal.deal.number)
    with world.uow() as uow:
        approve(uow, desk, numbers[0], now=at(27, 10), settings=s)
    with world.uow() as uow:
        reject(uow, desk, numbers[1], rejection=Rejection("duplicate"), now=at(27, 11),
               settings=s)  # fmt: skip
    with world.uow() as uow:
        return_for_info(uow, desk, numbers[2], question="Which site?", now=at(27, 12),
                        settings=s)  # fmt: skip


@pytest.fixture
def slack_desk(db_url: str, tmp_path: Path, slack: FakeSlack) -> Iterator[tuple[World, Cli]]:
    settings = {"slack_bot_token": TOKEN, "slack_signing_secret": SECRET,
                "slack_api_url": slack.url}  # fmt: skip
    world = World(db_url, tmp_path, **settings)
    with_rules(world, {"name": "dach", "route": "#desk-dach", "reviewers": [PRIYA],
                       "when": {"countries": ["DE", "AT", "CH"]}})  # fmt: skip
    cli = Cli(db_url, tmp_path)
    cli.env.update({k.upper(): v for k, v in settings.items()})
    try:
        yield world, cli
    finally:
        world.close()


def queued(cli: Cli, at: str) -> list[str]:
    return list(cli.json("jobs", "run", "digest", "--at", at)["queued"])


def test_each_channel_gets_its_digest_once_with_the_chart_in_its_thread(
    slack_desk: tuple[World, Cli], slack: FakeSlack, tmp_path: Path
) -> None:
    world, cli = slack_desk
    desk_week(world)
    assert queued(cli, "2026-11-30T08:00:00Z") == []  # before DIGEST_AT (08:30)
    assert queued(cli, "2026-11-28T09:00:00Z") == []  # a Saturday
    run_twice_at_once(cli, tmp_path, "digest", MONDAY)
    assert queued(cli, "2026-11-30T10:00:00Z") == []  # once a day
    with world.uow() as uow:
        rows = uow.session.scalars(
            select(OutboxMessage.to_addr).where(OutboxMessage.template == "desk_digest")
        ).all()
    assert sorted(rows) == ["#deal-desk", "#desk-dach"]
    cli.ok("jobs", "run", "outbox")
    posts = {c.params["channel"]: c for c in slack.calls_to("chat.postMessage")
             if "digest" in str(c.params.get("text"))}  # fmt: skip
    main = texts(posts["#deal-desk"].params["blocks"])
    assert "2 waiting for a decision" in main  # the overdue one and Monday's
    assert "under 1 day: 1" in main and "3-7 days: 1" in main
    assert "1 waiting for the partner's answer" in main
    assert "*Overdue*\\n1" in main  # the blocks as JSON
    assert "1 approved, 1 rejected, 1 returned" in main  # on Friday 27 Nov
    assert "18.0 business hours, 2 decided" in main  # median of 17.5 and 18.5
    assert "50%" in main  # approval rate
    assert "0 waiting for a decision" in texts(posts["#desk-dach"].params["blocks"])
    charts = [u for u in slack.shared_files() if u.filename.startswith("digest-")]
    assert sorted(u.channel or "" for u in charts) == sorted(
        str(posts[c].answer["channel"]) for c in posts
    )
    assert all(u.thread_ts for u in charts)
    assert charts[0].data is not None
    with Image.open(io.BytesIO(charts[0].data)) as image:
        assert image.format == "PNG"


def test_without_slack_the_reviewers_get_it_by_email_with_the_chart_inline(
    db_url: str, tmp_path: Path
) -> None:
    world = World(db_url, tmp_path)
    try:
        desk_week(world)
        cli = Cli(db_url, tmp_path)
        assert queued(cli, MONDAY) == ["#deal-desk"]
        assert queued(cli, MONDAY) == []
        cli.ok("jobs", "run", "outbox")
    finally:
        world.close()
    mails = [
        email.message_from_bytes(p.read_bytes(), policy=default)
        for p in (tmp_path / "outbox").glob("*.eml")
    ]
    digests = [m for m in mails if str(m["Subject"]).startswith("Deal desk digest")]
    assert sorted(str(m["To"]) for m in digests) == sorted([REVIEWER, PRIYA])
    mail = digests[0]
    assert isinstance(mail, EmailMessage)
    html = mail.get_body(("html",))
    assert html is not None and "cid:weekly-chart@dealreg" in html.get_content()
    (image,) = [p for p in mail.walk() if p.get_content_type() == "image/png"]
    assert image["Content-ID"] == "<weekly-chart@dealreg>"
    assert str(image.get_content_disposition()) == "inline"
    assert Image.open(io.BytesIO(image.get_content())).format == "PNG"
    assert "_chart_weeks" not in str(mail)  # the row's own note is never a header
    text = mail.get_body(("plain",))
    assert text is not None and "Overdue: 1" in text.get_content()
