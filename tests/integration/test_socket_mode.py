"""The Slack bot over Socket Mode: envelopes from a loopback WebSocket server, acks timed.

The bot connects as `dealreg bot` does with SLACK_APP_TOKEN set (`connect_socket_mode`): it
asks the fake Web API's `apps.connections.open` for a URL and connects to tests/socket_mode.py.
The payloads are the HTTP tests' own (BotHarness builds them), carried in envelopes, and the
outcomes asserted are the HTTP tests' too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from bot.app import connect_socket_mode, create_app, make_bot
from core.models import Deal
from dealreg.wiring import App
from tests.factories import ANN, World, form, register
from tests.integration.bot_harness import SECRET, TOKEN, BotHarness, Response
from tests.integration.test_bot import MODAL_VALUES, modal_opened, texts
from tests.integration.test_bot_review import registered, stage, updated
from tests.slack_fake import REVIEW_CHANNEL_ID, FakeSlack
from tests.socket_mode import SocketModeServer, envelope_of

APP_TOKEN = "xapp-1-A0APP-1-0123456789abcdef"


class SocketModeBot(BotHarness):
    """The bot taking Slack's requests over Socket Mode; `post` sends them as envelopes.

    `status` is 200 once acked, `body` the ack's payload, `elapsed` the time to the ack.
    Nothing is served over HTTP here, so `get` has no server to ask.
    """

    def __init__(self, world: World, slack: FakeSlack, socket: SocketModeServer) -> None:
        self.slack, self.socket = slack, socket
        self.app = App(world.settings)
        self.bot = make_bot(self.app.runtime)
        self.bolt_app = create_app(self.bot)
        handler = connect_socket_mode(self.bot, self.bolt_app)
        assert handler is not None, "no app token in the settings"
        self.handler = handler
        socket.wait_connected()

    def post(self, body: str, content_type: str, **_: Any) -> Response:
        kind, payload = envelope_of(body, content_type)
        ack = self.socket.request(kind, payload)
        data = b"" if ack.payload is None else json.dumps(ack.payload).encode()
        return Response(200, data, ack.elapsed)

    def close(self) -> None:
        # Closed from the server's side, the client stops at once; from its own, it sits in
        # a 3 s socket timeout first.
        self.handler.client.auto_reconnect_enabled = False
        if self.socket.connected:
            self.socket.drop()
        self.handler.close()
        # Let Bolt's listeners still working after their ack finish before the database goes.
        self.bolt_app._listener_runner.listener_executor.shutdown(wait=True)
        self.bot.pool.shutdown(wait=True)
        self.app.engine.dispose()


def stall(engine: Engine, seconds: float) -> None:
    """Make the database stop answering for `seconds`: every statement waits for the end.

    The listener stays (it waits no more afterwards): removing it while other threads run
    statements makes SQLAlchemy fail them ("deque mutated during iteration").
    """
    until = time.monotonic() + seconds

    def wait(*_: Any) -> None:
        time.sleep(max(0.0, until - time.monotonic()))

    event.listen(engine, "before_cursor_execute", wait)


def replied(slack: FakeSlack, words: str) -> dict[str, Any]:
    """Wait for the reply by response URL whose blocks hold `words`."""
    return slack.wait_for("response_url", lambda p: words in texts(p["blocks"]))


def socket_world(db_url: str, tmp_path: Path, slack: FakeSlack) -> World:
    """A World configured for Slack against the fake, with an app token: Socket Mode."""
    return World(
        db_url,
        tmp_path,
        slack_bot_token=TOKEN,
        slack_signing_secret=SECRET,
        slack_app_token=APP_TOKEN,
        slack_api_url=slack.url,
        slack_review_channel="#deal-desk",
    )


@pytest.fixture
def world(db_url: str, tmp_path: Path, slack: FakeSlack) -> Iterator[World]:
    """Slack over Socket Mode against the fake, on SQLite and on PostgreSQL."""
    w = socket_world(db_url, tmp_path, slack)
    yield w
    w.close()


@pytest.fixture
def socket_mode(slack: FakeSlack) -> Iterator[SocketModeServer]:
    """A Socket Mode server that the fake's apps.connections.open points to."""
    server = SocketModeServer(slack)
    yield server
    server.close()


@pytest.fixture
def bot(world: World, slack: FakeSlack, socket_mode: SocketModeServer) -> Iterator[SocketModeBot]:
    """The bot connected over Socket Mode, as `dealreg bot` runs with SLACK_APP_TOKEN."""
    harness = SocketModeBot(world, slack, socket_mode)
    yield harness
    harness.close()


def test_the_bot_connects_with_the_app_token_to_the_url_slack_hands_out(
    bot: SocketModeBot, slack: FakeSlack, socket_mode: SocketModeServer
) -> None:
    [opened] = slack.calls_to("apps.connections.open")
    assert opened.params["token"] == APP_TOKEN  # the app-level token, not the bot's
    assert opened.answer is not None
    url = opened.answer["url"]
    assert url.startswith(socket_mode.url + "?ticket=")
    assert socket_mode.paths == [url.removeprefix(socket_mode.url.removesuffix("/link/"))]


def test_help_and_search_are_acked_at_once_and_answered_by_response_url(
    bot: SocketModeBot, world: World, slack: FakeSlack
) -> None:
    helped = bot.command("U01ANN", "help")
    assert helped.status == 200 and helped.body == b""  # a bare ack: the answer comes later
    assert "/deal register" in texts(slack.wait_for("response_url")["blocks"])

    with world.uow() as uow:
        register(uow, world.actor(ANN), form(), now=datetime.now(UTC), settings=bot.app.settings)
    assert bot.command("U01ANN", "search example").body == b""
    found = replied(slack, "DR-000001")
    assert found["response_type"] == "ephemeral"
    assert bot.command("U02BOB", "search example").body == b""
    replied(slack, "No deals match")  # Bob sees none of Ann's


def test_reviewer_approves_and_the_review_message_is_updated_in_place(
    bot: SocketModeBot, world: World, slack: FakeSlack
) -> None:
    number = registered(world, bot)
    assert bot.click("U0REVIEW", "deal_approve", number).body == b""
    done = updated(slack, "Approved")
    assert (done["channel"], done["ts"]) == (REVIEW_CHANNEL_ID, "1800000000.000001")
    assert not [b for b in done["blocks"] if b["type"] == "actions"]
    dm = slack.wait_for("chat.postMessage", lambda p: "approved" in p["text"])
    assert dm["channel"] == "DU01ANN"
    assert stage(world, number) == "approved"


def test_registration_modal_submission_registers_the_deal_or_reports_field_errors(
    bot: SocketModeBot, world: World, slack: FakeSlack
) -> None:
    bot.command("U01ANN", "register")
    slack.wait_for("views.open", lambda p: p["view"]["callback_id"] == "loading")
    view = modal_opened(slack, "deal_register")

    bad = bot.submit("U01ANN", view, MODAL_VALUES | {"end_user_email": "nope"}).json()
    assert bad["response_action"] == "errors" and set(bad["errors"]) == {"end_user_email"}

    good = bot.submit("U01ANN", view, MODAL_VALUES).json()
    assert good["response_action"] == "update"
    assert "DR-000001" in texts(good["view"]["blocks"])
    review = slack.wait_for("chat.postMessage", lambda p: p["channel"] == "#deal-desk")
    assert "Quote on approval" in texts(review["blocks"])
    dm = slack.wait_for("chat.postMessage", lambda p: p["channel"] == "DU01ANN")
    assert "DR-000001" in dm["text"]
    with world.uow() as uow:
        assert uow.session.query(Deal).one().number == "DR-000001"


def test_country_and_state_typeahead_answer_in_the_ack(
    bot: SocketModeBot, slack: FakeSlack
) -> None:
    bot.command("U01ANN", "register")
    view = modal_opened(slack, "deal_register")
    countries = bot.suggest("U01ANN", view, "country", "germ").json()["options"]
    assert [o["value"] for o in countries] == ["DE"]
    states = bot.suggest("U01ANN", view | {"_values": {"country": "US"}}, "state", "calif")
    assert [o["value"] for o in states.json()["options"]] == ["US-CA"]


def test_every_envelope_is_acked_within_3s_while_the_database_is_slow(
    bot: SocketModeBot, world: World, slack: FakeSlack
) -> None:
    number = registered(world, bot)
    bot.command("U01ANN", "register")
    view = modal_opened(slack, "deal_register")
    other = {"company_name": "Fresh Ltd", "domain": "fresh.example.org"}
    started = time.monotonic()
    stall(bot.app.engine, 4.0)
    searched = bot.command("U01ANN", "search example")
    clicked = bot.click("U0REVIEW", "deal_approve", number)
    suggested = bot.suggest("U01ANN", view, "country", "germ")
    submitted = bot.submit("U01ANN", view, MODAL_VALUES | other)
    for resp in (searched, clicked, suggested):
        assert resp.elapsed < 1.0
    assert submitted.elapsed < 3.0  # a "working" view when the work outlasts its budget
    assert "Saving" in texts(submitted.json()["view"]["blocks"])

    reply = slack.wait_for("response_url", timeout=30)
    assert time.monotonic() - started > 3.0  # the work itself took longer than Slack waits
    assert reply["response_type"] == "ephemeral"
    updated(slack, "Approved")
    late = slack.wait_for("views.update", lambda p: "DR-000002" in texts(p["view"]["blocks"]))
    assert late["view_id"] == view["id"]


def test_a_burst_of_commands_is_acked_at_once_while_the_database_is_slow(
    bot: SocketModeBot, slack: FakeSlack
) -> None:
    bot.command("U01ANN", "help")  # connected, authorised: the burst measures acks alone
    slack.wait_for("response_url")
    stall(bot.app.engine, 4.0)

    def search(n: int) -> Response:
        return bot.command("U01ANN", f"search burst{n}")

    with ThreadPoolExecutor(max_workers=40) as clients:  # more than Bolt's 16 listener threads
        acks = list(clients.map(search, range(40)))
    assert max(ack.elapsed for ack in acks) < 1.0
    for n in range(40):
        assert "No deals match" in texts(replied(slack, f"“burst{n}”")["blocks"])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the database plays no part
def test_a_dropped_connection_is_opened_again_and_the_next_command_handled(
    bot: SocketModeBot, slack: FakeSlack, socket_mode: SocketModeServer
) -> None:
    socket_mode.refresh()  # Slack's "disconnect": the client fetches a new URL and moves
    socket_mode.wait_connected(2, timeout=5)
    bot.command("U01ANN", "frobnicate")
    replied(slack, "frobnicate")

    socket_mode.drop("reset")  # as a proxy drops it; the client's next ping (every 10 s) fails
    socket_mode.wait_connected(3, timeout=15)
    assert bot.command("U01ANN", "wibble").status == 200
    assert "/deal register" in texts(replied(slack, "wibble")["blocks"])  # the help, again

    assert socket_mode.connections == len(slack.calls_to("apps.connections.open")) == 3
    assert len(set(socket_mode.paths)) == 3  # a fresh ticket for every connection
    assert socket_mode.strays == []
