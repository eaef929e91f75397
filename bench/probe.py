"""The latency benchmark's probe: a partner's mail into Dovecot, signed clicks and
searches to the bot, and the times each answer arrives at the SMTP server or the fake
Slack (taken where things arrive, not when polled). `bench.latency` runs the scenarios.
"""

from __future__ import annotations

import http.client
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from typing import Any, Protocol
from urllib.parse import urlencode

from imapclient import IMAPClient

from bench.common import percentile
from tests.factories import registration_email
from tests.integration.bot_harness import signed_headers
from tests.integration.smtp_server import RecordingHandler
from tests.servers import ImapAccount
from tests.slack_fake import FakeSlack

REVIEW_CHANNEL = "#deal-desk"
REVIEWER = "U0REVIEW"  # deals@vendor.example in catalog/demo.toml
PARTNER = "U01ANN"  # ann@northwind.example, the sender of every registration here
TIMEOUT_S = 60.0
PACE_S = 0.1  # between the clicks (each with a search) sent during the backlog
POLL_S = 0.005

RECEIVED = re.compile(r"received: (.+)$")  # registration_received's subject: the company
NUMBER = re.compile(r"registration (\S+) received")
APPROVED = re.compile(r"^Deal (\S+) approved")  # deal_approved's subject: the number
REVIEWED = re.compile(r" · (.+)$")  # the review message's header: number · company
ANSWERED = re.compile(r"/response/(\w+)$")  # the response URL the search answer went to

Arrival = tuple[float, str]  # time.monotonic() when it arrived, and its text


class Source(Protocol):
    def end(self) -> int: ...

    def since(self, start: int) -> tuple[int, list[Arrival]]: ...


class Mail(RecordingHandler):
    """The SMTP server's handler: the Subject of each message and when it arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: list[Arrival] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        at = time.monotonic()
        data = envelope.original_content or envelope.content
        headers = BytesHeaderParser(policy=policy.default).parsebytes(data)
        self.arrived.append((at, str(headers["Subject"] or "").strip()))
        return "250 Message accepted for delivery"

    def end(self) -> int:
        return len(self.arrived)

    def since(self, start: int) -> tuple[int, list[Arrival]]:
        new = self.arrived[start:]
        return start + len(new), new


@dataclass
class SlackCalls:
    """The fake Slack's calls to one method, each as the text `pick` finds in it."""

    fake: FakeSlack
    method: str
    pick: Callable[[dict[str, Any]], str | None]

    def end(self) -> int:
        return len(self.fake.calls)

    def since(self, start: int) -> tuple[int, list[Arrival]]:
        calls = self.fake.calls[start:]
        found = [(c.at, self.pick(c.params)) for c in calls if c.method == self.method]
        return start + len(calls), [(at, text) for at, text in found if text is not None]


def review_header(params: dict[str, Any]) -> str | None:
    if params.get("channel") != REVIEW_CHANNEL:
        return None  # the partner's DM names the company too
    first = (params.get("blocks") or [{}])[0]
    return str((first.get("text") or {}).get("text", "")) or None


def wait_for(
    source: Source,
    start: int,
    pattern: re.Pattern[str],
    keys: Iterable[str],
    timeout_s: float,
    *,
    strict: bool = True,
) -> dict[str, Arrival]:
    """Wait until, after `start`, an arrival names each key (as `pattern`'s first group);
    past `timeout_s`, raise TimeoutError, or (not `strict`) return those that came."""
    missing, found = set(keys), {}
    deadline = time.monotonic() + timeout_s
    while missing:
        start, new = source.since(start)
        for at, text in new:
            match = pattern.search(text)
            if match and match.group(1) in missing:
                missing.discard(match.group(1))
                found[match.group(1)] = (at, text)
        if missing and time.monotonic() > deadline:
            if not strict:
                break
            example = ", ".join(sorted(missing)[:3])
            raise TimeoutError(f"{len(missing)} of {len(found) + len(missing)} late: {example}")
        if missing:
            time.sleep(POLL_S)
    return found


def ms(started: float, at: float) -> float:
    return (at - started) * 1000


def registration(kind: str, index: int) -> tuple[str, bytes]:
    """A registration from Ann, unique by company, domain and Message-ID."""
    company = f"{kind} {index:05d} Ltd"
    raw = registration_email(
        index, domain=f"{kind.lower()}-{index:05d}.com", company_name=company,
        message_id=f"<{uuid.uuid4().hex}@latency.bench.example>",
    )  # fmt: skip
    return company, raw


def login(account: ImapAccount) -> IMAPClient:
    client = IMAPClient(account.host, account.port, ssl=False, timeout=30)
    client.login(account.user, account.password)
    return client


class SignedSlack:
    """Post to the bot what Slack would, signed, over one keep-alive connection (the
    payloads as tests/integration/bot_harness.py builds them)."""

    def __init__(self, port: int, fake: FakeSlack) -> None:
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self._fake = fake

    def approve(self, number: str) -> None:
        """A reviewer of the demo catalogue pressing Approve on the deal's review message."""
        message = {"ts": "1800000000.000001", "text": "", "blocks": []}
        payload = {
            "type": "block_actions",
            "user": {"id": REVIEWER, "username": REVIEWER.lower(), "team_id": "T0TEAM"},
            "api_app_id": "A0APP", "team": {"id": "T0TEAM", "domain": "partners"},
            "channel": {"id": "C0REVIEW", "name": "deal-desk"},
            "container": {"type": "message", "message_ts": message["ts"],
                          "channel_id": "C0REVIEW"},
            "trigger_id": f"trig.{uuid.uuid4().hex}", "response_url": self._fake.response_url(),
            "message": message,
            "actions": [{"action_id": "deal_approve", "block_id": "review", "type": "button",
                         "value": number, "action_ts": str(time.time())}],
        }  # fmt: skip
        self._post(urlencode({"payload": json.dumps(payload)}))

    def search(self, text: str) -> str:
        """`/deal search TEXT` from Ann; the token of the response URL it is answered at."""
        url = self._fake.response_url()
        self._post(urlencode({
            "token": "legacy", "team_id": "T0TEAM", "team_domain": "partners",
            "channel_id": "C0GENERAL", "channel_name": "general", "user_id": PARTNER,
            "user_name": PARTNER.lower(), "command": "/deal", "text": f"search {text}",
            "api_app_id": "A0APP", "enterprise_id": "", "is_enterprise_install": "false",
            "response_url": url, "trigger_id": f"trig.{uuid.uuid4().hex}",
        }))  # fmt: skip
        return url.rsplit("/", 1)[1]

    def _post(self, body: str) -> None:
        headers = signed_headers(body)
        self._conn.request("POST", "/slack/events", body=body.encode(), headers=headers)
        response = self._conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"the bot answered {response.status}")

    def close(self) -> None:
        self._conn.close()


@dataclass(frozen=True)
class Registered:
    number: str
    reply_ms: float
    post_ms: float


@dataclass
class Probe:
    """Send events to the running processes and time their answers."""

    imap: IMAPClient
    mail: Mail
    reviews: SlackCalls
    answers: SlackCalls
    slack: SignedSlack

    def register(self, kind: str, indexes: Iterable[int]) -> list[Registered]:
        """Append a registration for each index; ms until its confirmation and review post."""
        mail_at, slack_at = self.mail.end(), self.reviews.end()
        sent: dict[str, float] = {}
        for index in indexes:
            company, raw = registration(kind, index)
            sent[company] = time.monotonic()
            self.imap.append("INBOX", raw)
        replies = wait_for(self.mail, mail_at, RECEIVED, sent, TIMEOUT_S + len(sent) / 10)
        posts = wait_for(self.reviews, slack_at, REVIEWED, sent, TIMEOUT_S + len(sent) / 10)
        return [
            Registered(
                _number(replies[company][1]), ms(at, replies[company][0]), ms(at, posts[company][0])
            )
            for company, at in sent.items()
        ]

    def approve(
        self, numbers: Sequence[str], *, search: str | None = None, timeout_s: float = TIMEOUT_S
    ) -> tuple[list[float], list[float]]:
        """Press Approve on each deal in turn, each followed by a search if one is given
        (`PACE_S` apart when there are several); ms to each approval email and answer."""
        mail_at, answers_at = self.mail.end(), self.answers.end()
        clicked: dict[str, float] = {}
        asked: dict[str, float] = {}
        for number in numbers:
            clicked[number] = time.monotonic()
            self.slack.approve(number)
            if search is not None:
                started = time.monotonic()
                asked[self.slack.search(search)] = started
            if len(numbers) > 1:
                time.sleep(PACE_S)
        emails = wait_for(self.mail, mail_at, APPROVED, clicked, timeout_s)
        answers = wait_for(self.answers, answers_at, ANSWERED, asked, timeout_s)
        return (
            [ms(at, emails[number][0]) for number, at in clicked.items()],
            [ms(at, answers[token][0]) for token, at in asked.items()],
        )


def _number(subject: str) -> str:
    found = NUMBER.search(subject)
    if found is None:
        raise RuntimeError(f"no deal number in {subject!r}")
    return found.group(1)


def summary(values: Sequence[float]) -> dict[str, Any]:
    return {
        "p50_ms": round(percentile(values, 50), 1),
        "p99_ms": round(percentile(values, 99), 1),
        "events": len(values),
    }
