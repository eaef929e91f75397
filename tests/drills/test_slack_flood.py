"""Flood drill: clients streaming huge unsigned bodies at `dealreg bot` while a partner uses it.

The bot runs as its own process, as deployed, so its memory can be read from /proc. Full size
(`make drills`, DRILLS=1) is 16 clients each announcing a 100 MB body and writing it in chunks
(half with a Content-Length, half chunked without one) until the bot answers; in the suite it
is 4 clients of 20 MB. Meanwhile a partner sends signed `/deal help` and `/deal search` back to
back. Every big request gets 413, every normal one 200 within Slack's 3 seconds and its reply,
and the bot's peak resident memory stays under 250 MB.
"""

from __future__ import annotations

import http.client
import select
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from tests.drills.helpers import DEALREG, env_for, until
from tests.integration.bot_harness import SECRET, TOKEN, slack_world
from tests.slack_fake import FakeSlack

pytestmark = pytest.mark.drill

FORM = "application/x-www-form-urlencoded"
CHUNK = 64 * 1024
PEAK_RSS_MB = 250


@dataclass
class BotProcess:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def memory_kb(self, field: str) -> int:
        """A size line of /proc/PID/status (VmRSS, VmHWM) in kB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise AssertionError(f"no {field} for the bot")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def healthy(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False


@pytest.fixture
def bot(tmp_path: Path, slack: FakeSlack) -> Iterator[BotProcess]:
    """`dealreg bot` in its own process, on SQLite, its Web API pointed at the fake Slack."""
    world = slack_world(f"sqlite:///{tmp_path / 'bot.db'}", tmp_path, slack)
    env = env_for(
        world, tmp_path, SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=slack.url, SLACK_REVIEW_CHANNEL="#deal-desk",
    )  # fmt: skip
    env.pop("SLACK_APP_TOKEN", None)  # HTTP only: Socket Mode would bypass what is drilled
    port, log = free_port(), tmp_path / "bot.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*DEALREG, "bot", "--port", str(port)], env=env, cwd=tmp_path, stdout=out, stderr=out
        )
    process = BotProcess(proc, port, log)
    try:
        until(lambda: healthy(port) or proc.poll() is not None, 60, "the bot to start")
        assert proc.poll() is None, log.read_text()
        yield process
    finally:
        proc.send_signal(signal.SIGINT)  # as Ctrl-C: waitress stops, answered work finishes
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        world.close()


def flood(port: int, size: int, chunked: bool) -> tuple[int, int]:
    """Announce a `size`-byte unsigned body and write it until the bot answers.

    Returns the status the bot answered (0 for none) and how many bytes were written.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    head = f"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {FORM}\r\n"
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {size}\r\n\r\n"
    body = frames(size, chunked)
    pending, sent = memoryview(head.encode()), 0
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock] if pending else [], [], 1.0)
            if readable:
                return status_of(sock), sent
            if writable:
                written = sock.send(pending)
                pending, sent = pending[written:], sent + written
                if not pending:
                    pending = memoryview(next(body, b""))
        return 0, sent
    except (BrokenPipeError, ConnectionResetError):  # closed on us: the answer may be there
        return status_of(sock), sent
    finally:
        sock.close()


def frames(size: int, chunked: bool) -> Iterator[bytes]:
    """The body in pieces of CHUNK bytes, framed as chunks if `chunked`; made as they go."""
    left = size
    while left > 0:
        piece = b"x" * min(CHUNK, left)
        left -= len(piece)
        yield b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
    if chunked:
        yield b"0\r\n\r\n"


def status_of(sock: socket.socket) -> int:
    """The status code of the answer waiting on `sock`; 0 if the connection gave none."""
    try:
        line = sock.recv(64).split(b"\r\n", 1)[0]
    except OSError:
        return 0
    parts = line.split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


@dataclass
class Partner:
    """Someone using the bot as usual: `requests` signed commands on one connection."""

    port: int
    slack: FakeSlack
    requests: int
    answers: list[tuple[int, float]] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            for n in range(self.requests):
                self.answers.append(self.send(conn, ("help", "search example")[n % 2]))
                time.sleep(0.02)
        finally:
            conn.close()
            self.done.set()

    def send(self, conn: http.client.HTTPConnection, text: str) -> tuple[int, float]:
        """Post one signed `/deal TEXT`; its status and how long the answer took."""
        body = urlencode({
            "team_id": "T0TEAM", "channel_id": "C0GENERAL", "user_id": "U01ANN",
            "command": "/deal", "text": text, "response_url": self.slack.response_url(),
            "trigger_id": f"trig.{uuid.uuid4().hex}",
        })  # fmt: skip
        ts = str(int(time.time()))
        signature = SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body) or ""
        headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}
        started = time.monotonic()
        conn.request("POST", "/slack/events", body.encode(), headers | {"Content-Type": FORM})
        response = conn.getresponse()
        response.read()
        return response.status, time.monotonic() - started


class Gauge:
    """Sample a process's resident memory every 20 ms in a thread, until stopped."""

    def __init__(self, bot: BotProcess) -> None:
        self.bot, self.samples_kb = bot, [bot.memory_kb("VmRSS")]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(0.02):
            self.samples_kb.append(self.bot.memory_kb("VmRSS"))

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


@pytest.mark.timeout(900)
def test_huge_unsigned_bodies_are_refused_while_the_bot_serves_and_stays_small(
    bot: BotProcess, slack: FakeSlack, full: bool
) -> None:
    clients, size = (16, 100 * 1000 * 1000) if full else (4, 20 * 1000 * 1000)
    partner = Partner(bot.port, slack, requests=100 if full else 30)
    gauge = Gauge(bot)

    def flooder(index: int) -> list[tuple[int, int]]:
        """Flood again and again, for as long as the partner is using the bot."""
        seen = [flood(bot.port, size, chunked=index % 2 == 1)]
        while not partner.done.is_set():
            seen.append(flood(bot.port, size, chunked=index % 2 == 1))
        return seen

    with ThreadPoolExecutor(max_workers=clients + 1) as pool:
        floods = pool.map(flooder, range(clients))
        pool.submit(partner.run).result()
        statuses = [status for mine in floods for status, _ in mine]
    gauge.close()
    peak_mb, slowest = bot.memory_kb("VmHWM") / 1024, max(t for _, t in partner.answers)
    print(
        f"\n{clients} clients, {len(statuses)} floods of {size / 1e6:.0f} MB: "
        f"{Counter(statuses)}; partner {Counter(s for s, _ in partner.answers)}, slowest "
        f"{slowest:.2f}s; bot RSS {gauge.samples_kb[0] / 1024:.0f} MB at rest, "
        f"{max(gauge.samples_kb) / 1024:.0f} MB sampled peak, VmHWM {peak_mb:.0f} MB"
    )
    assert set(statuses) == {413} and len(statuses) >= clients, bot.log.read_text()[-3000:]
    assert [s for s, _ in partner.answers] == [200] * partner.requests
    assert slowest < 3.0
    replies = partner.requests
    until(lambda: len(slack.calls_to("response_url")) >= replies, 30, "a reply to every command")
    assert peak_mb < PEAK_RSS_MB
    assert bot.proc.poll() is None and healthy(bot.port)
