"""Search at scale: `/deal search` in Slack, timed from the signed command's POST to its
answer at the response URL, on two databases in turn.

`dealreg bot` serves each database in its own process (`python -m bench.scale_search serve
URL SLACK_API_URL`), its Web API and response URLs on the fake Slack in this process.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import select

from bench.common import ROOT, percentile
from bench.slack_ack import _post, command
from bench.slack_server import SECRET, THREADS, TOKEN
from core.db import make_engine
from core.models import Deal, Prospect
from tests.factories import World
from tests.slack_fake import FakeSlack

USERS = {"reviewer": "U0REVIEW", "partner": "U01ANN"}


def search_terms(url: str, new: dict[str, Any], rival: dict[str, Any]) -> dict[str, str]:
    """What people type to find the round's registrations, as found in this database."""
    domain = str(new["domain"])
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            stmt = select(Deal.number).join(Deal.prospect).where(Prospect.domain == domain)
            number = conn.execute(stmt.order_by(Deal.id).limit(1)).scalar_one()
    finally:
        engine.dispose()
    return {
        "common_word": "north",
        "common_prefix": "har",
        "name": domain.split(".")[0],
        "deal_number": number,
        "domain": domain,
        "domain_url": f"https://www.{domain}/contact",
        "rival_domain": str(rival["domain"]),
    }


def _command(text: str, user: str, response_url: str) -> str:
    """A signed-to-be `/deal TEXT` body answering to `response_url`."""
    return urlencode({**dict(parse_qsl(command(text, user))), "response_url": response_url})


class _Bot:
    """`dealreg bot` on one database in its own process, and one HTTP connection to it."""

    def __init__(self, url: str, slack: FakeSlack) -> None:
        self.slack = slack
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.scale_search", "serve", url, slack.url],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        port = json.loads(self.proc.stdout.readline())["port"]
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def ask(self, text: str, user: str) -> tuple[float, float]:
        """Send `/deal TEXT` as `user`: ms to the ack, ms to the answer at the response URL."""
        path = f"/response/{uuid.uuid4().hex}"
        body = _command(text, user, self.slack.base + path)
        started = time.perf_counter()
        ack = _post(self.conn, body)
        self.slack.wait_for("response_url", lambda p: p.get("_url") == path, timeout=30)
        return ack, (time.perf_counter() - started) * 1000

    def close(self) -> None:
        self.conn.close()
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def measure_search(
    urls: dict[str, str], terms: dict[str, dict[str, str]], repeats: int
) -> dict[str, Any]:
    """Every (user, term) `repeats` times on each database, the databases in turn (and
    which goes first in turn too)."""
    slack = FakeSlack()
    bots: dict[str, _Bot] = {}
    try:
        for side, url in urls.items():
            bots[side] = _Bot(url, slack)
        for side, bot in bots.items():  # warm up: auth.test, identities, imports, caches
            for text in terms[side].values():
                bot.ask(f"search {text}", USERS["reviewer"])
        samples: dict[str, dict[str, list[float]]] = {side: {} for side in bots}
        acks: dict[str, list[float]] = {side: [] for side in bots}
        jobs = [(who, name) for _ in range(repeats) for who in USERS for name in terms["full"]]
        for index, (who, name) in enumerate(jobs):
            for side in list(bots)[:: 1 if index % 2 == 0 else -1]:
                ack, answer = bots[side].ask(f"search {terms[side][name]}", USERS[who])
                samples[side].setdefault(f"{who}:{name}", []).append(answer)
                acks[side].append(ack)
    finally:
        for bot in bots.values():
            bot.close()
        slack.close()
    return {side: _search_summary(samples[side], acks[side], terms[side]) for side in bots}


def _search_summary(
    samples: dict[str, list[float]], acks: list[float], terms: dict[str, str]
) -> dict[str, Any]:
    every = [ms for values in samples.values() for ms in values]
    return {
        "commands": len(every),
        "p50_ms": round(percentile(every, 50), 2),
        "p95_ms": round(percentile(every, 95), 2),
        "ack_p95_ms": round(percentile(acks, 95), 2),
        "terms": {
            key: {"term": terms[key.split(":")[1]], "p95_ms": round(percentile(values, 95), 2)}
            for key, values in samples.items()
        },
    }


def serve(url: str, slack_api: str) -> None:
    """Serve `dealreg bot` on the database at `url`, its Web API at `slack_api`; print the
    port, then serve until stdin closes."""
    import waitress

    from bot.app import create_wsgi, make_bot
    from dealreg.wiring import App

    with tempfile.TemporaryDirectory(prefix="dealreg-bench-") as tmp:
        world = World(
            url, Path(tmp), slack_bot_token=TOKEN, slack_signing_secret=SECRET,
            slack_api_url=slack_api, slack_review_channel="#deal-desk",
        )  # fmt: skip
        world.close()
        wsgi = create_wsgi(make_bot(App(world.settings).runtime))
        server = waitress.create_server(wsgi, host="127.0.0.1", port=0, threads=THREADS)
        threading.Thread(target=server.run, daemon=True).start()
        print(json.dumps({"port": server.effective_port}), flush=True)
        sys.stdin.read()  # serve until the benchmark closes our stdin
        with contextlib.suppress(Exception):
            server.close()
            wsgi.close()


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2], sys.argv[3])
