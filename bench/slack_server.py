"""`python -m bench.slack_server ours|bare CLICKS`: serve one Slack app for the ack benchmark.

`ours` is `dealreg bot` (create_wsgi) on SQLite with the demo catalogue and CLICKS deals
awaiting review; `bare` is a Bolt app that only acknowledges. Both run under waitress with
Bolt's WSGI adapter, their Web API pointed at the fake Slack. Prints one JSON line (port,
deal numbers), then serves until stdin closes.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import slack_bolt
import waitress
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from tests.factories import ANN, World, form
from tests.slack_fake import FakeSlack

SECRET = "bench-signing-secret-0123456789ab"
TOKEN = "xoxb-bench-token"
THREADS = 16  # as `dealreg bot` serves


def bare_wsgi(slack: FakeSlack) -> Any:
    """A Bolt app that acknowledges every command and action and does nothing else."""
    app = slack_bolt.App(
        signing_secret=SECRET,
        client=WebClient(token=TOKEN, base_url=slack.url),
        token_verification_enabled=False,
    )
    app.command("/deal")(lambda ack: ack())
    app.action(re.compile(".*"))(lambda ack: ack())
    return SlackRequestHandler(app, path="/slack/events")


def ours_wsgi(slack: FakeSlack, tmp: Path, clicks: int) -> tuple[Any, list[str]]:
    """`dealreg bot`'s WSGI app, with `clicks` registrations waiting for review."""
    from bot.app import create_wsgi, make_bot
    from dealreg.wiring import App
    from tests.factories import register

    world = World(
        f"sqlite:///{tmp}/slack.db", tmp,
        slack_bot_token=TOKEN, slack_signing_secret=SECRET, slack_api_url=slack.url,
        slack_review_channel="#deal-desk",
    )  # fmt: skip
    actor = world.actor(ANN, "slack")
    numbers = []
    for index in range(clicks):
        with world.uow() as uow:
            done = register(uow, actor, form(domain=f"ack{index}.com"), now=datetime.now(UTC),
                            settings=world.settings)  # fmt: skip
            numbers.append(done.deal.number or "")
    world.close()
    return create_wsgi(make_bot(App(world.settings).runtime)), numbers


def main(kind: str, clicks: int) -> None:
    slack = FakeSlack()
    with tempfile.TemporaryDirectory(prefix="dealreg-bench-") as tmp:
        if kind == "ours":
            wsgi, numbers = ours_wsgi(slack, Path(tmp), clicks)
        else:
            wsgi, numbers = bare_wsgi(slack), [f"DR-{n:06d}" for n in range(1, clicks + 1)]
        server = waitress.create_server(wsgi, host="127.0.0.1", port=0, threads=THREADS)
        threading.Thread(target=server.run, daemon=True).start()
        port = server.effective_port
        print(json.dumps({"port": port, "deals": numbers, "slack": slack.base}), flush=True)
        sys.stdin.read()  # serve until the benchmark closes our stdin
        server.close()
    slack.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
