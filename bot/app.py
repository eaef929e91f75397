"""The Slack app: Bolt wired to the product, served by waitress or over Socket Mode."""

from __future__ import annotations

import gc
import json
import logging
import os
import socket
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import slack_bolt
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)
from sqlalchemy import text

from bot.edge import SlackEdge
from bot.identity import Identities
from bot.listeners import actions, commands, events, options, views
from bot.listeners.common import Bot
from dealreg.wiring import App

log = logging.getLogger(__name__)

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:bot"


def make_client(app: App) -> WebClient:
    """A Web API client for the configured Slack, retrying on 429 after Retry-After."""
    settings = app.settings
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


def make_bot(app: App) -> Bot:
    """The parts every listener shares: the product, the Slack client, identities, a pool."""
    client = make_client(app)
    return Bot(
        app=app,
        client=client,
        identities=Identities(app.uow, client),
        worker_id=WORKER_ID,
        pool=ThreadPoolExecutor(max_workers=8, thread_name_prefix="submit"),
    )


def create_app(app: App, bot: Bot | None = None, *, answered: bool = False) -> slack_bolt.App:
    """Build the Bolt app; listeners acknowledge first and do the slow work after.

    `answered`: for requests the edge has verified and answered already, so `ack()` only
    records and the listener runs in the calling thread.
    """
    settings = app.settings
    if settings.slack_signing_secret is None or settings.slack_bot_token is None:
        raise RuntimeError("Slack is not configured: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET")
    bot = bot or make_bot(app)
    bolt_app = slack_bolt.App(
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        client=bot.client,
        token_verification_enabled=False,  # auth.test runs on the first request instead
        request_verification_enabled=not answered,
        process_before_response=answered,
        listener_executor=ThreadPoolExecutor(max_workers=16, thread_name_prefix="bolt"),
    )
    for module in (commands, actions, views, events, options):
        module.register(bolt_app, bot)
    return bolt_app


def health(app: App) -> tuple[str, dict[str, Any]]:
    """Report whether the database answers `SELECT 1`."""
    try:
        with app.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return "200 OK", {"status": "ok", "database": "ok"}
    except Exception as exc:
        log.warning("health check: database unreachable: %s", exc)
        return "503 Service Unavailable", {"status": "error", "database": "unreachable"}


class BotWsgi:
    """The bot over WSGI: `/slack/events` through the edge, and `/healthz`."""

    def __init__(self, app: App, bolt_app: slack_bolt.App | None = None) -> None:
        secret = app.settings.slack_signing_secret
        if secret is None:
            raise RuntimeError("SLACK_SIGNING_SECRET is not set")
        bot = make_bot(app)
        later = create_app(app, bot, answered=True)
        self.app = app
        self.edge = SlackEdge(
            bolt_app or create_app(app, bot),
            later,
            secret.get_secret_value(),
            max_body=app.settings.slack_max_body_bytes,
        )
        # Keep what start-up built out of the collector's full passes: a pass over it holds
        # the interpreter for ~70 ms, and every acknowledgement waiting meanwhile.
        gc.freeze()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            status, body = health(self.app)
            data = json.dumps(body).encode()
            start_response(status, [("Content-Type", "application/json")])
            return [data]
        return self.edge(environ, start_response)

    def close(self) -> None:
        """Finish the work of the requests already answered."""
        self.edge.close()


def create_wsgi(app: App, bolt_app: slack_bolt.App | None = None) -> BotWsgi:
    """A WSGI app serving `/slack/events` (signature-checked) and `/healthz`."""
    return BotWsgi(app, bolt_app)


def serve(app: App, port: int) -> None:
    """Serve the bot with waitress; with SLACK_APP_TOKEN, take events over Socket Mode too."""
    import waitress

    bolt_app = create_app(app)
    token = app.settings.slack_app_token
    if token is not None:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        SocketModeHandler(bolt_app, token.get_secret_value()).connect()
        log.info("connected to Slack over Socket Mode")
    log.info("serving /slack/events and /healthz on port %s", port)
    wsgi = create_wsgi(app, bolt_app)
    # Refuse an oversize body while it arrives, before waitress spools it to disk (up to 1 GiB
    # by default) for the edge to refuse. waitress refuses at its limit, the edge above ours.
    limit = app.settings.slack_max_body_bytes + 1
    try:
        waitress.serve(wsgi, host="0.0.0.0", port=port, threads=16, max_request_body_size=limit)
    finally:
        wsgi.close()
