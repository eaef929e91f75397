"""Nothing a partner types reaches Slack live: no mention, channel ping or link.

The Slack scenario suites run here again with registrations whose every free-text field is
hostile, then a full review round is played with hostile notes, questions, answers, PO
numbers, search terms and domains. After each test, every call the fake Slack recorded
(Web API and response URLs) is scanned for the hostile markup itself; its escaped form
must be there instead, escaped once.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from core.fields import FIELDS
from tests import factories
from tests.factories import ANN, World, register
from tests.integration import test_bot, test_bot_review, test_rivals
from tests.integration.bot_harness import BotHarness
from tests.slack_fake import FakeSlack

HOSTILE = "<!channel> <!here> <@U123> <#C123> <https://evil.example/login|the new portal>"
LIVE = ("<!channel", "<!here", "<@U123", "<#C123", "<https://evil")
# The free-text registration fields: everything else is validated to a number, date,
# email, phone, code or choice.
FREE_TEXT = (
    "company_name",
    "contact_name",
    "partner_sales_lead_name",
    "end_user_first_name",
    "end_user_last_name",
    "end_user_position",
    "address_line1",
    "address_line2",
    "problems_to_solve",
)


def hostile(field: str) -> str:
    return f"{field} {HOSTILE}"


def hostile_form(**changes: Any) -> dict[str, Any]:
    """A valid registration whose every free-text field tries to ping, mention or link."""
    return factories.form(**({f: hostile(f) for f in FREE_TEXT} | changes))


# The Slack scenario suites, collected here again: `hostile_registrations` makes their
# registrations hostile and scans what each sent.
SLACK_FIXTURES = {"bot", "slack", "slack_db_world"}
globals().update(
    {
        name: test
        for module in (test_bot, test_bot_review, test_rivals)
        for name, test in vars(module).items()
        if name.startswith("test_") and SLACK_FIXTURES & set(inspect.signature(test).parameters)
    }
)


@pytest.fixture(autouse=True)
def hostile_registrations(monkeypatch: pytest.MonkeyPatch, slack: FakeSlack) -> Iterator[None]:
    """Make every registration of the scenarios hostile; afterwards, scan what Slack got."""
    for module in (test_bot, test_bot_review, test_rivals):
        monkeypatch.setattr(module, "form", hostile_form)
    for field in FREE_TEXT:
        monkeypatch.setitem(test_bot.MODAL_VALUES, field, hostile(field))
    yield
    assert_nothing_live(slack)


def sent(slack: FakeSlack) -> list[tuple[str, str]]:
    return [(c.method, json.dumps(c.params, ensure_ascii=False)) for c in slack.calls]


def assert_nothing_live(slack: FakeSlack) -> None:
    """No recorded call holds hostile markup as such, nor text escaped twice."""
    for method, text in sent(slack):
        assert not [bad for bad in LIVE if bad in text], (method, text[:2000])
        assert "&amp;lt;" not in text, (method, text[:2000])


def test_the_scenarios_really_carry_hostile_text_to_slack(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    with sqlite_world.uow() as uow:
        register(
            uow, sqlite_world.actor(ANN), test_bot.form(), now=datetime.now(UTC),
            settings=bot.app.settings,
        )  # fmt: skip
    bot.deliver()
    post = slack.wait_for("chat.postMessage", lambda p: p["channel"] == "#deal-desk")
    assert "company_name &lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt;" in json.dumps(post)


# -- a whole round with hostile input everywhere ---------------------------------------------


def escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def opened(slack: FakeSlack, method: str, callback_id: str) -> dict[str, Any]:
    params = slack.wait_for(method, lambda p: p["view"]["callback_id"] == callback_id)
    return params["view"] | {"id": params.get("view_id") or "V1", "hash": "h"}


def shown(slack: FakeSlack, method: str, words: str) -> dict[str, Any]:
    return slack.wait_for(method, lambda p: words in json.dumps(p, ensure_ascii=False))


def test_a_whole_review_round_with_hostile_input_everywhere(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    settings = bot.app.settings
    with sqlite_world.uow() as uow:
        register(
            uow, sqlite_world.actor(ANN, "slack"), hostile_form(), now=datetime.now(UTC),
            settings=settings,
        )  # fmt: skip
    # Bob registers the same prospect through the modal, verifying a hostile domain first.
    bot.command("U02BOB", "register")
    view = opened(slack, "views.update", "deal_register")
    bot.view_action("U02BOB", view, "domain", "a<!here>b.com")
    shown(slack, "views.update", "❌ Domain")
    values = test_bot.MODAL_VALUES | {f: hostile(f) for f in FREE_TEXT}
    assert bot.submit("U02BOB", view, values).json()["response_action"] == "update"
    bot.deliver()
    shown(slack, "chat.postMessage", "DR-000002")

    # The deal desk returns Ann's with a hostile question; Ann answers in kind.
    bot.click("U0REVIEW", "deal_return", "DR-000001")
    bot.submit("U0REVIEW", opened(slack, "views.open", "deal_return"), {"question": hostile("q")})
    shown(slack, "chat.update", "Returned for information")
    bot.click("U01ANN", "deal_answer", "DR-000001")
    bot.submit("U01ANN", opened(slack, "views.update", "deal_answer"), {"answer": hostile("a")})
    shown(slack, "chat.update", escaped(hostile("a")))
    bot.click("U0REVIEW", "deal_approve", "DR-000001")
    shown(slack, "chat.update", "✅ Approved by")
    bot.click("U0REVIEW", "deal_approve", "DR-000002")  # refused: DR-000001 is approved
    shown(slack, "chat.postEphemeral", "cannot approve DR-000002")
    bot.click("U0REVIEW", "deal_reject", "DR-000002")
    reject = opened(slack, "views.open", "deal_reject")
    bot.submit("U0REVIEW", reject, {"reason": "other", "note": hostile("note")})
    shown(slack, "chat.update", "⛔ Rejected by")

    # Ann asks for an extension: her company name goes live to the review channel.
    bot.command("U01ANN", "extend DR-000001")
    ask = shown(slack, "chat.postMessage", "Extension request")
    assert escaped(hostile("company_name")) in json.dumps(ask, ensure_ascii=False)
    bot.click("U0REVIEW", "deal_extension_grant", "DR-000001", message={"ts": "1800000000.9"})
    shown(slack, "chat.update", "granted")

    # Everything a partner can ask, with hostile words where words go.
    for words in (
        "show DR-000001",
        "check a<!here>b.com",
        f"search {HOSTILE}",
        "prospect example.co.uk",
        "quote DR-000001",
        f"frobnicate {HOSTILE}",
    ):
        before = len(slack.calls_to("response_url"))
        bot.command("U01ANN", words)
        slack.wait_for("response_url", lambda p, n=before: len(slack.calls_to("response_url")) > n)
    bot.command("U01ANN", "advance DR-000001")
    first = opened(slack, "views.update", "deal_advance")
    quote = first["blocks"][1]["element"]["options"][0]["value"]
    bot.submit("U01ANN", first, {"quote": quote})
    bot.command("U01ANN", "advance DR-000001")
    po = slack.wait_for("views.update", lambda p: "po_number" in json.dumps(p["view"]["blocks"]))
    bot.submit("U01ANN", po["view"] | {"id": po["view_id"]}, {"po_number": hostile("po")[:100]})
    bot.event({"type": "app_home_opened", "user": "U01ANN", "channel": "D1", "tab": "home"})
    bot.event({"type": "app_home_opened", "user": "U0REVIEW", "channel": "D2", "tab": "home"})
    slack.wait_for("views.publish", lambda p: p["user_id"] == "U0REVIEW")
    bot.deliver()

    everything = "\n".join(text for _, text in sent(slack))
    for field in [*FREE_TEXT, "q", "a", "note"]:  # each reached Slack, escaped
        assert escaped(hostile(field)) in everything, field
    assert escaped("a<!here>b.com") in everything
    assert {f.name for f in FIELDS} >= set(FREE_TEXT)
