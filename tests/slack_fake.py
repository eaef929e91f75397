"""A local stand-in for Slack's Web API and response URLs, recording every call.

Files arrive by Slack's external upload, as `WebClient.files_upload_v2` makes it:
`files.getUploadURLExternal` hands out a file id and an upload URL on this server, the bytes
are POSTed there, and `files.completeUploadExternal` shares the uploaded files in a channel.
`uploads` keeps every file by id; `wait_for_upload` waits for one to be shared.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

REVIEW_CHANNEL_ID = "C0REVIEW"
_CHANNEL_ID = re.compile(r"[CDG][A-Z0-9]+")


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float
    answer: dict[str, Any] | None = None  # what Slack answered; None when rate limited


@dataclass
class Upload:
    """A file of the external upload: its bytes once POSTed, its share once completed."""

    filename: str
    length: int
    data: bytes | None = None  # None until the bytes are POSTed to the upload URL
    completed: bool = False
    title: str | None = None
    channel: str | None = None  # None: completed without a channel, so private
    comment: str | None = None
    thread_ts: str | None = None


class FakeSlack:
    """Answer like Slack on a free loopback port; `calls` records what was asked."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.emails: dict[str, str] = {}  # Slack user id -> profile email
        self._limited: dict[str, int] = {}  # method -> Retry-After seconds, once
        self._failing: dict[str, str] = {}  # method -> the error Slack answers, once
        self.uploads: dict[str, Upload] = {}  # file id -> the file, from its upload URL on
        self._file_ids = itertools.count(1)
        # Where `apps.connections.open` sends Socket Mode clients (tests/socket_mode.py sets it).
        self.socket_mode_url: str | None = None
        self._lock = threading.Condition()
        self._ts = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        # A short poll, so close() returns at once rather than after half a second.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
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

    def fail_once(self, method: str, error: str = "invalid_channel") -> None:
        """Answer the next call to `method` with `{"ok": false, "error": error}`, as Slack
        refuses a call (HTTP 200)."""
        self._failing[method] = error

    def wait_for_upload(
        self, match: Callable[[Upload], bool] = lambda u: True, timeout: float = 10.0
    ) -> Upload:
        """Wait for a file shared by `files.completeUploadExternal` that satisfies `match`."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for upload in self.uploads.values():
                    if upload.completed and match(upload):
                        return upload
                left = deadline - time.monotonic()
                if left <= 0:
                    shared = [(u.filename, u.channel) for u in self.uploads.values() if u.completed]
                    raise AssertionError(f"no matching shared file; shared: {shared}")
                self._lock.wait(left)

    def shared_files(self) -> list[Upload]:
        """The files shared so far, in the order their uploads began."""
        with self._lock:
            return [u for u in self.uploads.values() if u.completed]

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
        error = self._failing.pop(method, None)
        if error is not None:
            return {"ok": False, "error": error}
        if method == "files.getUploadURLExternal":
            return self._upload_url(p)
        if method == "files.completeUploadExternal":
            return self._complete_upload(p)
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

    def _upload_url(self, p: dict[str, Any]) -> dict[str, Any]:
        length = str(p.get("length", ""))
        if not p.get("filename") or not length.isdigit() or int(length) < 1:
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F0FILE{next(self._file_ids):06d}"
        with self._lock:
            self.uploads[file_id] = Upload(str(p["filename"]), int(length))
        return {"ok": True, "upload_url": f"{self.base}/upload/v1/{file_id}", "file_id": file_id}

    def receive_upload(self, file_id: str, data: bytes) -> tuple[int, str]:
        """Take the bytes POSTed to an upload URL; Slack's status and plain-text answer."""
        with self._lock:
            upload = self.uploads.get(file_id)
            if upload is None or upload.completed:
                return 404, "Not Found"
            upload.data = data
            self._lock.notify_all()
        return 200, f"OK - {len(data)}"

    def _complete_upload(self, p: dict[str, Any]) -> dict[str, Any]:
        files = p.get("files")
        channel = p.get("channel_id") or None
        if not isinstance(files, list) or not files:
            return {"ok": False, "error": "invalid_arguments"}
        if channel is not None and not _CHANNEL_ID.fullmatch(str(channel)):
            return {"ok": False, "error": "invalid_channel"}
        with self._lock:
            found = [self.uploads.get(str(f.get("id"))) for f in files]
            if any(u is None or u.data is None or u.completed for u in found):
                return {"ok": False, "error": "file_not_found"}  # never uploaded, or shared
            shared = []
            for f, upload in zip(files, found, strict=True):
                assert upload is not None
                upload.completed, upload.channel = True, channel
                upload.title = str(f.get("title") or upload.filename)
                upload.comment, upload.thread_ts = p.get("initial_comment"), p.get("thread_ts")
                shared.append({"id": f["id"], "title": upload.title})
            self._lock.notify_all()
        return {"ok": True, "files": shared}

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
                for key in ("view", "blocks", "files"):  # form posts carry JSON strings
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

            def _upload(self, file_id: str) -> None:
                """The raw bytes of a file, POSTed to the URL `files.getUploadURLExternal`
                gave (sent as they are, whatever Content-Type the client names)."""
                size = int(self.headers.get("Content-Length") or 0)
                status, text = fake.receive_upload(file_id, self.rfile.read(size))
                fake._record("upload", {"file_id": file_id, "length": size})
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self.do_POST()

            def do_POST(self) -> None:
                path = urlsplit(self.path).path
                if path.startswith("/upload/v1/"):
                    self._upload(path.removeprefix("/upload/v1/"))
                    return
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


# -- Block Kit as slack_sdk models it: Slack refuses what these refuse ------------------------

BLOCK_METHODS = ("chat.postMessage", "chat.update", "chat.postEphemeral", "response_url")
VIEW_METHODS = ("views.open", "views.update", "views.publish", "views.push")


def valid_blocks(blocks: list[dict[str, Any]]) -> None:
    """Each block parses as a slack_sdk model and passes its checks, nested elements too."""
    for raw in blocks:
        parsed = Block.parse(raw)
        assert parsed is not None, f"not a block slack_sdk knows: {raw}"
        parsed.to_dict()  # validates the block and everything in it


def valid_view(view: dict[str, Any]) -> None:
    model = View(**view)
    assert len(model.blocks) == len(view["blocks"])
    model.to_dict()
    valid_blocks(view["blocks"])


def assert_valid_block_kit(calls: list[Call]) -> None:
    """Every message and view among `calls` passes slack_sdk's models."""
    for call in calls:
        if call.method in BLOCK_METHODS and "blocks" in call.params:
            valid_blocks(call.params["blocks"])
        if call.method in VIEW_METHODS:
            valid_view(call.params["view"])


def texts(blocks: list[dict[str, Any]]) -> str:
    """Everything `blocks` say, as one string to search."""
    return json.dumps(blocks, ensure_ascii=False)


def button_ids(blocks: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The buttons of `blocks` (action id, value), in actions blocks and beside sections, in
    order."""
    found = []
    for block in blocks:
        elements = block.get("elements", []) if block["type"] == "actions" else []
        accessory = block.get("accessory")
        for element in [*elements, *([accessory] if accessory else [])]:
            if element["type"] == "button":
                found.append((element["action_id"], element["value"]))
    return found
