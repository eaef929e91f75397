"""The HTTP edge: answer slash commands and button clicks at once, do their work after.

Slack waits 3 seconds for an answer, and the answer to a command or a click carries nothing
but "received". Once its signature checks out, the edge answers such a request itself and
hands it to a small pool that runs Bolt's listeners on it; their `ack()` only records.
Everything else (modal submissions, typeahead, events, bad signatures) goes to Bolt as it
comes, and so does a command or click while the pool's backlog is full: Bolt still answers
once the listener acknowledges, and nothing is dropped.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs

import slack_bolt
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier

log = logging.getLogger(__name__)

PATH = "/slack/events"
# Requests whose answer says only "received": the reply comes later, by response_url or API.
ANSWERED_AT_ONCE = ("command", "block_actions")
WORKERS = 4  # work is mostly waiting on Slack and the database
BACKLOG = 1000  # commands and clicks waiting or running; past this, Bolt answers them


def kind_of(body: str) -> str | None:
    """`command`, or an interaction's `type`, of a form-encoded Slack request body."""
    form = parse_qs(body)
    if "command" in form:
        return "command"
    payload = form.get("payload")
    if not payload:
        return None
    try:
        kind = json.loads(payload[0]).get("type")
    except (ValueError, AttributeError):
        return None
    return kind if isinstance(kind, str) else None


class SlackEdge:
    """`/slack/events` for WSGI: commands and clicks answered at once, the rest by Bolt."""

    def __init__(self, bolt_app: slack_bolt.App, later: slack_bolt.App, secret: str) -> None:
        self.handler = SlackRequestHandler(bolt_app, path=PATH)
        self.later = later  # signature already checked; ack() records, the listener runs on
        self.verifier = SignatureVerifier(secret)  # 5 minutes of clock skew, as Bolt allows
        self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="slack-work")
        self.slots = threading.BoundedSemaphore(BACKLOG)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = WsgiHttpRequest(environ)
        if request.method != "POST" or request.path != PATH:
            return self.handler(environ, start_response)  # type: ignore[arg-type]
        body, headers = request.get_body(), request.get_headers()
        if self._verified(body, headers) and kind_of(body) in ANSWERED_AT_ONCE:
            if self.slots.acquire(blocking=False):
                self.pool.submit(self._dispatch, body, request.query_string, headers)
                start_response("200 OK", [("Content-Length", "0")])
                return [b""]
            log.warning("slack backlog full; answering after the listener acknowledges")
        environ["wsgi.input"] = io.BytesIO(body.encode())  # Bolt reads the body again
        return self.handler(environ, start_response)  # type: ignore[arg-type]

    def _verified(self, body: str, headers: dict[str, Any]) -> bool:
        try:
            return self.verifier.is_valid(
                body=body,
                timestamp=str(headers.get("x-slack-request-timestamp") or "") or None,
                signature=str(headers.get("x-slack-signature") or "") or None,
            )
        except ValueError:  # a timestamp that is not a number
            return False

    def _dispatch(self, body: str, query: str, headers: dict[str, Any]) -> None:
        try:
            response = self.later.dispatch(BoltRequest(body=body, query=query, headers=headers))
            if response.status >= 400:
                log.warning("slack request already answered failed: %s", response.status)
        except Exception:
            log.exception("slack request already answered failed")
        finally:
            self.slots.release()

    def close(self) -> None:
        """Finish the commands and clicks already answered."""
        self.pool.shutdown(wait=True)
