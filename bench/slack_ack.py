"""Slack acknowledgement: latency of signed slash commands and button clicks against
`dealreg bot`, and against a bare Bolt app on the same server stack.

`python -m bench.slack_ack socket [--quick]` measures the same over Socket Mode instead: each
app in its own process connects to a loopback Socket Mode server (tests/socket_mode.py) here,
and the latency is from sending an envelope to receiving its ack.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from bench.common import ROOT, Scale, log, percentile
from bench.slack_server import SECRET, TOKEN, bare_wsgi
from tests.integration.bot_harness import signed_headers
from tests.slack_fake import FakeSlack
from tests.socket_mode import SocketModeServer, envelope_of

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

CONCURRENCY = (1, 8)
KINDS = ("help", "search", "click")
# Where the app answers later (response_url): the fake Slack, once the server says its port.
RESPONSE_URL = "http://127.0.0.1:9/response"
FORM = "application/x-www-form-urlencoded"
APP_TOKEN = "xapp-1-A0APP-1-bench"
Connect = Callable[[], contextlib.AbstractContextManager[Callable[[str], float]]]


def command(text: str, user: str = "U01ANN") -> str:
    """A `/deal TEXT` slash command body, as Slack posts it."""
    return urlencode({
        "token": "legacy", "team_id": "T0TEAM", "team_domain": "partners",
        "channel_id": "C0GENERAL", "channel_name": "general", "user_id": user,
        "user_name": user.lower(), "command": "/deal", "text": text, "api_app_id": "A0APP",
        "enterprise_id": "", "is_enterprise_install": "false",
        "response_url": RESPONSE_URL, "trigger_id": f"t.{uuid.uuid4().hex}",
    })  # fmt: skip


def click(number: str, user: str = "U0REVIEW") -> str:
    """A reviewer pressing Approve on a registration in the review channel."""
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "T0TEAM"},
        "api_app_id": "A0APP", "team": {"id": "T0TEAM", "domain": "partners"},
        "channel": {"id": "C0REVIEW", "name": "deal-desk"},
        "container": {"type": "message", "message_ts": "1800000000.000001",
                      "channel_id": "C0REVIEW"},
        "trigger_id": f"t.{uuid.uuid4().hex}", "response_url": RESPONSE_URL,
        "message": {"ts": "1800000000.000001", "text": "", "blocks": []},
        "actions": [{"action_id": "deal_approve", "block_id": "review", "type": "button",
                     "value": number, "action_ts": str(time.time())}],
    }  # fmt: skip
    return urlencode({"payload": json.dumps(payload)})


def _post(conn: http.client.HTTPConnection, body: str) -> float:
    """Sign and post one request; its latency in ms (the response must be 200)."""
    headers = signed_headers(body, SECRET)
    started = time.perf_counter()
    conn.request("POST", "/slack/events", body=body.encode(), headers=headers)
    response = conn.getresponse()
    response.read()
    took = (time.perf_counter() - started) * 1000
    if response.status != 200:
        raise RuntimeError(f"the app answered {response.status}")
    return took


def _jobs(count: int, deals: Iterator[str]) -> Iterator[tuple[str, str]]:
    """help, search, click in turn, `count` in all."""
    for index in range(count):
        kind = KINDS[index % len(KINDS)]
        if kind == "help":
            yield kind, command("help")
        elif kind == "search":
            yield kind, command("search x")
        else:
            yield kind, click(next(deals))


def drive(
    port: int, jobs: Iterator[tuple[str, str]], concurrency: int, budget_s: float = 120
) -> list[tuple[str, float]]:
    """Post the jobs from `concurrency` HTTP clients at once; [(kind, ms)], bounded in time."""

    @contextlib.contextmanager
    def connect() -> Iterator[Callable[[str], float]]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            yield lambda body: _post(conn, body)
        finally:
            conn.close()

    return _drive(connect, jobs, concurrency, budget_s)


def drive_socket(
    server: SocketModeServer,
    jobs: Iterator[tuple[str, str]],
    concurrency: int,
    budget_s: float = 120,
) -> list[tuple[str, float]]:
    """Send the jobs as envelopes from `concurrency` senders at once; [(kind, ms)] to the ack."""

    @contextlib.contextmanager
    def connect() -> Iterator[Callable[[str], float]]:
        yield lambda body: server.request(*envelope_of(body, FORM), timeout=30).elapsed * 1000

    return _drive(connect, jobs, concurrency, budget_s)


def _drive(
    connect: Connect, jobs: Iterator[tuple[str, str]], concurrency: int, budget_s: float
) -> list[tuple[str, float]]:
    lock = threading.Lock()
    out: list[tuple[str, float]] = []
    deadline = time.monotonic() + budget_s

    def client() -> None:
        with connect() as send:
            while time.monotonic() < deadline:
                with lock:
                    job = next(jobs, None)
                if job is None:
                    return
                took = send(job[1])
                with lock:
                    out.append((job[0], took))

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return out


def _summary(samples: list[tuple[str, float]]) -> dict[str, Any]:
    values = [ms for _kind, ms in samples]
    out: dict[str, Any] = {
        "requests": len(values),
        "p50_ms": round(percentile(values, 50), 2),
        "p99_ms": round(percentile(values, 99), 2),
    }
    for kind in KINDS:
        mine = [ms for k, ms in samples if k == kind]
        out[kind] = {
            "p50_ms": round(percentile(mine, 50), 2),
            "p99_ms": round(percentile(mine, 99), 2),
        }
    return out


def measure(kind: str, requests: int) -> dict[str, Any]:
    """Start one app in its own process and measure it at each concurrency."""
    clicks = _clicks(requests)
    argv = ["-m", "bench.slack_server", kind, str(clicks)]
    with _app_process(argv) as ready:
        port = ready["port"]
        return _rounds(lambda jobs, c: drive(port, jobs, c), iter(ready["deals"]), requests)


def measure_socket(kind: str, requests: int) -> dict[str, Any]:
    """Start one app in its own process, connected over Socket Mode to a server here."""
    server = SocketModeServer()
    try:
        argv = ["-m", "bench.slack_ack", "serve", kind, str(_clicks(requests)), server.url]
        with _app_process(argv) as ready:
            server.wait_connected(timeout=30)
            deals = iter(ready["deals"])
            return _rounds(lambda jobs, c: drive_socket(server, jobs, c), deals, requests)
    finally:
        server.close()


def _clicks(requests: int) -> int:
    return requests * len(CONCURRENCY) // len(KINDS) + len(CONCURRENCY) + 5


@contextlib.contextmanager
def _app_process(argv: list[str]) -> Iterator[dict[str, Any]]:
    """Run `python ARGV` until the block ends; its first line of JSON (port, deals, slack)."""
    proc = subprocess.Popen(
        [sys.executable, *argv], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        global RESPONSE_URL
        RESPONSE_URL = f"{ready['slack']}/response/bench"
        yield ready
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _rounds(
    send: Callable[[Iterator[tuple[str, str]], int], list[tuple[str, float]]],
    deals: Iterator[str],
    requests: int,
) -> dict[str, Any]:
    """Warm up, then measure at each concurrency."""
    send(_jobs(12, deals), 2)  # warm up: first auth.test, imports
    results = {}
    for concurrency in CONCURRENCY:
        results[f"c{concurrency}"] = _summary(send(_jobs(requests, deals), concurrency))
        time.sleep(1)  # let background work from the last setting drain
    return results


def run(scale: Scale) -> dict[str, Any]:
    """Ours and bare at concurrency 1 and 8; the headline is concurrency 8."""
    ours = measure("ours", scale.requests)
    log(f"slack: ours {ours['c1']['p99_ms']} / {ours['c8']['p99_ms']} ms p99 at c1 / c8")
    bare = measure("bare", scale.requests)
    log(f"slack: bare {bare['c1']['p99_ms']} / {bare['c8']['p99_ms']} ms p99 at c1 / c8")
    top = f"c{CONCURRENCY[-1]}"
    return {
        "slack_ack": {
            "concurrency": CONCURRENCY[-1],
            "p50_ms": ours[top]["p50_ms"],
            "p99_ms": ours[top]["p99_ms"],
            "baseline_p50_ms": bare[top]["p50_ms"],
            "baseline_p99_ms": bare[top]["p99_ms"],
            "ratio": round(ours[top]["p99_ms"] / bare[top]["p99_ms"], 3),
            "ours": ours,
            "bare": bare,
        }
    }


def run_socket(scale: Scale) -> dict[str, Any]:
    """The same over Socket Mode: ours and bare at concurrency 1 and 8."""
    ours = measure_socket("ours", scale.requests)
    log(f"slack socket: ours {ours['c1']['p99_ms']} / {ours['c8']['p99_ms']} ms p99 at c1 / c8")
    bare = measure_socket("bare", scale.requests)
    log(f"slack socket: bare {bare['c1']['p99_ms']} / {bare['c8']['p99_ms']} ms p99 at c1 / c8")
    top = f"c{CONCURRENCY[-1]}"
    return {
        "slack_ack_socket": {
            "concurrency": CONCURRENCY[-1],
            "p50_ms": ours[top]["p50_ms"],
            "p99_ms": ours[top]["p99_ms"],
            "baseline_p50_ms": bare[top]["p50_ms"],
            "baseline_p99_ms": bare[top]["p99_ms"],
            "ratio": round(ours[top]["p99_ms"] / bare[top]["p99_ms"], 3),
            "ours": ours,
            "bare": bare,
        }
    }


# -- the app's process for the Socket Mode runs ---------------------------------------------


def ours_socket(slack: FakeSlack, tmp: Path, clicks: int) -> tuple[SocketModeHandler, list[str]]:
    """`dealreg bot` over Socket Mode as `serve` connects it, `clicks` deals awaiting review."""
    from bot.app import connect_socket_mode, create_app, make_bot
    from dealreg.wiring import App
    from tests.factories import ANN, World, form, register

    world = World(
        f"sqlite:///{tmp}/slack.db", tmp,
        slack_bot_token=TOKEN, slack_signing_secret=SECRET, slack_app_token=APP_TOKEN,
        slack_api_url=slack.url, slack_review_channel="#deal-desk",
    )  # fmt: skip
    actor, numbers = world.actor(ANN, "slack"), []
    for index in range(clicks):
        with world.uow() as uow:
            done = register(uow, actor, form(domain=f"ack{index}.com"), now=datetime.now(UTC),
                            settings=world.settings)  # fmt: skip
            numbers.append(done.deal.number or "")
    world.close()
    bot = make_bot(App(world.settings).runtime)
    handler = connect_socket_mode(bot, create_app(bot))
    assert handler is not None
    return handler, numbers


def serve(kind: str, clicks: int, url: str) -> None:
    """Connect one app to the Socket Mode server at `url`; print its deals; run until EOF."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    slack = FakeSlack()
    slack.socket_mode_url = url  # apps.connections.open sends the app to the benchmark's server
    with tempfile.TemporaryDirectory(prefix="dealreg-bench-") as tmp:
        if kind == "ours":
            handler, numbers = ours_socket(slack, Path(tmp), clicks)
        else:
            handler = SocketModeHandler(bare_wsgi(slack).app, APP_TOKEN)
            handler.connect()  # type: ignore[no-untyped-call]
            numbers = [f"DR-{n:06d}" for n in range(1, clicks + 1)]
        print(json.dumps({"deals": numbers, "slack": slack.base}), flush=True)
        sys.stdin.read()  # serve until the benchmark closes our stdin
        handler.close()  # type: ignore[no-untyped-call]
    slack.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.slack_ack")
    sub = parser.add_subparsers(dest="command", required=True)
    socket_mode = sub.add_parser("socket", help="measure acks over Socket Mode")
    socket_mode.add_argument("--quick", action="store_true", help="a small, fast run")
    child = sub.add_parser("serve", help="(the app's process of a Socket Mode run)")
    child.add_argument("kind", choices=("ours", "bare"))
    child.add_argument("clicks", type=int)
    child.add_argument("url")
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.kind, args.clicks, args.url)
        return 0
    found = run_socket(Scale.of(args.quick))["slack_ack_socket"]
    for key in ("p50_ms", "p99_ms", "baseline_p50_ms", "baseline_p99_ms", "ratio"):
        print(f"{key:16} {found[key]}")
    print(json.dumps(found, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
