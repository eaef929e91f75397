"""`dealreg bot [--port N]`: serve the Slack bot (port: --port, else $PORT, else 3000).

The one module of the command that reaches the Slack adapter. It imports `bot` inside the
functions that use it, so a process that does not talk to Slack (`dealreg deals ...`, a
worker without Slack settings) never loads slack_bolt, slack_sdk and waitress.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from datetime import datetime

from core.delivery import DeliveryReport
from dealreg.wiring import App, configure_logging

DEFAULT_PORT = 3000


def bot_port(port: int | None, environ: dict[str, str] | None = None) -> int:
    """Pick the port: the option, else $PORT, else 3000."""
    if port is not None:
        return port
    value = (environ if environ is not None else dict(os.environ)).get("PORT", "").strip()
    return int(value) if value else DEFAULT_PORT


def bot(app: App, args: argparse.Namespace) -> int:
    """`dealreg bot`: serve the bot until interrupted; return the exit status."""
    configure_logging()
    if not app.settings.slack_enabled:
        print(
            "Slack is not configured: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET",
            file=sys.stderr,
        )
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        serve_bot(app, bot_port(args.port))
    return 0


def serve_bot(app: App, port: int) -> None:
    """Serve the Slack bot on `port` until the process stops."""
    from bot.app import serve  # here, not at the top: see the module's docstring

    serve(app.runtime, port)


def deliver_slack(app: App, now: datetime, worker_id: str, limit: int = 50) -> DeliveryReport:
    """Post or update up to `limit` of the due Slack messages of the outbox."""
    from bot.app import make_client  # here, not at the top: see the module's docstring
    from bot.delivery import deliver_slack_due

    return deliver_slack_due(app.runtime, make_client(app.settings), now, worker_id, limit)
