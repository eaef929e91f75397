"""`dealreg bot [--port N]`: serve the Slack bot (port: --port, else $PORT, else 3000)."""

from __future__ import annotations

import contextlib
import os
import sys

from dealreg.wiring import App

DEFAULT_PORT = 3000


def bot_port(port: int | None, environ: dict[str, str] | None = None) -> int:
    """Pick the port: the option, else $PORT, else 3000."""
    if port is not None:
        return port
    value = (environ if environ is not None else dict(os.environ)).get("PORT", "").strip()
    return int(value) if value else DEFAULT_PORT


def run_bot(app: App, port: int | None) -> int:
    """Serve the bot until interrupted; return the exit status."""
    if not app.settings.slack_enabled:
        print(
            "Slack is not configured: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET",
            file=sys.stderr,
        )
        return 2
    from bot.app import serve

    with contextlib.suppress(KeyboardInterrupt):
        serve(app, bot_port(port))
    return 0
