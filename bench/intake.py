"""Email intake: registrations per second through the whole pipeline, against the floor of
fetching the same messages with imapclient and parsing them with the standard library.

Run several times, each run with its own floor and the machine's load meanwhile; the ratio
is judged on the median, and its spread and the load tell a regression from a busy neighbour.
"""

from __future__ import annotations

import email
import email.policy
import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench.common import ROOT, Scale, Servers, log, median_index, spread, stopwatch
from bench.load import describe, watched
from core.models import OutboxMessage
from dealreg.intake_command import intake_context
from dealreg.wiring import App
from intake.pipeline import make_mailbox, run_once
from tests.factories import ANN, BOB, JANA, RAJ, World, registration_email
from tests.servers import ImapAccount

PRODUCTS = ("Email Security Cloud Gateway", "Email Archive", "Awareness Training", "continuity")
WORDS = ("North", "Blue", "Acme", "Harbour", "Summit", "Cedar", "Atlas", "Orbit", "Pioneer")
KINDS = ("Ltd", "Holdings", "Group", "Logistics", "Foods", "Health", "Energy", "Legal")
# Each partner's own country, so every form validates with the partner's region.
LOCAL = {
    ANN: {},
    RAJ: {},
    BOB: {
        "country": "US", "state": "CA", "postcode": "94105", "contact_phone": "+1 212 555 0100",
        "end_user_phone": "+1 415 555 0132", "projected_value": "USD 120,000",
    },
    JANA: {
        "country": "DE", "state": "BE", "postcode": "10115", "contact_phone": "+49 30 1234567",
        "end_user_phone": "+49 30 901820", "projected_value": "EUR 40.000",
    },
}  # fmt: skip


def build_emails(count: int, seed: int = 7) -> list[bytes]:
    """`count` registrations from the demo partners; about one in ten resends an earlier one."""
    rng = random.Random(seed)
    sent: list[dict[str, Any]] = []
    out: list[bytes] = []
    for index in range(1, count + 1):
        if sent and rng.random() < 0.1:
            spec = dict(rng.choice(sent))  # the partner sends the same registration again
        else:
            sender = rng.choice((ANN, ANN, RAJ, BOB, JANA))
            name = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {rng.choice(KINDS)}"
            spec = {
                "sender": sender,
                "domain": f"{name.split()[0].lower()}{name.split()[1].lower()}{index}.com",
                "company_name": name,
                "product": rng.choice(PRODUCTS),
                "number_of_users": str(rng.randint(25, 20_000)),
                **LOCAL[sender],
            }
            sent.append(spec)
        raw = registration_email(index, message_id=f"<bench-{index}@partner.example>", **spec)
        out.append(vouched(raw, spec["sender"]))
    return out


# As in production behind a receiving server that checks DKIM and DMARC: every message
# carries its verdict, so the sender proof takes the path most mail takes.
AUTHSERV_ID = "mx.bench.example"


def vouched(raw: bytes, sender: str) -> bytes:
    """The message as the receiving server hands it on, with its DMARC pass on top."""
    domain = sender.rpartition("@")[2]
    results = f"{AUTHSERV_ID}; dkim=pass header.d={domain}; dmarc=pass header.from={domain}"
    return f"Authentication-Results: {results}\r\n".encode() + raw


def seed(account: ImapAccount, emails: list[bytes]) -> None:
    """Deliver the messages into the account's INBOX over one connection."""
    with account.client() as client:
        for raw in emails:
            client.append("INBOX", raw)  # type: ignore[attr-defined]


def floor_rate(account: ImapAccount, batch: int = 200) -> tuple[float, int]:
    """Fetch every message with BODY.PEEK[] in UID batches and parse it with `email`."""
    with account.client() as client, stopwatch() as took:
        client.select_folder("INBOX", readonly=True)  # type: ignore[attr-defined]
        uids = sorted(client.search(["NOT", "DELETED"]))  # type: ignore[attr-defined]
        seen = 0
        for start in range(0, len(uids), batch):
            data = client.fetch(uids[start : start + batch], ["BODY.PEEK[]"])  # type: ignore[attr-defined]
            for item in data.values():
                msg = email.message_from_bytes(item[b"BODY[]"], policy=email.policy.default)
                body = msg.get_body(("plain", "html"))
                seen += bool(body is not None and body.get_content())
    return seen / took["s"], seen


def pipeline_rate(url: str, account: ImapAccount, profile: Path | None = None) -> dict[str, Any]:
    """Run the intake once over the whole INBOX; registrations per second."""
    with tempfile.TemporaryDirectory(prefix="dealreg-bench-") as tmp:
        # Slack configured as in production, so each registration also queues its review
        # request and the partner's DM (delivered by another job, not measured here).
        world = World(
            url, Path(tmp), imap_url=account.imap_url,
            slack_bot_token="xoxb-bench", slack_signing_secret="bench-secret",
            intake_trusted_authserv_id=AUTHSERV_ID,
        )  # fmt: skip
        world.close()
        app = App(world.settings)
        ctx = intake_context(app)
        mailbox = make_mailbox(ctx)
        with _profiled(profile), stopwatch() as took:
            report = run_once(ctx, mailbox)
            mailbox.close()
        with app.uow() as uow:
            stmt = select(OutboxMessage.kind, func.count()).group_by(OutboxMessage.kind)
            queued = dict(uow.session.execute(stmt).tuples().all())
        app.engine.dispose()
    left = len(account.messages("INBOX"))
    moved = sum(len(account.messages(f)) for f in ("Processed", "Rejected"))
    return {
        "rate_per_s": round(report.seen / took["s"], 1),
        "messages": report.seen,
        "seconds": round(took["s"], 2),
        # The pipeline's own process only (the read-ahead process works beside it).
        "cpu_s": round(took["cpu"], 2),
        "outcomes": report.handled,
        "failed": report.failed,
        "left_in_inbox": left,
        "moved": moved,
        "queued": queued,
    }


class _profiled:
    """Profile the block with pyinstrument into `path` (text), when a path is given."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.profiler: Any = None  # a pyinstrument Profiler while profiling

    def __enter__(self) -> None:
        if self.path is not None:
            from pyinstrument import Profiler

            self.profiler = Profiler(interval=0.0005)
            self.profiler.start()

    def __exit__(self, *exc: object) -> None:
        if self.profiler is not None and self.path is not None:
            self.profiler.stop()
            self.path.write_text(self.profiler.output_text(unicode=True, show_all=False))
            log(f"intake profile written to {self.path}")


def worker_rss_mb(account: ImapAccount) -> dict[str, Any]:
    """Run `dealreg intake run --once` as its own process; its peak resident memory."""
    with tempfile.TemporaryDirectory(prefix="dealreg-bench-") as tmp:
        url = f"sqlite:///{tmp}/worker.db"
        World(url, Path(tmp)).close()
        env = {**os.environ, "DATABASE_URL": url, "IMAP_URL": account.imap_url}
        env["OUTBOX_DIR"], env["MAILDIR"] = f"{tmp}/outbox", f"{tmp}/maildir"
        env["SLACK_BOT_TOKEN"], env["SLACK_SIGNING_SECRET"] = "xoxb-bench", "bench-secret"
        env["INTAKE_TRUSTED_AUTHSERV_ID"] = AUTHSERV_ID
        dealreg = Path(sys.executable).with_name("dealreg")
        with stopwatch() as took:
            proc = subprocess.run(
                [sys.executable, "-c", _PEAK, str(dealreg), "intake", "run", "--once"],
                cwd=tmp, env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
    *lines, peak = proc.stdout.strip().splitlines() or [""]
    if proc.returncode != 0:
        raise RuntimeError(f"dealreg intake run --once failed: {proc.stdout} {proc.stderr[-2000:]}")
    return {"rss_mb": round(int(peak) / 1024, 1), "seconds": round(took["s"], 2), "out": lines[-1]}


# Measured from a small parent: Linux counts a child's peak from the memory of the process
# that forked it, so forking the worker straight from this (large) process would inflate it.
_PEAK = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:]).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, flush=True)
sys.exit(code)
"""


def _accounts(servers: Servers) -> Iterator[ImapAccount]:
    while True:
        yield servers.dovecot.add_user()


def one_run(
    servers: Servers, emails: list[bytes], accounts: Iterator[ImapAccount], trace: Path | None
) -> dict[str, Any]:
    """The floor, then the pipeline on SQLite and on PostgreSQL, each on a fresh mailbox;
    with the machine's load meanwhile."""
    sqlite_box, pg_box = next(accounts), next(accounts)
    for account in (sqlite_box, pg_box):
        seed(account, emails)
    with watched(servers.pids) as load:
        floor, _ = floor_rate(sqlite_box)
        log(f"intake: floor {floor:,.0f} msg/s")
        with tempfile.TemporaryDirectory(prefix="dealreg-bench-") as tmp:
            sqlite = pipeline_rate(f"sqlite:///{tmp}/intake.db", sqlite_box, trace)
        log(f"intake: SQLite {sqlite['rate_per_s']:,.0f} msg/s {sqlite['outcomes']}")
        pg_url = servers.postgres.create_database()
        try:
            postgresql = pipeline_rate(pg_url, pg_box)
        finally:
            servers.postgres.drop_database(pg_url)
        log(f"intake: PostgreSQL {postgresql['rate_per_s']:,.0f} msg/s {postgresql['outcomes']}")
    return {
        "floor_per_s": round(floor, 1),
        "ratio": round(sqlite["rate_per_s"] / floor, 3),
        "sqlite": sqlite,
        "postgresql": {**postgresql, "ratio": round(postgresql["rate_per_s"] / floor, 3)},
        "load": load,
    }


def over_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures judged (medians over the runs), their spread, and each run in brief; the
    details are those of the run whose ratio is the median."""
    ratios = [run["ratio"] for run in runs]
    rates = [run["sqlite"]["rate_per_s"] for run in runs]
    floors = [run["floor_per_s"] for run in runs]
    middle = runs[median_index(ratios)]
    ratio, rate, floor = spread(ratios), spread(rates), spread(floors)
    return {
        "rate_per_s": round(rate["median"], 1),
        "floor_per_s": round(floor["median"], 1),
        "ratio": round(ratio["median"], 3),
        **{f"ratio_{k}": round(v, 3) for k, v in ratio.items()},
        "rate_min_per_s": rate["min"],
        "rate_max_per_s": rate["max"],
        "floor_min_per_s": floor["min"],
        "floor_max_per_s": floor["max"],
        "sqlite": middle["sqlite"],
        "postgresql": middle["postgresql"],
        "runs": [
            {
                "floor_per_s": run["floor_per_s"],
                "rate_per_s": run["sqlite"]["rate_per_s"],
                "ratio": run["ratio"],
                "postgresql_rate_per_s": run["postgresql"]["rate_per_s"],
                "postgresql_ratio": run["postgresql"]["ratio"],
                "load": run["load"],
            }
            for run in runs
        ],
    }


def run(servers: Servers, scale: Scale, profile: bool = False) -> dict[str, Any]:
    """Every intake figure, over `scale.runs` runs: SQLite and PostgreSQL rates, each run's
    floor and load, and the worker's memory (once)."""
    emails = build_emails(scale.emails)
    accounts = _accounts(servers)
    trace = ROOT / "bench" / "intake-profile.txt" if profile else None
    runs = []
    with watched(servers.pids) as load:
        for index in range(scale.runs):
            log(f"intake: run {index + 1} of {scale.runs}, {len(emails)} messages a mailbox")
            runs.append(one_run(servers, emails, accounts, trace if index == 0 else None))
            found = runs[-1]
            log(f"intake: ratio {found['ratio']}; {describe(found['load'])}")
    worker_box = next(accounts)
    seed(worker_box, emails)
    worker = worker_rss_mb(worker_box)
    log(f"intake: worker peak RSS {worker['rss_mb']} MB ({worker['out']})")
    out = {"messages": len(emails), **over_runs(runs), "worker_process": worker, "load": load}
    ratio = out["ratio_min"], out["ratio_median"], out["ratio_max"]
    log("intake: ratio min / median / max {:.3f} / {:.3f} / {:.3f}".format(*ratio))
    return {"intake": out, "worker_rss_mb": worker["rss_mb"]}
