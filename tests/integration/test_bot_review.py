"""Reviewing and advancing deals from Slack buttons and modals, over signed HTTP."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from core.models import Deal, OutboxMessage
from core.services.review import approve, decide_extension, request_extension
from tests.factories import ANN, REVIEWER, World, form, register
from tests.integration.bot_harness import BotHarness
from tests.slack_fake import REVIEW_CHANNEL_ID, FakeSlack, texts


# Here, not in the harness: the escaping suite swaps this module's `form` for a hostile one.
def registered(world: World, bot: BotHarness) -> str:
    """Register Ann's deal and post its review message, as the worker would."""
    with world.uow() as uow:
        reg = register(
            uow, world.actor(ANN), form(), now=datetime.now(UTC), settings=bot.app.settings
        )
    bot.deliver()
    return reg.deal.number


def stage(world: World, number: str) -> str:
    with world.uow() as uow:
        return uow.session.query(Deal).filter_by(number=number).one().stage


def delivered(world: World, template: str, timeout: float = 10.0) -> None:
    """Wait until an outbox row of `template` has been delivered."""
    sent = select(OutboxMessage.id).where(
        OutboxMessage.template == template, OutboxMessage.sent_at.is_not(None)
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with world.uow() as uow:
            if uow.session.scalar(sent) is not None:
                return
        time.sleep(0.05)
    raise AssertionError(f"no {template} row delivered")


def updated(slack: FakeSlack, words: str) -> dict[str, Any]:
    return slack.wait_for("chat.update", lambda p: words in texts(p["blocks"]))


def test_reviewer_approves_and_the_review_message_is_updated_in_place(
    slack_db_world: World, slack: FakeSlack
) -> None:
    bot = BotHarness(slack_db_world, slack)
    try:
        number = registered(slack_db_world, bot)
        bot.click("U0REVIEW", "deal_approve", number)
        done = updated(slack, "Approved")
        assert (done["channel"], done["ts"]) == (REVIEW_CHANNEL_ID, "1800000000.000001")
        assert "Deal Desk" in texts(done["blocks"])
        assert not [b for b in done["blocks"] if b["type"] == "actions"]
        dm = slack.wait_for("chat.postMessage", lambda p: "approved" in p["text"])
        assert dm["channel"] == "DU01ANN"
        assert stage(slack_db_world, number) == "approved"
    finally:
        bot.close()


def test_a_partner_pressing_approve_changes_nothing_and_is_told_why(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    number = registered(sqlite_world, bot)
    bot.click("U01ANN", "deal_approve", number)
    told = slack.wait_for("chat.postEphemeral")
    assert told["user"] == "U01ANN"
    assert "only reviewers can approve registrations; nothing was changed" in told["text"]
    assert stage(sqlite_world, number) == "opportunity"
    assert slack.calls_to("chat.update") == []


def test_reject_asks_for_a_reason_and_updates_the_review_message(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    number = registered(sqlite_world, bot)
    bot.click("U0REVIEW", "deal_reject", number)
    opened = slack.wait_for("views.open", lambda p: p["view"]["callback_id"] == "deal_reject")
    view = opened["view"] | {"id": "V1"}
    reasons = [o["value"] for o in view["blocks"][1]["element"]["options"]]
    assert "duplicate" in reasons and "other" in reasons
    resp = bot.submit("U0REVIEW", view, {"reason": "existing_customer", "note": "Already ours."})
    assert resp.status == 200
    done = updated(slack, "Rejected")
    assert "Existing customer" in texts(done["blocks"])
    assert stage(sqlite_world, number) == "rejected"


def test_return_and_the_partners_answer_put_the_deal_back_in_the_queue(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    number = registered(sqlite_world, bot)
    bot.click("U0REVIEW", "deal_return", number)
    opened = slack.wait_for("views.open", lambda p: p["view"]["callback_id"] == "deal_return")
    bot.submit("U0REVIEW", opened["view"] | {"id": "V2"}, {"question": "How many sites?"})
    updated(slack, "Returned for information")
    dm = slack.wait_for("chat.postMessage", lambda p: "question" in p["text"])
    answer_button = next(e for b in dm["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert (answer_button["action_id"], answer_button["value"]) == ("deal_answer", number)

    bot.click("U01ANN", "deal_answer", number)
    view = slack.wait_for("views.update", lambda p: p["view"]["callback_id"] == "deal_answer")
    bot.submit("U01ANN", view["view"] | {"id": view["view_id"]}, {"answer": "Three sites."})
    back = updated(slack, "Three sites.")
    assert [b for b in back["blocks"] if b["type"] == "actions"]  # the buttons are back
    thread = slack.wait_for("chat.postMessage", lambda p: p.get("thread_ts") is not None)
    assert "Three sites." in texts(thread["blocks"])


def test_partner_advances_an_approved_deal_to_order_submitted(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    number = registered(sqlite_world, bot)
    with sqlite_world.uow() as uow:
        _, quote = approve(
            uow,
            sqlite_world.actor(REVIEWER),
            number,
            now=datetime.now(UTC),
            settings=bot.app.settings,
        )
    bot.command("U01ANN", f"advance {number}")
    first = slack.wait_for("views.update", lambda p: p["view"]["callback_id"] == "deal_advance")
    options = first["view"]["blocks"][1]["element"]["options"]
    assert [o["value"] for o in options] == [quote.number]
    resp = bot.submit("U01ANN", first["view"] | {"id": first["view_id"]}, {"quote": quote.number})
    assert "Start Order" in texts(resp.json()["view"]["blocks"])
    assert stage(sqlite_world, number) == "order_started"

    bot.command("U01ANN", f"advance {number}")
    second = slack.wait_for("views.update", lambda p: "po_number" in texts(p["view"]["blocks"]))
    view = second["view"] | {"id": second["view_id"]}
    assert bot.submit("U01ANN", view, {"po_number": "PO-778"}).json()["response_action"] == "update"
    assert stage(sqlite_world, number) == "order_submitted"


def test_extension_request_is_posted_with_grant_and_decline_buttons(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    number = registered(sqlite_world, bot)
    with sqlite_world.uow() as uow:
        approve(
            uow,
            sqlite_world.actor(REVIEWER),
            number,
            now=datetime.now(UTC),
            settings=bot.app.settings,
        )
    bot.command("U01ANN", f"extend {number}")
    ask = slack.wait_for("chat.postMessage", lambda p: "Extension request" in p["text"])
    ids = [e["action_id"] for b in ask["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert ids == ["deal_extension_grant", "deal_extension_decline"]
    posted = slack.answered("chat.postMessage", lambda p: "Extension request" in p["text"])
    delivered(sqlite_world, "extension_request")  # the bot knows where it posted it
    bot.click("U0REVIEW", "deal_extension_grant", number, message={"ts": posted["ts"]})
    granted = slack.wait_for("chat.update", lambda p: p["ts"] == posted["ts"])
    assert granted["channel"] == posted["channel"] and "granted" in granted["text"]
    assert "Deal Desk" in texts(granted["blocks"])  # who granted it
    assert not [b for b in granted["blocks"] if b["type"] == "actions"]


def test_an_extension_decided_elsewhere_updates_the_request_when_the_worker_delivers(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    number = registered(sqlite_world, bot)
    reviewer, settings = sqlite_world.actor(REVIEWER), bot.app.settings
    with sqlite_world.uow() as uow:
        approve(uow, reviewer, number, now=datetime.now(UTC), settings=settings)
    with sqlite_world.uow() as uow:
        request_extension(
            uow, sqlite_world.actor(ANN), number, now=datetime.now(UTC), settings=settings
        )
    bot.deliver()
    posted = slack.answered("chat.postMessage", lambda p: "Extension request" in p["text"])
    with sqlite_world.uow() as uow:
        decide_extension(
            uow, reviewer, number, grant=False, now=datetime.now(UTC), settings=settings
        )
    bot.deliver()
    declined = slack.wait_for("chat.update", lambda p: p["ts"] == posted["ts"])
    assert declined["channel"] == posted["channel"] and "declined" in declined["text"]
    assert not [b for b in declined["blocks"] if b["type"] == "actions"]


def test_quote_and_show_answer_the_partner(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    number = registered(sqlite_world, bot)
    bot.command("U01ANN", f"quote {number} archive 300")
    quote = slack.wait_for("response_url", lambda p: "Quote Q-" in p["text"])
    assert "300 users" in texts(quote["blocks"])
    bot.command("U01ANN", f"show {number}")
    shown = slack.wait_for("response_url", lambda p: p["text"] == number)
    assert "🔵 Opportunity" in texts(shown["blocks"]) and "Q-" in texts(shown["blocks"])
    bot.command("U02BOB", f"show {number}")
    refused = slack.wait_for("response_url", lambda p: "no deal" in p["text"])
    assert "Northwind" not in refused["text"]
