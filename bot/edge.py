"""The HTTP edge: admit only signed, well-formed Slack requests, and act on each once.

Every POST to `/slack/events` is checked here before Bolt sees it: a body over the size limit
is refused (413) without being read whole, a bad or stale signature gets 401, a signed body
that is not what Slack sends gets 400. A request seen already by this process (the same
signature replayed, or a Slack retry of one taken in) is answered 200 and not acted on again.

Slack waits 3 seconds for an answer, and the answer to a command or a click carries nothing
but "received". The edge answers such a request itself and hands it to a small pool that
runs Bolt's listeners on it; their `ack()` only records. Everything else (modal submissions,
typeahead, events) goes to Bolt, and so does a command or click while the pool's backlog is
full: Bolt still answers once the listener acknowledges, and nothing is dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import slack_bolt
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from bot.replay import SeenRequests
from bot.shapes import Malformed, kind_of
from core import metrics

log = logging.getLogger(__name__)

PATH = "/slack/events"
# Requests whose answer says only "received": the reply comes later, by response_url or API.
ANSWERED_AT_ONCE = ("command", "block_actions")
WORKERS = 4  # work is mostly waiting on Slack and the database
BACKLOG = 1000  # commands and clicks waiting or running; past this, Bolt answers them
WINDOW_S = 5 * 60  # a signature's timestamp may be this far from our clock, as Bolt allows
CHUNK = 64 * 1024  # read the body this much at a time


class Refused(Exception):
    """A request the edge answers with an HTTP error of its own."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass(frozen=True)
class Inbound:
    """A signed, well-formed Slack request, and what it is."""

    body: str
    kind: str  # "command", an interaction's `type`, or an event envelope's `type`
    signature: str
    key: str | None  # what stays the same when Slack retries it; None: every retry is served


def read_body(environ: dict[str, Any], limit: int) -> bytes:
    """Read the request body in chunks, refusing (413) one over `limit` bytes."""
    length = environ.get("CONTENT_LENGTH") or ""
    if length:
        if not (length.isascii() and length.isdigit()):
            raise Refused("400 Bad Request", "invalid Content-Length")
        if int(length) > limit:
            raise Refused("413 Content Too Large", "request body too large")
        return _read(environ["wsgi.input"], int(length), limit)
    if not environ.get("wsgi.input_terminated"):
        return b""  # no length, and a stream that may never end: PEP 3333 says empty
    return _read(environ["wsgi.input"], limit + 1, limit)


def _read(stream: Any, most: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < most:
        chunk = stream.read(min(CHUNK, most - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise Refused("413 Content Too Large", "request body too large")
    return b"".join(chunks)


def signed(raw: bytes, timestamp: str, signature: str, secret: bytes, now: float) -> bool:
    """Say whether `raw` carries Slack's `v0` signature, timestamped within the window."""
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return False
    if abs(now - int(timestamp)) > WINDOW_S:
        return False
    mac = hmac.new(secret, b"v0:" + timestamp.encode() + b":", hashlib.sha256)
    mac.update(raw)
    expected = ("v0=" + mac.hexdigest()).encode()
    return hmac.compare_digest(expected, signature.encode("utf-8", "replace"))


def retry_key(kind: str, fields: dict[str, Any], raw: bytes) -> str | None:
    """What stays the same when Slack retries a request: an event's id, else the whole body.

    A retry is re-signed with a new timestamp but carries the same body. Every command and
    click holds its own trigger id, so two real ones never match; typeahead bodies can, which
    is why only a request marked as a retry is answered from this key.
    """
    if kind == "url_verification":
        return None  # answering the challenge again is harmless, and needed if the first was lost
    event_id = fields.get("event_id")
    if isinstance(event_id, str) and event_id:
        return "event:" + event_id
    return "body:" + hashlib.sha256(raw).hexdigest()


def answer(start_response: Callable[..., Any], status: str, text: str = "") -> Iterable[bytes]:
    """Answer with `status` and a short plain-text body."""
    data = text.encode()
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))]
    )
    return [data]


class SlackEdge:
    """`/slack/events` for WSGI: checked, then commands and clicks answered at once."""

    def __init__(
        self, bolt_app: slack_bolt.App, later: slack_bolt.App, secret: str, max_body: int
    ) -> None:
        self.handler = SlackRequestHandler(bolt_app, path=PATH)
        self.later = later  # signature already checked; ack() records, the listener runs on
        self.secret = secret.encode()
        self.max_body = max_body
        self.seen = SeenRequests()
        self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="slack-work")
        self.slots = threading.BoundedSemaphore(BACKLOG)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        started = time.perf_counter()
        kind, answered = self._answer(environ, start_response)
        metrics.SLACK_REQUEST_SECONDS.labels(kind).observe(time.perf_counter() - started)
        return answered

    def _answer(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> tuple[str, Iterable[bytes]]:
        """Answer one request; with its kind for the metrics ("refused": not admitted)."""
        request = WsgiHttpRequest(environ)
        if request.method != "POST" or request.path != PATH:
            return "other", self.handler(environ, start_response)
        try:
            inbound = self.admit(environ)
        except Refused as refused:
            return "refused", answer(start_response, refused.status, refused.reason)
        kind = metrics.slack_kind(inbound.kind)
        if not self._first(inbound, environ):
            return kind, answer(start_response, "200 OK")
        return kind, self._handle(inbound, request, start_response)

    def admit(self, environ: dict[str, Any]) -> Inbound:
        """Read and check one request; Refused with the HTTP answer if it does not pass."""
        raw = read_body(environ, self.max_body)
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP") or ""
        signature = environ.get("HTTP_X_SLACK_SIGNATURE") or ""
        if not signed(raw, timestamp, signature, self.secret, time.time()):
            log.info("slack request refused: missing, stale or wrong signature")
            raise Refused("401 Unauthorized", "invalid signature")
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self._malformed("body is not UTF-8") from None
        try:
            kind, fields = kind_of(body, environ.get("CONTENT_TYPE") or "")
        except Malformed as malformed:
            raise self._malformed(str(malformed)) from None
        return Inbound(body, kind, signature, retry_key(kind, fields, raw))

    def _malformed(self, reason: str) -> Refused:
        # Signed, so from Slack or from someone holding the secret: worth a look either way.
        log.warning("signed slack request refused: %s", reason)
        return Refused("400 Bad Request", reason)

    def _first(self, inbound: Inbound, environ: dict[str, Any]) -> bool:
        """Say whether to act: not a replayed signature, nor a retry of a request taken in."""
        if not self.seen.first("signature:" + inbound.signature):
            log.info("slack request replayed; answered without acting again")
            return False
        # Remembered at receipt, not after the work: a retry that arrives while the first
        # attempt is still running must not start it again.
        new = inbound.key is None or self.seen.first(inbound.key)
        if not new and environ.get("HTTP_X_SLACK_RETRY_NUM"):
            log.info("slack retry of a request taken in already; answered without acting")
            return False
        return True

    def _handle(
        self, inbound: Inbound, request: WsgiHttpRequest, start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        headers = request.get_headers()
        if inbound.kind in ANSWERED_AT_ONCE:
            if self.slots.acquire(blocking=False):
                self.pool.submit(
                    self._dispatch, inbound.kind, inbound.body, request.query_string, headers
                )
                return answer(start_response, "200 OK")
            log.warning("slack backlog full; answering after the listener acknowledges")
        raw = inbound.body.encode()
        request.environ["wsgi.input"] = io.BytesIO(raw)  # Bolt reads the body again
        request.environ["CONTENT_LENGTH"] = str(len(raw))
        return self.handler(request.environ, start_response)

    def _dispatch(self, kind: str, body: str, query: str, headers: dict[str, Any]) -> None:
        request = BoltRequest(body=body, query=query, headers=headers)
        with metrics.SLACK_WORK_SECONDS.labels(metrics.slack_kind(kind)).time():
            run_answered(lambda: self.later.dispatch(request), self.slots)

    def close(self) -> None:
        """Finish the commands and clicks already answered."""
        self.pool.shutdown(wait=True)


def run_answered(run: Callable[[], BoltResponse], slots: threading.BoundedSemaphore) -> None:
    """Run a request Slack already has its answer to (HTTP or Socket Mode) and free its slot;
    a failure is logged, as no one is left to tell."""
    try:
        response = run()
        if response.status >= 400:
            log.warning("slack request already answered failed: %s", response.status)
    except Exception:
        log.exception("slack request already answered failed")
    finally:
        slots.release()
