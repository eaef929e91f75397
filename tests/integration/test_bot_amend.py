"""A deal changes and ends from Slack: `/deal edit` and `/deal withdraw`, their modals, the
deal desk's buttons on an amendment request, and what the review channel and the partner see,
over signed HTTP against the fake Slack. Every Block Kit payload the bot sends is checked
against slack_sdk's models."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from core.models import Deal, Quote
from core.services.review import approve
from tests.factories import BOB, REVIEWER, World
from tests.integration.bot_harness import BotHarness, Response, registered
from tests.slack_fake import REVIEW_CHANNEL_ID, FakeSlack, button_ids, texts, valid_view

# Bob's partner is in the US: his contact's numbers are American.
US = {
    "contact_phone": "+1 415 555 0100",
    "partner_sales_lead_name": "Bob Smith",
    "partner_sales_lead_email": "bob@contoso-partners.example",
}
# -- Helpers -----------------------------------------------------------------------------------


def approved(world: World, bot: BotHarness, number: str) -> None:
    with world.uow() as uow:
        approve(uow, world.actor(REVIEWER), number, now=datetime.now(UTC), settings=world.settings)
    bot.deliver()


def card(slack: FakeSlack, number: str) -> dict[str, Any]:
    """Where the deal's review card was posted: its channel and ts."""
    return slack.answered(
        "chat.postMessage", lambda p: p["text"].startswith(f"Registration {number}")
    )


def deal(world: World, number: str) -> Deal:
    with world.uow() as uow:
        found = uow.session.scalars(select(Deal).where(Deal.number == number)).one()
        uow.session.expunge(found)
        return found


def quotes(world: World, number: str) -> list[tuple[int, str]]:
    with world.uow() as uow:
        stmt = select(Quote.number_of_users, Quote.status).join(Deal, Quote.deal_id == Deal.id)
        return list(uow.session.execute(stmt.where(Deal.number == number).order_by(Quote.id)))


def shown(slack: FakeSlack, callback_id: str) -> list[dict[str, Any]]:
    """The views the bot showed with `callback_id` (after a loading view), oldest first."""
    calls = slack.calls_to("views.update")
    found = [c.params for c in calls if c.params["view"]["callback_id"] == callback_id]
    return [p["view"] | {"id": p["view_id"], "hash": "h"} for p in found]


def modal(slack: FakeSlack, callback_id: str, after: int = 0, timeout: float = 10.0) -> Any:
    """The view with `callback_id` the bot showed after the first `after` of them."""
    deadline = time.monotonic() + timeout
    while len(shown(slack, callback_id)) <= after:
        assert time.monotonic() < deadline, f"no {callback_id} view shown"
        time.sleep(0.02)
    return shown(slack, callback_id)[after]


def initial_values(view: dict[str, Any]) -> dict[str, Any]:
    """What the modal's inputs hold when it opens, by block id (as `BotHarness.submit` takes)."""
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        element = block["element"]
        for key in ("initial_value", "initial_date"):
            if key in element:
                values[block["block_id"]] = element[key]
        if "initial_option" in element:
            values[block["block_id"]] = element["initial_option"]["value"]
    return values


def edit(bot: BotHarness, slack: FakeSlack, number: str, **changes: Any) -> Response:
    """Open `/deal edit` as Ann and submit it with `changes` over the values it shows."""
    before = len(
        [
            c
            for c in slack.calls_to("views.update")
            if c.params["view"]["callback_id"] == "deal_amend"
        ]
    )
    assert bot.command("U01ANN", f"edit {number}").status == 200
    view = modal(slack, "deal_amend", before)
    return bot.submit("U01ANN", view, initial_values(view) | changes)


def result_view(resp: Response) -> dict[str, Any]:
    body = resp.json()
    assert body["response_action"] == "update", body
    valid_view(body["view"])
    return dict(body["view"])


def in_thread(slack: FakeSlack, ts: str, words: str) -> dict[str, Any]:
    return slack.wait_for(
        "chat.postMessage", lambda p: p.get("thread_ts") == ts and words in texts(p["blocks"])
    )


def updated(slack: FakeSlack, ts: str, words: str) -> dict[str, Any]:
    return slack.wait_for("chat.update", lambda p: p["ts"] == ts and words in texts(p["blocks"]))


# -- Edit ----------------------------------------------------------------------------------


def test_an_edit_at_opportunity_applies_and_updates_the_card_in_place_with_a_thread_note(
    slack_db_world: World, slack: FakeSlack
) -> None:
    bot = BotHarness(slack_db_world, slack)
    try:
        number = registered(slack_db_world, bot)
        posted = card(slack, number)
        bot.command("U01ANN", f"edit {number}")
        view = modal(slack, "deal_amend")
        held = initial_values(view)
        assert held["company_name"] == "Example Holdings Ltd"
        assert (held["number_of_users"], held["budget_approved"]) == ("250", "yes")
        assert (held["country"], held["state"], held["close_date"]) == (
            "GB",
            "GB-KEN",
            "2027-03-31",
        )
        assert json.loads(view["private_metadata"])["deal"] == number

        resp = bot.submit("U01ANN", view, held | {"number_of_users": "300"})
        done = texts(result_view(resp)["blocks"])
        assert "Number of Users: 250 → 300" in done and "deal desk" not in done
        assert deal(slack_db_world, number).number_of_users == 300

        now = updated(slack, posted["ts"], "Number of Users: 250 → 300")
        assert now["channel"] == REVIEW_CHANNEL_ID
        assert "deal_approve" in [a for a, _ in button_ids(now["blocks"])]  # still to review
        note = in_thread(slack, posted["ts"], "Number of Users: 250 → 300")
        assert "Ann Lee" in texts(note["blocks"])
        dm = slack.wait_for("chat.postMessage", lambda p: "changes" in p["text"])
        assert dm["channel"] == "DU01ANN" and "250 → 300" in texts(dm["blocks"])
    finally:
        bot.close()


def test_a_bad_value_in_the_edit_modal_is_answered_on_its_field_and_nothing_changes(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    number = registered(sqlite_world, bot)
    resp = edit(bot, slack, number, end_user_email="not-an-email", number_of_users="300")
    body = resp.json()
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == {"end_user_email"}
    assert "not a valid email" in body["errors"]["end_user_email"]
    assert deal(sqlite_world, number).number_of_users == 250
    emptied = edit(bot, slack, number, contact_name=None).json()  # a required field cleared
    assert emptied["errors"] == {"contact_name": "is required"}


def test_an_edit_of_an_approved_deals_claim_goes_to_the_deal_desk_and_approval_requotes(
    slack_db_world: World, slack: FakeSlack
) -> None:
    bot = BotHarness(slack_db_world, slack)
    try:
        number = registered(slack_db_world, bot)
        approved(slack_db_world, bot, number)
        posted = card(slack, number)
        resp = edit(bot, slack, number, number_of_users="300", contact_name="Sam Carter-Jones")
        done = texts(result_view(resp)["blocks"])
        assert "Contact Name: Sam Carter → Sam Carter-Jones" in done
        assert "deal desk" in done and "Number of Users: 250 → 300" in done
        shown = deal(slack_db_world, number)
        assert (shown.contact_name, shown.number_of_users) == ("Sam Carter-Jones", 250)

        ask = in_thread(slack, posted["ts"], "asks to change")
        assert button_ids(ask["blocks"]) == [
            ("deal_amend_approve", number),
            ("deal_amend_decline", number),
        ]
        assert "Quote with the new values" in texts(ask["blocks"])
        on_card = updated(slack, posted["ts"], "Amendment requested")
        assert ("deal_amend_approve", number) in button_ids(on_card["blocks"])
        request = slack.answered(
            "chat.postMessage",
            lambda p: p.get("thread_ts") == posted["ts"] and "asks to change" in texts(p["blocks"]),
        )

        bot.click("U0REVIEW", "deal_amend_approve", number, message={"ts": request["ts"]})
        decided = updated(slack, request["ts"], "approved")
        assert "Deal Desk" in texts(decided["blocks"]) and not button_ids(decided["blocks"])
        after = updated(slack, posted["ts"], "Amendment approved")
        assert not [a for a, _ in button_ids(after["blocks"]) if a.startswith("deal_amend")]
        assert deal(slack_db_world, number).number_of_users == 300
        assert quotes(slack_db_world, number) == [(250, "superseded"), (300, "valid")]
        pdf = slack.wait_for_upload(lambda u: u.channel == "DU01ANN" and u.filename != "")
        assert pdf.data
        dm = slack.wait_for("chat.postMessage", lambda p: "approved your changes" in p["text"])
        assert dm["channel"] == "DU01ANN"
    finally:
        bot.close()


def asked(world: World, bot: BotHarness, slack: FakeSlack) -> tuple[str, dict[str, Any]]:
    """An approved deal of Ann's with a pending request for 300 users; the request's post."""
    number = registered(world, bot)
    approved(world, bot, number)
    ts = card(slack, number)["ts"]
    result_view(edit(bot, slack, number, number_of_users="300"))
    request = slack.answered(
        "chat.postMessage",
        lambda p: p.get("thread_ts") == ts and "asks to change" in texts(p["blocks"]),
    )
    return number, request


def test_a_declined_amendment_leaves_the_deal_and_its_quote_as_they_were(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    number, request = asked(sqlite_world, bot, slack)
    bot.click("U0REVIEW", "deal_amend_decline", number, message={"ts": request["ts"]})
    decided = updated(slack, request["ts"], "declined")
    assert "250 → 300" in texts(decided["blocks"]) and not button_ids(decided["blocks"])
    shown = deal(sqlite_world, number)
    assert (shown.number_of_users, shown.amendment) == (250, None)
    assert quotes(sqlite_world, number) == [(250, "valid")]
    dm = slack.wait_for("chat.postMessage", lambda p: "declined your changes" in p["text"])
    assert dm["channel"] == "DU01ANN"


def test_a_partner_pressing_approve_on_an_amendment_changes_nothing_and_is_told_why(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    number, request = asked(sqlite_world, bot, slack)
    updates = len(slack.calls_to("chat.update"))
    bot.click("U01ANN", "deal_amend_approve", number, message={"ts": request["ts"]})
    told = slack.wait_for("chat.postEphemeral")
    assert told["user"] == "U01ANN"
    assert "only reviewers can approve amendments; nothing was changed" in told["text"]
    shown = deal(sqlite_world, number)
    assert shown.number_of_users == 250 and shown.amendment == {"number_of_users": [250, 300]}
    assert quotes(sqlite_world, number) == [(250, "valid")]
    assert len(slack.calls_to("chat.update")) == updates


# -- Withdraw ------------------------------------------------------------------------------


def test_withdrawing_from_the_modal_updates_the_card_tells_the_partner_and_frees_the_rival(
    slack_db_world: World, slack: FakeSlack
) -> None:
    bot = BotHarness(slack_db_world, slack)
    try:
        held = registered(slack_db_world, bot)
        approved(slack_db_world, bot, held)
        rival = registered(slack_db_world, bot, BOB, **US)
        rival_card = card(slack, rival)
        first = slack.wait_for(
            "chat.postMessage", lambda p: p["text"].startswith(f"Registration {rival}")
        )
        assert f"⚠️ *Conflict:* another partner's registration {held}" in texts(first["blocks"])
        held_card = card(slack, held)

        bot.command("U01ANN", f"withdraw {held}")
        view = modal(slack, "deal_withdraw")
        reasons = [
            o["value"]
            for b in view["blocks"]
            if b.get("block_id") == "withdraw_reason"
            for o in b["element"]["options"]
        ]
        assert reasons[0] == "lost_to_competitor" and "registered_in_error" in reasons
        resp = bot.submit(
            "U01ANN", view, {"withdraw_reason": "lost_to_competitor", "withdraw_note": "Chose X."}
        )
        assert "Lost to a competitor" in texts(result_view(resp)["blocks"])
        shown = deal(slack_db_world, held)
        assert (shown.stage, shown.withdraw_reason) == ("withdrawn", "lost_to_competitor")

        gone = updated(slack, held_card["ts"], "Withdrawn")
        assert "Lost to a competitor" in texts(gone["blocks"]) and not button_ids(gone["blocks"])
        dm = slack.wait_for("chat.postMessage", lambda p: "is withdrawn" in p["text"])
        assert dm["channel"] == "DU01ANN" and "Lost to a competitor" in texts(dm["blocks"])
        freed = updated(slack, rival_card["ts"], "no longer blocks approval")
        assert freed["channel"] == REVIEW_CHANNEL_ID
        in_thread(slack, rival_card["ts"], "no longer blocked")
        to_bob = [
            c.params for c in slack.calls_to("chat.postMessage") if c.params["channel"] == "DU02BOB"
        ]
        assert not [
            p for p in to_bob if held in texts(p["blocks"]) or "Northwind" in texts(p["blocks"])
        ]

        bot.click("U0REVIEW", "deal_approve", rival, message={"ts": rival_card["ts"]})
        updated(slack, rival_card["ts"], "✅ Approved by")
        assert deal(slack_db_world, rival).stage == "approved"
    finally:
        bot.close()


def test_another_partners_edit_or_withdraw_is_not_found_and_leaks_nothing(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    number = registered(sqlite_world, bot)
    for verb in ("edit", "withdraw"):
        before = len(shown(slack, "notice"))
        bot.command("U02BOB", f"{verb} {number}")
        refused = texts(modal(slack, "notice", before)["blocks"])
        assert f"no deal {number}" in refused
        assert "Example" not in refused and "Northwind" not in refused
    # Submissions Slack would not send Bob (he never saw the modals) are refused alike.
    reason = {
        "type": "input",
        "block_id": "withdraw_reason",
        "label": {"type": "plain_text", "text": "Reason"},
        "element": {"type": "plain_text_input", "action_id": "withdraw_reason"},
    }
    forged = {
        "type": "modal",
        "callback_id": "deal_withdraw",
        "blocks": [reason],
        "private_metadata": json.dumps({"deal": number}),
        "id": "V9",
    }
    answer = result_view(bot.submit("U02BOB", forged, {"withdraw_reason": "other"}))
    assert f"no deal {number}" in texts(answer["blocks"])
    amend_view = forged | {"callback_id": "deal_amend"}
    answer = result_view(bot.submit("U02BOB", amend_view, {}))
    assert f"no deal {number}" in texts(answer["blocks"])
    shown_deal = deal(sqlite_world, number)
    assert (shown_deal.stage, shown_deal.number_of_users) == ("opportunity", 250)


# -- Where a deal shows ------------------------------------------------------------------------


def test_show_and_home_offer_edit_and_withdraw_and_a_withdrawn_deal_shows_its_reason(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    number = registered(sqlite_world, bot)
    bot.command("U01ANN", f"show {number}")
    details = slack.wait_for("response_url", lambda p: p["text"] == number)
    assert button_ids(details["blocks"]) == [
        ("deal_edit_open", number),
        ("deal_withdraw_open", number),
    ]
    bot.click("U01ANN", "deal_edit_open", number)
    assert initial_values(modal(slack, "deal_amend"))["number_of_users"] == "250"
    bot.click("U01ANN", "deal_withdraw_open", number)
    view = modal(slack, "deal_withdraw")
    bot.submit("U01ANN", view, {"withdraw_reason": "no_budget"})

    bot.command("U01ANN", f"show {number}")
    gone = slack.wait_for(
        "response_url", lambda p: p["text"] == number and "Withdrawn" in texts(p["blocks"])
    )
    assert "No budget" in texts(gone["blocks"]) and not button_ids(gone["blocks"])
    assert "✅ Opportunity" in texts(gone["blocks"])  # the stage it reached, then Withdrawn
    bot.event({"type": "app_home_opened", "user": "U01ANN", "tab": "home"})
    home = slack.wait_for("views.publish")["view"]
    assert "No budget" in texts(home["blocks"])
    assert not [a for a, _ in button_ids(home["blocks"]) if a != "deal_register_open"]
    bot.command("U01ANN", "help")
    helped = slack.wait_for("response_url", lambda p: "/deal edit" in texts(p["blocks"]))
    assert "/deal withdraw" in texts(helped["blocks"])


def test_the_home_tab_offers_edit_and_withdraw_on_an_open_deal(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    number = registered(sqlite_world, bot)
    approved(sqlite_world, bot, number)
    bot.event({"type": "app_home_opened", "user": "U01ANN", "tab": "home"})
    home = slack.wait_for("views.publish")["view"]
    assert button_ids(home["blocks"])[1:] == [
        ("deal_advance", number),
        ("deal_edit_open", number),
        ("deal_withdraw_open", number),
    ]


def test_verifying_a_new_domain_in_the_edit_modal_keeps_it_an_edit_of_the_deal(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    number = registered(sqlite_world, bot)
    bot.command("U01ANN", f"edit {number}")
    view = modal(slack, "deal_amend")
    assert bot.view_action("U01ANN", view, "domain", "fresh-prospect.com").status == 200
    again = modal(slack, "deal_amend", after=1)
    assert json.loads(again["private_metadata"])["deal"] == number
    assert "fresh-prospect.com* is free to register" in texts(again["blocks"])
    resp = bot.submit("U01ANN", again, initial_values(view) | {"domain": "fresh-prospect.com"})
    assert "Domain: example.co.uk → fresh-prospect.com" in texts(result_view(resp)["blocks"])
    with sqlite_world.uow() as uow:
        moved = uow.session.scalars(select(Deal).where(Deal.number == number)).one()
        assert moved.prospect.domain == "fresh-prospect.com"
