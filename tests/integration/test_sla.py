"""The service level: reminders at 50% and 90% of a registration's business time and the
escalation once it is due, each once, driven by `dealreg jobs run sla --at …` as an operator
(or a scheduler replaying a missed run) runs it, and by two workers at the same moment.

Registered Wed 25 Nov 2026 09:30 UTC (London: GMT), 16 business hours in Mon-Fri
09:00-17:30: 8 h on Wednesday, 8 h on Thursday, due Thu 26 Nov 17:00. Half of it is used at
Wed 17:30, 90% (14.4 h) at Thu 15:24.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from core.models import Deal, OutboxMessage, Review
from core.services.desk import claim, review_of
from core.services.review import return_for_info
from core.services.sla import start_clock
from tests.factories import ANN, NOW, REVIEWER, World, form, register
from tests.integration.bot_harness import SECRET, TOKEN
from tests.integration.test_cli import Cli
from tests.integration.two_workers import run_twice_at_once
from tests.slack_fake import FakeSlack

DUE = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)
PRIYA = "priya@vendor.example"
DESK = "#desk-escalations"
BOSS = "head-of-sales@vendor.example"


@pytest.fixture
def desk(db_url: str, tmp_path: Path, slack: FakeSlack) -> Iterator[tuple[World, Cli]]:
    """A database with the demo catalogue, Slack on (the fake), escalations configured; and
    the `dealreg` command on it with the same settings."""
    slack_settings = {
        "slack_bot_token": TOKEN,
        "slack_signing_secret": SECRET,
        "slack_api_url": slack.url,
        "slack_escalation_channel": DESK,
        "escalation_email": BOSS,
    }
    world = World(db_url, tmp_path, **slack_settings)
    cli = Cli(db_url, tmp_path)
    cli.env.update({k.upper(): v for k, v in slack_settings.items()})
    try:
        yield world, cli
    finally:
        world.close()


def registered(world: World, domain: str) -> int:
    """Register a deal at NOW as Ann; its id. Its clock runs from NOW (started here if the
    registration does not start it itself)."""
    with world.uow() as uow:
        deal = register(
            uow, world.actor(ANN), form(domain=domain), now=NOW, settings=world.settings
        ).deal
        review = review_of(deal)
        if review.review_due_at is None:
            start_clock(review, NOW, world.settings)
        uow.commit()
        return deal.id


def sla_rows(world: World, deal_id: int) -> list[tuple[str, str, str, dict[str, object]]]:
    """The deal's service-level messages: (kind, template, recipient, Slack payload)."""
    with world.uow() as uow:
        rows = uow.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.deal_id == deal_id, OutboxMessage.template.like("sla_%"))
            .order_by(OutboxMessage.id)
        ).all()
        return [
            (r.kind, r.template, r.to_addr, json.loads(r.body_text) if r.kind == "slack" else {})
            for r in rows
        ]


def run_sla(cli: Cli, at: str) -> list[str]:
    return list(cli.json("jobs", "run", "sla", "--at", at)["notified"])


def test_reminders_at_half_and_ninety_percent_then_escalation_each_once(
    desk: tuple[World, Cli], slack: FakeSlack
) -> None:
    world, cli = desk
    deal_id = registered(world, "sla-one.com")
    with world.uow() as uow:
        assert uow.session.get_one(Review, deal_id).review_due_at == DUE
        number = uow.session.get_one(Deal, deal_id).number
    cli.ok("jobs", "run", "outbox")  # the review card is posted: reminders reply in its thread

    assert run_sla(cli, "2026-11-25T17:00:00Z") == []  # 7.5 of 16 hours
    assert run_sla(cli, "2026-11-25T18:00:00") == [f"{number}: reminder 50%"]  # naive: UTC
    assert run_sla(cli, "2026-11-26T09:10:00Z") == []  # 51%: the 50% one went already
    assert run_sla(cli, "2026-11-26T15:30:00Z") == [f"{number}: reminder 90%"]
    assert run_sla(cli, "2026-11-26T16:59:00Z") == []
    assert run_sla(cli, "2026-11-26T17:00:00Z") == [f"{number}: escalated"]
    assert run_sla(cli, "2026-11-27T12:00:00Z") == []

    rows = sla_rows(world, deal_id)
    sent = Counter((kind, template, to) for kind, template, to, _ in rows)
    assert sent == {
        ("slack", "sla_reminder", "#deal-desk"): 2,
        ("email", "sla_reminder", REVIEWER): 2,
        ("email", "sla_reminder", PRIYA): 2,
        ("slack", "sla_escalation", DESK): 1,
        ("email", "sla_escalation", BOSS): 1,
    }
    reminders = [payload for kind, t, _, payload in rows if kind == "slack" and t == "sla_reminder"]
    assert [p["percent"] for p in reminders] == [50, 90]
    assert reminders[0]["mention"] == ["U0REVIEW", "U0PRIYA"]  # unclaimed, no route: everyone

    cli.ok("jobs", "run", "outbox")
    card = slack.calls_to("chat.postMessage")[0].answer
    assert card is not None
    in_thread = [c.params for c in slack.calls_to("chat.postMessage") if c.params.get("thread_ts")]
    assert len(in_thread) == 2 and all(p["thread_ts"] == card["ts"] for p in in_thread)
    assert "<@U0REVIEW> <@U0PRIYA>" in in_thread[1]["blocks"][0]["text"]["text"]
    assert "90% of the review time" in in_thread[1]["text"]
    [escalated] = [
        c.params for c in slack.calls_to("chat.postMessage") if c.params["channel"] == DESK
    ]
    assert f"{number} (Example Holdings Ltd, from Northwind IT) is overdue" in escalated["text"]
    mail = (cli.tmp / "outbox").glob("*.eml")
    assert any("Overdue: " + number in p.read_text() for p in mail)


def test_a_claimed_registration_reminds_only_its_claimer(desk: tuple[World, Cli]) -> None:
    world, cli = desk
    deal_id = registered(world, "sla-claimed.com")
    reviewer = world.actor(REVIEWER)
    with world.uow() as uow:
        number = uow.session.get_one(Deal, deal_id).number
        claim(uow, reviewer, number, now=NOW, settings=world.settings)
        uow.commit()
    assert run_sla(cli, "2026-11-26T15:30:00Z") == [f"{number}: reminder 90%"]
    rows = sla_rows(world, deal_id)
    assert [(kind, to) for kind, _, to, _ in rows] == [("slack", "#deal-desk"), ("email", REVIEWER)]
    assert rows[0][3]["mention"] == ["U0REVIEW"] and rows[0][3]["percent"] == 90


def test_a_returned_registration_waits_for_the_partner_and_gets_no_reminder(
    desk: tuple[World, Cli],
) -> None:
    world, cli = desk
    returned, waiting = registered(world, "sla-returned.com"), registered(world, "sla-w.com")
    reviewer = world.actor(REVIEWER)
    with world.uow() as uow:
        number = uow.session.get_one(Deal, returned).number
        return_for_info(
            uow, reviewer, number, question="How many mailboxes?", now=NOW,
            settings=world.settings,
        )  # fmt: skip
        uow.commit()
    with world.uow() as uow:
        # Even if its due time were left behind, a returned registration is not the desk's.
        uow.session.get_one(Review, returned).review_due_at = DUE
        uow.commit()
    for at in ("2026-11-25T18:00:00Z", "2026-11-26T15:30:00Z", "2026-11-27T09:00:00Z"):
        notified = run_sla(cli, at)
        assert notified and not any(n.startswith(number) for n in notified)
    assert sla_rows(world, returned) == []
    assert len(sla_rows(world, waiting)) == 3 + 3 + 2


def test_a_bad_time_is_a_usage_error_naming_it(desk: tuple[World, Cli]) -> None:
    _, cli = desk
    bad = cli("jobs", "run", "sla", "--at", "next tuesday")
    assert bad.returncode == 2
    assert "--at" in bad.stderr and "'next tuesday'" in bad.stderr


def test_two_workers_at_the_same_moment_send_each_step_once(
    desk: tuple[World, Cli], tmp_path: Path
) -> None:
    world, cli = desk
    ids = [registered(world, f"sla-race{i}.com") for i in range(15)]
    moments = ["2026-11-25T18:00:00Z", "2026-11-26T15:30:00Z", "2026-11-26T17:00:00Z"]
    run_twice_at_once(cli, tmp_path, "sla", *moments)
    for deal_id in ids:
        sent = Counter((kind, template, to) for kind, template, to, _ in sla_rows(world, deal_id))
        assert sent == {
            ("slack", "sla_reminder", "#deal-desk"): 2,
            ("email", "sla_reminder", REVIEWER): 2,
            ("email", "sla_reminder", PRIYA): 2,
            ("slack", "sla_escalation", DESK): 1,
            ("email", "sla_escalation", BOSS): 1,
        }
    with world.uow() as uow:
        steps = uow.session.scalars(select(Review.sla_notified).where(Review.deal_id.in_(ids)))
        assert set(steps) == {3}
    assert os.environ.get("DATABASE_URL") != cli.env["DATABASE_URL"]  # ran apart from us
