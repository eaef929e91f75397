"""The Slack app: one Bot, the Bolt apps over it, served by waitress and over Socket Mode.

The edge, over HTTP and over Socket Mode alike, answers commands and clicks itself and runs
their listeners after (`answered`); everything else Bolt answers once the listener
acknowledges. That takes two Bolt apps, which share the one Bot: one client, one identity
cache, one pool for slow submissions.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import slack_bolt
import waitress
from prometheus_client import make_wsgi_app
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.socket_mode.internals import run_bolt_app, send_response
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from sqlalchemy import text

from bot.context import Bot, WithBot
from bot.edge import ANSWERED_AT_ONCE, BACKLOG, WORKERS, SlackEdge, run_answered
from bot.identity import Identities
from bot.listeners import actions, amend, commands, desk, events, options, views
from core import metrics
from core.config import Settings
from core.ports import Runtime

log = logging.getLogger(__name__)

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:bot"


def make_client(settings: Settings) -> WebClient:
    """A Web API client for the configured Slack, retrying on 429 after Retry-After."""
    if settings.slack_bot_token is None:
        raise RuntimeError("SLACK_BOT_TOKEN is not set")
    return WebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        retry_handlers=[
            ConnectionErrorRetryHandler(),
            RateLimitErrorRetryHandler(max_retry_count=2),
        ],
    )


def make_bot(runtime: Runtime) -> Bot:
    """The parts every listener shares: the product, the Slack client, identities, a pool."""
    client = make_client(runtime.settings)
    return Bot(
        runtime=runtime,
        client=client,
        identities=Identities(runtime.uow, client),
        worker_id=WORKER_ID,
        pool=ThreadPoolExecutor(max_workers=8, thread_name_prefix="submit"),
    )


def create_app(bot: Bot, *, answered: bool = False) -> slack_bolt.App:
    """Build a Bolt app over `bot`; listeners acknowledge first and do the slow work after.

    `answered`: for requests the edge has verified and answered already, so `ack()` only
    records and the listener runs in the calling thread.
    """
    secret = bot.runtime.settings.slack_signing_secret
    if secret is None:
        raise RuntimeError("SLACK_SIGNING_SECRET is not set")
    bolt_app = slack_bolt.App(
        signing_secret=secret.get_secret_value(),
        client=bot.client,
        token_verification_enabled=False,  # auth.test runs on the first request instead
        request_verification_enabled=not answered,
        process_before_response=answered,
        listener_executor=ThreadPoolExecutor(max_workers=16, thread_name_prefix="bolt"),
    )
    bolt_app.use(WithBot(bot))
    for module in (commands, actions, amend, desk, views, events, options):
        module.register(bolt_app)
    return bolt_app


def health(runtime: Runtime) -> tuple[str, dict[str, Any]]:
    """Report whether the database answers `SELECT 1`."""
    try:
        with runtime.read() as uow:
            uow.session.execute(text("SELECT 1"))
        return "200 OK", {"status": "ok", "database": "ok"}
    except Exception as exc:
        log.warning("health check: database unreachable: %s", exc)
        return "503 Service Unavailable", {"status": "error", "database": "unreachable"}


class BotWsgi:
    """The bot over WSGI: `/slack/events` through the edge, `/healthz` and `/metrics`."""

    def __init__(self, bot: Bot, bolt_app: slack_bolt.App) -> None:
        settings = bot.runtime.settings
        if settings.slack_signing_secret is None:
            raise RuntimeError("SLACK_SIGNING_SECRET is not set")
        self.runtime = bot.runtime
        self.metrics = make_wsgi_app(metrics.registry(bot.runtime.read, bot.runtime.now))
        self.edge = SlackEdge(
            bolt_app,
            create_app(bot, answered=True),
            settings.slack_signing_secret.get_secret_value(),
            max_body=settings.slack_max_body_bytes,
        )
        # Keep what start-up built out of the collector's full passes: a pass over it holds
        # the interpreter for ~70 ms, and every acknowledgement waiting meanwhile.
        gc.freeze()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            status, body = health(self.runtime)
            data = json.dumps(body).encode()
            start_response(status, [("Content-Type", "application/json")])
            return [data]
        if environ.get("PATH_INFO") == "/metrics":
            return self.metrics(environ, start_response)  # type: ignore[no-any-return]
        return self.edge(environ, start_response)

    def close(self) -> None:
        """Finish the work of the requests already answered."""
        self.edge.close()


def create_wsgi(bot: Bot, bolt_app: slack_bolt.App | None = None) -> BotWsgi:
    """A WSGI app serving `/slack/events` (signature-checked), `/healthz` and `/metrics`."""
    return BotWsgi(bot, bolt_app or create_app(bot))


class SocketMode(SocketModeHandler):
    """Socket Mode, acknowledged as the HTTP edge answers: commands and clicks on arrival.

    Bolt acknowledges an envelope once its listener calls `ack()`, and a listener first waits
    for a free thread: while the database is slow, a burst of commands waits past Slack's
    3 seconds and Bolt gives up on them unacknowledged. A command's or click's ack carries
    nothing, so it is sent at once and the `answered` app runs the listener on a small pool.
    """

    def __init__(self, bolt_app: slack_bolt.App, later: slack_bolt.App, app_token: str) -> None:
        super().__init__(bolt_app, app_token)
        self.later = later
        self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="socket-work")
        self.slots = threading.BoundedSemaphore(BACKLOG)

    def handle(self, client: BaseSocketModeClient, req: SocketModeRequest) -> None:
        kind = "command" if req.type == "slash_commands" else req.payload.get("type")
        if kind in ANSWERED_AT_ONCE and self.slots.acquire(blocking=False):
            self.pool.submit(self._dispatch, req)
            client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        started = time.time()  # as Bolt's own handle(): Bolt answers once the listener acks
        send_response(client, req, run_bolt_app(self.app, req), started)

    def _dispatch(self, req: SocketModeRequest) -> None:
        run_answered(lambda: run_bolt_app(self.later, req), self.slots)

    def close(self) -> None:
        """Disconnect, then finish the commands and clicks already acknowledged."""
        super().close()  # type: ignore[no-untyped-call]  # slack_bolt leaves it untyped
        self.pool.shutdown(wait=True)


def connect_socket_mode(bot: Bot, bolt_app: slack_bolt.App) -> SocketMode | None:
    """With SLACK_APP_TOKEN, take events over Socket Mode; the handler (None without a token).

    The client asks `apps.connections.open` through the app's Web API client (so at the
    configured URL) and connects again by itself when the connection drops.
    """
    token = bot.runtime.settings.slack_app_token
    if token is None:
        return None
    handler = SocketMode(bolt_app, create_app(bot, answered=True), token.get_secret_value())
    handler.connect()  # type: ignore[no-untyped-call]  # slack_bolt leaves it untyped
    log.info("connected to Slack over Socket Mode")
    return handler


def serve(runtime: Runtime, port: int) -> None:
    """Serve the bot with waitress; with SLACK_APP_TOKEN, take events over Socket Mode too."""
    bot = make_bot(runtime)
    bolt_app = create_app(bot)
    connect_socket_mode(bot, bolt_app)
    log.info("serving /slack/events, /healthz and /metrics on port %s", port)
    wsgi = create_wsgi(bot, bolt_app)
    # Refuse an oversize body while it arrives, before waitress spools it to disk (up to 1 GiB
    # by default) for the edge to refuse. waitress refuses at its limit, the edge above ours.
    limit = runtime.settings.slack_max_body_bytes + 1
    try:
        waitress.serve(wsgi, host="0.0.0.0", port=port, threads=16, max_request_body_size=limit)
    finally:
        wsgi.close()
