"""The bot's HTTP edge over real HTTP: size, signature, shape, replays, retries, identity."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import io
import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import func, select

from core.models import Contact, Partner, Quote
from tests.factories import ANN, World, form, register
from tests.integration.bot_harness import SECRET, BotHarness, Response
from tests.slack_fake import FakeSlack

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
MIB = 1024 * 1024


def signature(body: bytes, timestamp: str) -> dict[str, str]:
    """The headers Slack signs a body with; made by hand, so any bytes can be signed."""
    mac = hmac.new(SECRET.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": "v0=" + mac.hexdigest()}


def signed(body: str, age: float = 0) -> dict[str, str]:
    """Headers for `body`, signed now (less `age` seconds) as Slack signs it."""
    ts = str(int(time.time() - age))
    sig = SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig or ""}


def send(bot: BotHarness, body: bytes, headers: dict[str, str], ctype: str = FORM) -> Response:
    """POST `body` to the bot's Slack endpoint with exactly these headers."""
    request = urllib.request.Request(
        bot.base + "/slack/events", data=body, headers={"Content-Type": ctype, **headers}
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return Response(resp.status, resp.read(), time.monotonic() - started)
    except urllib.error.HTTPError as err:
        return Response(err.code, err.read(), time.monotonic() - started)


def command_body(slack: FakeSlack, user: str, text: str) -> str:
    """A `/deal TEXT` slash command as Slack posts it, with its own trigger id."""
    return urlencode({
        "token": "legacy", "team_id": "T0TEAM", "channel_id": "C0GENERAL", "user_id": user,
        "user_name": user.lower(), "command": "/deal", "text": text, "api_app_id": "A0APP",
        "response_url": slack.response_url(), "trigger_id": f"trig.{uuid.uuid4().hex}",
    })  # fmt: skip


def quotes(world: World) -> int:
    with world.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(Quote)))


@pytest.fixture
def deal(bot: BotHarness, sqlite_world: World) -> str:
    """A deal of Ann's, registered and announced in the review channel."""
    with sqlite_world.uow() as uow:
        reg = register(
            uow, sqlite_world.actor(ANN), form(), now=datetime.now(UTC), settings=bot.app.settings
        )
    bot.deliver()
    return reg.deal.number


def replies(slack: FakeSlack, words: str) -> int:
    return sum(words in json.dumps(c.params) for c in slack.calls_to("response_url"))


def ask(bot: BotHarness, slack: FakeSlack, user: str, text: str) -> dict[str, Any]:
    """Send `/deal TEXT` as `user`; the reply the bot posts to that command's response_url."""
    body = command_body(slack, user, text)
    path = urlsplit(parse_qs(body)["response_url"][0]).path
    assert send(bot, body.encode(), signed(body)).status == 200
    return slack.wait_for("response_url", lambda p: p["_url"] == path)


def assert_serving(bot: BotHarness, slack: FakeSlack) -> None:
    assert "/deal register" in json.dumps(ask(bot, slack, "U01ANN", "help"))


# ----------------------------------------------------------------------------- size


def test_a_body_over_the_limit_is_refused_with_413_and_the_bot_keeps_serving(
    bot: BotHarness, slack: FakeSlack
) -> None:
    limit = bot.app.settings.slack_max_body_bytes
    big = b"payload=" + b"x" * (limit + 1 - len(b"payload="))
    assert send(bot, big, signature(big, str(int(time.time())))).status == 413
    at_limit = big[:-1]  # not too big, only unsigned
    assert send(bot, at_limit, {}).status == 401
    assert_serving(bot, slack)


def test_a_chunked_body_over_the_limit_is_refused_with_413(
    bot: BotHarness, slack: FakeSlack
) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"x" * 64 * 1024  # 2.5 MiB in all, with no Content-Length

    conn = http.client.HTTPConnection("127.0.0.1", int(bot.base.rsplit(":", 1)[1]), timeout=30)
    try:
        conn.request(
            "POST", "/slack/events", body=chunks(), headers={"Content-Type": FORM},
            encode_chunked=True,
        )  # fmt: skip
        assert conn.getresponse().status == 413
    finally:
        conn.close()
    assert_serving(bot, slack)


class Stream:
    """A request body stream as a WSGI server hands it over, counting what is read of it."""

    def __init__(self, prefix: bytes = b"") -> None:
        self.data = io.BytesIO(prefix)  # and after it, junk without end
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.data.read(size) or b"x" * (size if 0 < size < MIB else MIB)
        self.read_bytes += len(chunk)
        return chunk


def call(bot: BotHarness, stream: Stream, headers: dict[str, str]) -> str:
    """Hand one request to the bot's WSGI app as a server would; the status line it answers."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/slack/events", "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": FORM, "wsgi.input": stream, "wsgi.input_terminated": True,
        **headers,
    }  # fmt: skip
    answered: list[str] = []
    b"".join(bot.wsgi(environ, lambda status, _headers: answered.append(status)))
    return answered[0]


def test_without_a_length_the_body_is_read_no_further_than_the_limit(bot: BotHarness) -> None:
    limit = bot.app.settings.slack_max_body_bytes
    endless = Stream()
    assert call(bot, endless, {}).startswith("413")
    assert limit < endless.read_bytes <= limit + 64 * 1024


def test_a_length_over_the_limit_is_refused_before_any_of_the_body_is_read(
    bot: BotHarness,
) -> None:
    stream = Stream()
    assert call(bot, stream, {"CONTENT_LENGTH": str(100 * MIB)}).startswith("413")
    assert stream.read_bytes == 0


def test_only_as_much_as_the_length_says_is_read(bot: BotHarness, slack: FakeSlack) -> None:
    body = command_body(slack, "U01ANN", "help")
    stream = Stream(body.encode())
    headers = {"CONTENT_LENGTH": str(len(body))}
    headers |= {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in signed(body).items()}
    assert call(bot, stream, headers).startswith("200")
    assert stream.read_bytes == len(body)
    slack.wait_for("response_url")


# ----------------------------------------------------------------------------- signature


@pytest.mark.parametrize(
    "timestamp", [None, "", "abc", "1e9", " {now}", "+{now}", "{now}.0", "-5", "9" * 5000, "²"]
)
def test_a_timestamp_that_is_not_a_plain_number_is_refused_with_401(
    bot: BotHarness, slack: FakeSlack, timestamp: str | None
) -> None:
    if timestamp is not None:
        timestamp = timestamp.replace("{now}", str(int(time.time())))
    body = command_body(slack, "U01ANN", "help")
    sig = SignatureVerifier(SECRET).generate_signature(timestamp=timestamp or "", body=body)
    headers = {"X-Slack-Signature": sig or ""}
    if timestamp is not None:
        headers["X-Slack-Request-Timestamp"] = timestamp
    assert send(bot, body.encode(), headers).status == 401
    time.sleep(0.2)
    assert slack.calls_to("response_url") == []


def test_a_signed_body_that_is_not_utf8_is_refused_with_400(
    bot: BotHarness, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    body = b"command=/deal&user_id=U01ANN&text=\xff\xfe\xc3("
    with caplog.at_level(logging.WARNING, logger="bot.edge"):
        assert send(bot, body, signature(body, str(int(time.time())))).status == 400
    assert "not UTF-8" in caplog.text
    assert_serving(bot, slack)


WRONG_SHAPES = {
    "json-posted-as-a-form": (json.dumps({"type": "block_actions", "actions": []}), FORM),
    "form-of-neither": (urlencode({"user_id": "U01ANN", "text": "help"}), FORM),
    "command-without-command": (urlencode({"command": "", "user_id": "U01ANN"}), FORM),
    "command-without-user": (urlencode({"command": "/deal", "text": "help"}), FORM),
    "payload-not-json": ("payload=%7Bnot-json", FORM),
    "payload-a-list": (urlencode({"payload": "[1, 2]"}), FORM),
    "payload-without-type": (urlencode({"payload": json.dumps({"user": {"id": "U1"}})}), FORM),
    "payload-twice": ("payload=%7B%22type%22%3A%22x%22%7D&payload=%7B%7D", FORM),
    "actions-not-a-list": (
        urlencode({"payload": json.dumps({"type": "block_actions", "actions": "x"})}),
        FORM,
    ),
    "user-a-number": (
        urlencode({"payload": json.dumps({"type": "view_submission", "user": 12, "view": {}})}),
        FORM,
    ),
    "event-not-an-object": (
        json.dumps({"type": "event_callback", "event": "x"}),
        JSON,
    ),
    "event-user-a-list": (
        json.dumps({"type": "event_callback", "event": {"type": "app_home_opened", "user": [1]}}),
        JSON,
    ),
    "json-a-list": ("[]", JSON),
    "plain-text": ("command=/deal&user_id=U01ANN&text=help", "text/plain"),
    "not-a-form": ("command", FORM),
}


@pytest.mark.parametrize("shape", list(WRONG_SHAPES))
def test_a_signed_request_of_a_shape_slack_never_sends_is_refused_with_400_and_logged(
    bot: BotHarness, slack: FakeSlack, caplog: pytest.LogCaptureFixture, shape: str
) -> None:
    body, ctype = WRONG_SHAPES[shape]
    with caplog.at_level(logging.WARNING, logger="bot.edge"):
        assert send(bot, body.encode(), signed(body), ctype).status == 400
    assert "signed slack request refused" in caplog.text
    time.sleep(0.2)
    assert [c.method for c in slack.calls] == []  # nothing reached a listener


# ----------------------------------------------------------------------------- once only


def test_a_quote_command_sent_three_times_with_one_signature_makes_one_quote(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack, deal: str
) -> None:
    body = command_body(slack, "U01ANN", f"quote {deal} archive 300")
    headers = signed(body)
    before = quotes(sqlite_world)
    assert [send(bot, body.encode(), headers).status for _ in range(3)] == [200, 200, 200]
    slack.wait_for("response_url", lambda p: "Quote Q-" in p["text"])
    time.sleep(1.0)  # time for a second quote, were one under way
    assert quotes(sqlite_world) == before + 1
    assert replies(slack, "Quote Q-") == 1


def test_a_slack_retry_of_a_handled_command_is_acknowledged_and_not_redone(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack, deal: str
) -> None:
    body = command_body(slack, "U01ANN", f"quote {deal} archive 300")
    before = quotes(sqlite_world)
    assert send(bot, body.encode(), signed(body, age=2)).status == 200
    slack.wait_for("response_url", lambda p: "Quote Q-" in p["text"])
    retry = signed(body) | {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert send(bot, body.encode(), retry).status == 200
    time.sleep(1.0)
    assert quotes(sqlite_world) == before + 1
    assert replies(slack, "Quote Q-") == 1


def test_a_retry_of_a_command_never_taken_in_is_handled(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack, deal: str
) -> None:
    body = command_body(slack, "U01ANN", f"quote {deal} archive 300")
    before = quotes(sqlite_world)
    retry = signed(body) | {"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_error"}
    assert send(bot, body.encode(), retry).status == 200
    slack.wait_for("response_url", lambda p: "Quote Q-" in p["text"])
    assert quotes(sqlite_world) == before + 1


def test_a_slack_retry_of_an_event_is_not_redone(bot: BotHarness, slack: FakeSlack) -> None:
    event = {"type": "app_home_opened", "user": "U01ANN", "channel": "D1", "tab": "home"}
    envelope = {
        "token": "legacy", "team_id": "T0TEAM", "api_app_id": "A0APP", "event": event,
        "type": "event_callback", "event_id": "Ev0RETRY1", "event_time": int(time.time()),
    }  # fmt: skip
    body = json.dumps(envelope)
    assert send(bot, body.encode(), signed(body, age=3), JSON).status == 200
    slack.wait_for("views.publish", lambda p: p["user_id"] == "U01ANN")
    retry = signed(body) | {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert send(bot, body.encode(), retry, JSON).status == 200
    time.sleep(1.0)
    assert len(slack.calls_to("views.publish")) == 1


# ----------------------------------------------------------------------------- identity


def test_a_slack_user_showing_a_bound_persons_email_is_not_taken_for_them(
    bot: BotHarness, slack: FakeSlack
) -> None:
    slack.emails["U9MALLORY"] = "priya@vendor.example"  # a reviewer, bound to U0PRIYA
    slack.emails["U9EVE"] = "ANN@northwind.example"  # a partner contact, bound to U01ANN
    for user in ("U9MALLORY", "U9EVE"):
        assert "not registered" in ask(bot, slack, user, "search example")["text"], user
    assert [c.params["user"] for c in slack.calls_to("users.info")] == ["U9MALLORY", "U9EVE"]
    # Priya herself, by her bound id, and without asking Slack for her email.
    assert "No deals match" in json.dumps(ask(bot, slack, "U0PRIYA", "search example"))
    assert len(slack.calls_to("users.info")) == 2


def test_a_contact_bound_to_no_slack_user_is_found_by_the_email_slack_shows(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    with sqlite_world.uow() as uow:
        northwind = uow.session.scalars(select(Partner).where(Partner.name == "Northwind IT"))
        uow.session.add(
            Contact(partner=northwind.one(), name="Kim Cho", email="kim@northwind.example")
        )
        uow.commit()
    slack.emails["U7KIM"] = "Kim@Northwind.example"
    assert "No deals match" in json.dumps(ask(bot, slack, "U7KIM", "search example"))
