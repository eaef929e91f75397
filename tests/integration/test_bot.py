"""The Slack bot over real HTTP: signed requests in, calls to a fake Slack Web API out."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event

from core.fields import FIELDS
from core.models import Contact, Deal
from core.services.review import approve
from tests.factories import ANN, BOB, REVIEWER, World, form, register
from tests.integration.bot_harness import BotHarness
from tests.slack_fake import REVIEW_CHANNEL_ID, FakeSlack, texts

CLOSE = (datetime.now(UTC).date() + timedelta(days=200)).isoformat()
MODAL_VALUES: dict[str, Any] = {
    "company_name": "Example Holdings Ltd",
    "domain": "https://www.Example.co.uk/x",
    "contact_name": "Sam Carter",
    "contact_phone": "+44 20 7946 0958",
    "end_user_first_name": "Jo",
    "end_user_last_name": "Bloggs",
    "end_user_position": "Head of IT",
    "end_user_email": "jo.bloggs@example.co.uk",
    "end_user_phone": "020 7946 0123",
    "end_user_role": "decision_maker",
    "address_line1": "1 High Street",
    "country": "GB",
    "state": "GB-KEN",
    "postcode": "CT1 1AA",
    "product": "email_security",
    "number_of_users": "250",
    "projected_value": "85,000.50",
    "close_date": CLOSE,
    "budget_approved": "yes",
    "project_priority": "high",
    "problems_to_solve": "Too much spam.",
    "migrating_to": "microsoft_365",
}


def modal_opened(slack: FakeSlack, callback_id: str) -> dict[str, Any]:
    """The view the bot showed last with this callback id (after the loading view)."""
    params = slack.wait_for("views.update", lambda p: p["view"]["callback_id"] == callback_id)
    return params["view"] | {"id": params["view_id"], "hash": "h"}


def test_a_reviewer_refreshing_a_registration_modal_is_told_no_and_nothing_changes(
    slack_db_world: World, slack: FakeSlack
) -> None:
    bot = BotHarness(slack_db_world, slack)
    try:
        assert bot.command("U01ANN", "register").status == 200
        view = modal_opened(slack, "deal_register")
        updates = len(slack.calls_to("views.update"))
        # A payload Slack would never send: a reviewer acting on a partner's modal.
        assert bot.view_action("U0REVIEW", view, "domain", MODAL_VALUES["domain"]).status == 200
        told = slack.wait_for("chat.postMessage", lambda p: p["channel"] == "U0REVIEW")
        assert "only partner contacts can register deals" in told["text"]
        assert len(slack.calls_to("views.update")) == updates  # the modal was not rebuilt
    finally:
        bot.close()


def test_registration_through_the_modal_verifies_the_domain_and_reports_field_errors(
    slack_db_world: World, slack: FakeSlack
) -> None:
    bot = BotHarness(slack_db_world, slack)
    try:
        assert bot.command("U01ANN", "register").status == 200
        slack.wait_for("views.open", lambda p: p["view"]["callback_id"] == "loading")
        view = modal_opened(slack, "deal_register")
        inputs = [b for b in view["blocks"] if b["type"] == "input"]
        assert {b["block_id"] for b in inputs} == {f.name for f in FIELDS}
        assert all(b["block_id"] == b["element"]["action_id"] for b in inputs)
        assert "Northwind IT" in texts(view["blocks"])
        assert len(view["blocks"]) <= 100

        bot.view_action("U01ANN", view, "domain", MODAL_VALUES["domain"])
        checked = slack.wait_for("views.update", lambda p: "verified" in texts(p["view"]["blocks"]))
        assert "example.co.uk" in texts(checked["view"]["blocks"])

        bad = bot.submit(
            "U01ANN", view, MODAL_VALUES | {"end_user_email": "nope", "projected_value": "XYZ 5"}
        )
        assert bad.json()["response_action"] == "errors"
        assert set(bad.json()["errors"]) == {"end_user_email", "projected_value"}

        good = bot.submit("U01ANN", view, MODAL_VALUES).json()
        assert good["response_action"] == "update"
        shown = good["view"]
        if "DR-000001" not in texts(shown["blocks"]):  # past the answer's budget (a busy
            # machine): the modal says it is saving, and is updated with the deal after
            shown = slack.wait_for(
                "views.update", lambda p: "DR-000001" in texts(p["view"]["blocks"])
            )["view"]
        assert "DR-000001" in texts(shown["blocks"])
        assert "🔵 Opportunity" in texts(shown["blocks"])

        review = slack.wait_for("chat.postMessage", lambda p: p["channel"] == "#deal-desk")
        buttons = [e for b in review["blocks"] if b["type"] == "actions" for e in b["elements"]]
        assert {(b["action_id"], b["value"]) for b in buttons} == {
            ("deal_approve", "DR-000001"),
            ("deal_reject", "DR-000001"),
            ("deal_return", "DR-000001"),
        }
        assert "Quote on approval" in texts(review["blocks"])
        dm = slack.wait_for("chat.postMessage", lambda p: p["channel"] == "DU01ANN")
        assert "DR-000001" in dm["text"]
        with slack_db_world.uow() as uow:
            deal = uow.session.query(Deal).one()
            assert (deal.slack_review_channel, deal.slack_review_ts) == (
                REVIEW_CHANNEL_ID,
                "1800000000.000001",
            )
    finally:
        bot.close()


def test_country_and_state_typeahead_filters_by_the_chosen_country(
    bot: BotHarness, slack: FakeSlack
) -> None:
    bot.command("U01ANN", "register")
    view = modal_opened(slack, "deal_register")
    countries = bot.suggest("U01ANN", view, "country", "germ").json()["options"]
    assert [o["value"] for o in countries] == ["DE"]
    states = bot.suggest("U01ANN", view | {"_values": {"country": "US"}}, "state", "calif")
    assert [o["value"] for o in states.json()["options"]] == ["US-CA"]


def test_unsigned_wrongly_signed_and_stale_requests_are_refused(
    bot: BotHarness, slack: FakeSlack
) -> None:
    assert bot.command("U01ANN", "help", secret=None).status == 401
    assert bot.command("U01ANN", "help", secret="not-the-secret").status == 401
    assert bot.command("U01ANN", "help", age=6 * 60).status == 401
    time.sleep(0.3)
    assert slack.calls_to("response_url") == []
    assert bot.command("U01ANN", "help").status == 200
    slack.wait_for("response_url")


def test_health_reports_the_database(bot: BotHarness) -> None:
    resp = bot.get("/healthz")
    assert resp.status == 200
    assert resp.json() == {"status": "ok", "database": "ok"}


def test_slash_command_is_acknowledged_within_3s_while_the_database_is_slow(
    bot: BotHarness, slack: FakeSlack
) -> None:
    def slow(*_: Any) -> None:
        time.sleep(1.2)

    event.listen(bot.app.engine, "before_cursor_execute", slow)
    started = time.monotonic()
    resp = bot.command("U01ANN", "search example")
    assert resp.status == 200
    assert resp.elapsed < 1.0
    reply = slack.wait_for("response_url", timeout=30)
    assert time.monotonic() - started > 3.0  # the work itself took longer than Slack waits
    assert reply["response_type"] == "ephemeral"
    event.remove(bot.app.engine, "before_cursor_execute", slow)


def test_search_shows_only_the_partners_own_deals(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    with sqlite_world.uow() as uow:
        register(
            uow, sqlite_world.actor(ANN), form(), now=datetime.now(UTC), settings=bot.app.settings
        )
    bot.command("U02BOB", "search example")
    bob = slack.wait_for("response_url")
    assert "No deals match" in texts(bob["blocks"])
    bot.command("U01ANN", "search example")
    ann = slack.wait_for("response_url", lambda p: "DR-000001" in texts(p["blocks"]))
    assert ann["response_type"] == "ephemeral"


def test_check_says_protected_without_naming_the_other_partner(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    now = datetime.now(UTC)
    with sqlite_world.uow() as uow:
        reg = register(uow, sqlite_world.actor(ANN), form(), now=now, settings=bot.app.settings)
    with sqlite_world.uow() as uow:
        approve(
            uow, sqlite_world.actor(REVIEWER), reg.deal.number, now=now, settings=bot.app.settings
        )
    bot.command("U02BOB", "check www.example.co.uk")
    reply = slack.wait_for("response_url")
    assert "protected by another partner until" in reply["text"]
    assert "Northwind" not in texts(reply["blocks"]) and "ann@" not in texts(reply["blocks"])
    bot.command("U02BOB", "check fresh-prospect.com")
    assert "is free" in slack.wait_for("response_url", lambda p: "fresh" in p["text"])["text"]


def test_email_registration_reaches_the_review_channel_like_a_slack_one(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    settings = bot.app.settings
    with sqlite_world.uow() as uow:
        register(
            uow, sqlite_world.actor(ANN, "email"), form(), now=datetime.now(UTC), settings=settings
        )
    with sqlite_world.uow() as uow:
        other = form(domain="other.example.com", company_name="Other Ltd")
        register(
            uow, sqlite_world.actor(BOB, "slack"), other, now=datetime.now(UTC), settings=settings
        )
    report = bot.deliver()
    assert report.sent == 4 and report.failed == 0
    posts = [
        c.params for c in slack.calls_to("chat.postMessage") if c.params["channel"] == "#deal-desk"
    ]
    assert len(posts) == 2

    def shape(blocks: list[dict[str, Any]]) -> list[Any]:
        return [(b["type"], [e.get("action_id") for e in b.get("elements", [])]) for b in blocks]

    assert shape(posts[0]["blocks"]) == shape(posts[1]["blocks"])
    assert "by email" in texts(posts[0]["blocks"])


def test_a_rate_limited_post_is_retried_after_retry_after(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    with sqlite_world.uow() as uow:
        register(
            uow, sqlite_world.actor(ANN), form(), now=datetime.now(UTC), settings=bot.app.settings
        )
    slack.rate_limit_once("chat.postMessage", retry_after=1)
    report = bot.deliver()
    assert report.sent == 2 and report.retrying == 0
    posts = slack.calls_to("chat.postMessage")
    assert len(posts) == 3  # the refused one, its retry, and the DM
    assert posts[1].at - posts[0].at >= 0.9


def test_a_stranger_is_told_politely_whom_to_ask(bot: BotHarness, slack: FakeSlack) -> None:
    slack.emails["U9STRANGER"] = "someone@elsewhere.example"
    bot.command("U9STRANGER", "search acme")
    reply = slack.wait_for("response_url")
    assert "not registered" in reply["text"] and "partner manager" in reply["text"]
    assert slack.wait_for("users.info")["user"] == "U9STRANGER"


def test_a_contact_without_a_slack_id_is_found_by_the_email_slack_knows(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    with sqlite_world.uow() as uow:  # the catalogue binds Raj to U01RAJ; unbind him
        raj = uow.session.query(Contact).filter_by(email="raj@northwind.example").one()
        raj.slack_user_id = None
        uow.commit()
    slack.emails["U7NEWRAJ"] = "RAJ@northwind.example"
    bot.command("U7NEWRAJ", "search nothing-here")
    assert "No deals match" in texts(slack.wait_for("response_url")["blocks"])


def test_unknown_input_gets_the_help(bot: BotHarness, slack: FakeSlack) -> None:
    bot.command("U01ANN", "frobnicate now")
    reply = slack.wait_for("response_url")
    assert "/deal register" in texts(reply["blocks"]) and "frobnicate" in texts(reply["blocks"])


def test_app_home_lists_the_users_deals_and_the_reviewers_queue(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    with sqlite_world.uow() as uow:
        register(
            uow, sqlite_world.actor(ANN), form(), now=datetime.now(UTC), settings=bot.app.settings
        )
    bot.event({"type": "app_home_opened", "user": "U01ANN", "channel": "D1", "tab": "home"})
    home = slack.wait_for("views.publish", lambda p: p["user_id"] == "U01ANN")
    assert "DR-000001" in texts(home["view"]["blocks"])
    bot.event({"type": "app_home_opened", "user": "U0REVIEW", "channel": "D2", "tab": "home"})
    queue = slack.wait_for("views.publish", lambda p: p["user_id"] == "U0REVIEW")
    assert "Awaiting a decision: 1" in texts(queue["view"]["blocks"])
