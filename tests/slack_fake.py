"""A local stand-in for Slack's Web API and response URLs, recording every call."""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

REVIEW_CHANNEL_ID = "C0REVIEW"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float
    answer: dict[str, Any] | None = None  # what Slack answered; None when rate limited


class FakeSlack:
    """Answer like Slack on a free loopback port; `calls` records what was asked."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.emails: dict[str, str] = {}  # Slack user id -> profile email
        self._limited: dict[str, int] = {}  # method -> Retry-After seconds, once
        # Where `apps.connections.open` sends Socket Mode clients (tests/socket_mode.py sets it).
        self.socket_mode_url: str | None = None
        self._lock = threading.Condition()
        self._ts = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        return f"{self.base}/api/"

    def response_url(self) -> str:
        return f"{self.base}/response/{uuid.uuid4().hex}"

    def rate_limit_once(self, method: str, retry_after: int = 1) -> None:
        self._limited[method] = retry_after

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(
        self,
        method: str,
        match: Callable[[dict[str, Any]], bool] = lambda p: True,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """Wait for a call to `method` whose params satisfy `match`; return its params."""
        return self._wait(method, match, timeout).params

    def answered(
        self,
        method: str,
        match: Callable[[dict[str, Any]], bool] = lambda p: True,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """Wait for a call as `wait_for` does; return what Slack answered (a message's ts)."""
        answer = self._wait(method, match, timeout, answered=True).answer
        assert answer is not None
        return answer

    def _wait(
        self,
        method: str,
        match: Callable[[dict[str, Any]], bool],
        timeout: float,
        *,
        answered: bool = False,
    ) -> Call:
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for call in self.calls:
                    ready = call.answer is not None or not answered
                    if call.method == method and match(call.params) and ready:
                        return call
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [c.method for c in self.calls]
                    raise AssertionError(f"no matching {method} call; calls: {seen}")
                self._lock.wait(left)

    def _record(
        self, method: str, params: dict[str, Any], answer: dict[str, Any] | None = None
    ) -> None:
        with self._lock:
            self.calls.append(Call(method, params, time.monotonic(), answer))
            self._lock.notify_all()

    def answer(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        """Slack's answer to one Web API call."""
        ok: dict[str, Any] = {"ok": True}
        if method == "apps.connections.open":
            if not str(p.get("token", "")).startswith("xapp-"):
                return {"ok": False, "error": "not_allowed_token_type"}
            if self.socket_mode_url is None:
                return {"ok": False, "error": "socket_mode_not_enabled"}
            ticket = uuid.uuid4().hex
            return ok | {"url": f"{self.socket_mode_url}?ticket={ticket}&app_id=A0APP"}
        if method == "auth.test":
            return ok | {"team_id": "T0TEAM", "user_id": "U0BOT", "bot_id": "B0BOT", "team": "t"}
        if method in ("views.open", "views.update", "views.push", "views.publish"):
            view = p.get("view") or {}
            view_id = p.get("view_id") or f"V{uuid.uuid4().hex[:10].upper()}"
            return ok | {"view": {**view, "id": view_id, "hash": uuid.uuid4().hex}}
        if method == "chat.postMessage":
            channel = p.get("channel", "")
            channel = REVIEW_CHANNEL_ID if channel.startswith("#") else channel
            ts = f"1800000000.{next(self._ts):06d}"
            return ok | {"channel": channel, "ts": ts, "message": {"text": p.get("text")}}
        if method == "chat.update":
            return ok | {"channel": p.get("channel"), "ts": p.get("ts")}
        if method == "chat.postEphemeral":
            return ok | {"message_ts": f"1800000000.{next(self._ts):06d}"}
        if method == "users.info":
            user = p.get("user", "")
            profile = {"email": self.emails[user]} if user in self.emails else {}
            return ok | {"user": {"id": user, "profile": profile}}
        if method == "conversations.open":
            return ok | {"channel": {"id": "D" + str(p.get("users", "")).split(",")[0]}}
        return ok

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _params(self) -> dict[str, Any]:
                parts = urlsplit(self.path)
                params: dict[str, Any] = dict(parse_qsl(parts.query))
                size = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(size).decode() if size else ""
                if "json" in (self.headers.get("Content-Type") or ""):
                    params.update(json.loads(raw or "{}"))
                else:
                    params.update(dict(parse_qsl(raw)))
                for key in ("view", "blocks"):  # form posts carry JSON strings
                    if isinstance(params.get(key), str):
                        params[key] = json.loads(params[key])
                return params

            def _send(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self.do_POST()

            def do_POST(self) -> None:
                path = urlsplit(self.path).path
                params = self._params()
                if path.startswith("/response/"):
                    fake._record("response_url", params | {"_url": path})
                    self._send(200, {"ok": True}, {})
                    return
                method = path.removeprefix("/api/")
                if method == "apps.connections.open":  # Slack takes an app token only
                    bearer = self.headers.get("Authorization") or ""
                    params.setdefault("token", bearer.removeprefix("Bearer "))
                retry_after = fake._limited.pop(method, None)
                if retry_after is not None:
                    fake._record(method, params)
                    body = {"ok": False, "error": "ratelimited"}
                    self._send(429, body, {"Retry-After": str(retry_after)})
                    return
                answer = fake.answer(method, params)
                fake._record(method, params, answer)
                self._send(200, answer, {})

        return Handler
