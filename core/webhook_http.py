"""POST one webhook: the body and headers as given, within a time limit, redirects not
followed (a receiver that moved says so with its answer, and we do not sign for another)."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

USER_AGENT = "dealreg-webhooks/1"


@dataclass(frozen=True)
class Answer:
    """How a receiver answered: its status, and the start of what it said."""

    status: int
    text: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class WebhookRefused(Exception):
    """A receiver answered with anything but 2xx."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(f"HTTP {answer.status}: {answer.text}".strip())
        self.answer = answer


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx comes back as an error, and the delivery is retried


_OPENER = urllib.request.build_opener(_NoRedirects)


def post(url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> Answer:
    """POST `body` to `url`; the receiver's answer, whatever its status. Raises OSError
    (refused, unreachable, timed out) when there is none."""
    request = urllib.request.Request(
        url, data=body, headers={**headers, "user-agent": USER_AGENT}, method="POST"
    )
    try:
        with _OPENER.open(request, timeout=timeout_s) as response:
            return Answer(response.status, _start(response.read(500)))
    except urllib.error.HTTPError as exc:
        with exc:
            return Answer(exc.code, _start(exc.read(500)))


def _start(data: bytes) -> str:
    return data.decode("utf-8", "replace").strip()[:200]
