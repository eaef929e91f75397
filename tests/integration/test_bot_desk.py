"""The deal desk in Slack: routed review cards, claims and take-overs, two-person approval,
automatic approvals explained, and the due time, over signed HTTP against the fake Slack.

Rules are stored directly in the `rules` table, as `dealreg catalog load` would store them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from core.models import Deal, Review, Reviewer, Rule
from tests.factories import World, form, register
from tests.integration.bot_harness import BotHarness, registered
from tests.slack_fake import FakeSlack, button_ids, texts

PRIYA = "priya@vendor.example"  # the demo catalogue's second reviewer, U0PRIYA
DESK = "deals@vendor.example"  # the demo catalogue's reviewer, "Deal Desk", U0REVIEW
EMEA_CHANNEL = "C0EMEA"


# -- Helpers -----------------------------------------------------------------------------------


def add_rule(world: World, name: str, **fields: Any) -> None:
    with world.uow() as uow:
        position = len(list(uow.session.scalars(select(Rule.id))))
        uow.session.add(Rule(position=position, name=name, version="test", **fields))
        uow.commit()


def review(world: World, number: str) -> tuple[str, Review]:
    """The deal's stage and its review, detached."""
    with world.uow() as uow:
        deal = uow.session.scalars(select(Deal).where(Deal.number == number)).one()
        assert deal.review is not None
        uow.session.expunge(deal.review)
        return deal.stage, deal.review


def set_due(world: World, number: str, due: datetime) -> None:
    with world.uow() as uow:
        deal = uow.session.scalars(select(Deal).where(Deal.number == number)).one()
        assert deal.review is not None
        deal.review.review_due_at = due
        uow.commit()


def updated(slack: FakeSlack, words: str) -> dict[str, Any]:
    return slack.wait_for("chat.update", lambda p: words in texts(p["blocks"]))


def told(slack: FakeSlack, user: str, words: str) -> dict[str, Any]:
    return slack.wait_for("chat.postEphemeral", lambda p: p["user"] == user and words in p["text"])


def name_of(world: World, email: str) -> str:
    with world.uow() as uow:
        return uow.session.scalars(select(Reviewer.name).where(Reviewer.email == email)).one()


@pytest.fixture
def desk(slack_db_world: World, slack: FakeSlack) -> Iterator[BotHarness]:
    """The bot over a world on SQLite and on PostgreSQL (the demo catalogue's reviewers:
    Deal Desk, U0REVIEW, and Priya, U0PRIYA)."""
    harness = BotHarness(slack_db_world, slack)
    yield harness
    harness.close()


# -- Routing -----------------------------------------------------------------------------------


def emea_route(world: World) -> None:
    conditions = {"countries": ["GB", "IE"]}
    add_rule(world, "emea-desk", route=EMEA_CHANNEL, reviewers=[PRIYA], conditions=conditions)


def test_a_routed_registration_is_posted_to_its_routes_channel_and_updated_there(
    desk: BotHarness, slack_db_world: World, slack: FakeSlack
) -> None:
    emea_route(slack_db_world)
    number = registered(slack_db_world, desk)
    posted = slack.wait_for("chat.postMessage", lambda p: p["text"].startswith("Registration"))
    assert posted["channel"] == EMEA_CHANNEL
    assert "📮 Routed by *emea-desk* to C0EMEA" in texts(posted["blocks"])
    assert ("deal_claim", number) in button_ids(posted["blocks"])

    desk.click("U0PRIYA", "deal_approve", number)
    done = updated(slack, f"Approved by *{name_of(slack_db_world, PRIYA)}*")
    assert done["channel"] == EMEA_CHANNEL
    assert review(slack_db_world, number)[0] == "approved"


def test_a_reviewer_outside_the_route_pressing_approve_or_claim_changes_nothing(
    desk: BotHarness, slack_db_world: World, slack: FakeSlack
) -> None:
    emea_route(slack_db_world)
    number = registered(slack_db_world, desk)
    desk.click("U0REVIEW", "deal_approve", number)
    refusal = "only the reviewers of the emea-desk route can approve registrations"
    assert "nothing was changed" in told(slack, "U0REVIEW", refusal)["text"]
    desk.click("U0REVIEW", "deal_claim", number)
    told(slack, "U0REVIEW", "only the reviewers of the emea-desk route")
    stage, after = review(slack_db_world, number)
    assert (stage, after.claimed_by) == ("opportunity", None)
    assert slack.calls_to("chat.update") == []


# -- Claims --------------------------------------------------------------------------------------


def test_a_claim_shows_on_the_card_and_a_second_is_offered_a_take_over(
    desk: BotHarness, slack_db_world: World, slack: FakeSlack
) -> None:
    number = registered(slack_db_world, desk)
    desk.click("U0REVIEW", "deal_claim", number)
    claimed = updated(slack, "🙋 Claimed by *Deal Desk*")
    assert ("deal_approve", number) in button_ids(claimed["blocks"])
    assert review(slack_db_world, number)[1].claimed_by == DESK

    desk.click("U0PRIYA", "deal_claim", number)
    offer = told(slack, "U0PRIYA", f"{number} is claimed by Deal Desk")
    assert button_ids(offer["blocks"]) == [("deal_claim_takeover", number)]
    assert review(slack_db_world, number)[1].claimed_by == DESK  # refused: still Deal Desk

    desk.click("U0PRIYA", "deal_claim_takeover", number)
    updated(slack, f"🙋 Claimed by *{name_of(slack_db_world, PRIYA)}*")
    answered = slack.wait_for("response_url", lambda p: "took over" in p["text"])
    assert answered["replace_original"] in (True, "true")
    assert review(slack_db_world, number)[1].claimed_by == PRIYA


def test_a_partner_pressing_claim_changes_nothing_and_is_told_why(
    desk: BotHarness, slack_db_world: World, slack: FakeSlack
) -> None:
    number = registered(slack_db_world, desk)
    desk.click("U01ANN", "deal_claim", number)
    told(slack, "U01ANN", "only reviewers can claim registrations; nothing was changed")
    assert review(slack_db_world, number)[1].claimed_by is None
    assert slack.calls_to("chat.update") == []


# -- Two-person approval -------------------------------------------------------------------------


def two_approvals(world: World) -> None:
    add_rule(world, "big-gbp", second_approval=True, conditions={"min_value": "50000 GBP"})


def test_two_person_approval_needs_a_second_reviewer_after_the_first(
    desk: BotHarness, slack_db_world: World, slack: FakeSlack
) -> None:
    two_approvals(slack_db_world)
    number = registered(slack_db_world, desk)  # GBP 85,000.50
    posted = slack.wait_for("chat.postMessage", lambda p: p["text"].startswith("Registration"))
    assert "👥 *Needs two approvals*" in texts(posted["blocks"])
    assert "big-gbp: two different reviewers must approve" in texts(posted["blocks"])

    desk.click("U0REVIEW", "deal_approve", number)
    first = updated(slack, "👥 *Approved 1 of 2* by *Deal Desk*; a different reviewer must approve")
    assert ("deal_approve", number) in button_ids(first["blocks"])  # still awaiting the second
    note = slack.wait_for("chat.postMessage", lambda p: p.get("thread_ts") == first["ts"])
    assert f"{number} approved 1 of 2 by *Deal Desk*" in texts(note["blocks"])
    stage, after = review(slack_db_world, number)
    assert (stage, after.first_approved_by) == ("opportunity", DESK)

    desk.click("U0REVIEW", "deal_approve", number)
    told(slack, "U0REVIEW", "a different reviewer must give the second; nothing was changed")
    assert review(slack_db_world, number)[0] == "opportunity"

    desk.click("U0PRIYA", "deal_approve", number)
    done = updated(slack, f"Approved by *{name_of(slack_db_world, PRIYA)}*")
    assert not [b for b in done["blocks"] if b["type"] == "actions"]
    assert review(slack_db_world, number)[0] == "approved"


def test_a_reject_after_the_first_of_two_approvals_ends_the_wait(
    desk: BotHarness, slack_db_world: World, slack: FakeSlack
) -> None:
    two_approvals(slack_db_world)
    number = registered(slack_db_world, desk)
    desk.click("U0REVIEW", "deal_approve", number)
    updated(slack, "*Approved 1 of 2*")
    desk.click("U0PRIYA", "deal_reject", number)
    opened = slack.wait_for("views.open", lambda p: p["view"]["callback_id"] == "deal_reject")
    desk.submit("U0PRIYA", opened["view"] | {"id": "V1"}, {"reason": "duplicate"})
    done = updated(slack, "⛔ Rejected")
    assert "Approved 1 of 2" not in texts(done["blocks"])
    assert button_ids(done["blocks"]) == []
    assert review(slack_db_world, number)[0] == "rejected"


# -- What the rules did and said -----------------------------------------------------------------


def test_an_automatic_approval_is_explained_on_the_card(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    when = {"tiers": ["gold"], "products": ["email_security"], "max_users": 500}
    add_rule(sqlite_world, "gold-auto", approve=True, conditions=when | {"max_value": "90000 GBP"})
    number = registered(sqlite_world, bot, number_of_users="300")
    card = slack.wait_for("chat.postMessage", lambda p: p["text"].startswith("Registration"))
    shown = texts(card["blocks"])
    assert "✅ Approved automatically by *gold-auto* on" in shown
    assert "tier gold" in shown and "300 users ≤ 500" in shown and "no conflict" in shown
    assert "rule:gold-auto" not in shown
    assert button_ids(card["blocks"]) == []
    assert review(sqlite_world, number)[0] == "approved"


def test_a_shadow_rule_says_on_the_card_what_it_would_have_done(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    when = {"tiers": ["gold"], "max_users": 500}
    add_rule(sqlite_world, "gold-watch", approve=True, shadow=True, conditions=when)
    number = registered(sqlite_world, bot, number_of_users="300")
    card = slack.wait_for("chat.postMessage", lambda p: p["text"].startswith("Registration"))
    notes = [b for b in card["blocks"] if b["type"] == "context" and "🔍" in texts([b])]
    assert "🔍 gold-watch would approve: tier gold; 300 users ≤ 500" in texts(notes)
    assert review(sqlite_world, number)[0] == "opportunity"


def test_a_live_rule_withheld_by_a_lookalike_says_why_on_the_card(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    when = {"tiers": ["gold"], "max_users": 500}
    add_rule(sqlite_world, "gold-auto", approve=True, conditions=when)
    with sqlite_world.uow() as uow:  # another partner's registration of the original first
        register(
            uow, sqlite_world.actor("bob@contoso-partners.example"),
            form(domain="harbourlights.co.uk", contact_phone="+1 415 555 0100"),
            now=datetime.now(UTC), settings=sqlite_world.settings,
        )  # fmt: skip
    number = registered(sqlite_world, bot, domain="h\u0430rbourlights.co.uk", number_of_users="300")
    cards = [c.params for c in slack.calls_to("chat.postMessage")]
    card = next(p for p in cards if number in p["text"])
    shown = texts(card["blocks"])
    assert "✋ gold-auto would approve, but not automatically: lookalike with DR-000001" in shown
    assert review(sqlite_world, number)[0] == "opportunity"
    assert "deal_approve" in [a for a, _ in button_ids(card["blocks"])]


def test_a_re_registration_is_flagged_on_the_card(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    number = registered(sqlite_world, bot)
    with sqlite_world.uow() as uow:  # as the core records a recent protection's re-registration
        deal = uow.session.scalars(select(Deal).where(Deal.number == number)).one()
        assert deal.review is not None
        deal.review.reregistration_of = "DR-000042"
        uow.commit()
    bot.click("U0REVIEW", "deal_claim", number)
    assert "🔁 *Re-registration of DR-000042*" in texts(updated(slack, "Claimed by")["blocks"])


# -- The service level ---------------------------------------------------------------------------


def test_the_card_shows_the_due_time_in_the_business_zone_and_marks_it_overdue(
    desk: BotHarness, slack_db_world: World, slack: FakeSlack
) -> None:
    number = registered(slack_db_world, desk)
    zone = ZoneInfo(slack_db_world.settings.business_timezone)
    late = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    set_due(slack_db_world, number, late)
    desk.click("U0REVIEW", "deal_claim", number)
    here = late.astimezone(zone)
    since = f"{here:%a} {here.day} {here:%b %H:%M} {here.tzname()}"
    overdue = updated(slack, "🙋 Claimed by *Deal Desk*")
    assert f"⏰ overdue since {since}" in texts(overdue["blocks"])

    due = datetime(2030, 12, 10, 14, 30, tzinfo=UTC)  # a Tuesday; GMT is UTC in December
    set_due(slack_db_world, number, due)
    desk.click("U0PRIYA", "deal_claim_takeover", number)
    ahead = updated(slack, f"Claimed by *{name_of(slack_db_world, PRIYA)}*")
    decide_by = f"🕒 Decide by Tue 10 Dec 14:30 {due.astimezone(zone).tzname()}"
    assert decide_by in texts(ahead["blocks"])
    assert "overdue" not in texts(ahead["blocks"])
