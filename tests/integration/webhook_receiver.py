"""A webhook receiver for the tests: an HTTP server on loopback that verifies every request
with the `standardwebhooks` package, as an integrator would, answers with the statuses it
is told to, and keeps each message once by its `webhook-id` (a receiver's de-duplication)."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook

SECRET = "whsec_" + base64.b64encode(b"dealreg-test-webhook-secret-32by").decode()


@dataclass(frozen=True)
class Request:
    """One request as received: its headers, its body, when, and what was answered."""

    headers: dict[str, str]
    body: bytes
    at: float
    status: int

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Serve on a free loopback port until closed; `url` is where to POST."""

    def __init__(self, secret: str = SECRET) -> None:
        self.verifier = Webhook(secret)
        self.requests: list[Request] = []
        self.unverified: list[str] = []
        self.seen: dict[str, Any] = {}  # webhook-id -> payload, the first time only
        self.statuses: list[int] = []  # answered in turn; then `default`
        self.default = 200
        self.delay_s = 0.0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def answer(self, *statuses: int, then: int = 200) -> None:
        """Answer the next requests with `statuses`, the ones after with `then`."""
        with self.lock:
            self.statuses, self.default = list(statuses), then

    def receive(self, headers: dict[str, str], body: bytes) -> int:
        if self.delay_s:
            time.sleep(self.delay_s)
        try:
            payload = self.verifier.verify(body, headers)
        except Exception as exc:
            with self.lock:
                self.unverified.append(str(exc))
            return 400
        with self.lock:
            status = self.statuses.pop(0) if self.statuses else self.default
            self.requests.append(Request(headers, body, time.monotonic(), status))
            if 200 <= status < 300:
                self.seen.setdefault(headers["webhook-id"], payload)
        return status

    def types(self) -> list[str]:
        """The types of the messages kept, in the order first received."""
        with self.lock:
            return [p["type"] for p in self.seen.values()]

    def payloads(self) -> Iterator[Any]:
        with self.lock:
            return iter(list(self.seen.values()))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = receiver.receive(headers, body)
            self.send_response(status)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
