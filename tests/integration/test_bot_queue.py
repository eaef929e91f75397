"""The deal desk's queue: `/deal queue` and the reviewer's App Home list what awaits a
decision, soonest due first, with its due time, claim, conflict and the desk's buttons; the
returned registrations apart; a route's deals only for its reviewers. Over signed HTTP
against the fake Slack, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.desk_cards import DeskClock
from bot.home import desk_home
from core.models import Deal
from core.services.queue import QueueRow, desk_queue
from tests.factories import BOB, World
from tests.integration.bot_harness import BotHarness, registered
from tests.slack_fake import FakeSlack, button_ids, texts, valid_view

PRIYA = "priya@vendor.example"  # the demo catalogue's second reviewer, U0PRIYA
DESK = "deals@vendor.example"  # "Deal Desk", U0REVIEW
NUMBER = re.compile(r"DR-\d{6}")


@pytest.fixture
def desk(slack_db_world: World, slack: FakeSlack) -> Iterator[BotHarness]:
    harness = BotHarness(slack_db_world, slack)
    yield harness
    harness.close()


def change_review(world: World, number: str, **fields: Any) -> None:
    """Set the deal's review fields (`returned_question` on the deal itself) directly."""
    with world.uow() as uow:
        deal = uow.session.scalars(select(Deal).where(Deal.number == number)).one()
        assert deal.review is not None
        for name, value in fields.items():
            setattr(deal if name == "returned_question" else deal.review, name, value)
        uow.commit()


def queue_of(bot: BotHarness, slack: FakeSlack, user: str) -> list[dict[str, Any]]:
    """The blocks `/deal queue` answers `user` with, ephemerally."""
    before = len(slack.calls_to("response_url"))
    assert bot.command(user, "queue").status == 200
    slack.wait_for("response_url", lambda p: len(slack.calls_to("response_url")) > before)
    answer = slack.calls_to("response_url")[before].params
    assert answer.get("response_type", "ephemeral") == "ephemeral"
    return list(answer["blocks"])


def listed(blocks: list[dict[str, Any]]) -> list[str]:
    """The deal numbers of the queue's sections, in order, each once."""
    found: list[str] = []
    for block in blocks:
        text = block.get("text", {}).get("text", "") if block["type"] == "section" else ""
        found += [n for n in NUMBER.findall(text) if n not in found]
    return found


def section_of(blocks: list[dict[str, Any]], number: str) -> str:
    """The text of the section that names `number`."""
    texts_ = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    return str(next(t for t in texts_ if number in t))


def three_deals(world: World, bot: BotHarness) -> tuple[str, str, str]:
    """(overdue, due later, no due time), registered in another order."""
    none = registered(world, bot, domain="nodue.co.uk")
    later = registered(world, bot, domain="later.co.uk")
    late = registered(world, bot, domain="late.co.uk")
    now = datetime.now(UTC).replace(microsecond=0)
    change_review(world, none, review_due_at=None)
    change_review(world, later, review_due_at=now + timedelta(days=3))
    change_review(world, late, review_due_at=now - timedelta(hours=2))
    return late, later, none


def test_the_queue_lists_soonest_due_first_marks_overdue_and_puts_no_due_time_last(
    desk: BotHarness, slack_db_world: World, slack: FakeSlack
) -> None:
    late, later, none = three_deals(slack_db_world, desk)
    blocks = queue_of(desk, slack, "U0REVIEW")
    assert listed(blocks) == [late, later, none]
    assert "*Awaiting a decision: 3*" in texts(blocks)
    assert "⏰ *overdue* since" in section_of(blocks, late)
    assert "🕒 due" in section_of(blocks, later) and "overdue" not in section_of(blocks, later)
    assert "🕒 no due time" in section_of(blocks, none)
    shown = section_of(blocks, late)
    assert "Northwind IT" in shown and "Example Holdings Ltd" in shown and "users" in shown
    for number in (late, later, none):
        for action in ("deal_approve", "deal_reject", "deal_return", "deal_claim"):
            assert (action, number) in button_ids(blocks)


def test_the_queue_says_who_claimed_each_registration(
    desk: BotHarness, slack_db_world: World, slack: FakeSlack
) -> None:
    claimed = registered(slack_db_world, desk, domain="claimed.co.uk")
    free = registered(slack_db_world, desk, domain="free.co.uk")
    desk.click("U0PRIYA", "deal_claim", claimed)
    slack.wait_for("chat.update", lambda p: "Claimed by" in texts(p["blocks"]))
    blocks = queue_of(desk, slack, "U0REVIEW")
    assert "🙋 Priya" in section_of(blocks, claimed)
    assert "🙋 not claimed" in section_of(blocks, free)


def test_a_conflicting_registration_is_flagged_in_the_queue(
    desk: BotHarness, slack_db_world: World, slack: FakeSlack
) -> None:
    first = registered(slack_db_world, desk, BOB, contact_phone="+1 415 555 0100")
    second = registered(slack_db_world, desk)  # Ann's, of the same prospect
    blocks = queue_of(desk, slack, "U0REVIEW")
    assert f"⚠️ conflicts with {first}" in section_of(blocks, second)
    assert "conflicts" not in section_of(blocks, first)


def test_a_reviewer_outside_a_route_does_not_see_its_deals(
    desk: BotHarness, slack_db_world: World, slack: FakeSlack
) -> None:
    routed = registered(slack_db_world, desk, domain="emea.co.uk")
    open_to_all = registered(slack_db_world, desk, domain="anyone.co.uk")
    change_review(slack_db_world, routed, route_rule="emea-desk", route_reviewers=[PRIYA])
    assert listed(queue_of(desk, slack, "U0REVIEW")) == [open_to_all]
    assert sorted(listed(queue_of(desk, slack, "U0PRIYA"))) == sorted([routed, open_to_all])


def test_a_returned_registration_waits_apart_for_the_partner_without_buttons(
    desk: BotHarness, slack_db_world: World, slack: FakeSlack
) -> None:
    waiting = registered(slack_db_world, desk, domain="waiting.co.uk")
    returned = registered(slack_db_world, desk, domain="returned.co.uk")
    change_review(slack_db_world, returned, returned_question="Which tenant?")
    blocks = queue_of(desk, slack, "U0REVIEW")
    assert listed(blocks) == [waiting, returned]
    assert "*Awaiting a decision: 1*" in texts(blocks)
    heading = next(i for i, b in enumerate(blocks) if "Waiting for the partner: 1" in texts([b]))
    assert returned in texts(blocks[heading:]) and waiting not in texts(blocks[heading:])
    assert all(value != returned for _, value in button_ids(blocks))


def test_a_partner_is_told_the_queue_is_for_the_desk_and_keeps_their_home(
    desk: BotHarness, slack_db_world: World, slack: FakeSlack
) -> None:
    number = registered(slack_db_world, desk)
    blocks = queue_of(desk, slack, "U01ANN")
    assert "The queue is for the deal desk" in texts(blocks)
    assert number not in texts(blocks) and button_ids(blocks) == []
    desk.event({"type": "app_home_opened", "user": "U01ANN", "tab": "home"})
    home = slack.wait_for("views.publish", lambda p: p["user_id"] == "U01ANN")["view"]
    assert "Your deals: 1" in texts(home["blocks"]) and number in texts(home["blocks"])
    assert "Awaiting a decision" not in texts(home["blocks"])
    assert not [
        a for a, _ in button_ids(home["blocks"]) if a.startswith(("deal_approve", "deal_claim"))
    ]


def test_approve_pressed_in_the_queue_approves_the_deal(
    desk: BotHarness, slack_db_world: World, slack: FakeSlack
) -> None:
    number = registered(slack_db_world, desk)
    blocks = queue_of(desk, slack, "U0REVIEW")
    action, value = next(b for b in button_ids(blocks) if b[0] == "deal_approve")
    desk.click("U0REVIEW", action, value, message={"ts": "1", "text": "", "blocks": blocks})
    slack.wait_for("chat.update", lambda p: "Approved by *Deal Desk*" in texts(p["blocks"]))
    with slack_db_world.uow() as uow:
        stage = uow.session.scalars(select(Deal.stage).where(Deal.number == number)).one()
    assert stage == "approved"
    assert number not in listed(queue_of(desk, slack, "U0REVIEW"))


def test_the_reviewers_home_shows_the_queue_within_100_blocks_and_says_how_many_more(
    desk: BotHarness, slack_db_world: World
) -> None:
    late, later, none = three_deals(slack_db_world, desk)
    with slack_db_world.uow() as uow:
        rows = desk_queue(uow.session, slack_db_world.actor(DESK))
    clock = DeskClock(datetime.now(UTC))
    home = desk_home("Deal Desk", rows, clock)
    valid_view(home)
    assert listed(home["blocks"]) == [late, later, none]

    many = [
        QueueRow(f"DR-{i:06d}", "Co", "P", "Prod", 5, None, None, None, False, 80)
        for i in range(80)
    ]
    home = desk_home("Deal Desk", many, clock)
    valid_view(home)
    assert len(home["blocks"]) <= 100
    shown = len(listed(home["blocks"]))
    assert 40 <= shown < 80
    assert home["blocks"][-1]["elements"][0]["text"] == f"…and {80 - shown} more"


def home_click(desk: BotHarness, view: dict[str, Any], action: str, number: str) -> None:
    """Press a button in the reviewer's App Home."""
    payload = {
        "type": "block_actions",
        "user": {"id": "U0REVIEW", "username": "u0review", "team_id": "T0TEAM"},
        "api_app_id": "A0APP",
        "team": {"id": "T0TEAM", "domain": "partners"},
        "container": {"type": "view", "view_id": "V0HOME"},
        "view": {**view, "id": "V0HOME", "hash": "h1"},
        "trigger_id": "trig.home",
        "actions": [{"action_id": action, "block_id": "q", "type": "button",
                     "value": number, "action_ts": "1"}],
    }  # fmt: skip
    assert desk.interact(payload).status == 200


def republished(slack: FakeSlack, before: int) -> list[str]:
    """The deals of the App Home published after the first `before` publications."""
    slack.wait_for("views.publish", lambda p: len(slack.calls_to("views.publish")) > before)
    return listed(slack.calls_to("views.publish")[before].params["view"]["blocks"])


def test_a_decision_in_the_app_home_publishes_the_queue_again_without_the_deal(
    desk: BotHarness, slack_db_world: World, slack: FakeSlack
) -> None:
    first = registered(slack_db_world, desk, domain="first.co.uk")
    second = registered(slack_db_world, desk, domain="second.co.uk")
    desk.event({"type": "app_home_opened", "user": "U0REVIEW", "tab": "home"})
    view = slack.wait_for("views.publish", lambda p: p["user_id"] == "U0REVIEW")["view"]
    assert {first, second} <= set(listed(view["blocks"]))
    published = len(slack.calls_to("views.publish"))
    home_click(desk, view, "deal_approve", first)
    assert republished(slack, published) == [second]
    # Reject opens a modal; its submission publishes the App Home it was opened from.
    published = len(slack.calls_to("views.publish"))
    home_click(desk, view, "deal_reject", second)
    opened = slack.wait_for("views.open", lambda p: p["view"]["callback_id"] == "deal_reject")
    desk.submit("U0REVIEW", opened["view"] | {"id": "V1"}, {"reason": "duplicate"})
    assert republished(slack, published) == []
