"""Latency: from an event to its answer, with `dealreg bot` and `dealreg worker` each in a
process of its own, on SQLite and on PostgreSQL, against the floor of a bare IDLE + smtplib
script on the same Dovecot.

Paths: (a) a registration appended to the inbox -> its confirmation at the SMTP server;
(b) the same -> its review message posted to the fake Slack; (c) a signed Approve click on
the bot -> the approval email; (d) (c) and a `/deal search` answer while the worker works
through a backlog of registrations appended just before. Times are taken where things
arrive (the SMTP handler, the fake Slack's record of each call), not when polled.

The whole benchmark runs `--runs` times (each run with its own floor); each database is
judged on the run whose under-backlog approval p99 is the median, and the spread of that p99
and the machine's load during each backlog are printed and stored beside it.

Dovecot tells an IDLE client of new mail ~0.4-0.5 s after it lands (NOTIFY_DELAY_MSECS in
its mailbox-watch.c; NOOP sees it in ~4 ms), so that delay is most of the floor and of (a):
the milliseconds over the floor are printed beside the ratio.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from bench.common import Scale, Servers, log, percentile
from bench.latency_report import DATABASES, over_runs, table
from bench.load import describe, watched
from bench.probe import (
    RECEIVED,
    REVIEW_CHANNEL,
    REVIEWED,
    TIMEOUT_S,
    Arrival,
    Mail,
    Probe,
    SignedSlack,
    SlackCalls,
    login,
    ms,
    registration,
    review_header,
    summary,
    wait_for,
)
from tests.factories import World
from tests.integration.bot_harness import SECRET, TOKEN
from tests.integration.smtp_server import SmtpServer
from tests.servers import ImapAccount, free_port
from tests.slack_fake import FakeSlack

WARMUP = 2  # events run first and not counted: imports, first auth.test, IDLE in place
BACKLOG_TIMEOUT_S = 600.0
DRAIN_S = 900.0  # how long the backlog's confirmations are waited for, after the events
SETTLE_S = 0.1  # after each quiet event, so its trailing work (the partner's DM) is done
REPLIED = re.compile(r"^Re: Deal registration (\d+)$")  # the floor's fixed reply


def quiet(probe: Probe, events: int) -> dict[str, Any]:
    """Paths (a), (b) and (c), one event at a time on an otherwise idle system."""
    reply, post, approval = [], [], []
    for index in range(WARMUP + events):
        [done] = probe.register("Latency", [index])
        [approved], _ = probe.approve([done.number])
        if index >= WARMUP:
            reply.append(done.reply_ms)
            post.append(done.post_ms)
            approval.append(approved)
        time.sleep(SETTLE_S)
    return {
        "email_reply": summary(reply),
        "review_post": summary(post),
        "approval_email": summary(approval),
    }


def under_backlog(probe: Probe, events: int, backlog: int) -> dict[str, Any]:
    """Path (d): approvals of deals registered just before, and searches, sent while the
    worker works through `backlog` registrations appended at once."""
    pending = [r.number for r in probe.register("Pending", range(events))]
    emails = [registration("Backlog", index) for index in range(backlog)]
    mail_at, slack_at = probe.mail.end(), probe.reviews.end()
    started = time.monotonic()
    for _company, raw in emails:
        probe.imap.append("INBOX", raw)
    appended = time.monotonic() - started
    log(f"latency: {backlog} registrations appended in {appended:.1f}s; clicking")
    approval, search = probe.approve(pending, search="Backlog", timeout_s=BACKLOG_TIMEOUT_S)
    answered = time.monotonic() - started
    # How far the backlog got: its confirmations (given up to DRAIN_S), and the review
    # messages posted by the time the last confirmation went.
    companies = [company for company, _raw in emails]
    replies = wait_for(probe.mail, mail_at, RECEIVED, companies, DRAIN_S, strict=False)
    posts = wait_for(probe.reviews, slack_at, REVIEWED, companies, 0, strict=False)
    return {
        **summary(approval),
        "search": summary(search),
        "backlog": backlog,
        "appended_s": round(appended, 2),
        "answered_s": round(answered, 2),
        "replied": len(replies),
        "replied_s": _last(replies, started),
        "posted": len(posts),
        "posted_s": _last(posts, started),
    }


def _last(found: dict[str, Arrival], started: float) -> float | None:
    """Seconds from `started` to the last arrival, if any came."""
    return round(max(at for at, _ in found.values()) - started, 2) if found else None


def _spawn(command: str, env: dict[str, str], tmp: Path) -> subprocess.Popen[bytes]:
    dealreg = Path(sys.executable).with_name("dealreg")
    with (tmp / f"{command}.log").open("wb") as out:
        return subprocess.Popen(
            [str(dealreg), command], cwd=tmp, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # its group holds the worker's read-ahead child too
        )  # fmt: skip


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=70)  # the worker lets the job in hand finish (up to 60 s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _wait_healthy(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while proc.poll() is None and time.monotonic() < deadline:
        url = f"http://127.0.0.1:{port}/healthz"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=5) as resp:
            if resp.status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"dealreg bot did not answer /healthz (exit {proc.poll()})")


@contextlib.contextmanager
def processes(env: dict[str, str], tmp: Path) -> Iterator[None]:
    """`dealreg bot` and `dealreg worker`, each in its own process, until the block ends."""
    bot, worker = _spawn("bot", env, tmp), _spawn("worker", env, tmp)
    try:
        _wait_healthy(int(env["PORT"]), bot)
        yield
    except (TimeoutError, RuntimeError) as exc:
        tails = {
            n: (tmp / f"{n}.log").read_text(errors="replace")[-3000:] for n in ("worker", "bot")
        }
        raise RuntimeError(
            f"{exc}\n" + "\n".join(f"--- {n}\n{t}" for n, t in tails.items())
        ) from exc
    finally:
        for proc in (worker, bot):
            _stop(proc)


def _env(
    url: str, account: ImapAccount, smtp: SmtpServer, fake: FakeSlack, tmp: Path
) -> dict[str, str]:
    env = {
        **os.environ, "DATABASE_URL": url, "IMAP_URL": account.imap_url, "SMTP_URL": smtp.url,
        "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake.url,
        "SLACK_REVIEW_CHANNEL": REVIEW_CHANNEL, "INTAKE_REQUIRE_SENDER_PROOF": "false",
        "INTAKE_REPLIES_PER_HOUR": "1000000",  # every registration here comes from Ann
        "OUTBOX_DIR": str(tmp / "outbox"), "MAILDIR": str(tmp / "maildir"),
        "PORT": str(free_port()),
    }  # fmt: skip
    env.pop("SLACK_APP_TOKEN", None)
    return env


def measure(
    url: str, account: ImapAccount, events: int, backlog: int, servers: Servers
) -> dict[str, Any]:
    """Every path on one database: a fresh demo catalogue, its own SMTP and Slack; with the
    machine's load during the backlog."""
    mail, fake = Mail(), FakeSlack()
    smtp = SmtpServer()
    smtp.handler = mail
    with tempfile.TemporaryDirectory(prefix="dealreg-bench-") as name, smtp:
        tmp = Path(name)
        World(url, tmp).close()
        env = _env(url, account, smtp, fake, tmp)
        with processes(env, tmp), login(account) as imap:
            slack = SignedSlack(int(env["PORT"]), fake)
            reviews = SlackCalls(fake, "chat.postMessage", review_header)
            answers = SlackCalls(fake, "response_url", lambda p: p.get("_url"))
            probe = Probe(imap, mail, reviews, answers, slack)
            out = quiet(probe, events)
            log(f"latency: quiet paths {out}")
            with watched(servers.pids) as load:
                out["under_backlog"] = under_backlog(probe, events, backlog)
            out["under_backlog"]["load"] = load
            log(f"latency: backlog done; {describe(load)}")
            slack.close()
    fake.close()
    return out


def _idle_and_reply(
    account: ImapAccount, port: int, stop: threading.Event, ready: threading.Event
) -> None:
    """The floor's script: wait in IDLE; on EXISTS fetch the new mail and answer each."""
    with login(account) as client:
        client.select_folder("INBOX")
        seen = max(client.search(["ALL"]), default=0)
        client.idle()
        ready.set()
        while not stop.is_set():
            responses = client.idle_check(timeout=0.5)
            if not any(len(r) > 1 and r[1] == b"EXISTS" for r in responses):
                continue
            client.idle_done()
            new = [uid for uid in client.search(["UID", f"{seen + 1}:*"]) if uid > seen]
            for data in client.fetch(new, ["BODY.PEEK[]"]).values() if new else ():
                _reply(data[b"BODY[]"], port)
            seen = max([seen, *new])
            client.idle()
        client.idle_done()


def _reply(raw: bytes, port: int) -> None:
    original = message_from_bytes(raw, policy=policy.default)
    reply = EmailMessage()
    reply["From"] = "deals@dealreg.localhost"
    reply["To"] = str(original["From"])
    reply["Subject"] = f"Re: {original['Subject']}"
    reply["In-Reply-To"] = str(original["Message-ID"])
    reply.set_content("Thank you: your registration has been received.\n")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(reply)


def floor(account: ImapAccount, events: int) -> list[float]:
    """The bare path on the same Dovecot, nothing stored: ms from append to the reply."""
    mail, smtp = Mail(), SmtpServer()
    smtp.handler = mail
    stop, ready = threading.Event(), threading.Event()
    with smtp:
        script = threading.Thread(target=_idle_and_reply, args=(account, smtp.port, stop, ready))
        script.start()
        try:
            ready.wait(TIMEOUT_S)
            out = []
            with login(account) as imap:
                for index in range(WARMUP + events):
                    _company, raw = registration("Floor", index)
                    start, sent = mail.end(), time.monotonic()
                    imap.append("INBOX", raw)
                    [(at, _)] = wait_for(mail, start, REPLIED, [str(index)], TIMEOUT_S).values()
                    out.append(ms(sent, at))
                    time.sleep(SETTLE_S)
        finally:
            stop.set()
            script.join(timeout=10)
    return out[WARMUP:]


def one_run(servers: Servers, events: int, backlog: int) -> dict[str, Any]:
    """The floor, then every path on SQLite and on PostgreSQL, with the load meanwhile."""
    with watched(servers.pids) as load:
        bare = floor(servers.dovecot.add_user(), events)
        out: dict[str, Any] = {
            "floor_p50_ms": round(percentile(bare, 50), 1),
            "floor_p99_ms": round(percentile(bare, 99), 1),
        }
        log(f"latency: floor p50 {out['floor_p50_ms']} ms")
        with tempfile.TemporaryDirectory(prefix="dealreg-bench-") as tmp:
            url = f"sqlite:///{tmp}/latency.db"
            out["sqlite"] = measure(url, servers.dovecot.add_user(), events, backlog, servers)
        pg_url = servers.postgres.create_database()
        try:
            account = servers.dovecot.add_user()
            out["postgresql"] = measure(pg_url, account, events, backlog, servers)
        finally:
            servers.postgres.drop_database(pg_url)
    out["load"] = load
    for db in DATABASES:
        ratio = out[db]["email_reply"]["p50_ms"] / out["floor_p50_ms"]
        out[db]["email_reply_vs_floor"] = round(ratio, 2)
        over = out[db]["email_reply"]["p50_ms"] - out["floor_p50_ms"]
        out[db]["email_reply_over_floor_ms"] = round(over, 1)
    return out


def run(servers: Servers, scale: Scale) -> dict[str, Any]:
    """`scale.runs` runs of every path, each with its floor; judged on the median run."""
    events = 15 if scale.quick else 60
    backlog = scale.emails  # 2,500 in a full run
    runs = []
    with watched(servers.pids) as load:
        for index in range(scale.runs):
            log(f"latency: run {index + 1} of {scale.runs}")
            runs.append(one_run(servers, events, backlog))
    out = {**over_runs(runs, events, backlog), "load": load}
    print(table(out), flush=True)
    return {"latency": out}
