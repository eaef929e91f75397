"""The real bot under waitress on a free port, pointed at the fake Slack; signed requests."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import waitress
from slack_sdk.signature import SignatureVerifier

from bot.app import create_wsgi, make_bot, make_client
from bot.delivery import deliver_slack_due
from dealreg.wiring import App
from tests.factories import ANN, World, form, register
from tests.slack_fake import FakeSlack

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-test-token"


def slack_world(db_url: str, tmp_path: Path, slack: FakeSlack) -> World:
    """A World whose settings have Slack configured against the fake."""
    return World(
        db_url,
        tmp_path,
        slack_bot_token=TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=slack.url,
        slack_review_channel="#deal-desk",
    )


def signed_headers(body: str, secret: str = SECRET, age: float = 0) -> dict[str, str]:
    """The headers Slack sends with a form-encoded `body`, signed with `secret`."""
    ts = str(int(time.time() - age))
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body) or ""
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
    }


class Response:
    def __init__(self, status: int, body: bytes, elapsed: float) -> None:
        self.status, self.body, self.elapsed = status, body, elapsed

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


class BotHarness:
    """Serve `create_wsgi` with waitress in a thread and talk to it as Slack does."""

    def __init__(self, world: World, slack: FakeSlack) -> None:
        self.slack = slack
        self.app = App(world.settings)
        self.wsgi = create_wsgi(make_bot(self.app.runtime))
        # A short loop timeout, so close() returns at once rather than after a second.
        self.server = waitress.create_server(
            self.wsgi, host="127.0.0.1", port=0, threads=8, asyncore_loop_timeout=0.05
        )
        self.base = f"http://127.0.0.1:{self.server.effective_port}"  # type: ignore[union-attr]
        self._closing = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            self.server.run()
        except Exception:
            if not self._closing:  # closing the socket under the loop may raise; ignore
                raise

    def close(self) -> None:
        self._closing = True
        self.server.close()
        self._thread.join(timeout=5)
        self.wsgi.close()  # finish the work of requests already answered
        self.app.engine.dispose()

    def deliver(self) -> Any:
        """Run the worker's Slack delivery once."""
        client = make_client(self.app.settings)
        return deliver_slack_due(self.app.runtime, client, self.app.now(), "test-worker")

    # -- HTTP -------------------------------------------------------------------------------

    def post(
        self,
        body: str,
        content_type: str,
        *,
        secret: str | None = SECRET,
        age: float = 0,
        path: str = "/slack/events",
    ) -> Response:
        headers = {"Content-Type": content_type}
        if secret is not None:
            ts = str(int(time.time() - age))
            signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
            headers |= {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}
        request = urllib.request.Request(
            self.base + path, data=body.encode(), headers=headers, method="POST"
        )
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                return Response(resp.status, resp.read(), time.monotonic() - started)
        except urllib.error.HTTPError as err:
            return Response(err.code, err.read(), time.monotonic() - started)

    def get(self, path: str) -> Response:
        started = time.monotonic()
        try:
            with urllib.request.urlopen(self.base + path, timeout=30) as resp:
                return Response(resp.status, resp.read(), time.monotonic() - started)
        except urllib.error.HTTPError as err:
            return Response(err.code, err.read(), time.monotonic() - started)

    def command(self, user: str, text: str, **kw: Any) -> Response:
        """Post `/deal TEXT` as Slack sends a slash command."""
        form = {
            "token": "legacy",
            "team_id": "T0TEAM",
            "team_domain": "partners",
            "channel_id": "C0GENERAL",
            "channel_name": "general",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/deal",
            "text": text,
            "api_app_id": "A0APP",
            "enterprise_id": "",
            "is_enterprise_install": "false",
            "response_url": self.slack.response_url(),
            "trigger_id": f"trig.{uuid.uuid4().hex}",
        }
        return self.post(urlencode(form), "application/x-www-form-urlencoded", **kw)

    def interact(self, payload: dict[str, Any], **kw: Any) -> Response:
        body = urlencode({"payload": json.dumps(payload)})
        return self.post(body, "application/x-www-form-urlencoded", **kw)

    def click(
        self, user: str, action_id: str, value: str, *, message: dict[str, Any] | None = None
    ) -> Response:
        """Press a button on a message in the review channel (or a DM)."""
        message = message or {"ts": "1800000000.000001", "text": "", "blocks": []}
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": "T0TEAM"},
            "api_app_id": "A0APP",
            "team": {"id": "T0TEAM", "domain": "partners"},
            "channel": {"id": "C0REVIEW", "name": "deal-desk"},
            "container": {"type": "message", "message_ts": message["ts"], "channel_id": "C0REVIEW"},
            "trigger_id": f"trig.{uuid.uuid4().hex}",
            "response_url": self.slack.response_url(),
            "message": message,
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": "review",
                    "type": "button",
                    "value": value,
                    "action_ts": str(time.time()),
                }
            ],
        }
        return self.interact(payload)

    def view_action(self, user: str, view: dict[str, Any], action_id: str, value: Any) -> Response:
        """A dispatch action inside a modal (Enter in the domain field, a country picked)."""
        element = state_for(view, {action_id: value})[action_id][action_id]
        action = {"action_id": action_id, "block_id": action_id, "action_ts": str(time.time())}
        payload = {
            "type": "block_actions",
            "user": {"id": user, "team_id": "T0TEAM"},
            "team": {"id": "T0TEAM"},
            "container": {"type": "view", "view_id": view["id"]},
            "trigger_id": f"trig.{uuid.uuid4().hex}",
            "view": {**view, "state": {"values": state_for(view, {action_id: value})}},
            "actions": [action | element],
        }
        return self.interact(payload)

    def submit(self, user: str, view: dict[str, Any], values: dict[str, Any]) -> Response:
        """Submit a modal with `values` typed into its inputs."""
        payload = {
            "type": "view_submission",
            "team": {"id": "T0TEAM"},
            "user": {"id": user, "team_id": "T0TEAM"},
            "api_app_id": "A0APP",
            "trigger_id": f"trig.{uuid.uuid4().hex}",
            "view": {**view, "state": {"values": state_for(view, values)}},
        }
        return self.interact(payload)

    def suggest(self, user: str, view: dict[str, Any], action_id: str, typed: str) -> Response:
        payload = {
            "type": "block_suggestion",
            "user": {"id": user, "team_id": "T0TEAM"},
            "team": {"id": "T0TEAM"},
            "action_id": action_id,
            "block_id": action_id,
            "value": typed,
            "container": {"type": "view", "view_id": view["id"]},
            "view": {**view, "state": {"values": state_for(view, view.get("_values", {}))}},
        }
        return self.interact(payload)

    def event(self, event: dict[str, Any]) -> Response:
        body = {
            "token": "legacy",
            "team_id": "T0TEAM",
            "api_app_id": "A0APP",
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{uuid.uuid4().hex[:8]}",
            "event_time": int(time.time()),
        }
        return self.post(json.dumps(body), "application/json")


def state_for(view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The `state.values` Slack sends for a view whose inputs hold `values`."""
    state: dict[str, Any] = {}
    for block in view.get("blocks", []):
        if block.get("type") != "input":
            continue
        element = block["element"]
        kind, name = element["type"], block["block_id"]
        value = values.get(name)
        entry: dict[str, Any] = {"type": kind}
        if kind in ("static_select", "external_select"):
            chosen = None if value is None else {"text": {"type": "plain_text", "text": str(value)}}
            entry["selected_option"] = None if chosen is None else chosen | {"value": str(value)}
        elif kind == "datepicker":
            entry["selected_date"] = value
        else:
            entry["value"] = None if value is None else str(value)
        state[name] = {element["action_id"]: entry}
    return state


def registered(world: World, bot: BotHarness, email: str = ANN, **changes: Any) -> str:
    """Register a partner's deal and post its review card, as the worker would."""
    with world.uow() as uow:
        done = register(
            uow, world.actor(email), form(**changes), now=datetime.now(UTC), settings=world.settings
        )
    bot.deliver()
    return done.deal.number
