"""A local stand-in for Slack's Socket Mode endpoint: a WebSocket server on 127.0.0.1.

The fake Web API's `apps.connections.open` hands out this server's `ws://` URL (with a fresh
ticket each time). On each connection the server says `hello`, as Slack does; a test then
sends envelopes and waits for their acks, which are recorded with the time they took. It can
drop the connection (three ways) or ask the client to reconnect, and counts the connections.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from tests.slack_fake import FakeSlack

# What Slack's HTTP bodies carry becomes the payload of one of these envelope types.
SLASH_COMMANDS, INTERACTIVE, EVENTS_API = "slash_commands", "interactive", "events_api"


@dataclass(frozen=True)
class Ack:
    """The app's answer to one envelope: its payload, if any, and how long it took."""

    envelope_id: str
    payload: dict[str, Any] | None
    at: float  # time.monotonic() when it arrived
    elapsed: float  # seconds since the envelope was sent


def envelope_of(body: str, content_type: str) -> tuple[str, dict[str, Any]]:
    """The envelope type and payload Slack sends over Socket Mode for an HTTP request body.

    Over HTTP a command is a form, an interaction a form holding `payload=<JSON>`, and an
    event a JSON body; over Socket Mode each is the `payload` object of an envelope.
    """
    if "json" in content_type:
        return EVENTS_API, json.loads(body)
    form = dict(parse_qsl(body, keep_blank_values=True))
    if "payload" in form:
        return INTERACTIVE, json.loads(form["payload"])
    return SLASH_COMMANDS, form


def accepts_response_payload(kind: str, payload: dict[str, Any]) -> bool:
    """Whether Slack lets the ack carry a payload: commands, submissions, typeahead."""
    if kind == SLASH_COMMANDS:
        return True
    return kind == INTERACTIVE and payload.get("type") != "block_actions"


class SocketModeServer:
    """Serve Socket Mode on a free loopback port; point `slack`'s apps.connections.open here.

    Without `slack` (a fake in another process), set that fake's `socket_mode_url` to `url`.
    """

    def __init__(self, slack: FakeSlack | None = None) -> None:
        self.acks: dict[str, Ack] = {}
        self.strays: list[str] = []  # messages from the app that answer no envelope we sent
        self.paths: list[str] = []  # the URL path of every connection, in order
        self._sent: dict[str, float] = {}
        self._current: ServerConnection | None = None
        self._changed = threading.Condition()
        self._server = serve(self._session, "127.0.0.1", 0, compression=None, ping_interval=None)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        if slack is not None:
            slack.socket_mode_url = self.url

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/link/"

    @property
    def connections(self) -> int:
        """How many times the app has connected."""
        with self._changed:
            return len(self.paths)

    @property
    def connected(self) -> bool:
        """Whether the app is connected now."""
        with self._changed:
            return self._current is not None

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    # -- what the app does --------------------------------------------------------------------

    def _session(self, conn: ServerConnection) -> None:
        info = {"app_id": "A0APP"}
        conn.send(json.dumps({"type": "hello", "num_connections": 1, "connection_info": info}))
        with self._changed:  # after hello, so a test's envelope never comes first
            self.paths.append(conn.request.path if conn.request else "")
            self._current = conn
            self._changed.notify_all()
        try:
            for message in conn:
                self._answered(message if isinstance(message, str) else message.decode())
        except ConnectionClosed:
            pass  # dropped: the app is expected to connect again
        finally:
            with self._changed:
                if self._current is conn:
                    self._current = None
                self._changed.notify_all()

    def _answered(self, message: str) -> None:
        at = time.monotonic()
        data = json.loads(message)
        envelope_id = data.get("envelope_id") if isinstance(data, dict) else None
        with self._changed:
            sent = self._sent.get(envelope_id or "")
            if sent is None or envelope_id in self.acks:
                self.strays.append(message)
            else:
                assert envelope_id is not None
                self.acks[envelope_id] = Ack(envelope_id, data.get("payload"), at, at - sent)
            self._changed.notify_all()

    # -- what a test does ---------------------------------------------------------------------

    def wait_connected(self, count: int = 1, timeout: float = 10.0) -> ServerConnection:
        """Wait until the app has connected `count` times and is connected; the connection."""

        def ready() -> bool:
            return len(self.paths) >= count and self._current is not None

        with self._changed:
            if not self._changed.wait_for(ready, timeout):
                raise AssertionError(f"not connected {count} time(s); {len(self.paths)} so far")
            assert self._current is not None
            return self._current

    def send(self, kind: str, payload: dict[str, Any], *, retry_attempt: int = 0) -> str:
        """Send one envelope over the current connection; its envelope id."""
        conn = self.wait_connected()
        envelope_id = str(uuid.uuid4())
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload(kind, payload),
        }
        if kind == EVENTS_API:
            envelope |= {"retry_attempt": retry_attempt, "retry_reason": ""}
        with self._changed:
            self._sent[envelope_id] = time.monotonic()
        conn.send(json.dumps(envelope))
        return envelope_id

    def wait_ack(self, envelope_id: str, timeout: float = 10.0) -> Ack:
        """Wait for the app's ack of one envelope."""
        with self._changed:
            if not self._changed.wait_for(lambda: envelope_id in self.acks, timeout):
                raise AssertionError(f"envelope {envelope_id} not acknowledged in {timeout} s")
            return self.acks[envelope_id]

    def request(self, kind: str, payload: dict[str, Any], timeout: float = 10.0) -> Ack:
        """Send one envelope and wait for its ack."""
        return self.wait_ack(self.send(kind, payload), timeout)

    def refresh(self) -> None:
        """Ask the app to reconnect, as Slack does every few hours."""
        reason = {"type": "disconnect", "reason": "refresh_requested"}
        self.wait_connected().send(json.dumps(reason | {"debug_info": {"host": "loopback"}}))

    def drop(self, how: Literal["close", "reset", "eof"] = "close") -> None:
        """Drop the current connection.

        `close`: a WebSocket close frame, as Slack closes; `reset`: a TCP reset, as a proxy or
        NAT drops a connection; `eof`: the socket closed with no close frame, as a crashed
        server's. (slack-sdk's built-in client notices `eof` only after ~50 s of failed pings,
        spinning on the dead socket meanwhile; `close` and `reset` at its next ping, <= 10 s.)
        """
        conn = self.wait_connected()
        if how == "close":
            conn.close()
            return
        if how == "reset":  # close with a zero linger time: RST instead of FIN
            conn.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            with contextlib.suppress(OSError):
                conn.socket.shutdown(socket.SHUT_RDWR)
        conn.socket.close()
