"""The Slack app: Bolt wired to the product, served by waitress or over Socket Mode."""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import slack_bolt
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)
from sqlalchemy import text

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


def create_app(app: App) -> slack_bolt.App:
    """Build the Bolt app; listeners acknowledge first and do the slow work after."""
    settings = app.settings
    if settings.slack_signing_secret is None or settings.slack_bot_token is None:
        raise RuntimeError("Slack is not configured: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET")
    client = make_client(app)
    bolt_app = slack_bolt.App(
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        client=client,
        token_verification_enabled=False,  # auth.test runs on the first request instead
        process_before_response=False,
        listener_executor=ThreadPoolExecutor(max_workers=16, thread_name_prefix="bolt"),
    )
    bot = Bot(
        app=app,
        client=client,
        identities=Identities(app.uow, client),
        worker_id=WORKER_ID,
        pool=ThreadPoolExecutor(max_workers=8, thread_name_prefix="submit"),
    )
    for module in (commands, actions, views, events, options):
        module.register(bolt_app, bot)
    return bolt_app


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def health(app: App) -> tuple[str, dict[str, Any]]:
    """Report whether the database answers `SELECT 1`."""
    try:
        with app.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return "200 OK", {"status": "ok", "database": "ok"}
    except Exception as exc:
        log.warning("health check: database unreachable: %s", exc)
        return "503 Service Unavailable", {"status": "error", "database": "unreachable"}


def create_wsgi(app: App, bolt_app: slack_bolt.App | None = None) -> WsgiApp:
    """A WSGI app serving `/slack/events` (Bolt, signature-checked) and `/healthz`."""
    handler = SlackRequestHandler(bolt_app or create_app(app), path="/slack/events")

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            status, body = health(app)
            data = json.dumps(body).encode()
            start_response(status, [("Content-Type", "application/json")])
            return [data]
        return handler(environ, start_response)  # type: ignore[arg-type]

    return wsgi


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
    waitress.serve(create_wsgi(app, bolt_app), host="0.0.0.0", port=port, threads=16)
