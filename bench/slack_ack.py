"""Slack acknowledgement: latency of signed slash commands and button clicks against
`dealreg bot`, and against a bare Bolt app on the same server stack."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from bench.common import ROOT, Scale, log, percentile
from bench.slack_server import SECRET

CONCURRENCY = (1, 8)
KINDS = ("help", "search", "click")
# Where the app answers later (response_url): the fake Slack, once the server says its port.
RESPONSE_URL = "http://127.0.0.1:9/response"


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
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body),
    }
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


def drive(port: int, jobs: Iterator[tuple[str, str]], concurrency: int, budget_s: float = 120):
    """Post the jobs from `concurrency` clients at once; [(kind, ms)], bounded in time."""
    lock = threading.Lock()
    out: list[tuple[str, float]] = []
    deadline = time.monotonic() + budget_s

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            while time.monotonic() < deadline:
                with lock:
                    job = next(jobs, None)
                if job is None:
                    return
                took = _post(conn, job[1])
                with lock:
                    out.append((job[0], took))
        finally:
            conn.close()

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
    clicks = requests * len(CONCURRENCY) // len(KINDS) + len(CONCURRENCY) + 5
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.slack_server", kind, str(clicks)], cwd=ROOT,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        global RESPONSE_URL
        RESPONSE_URL = f"{ready['slack']}/response/bench"
        deals = iter(ready["deals"])
        drive(ready["port"], _jobs(12, deals), 2)  # warm up: first auth.test, imports
        results = {}
        for concurrency in CONCURRENCY:
            samples = drive(ready["port"], _jobs(requests, deals), concurrency)
            results[f"c{concurrency}"] = _summary(samples)
            time.sleep(1)  # let background work from the last setting drain
        return results
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
