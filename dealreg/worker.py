"""`dealreg worker` and `dealreg run`: the scheduler, the mailbox reader and (for `run`) the bot."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIServer

from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client import start_http_server
from sqlalchemy import Connection, make_url, text
from sqlalchemy.exc import SQLAlchemyError

from core import jobs, metrics, schema, wake
from dealreg import wakeup
from dealreg.bot_command import bot_port, serve_bot
from dealreg.intake_command import intake_context, warn_if_unsafe
from dealreg.job_runner import run_job
from dealreg.wiring import App, configure_logging
from intake.pipeline import make_mailbox, run_forever

log = logging.getLogger(__name__)

# Seconds between runs of each job. The outbox also runs the moment mail is queued
# (`dealreg.wakeup`): its interval is the safety net.
INTERVALS = {
    "outbox": 15, "expire": 300, "remind": 3600, "sla": 300, "digest": 300, "retention": 86400,
}  # fmt: skip
_MAILBOX_LOCK = 0x6465616C  # "deal": one mailbox reader across all workers


def scheduler(app: App) -> BackgroundScheduler:
    """Every job on its interval; one instance of each at a time, late runs coalesced."""
    sched = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    for name, seconds in INTERVALS.items():
        if name == "outbox":
            continue  # its own thread: see run_worker
        sched.add_job(_safe, "interval", seconds=seconds, args=(app, name), id=name, name=name)
    # The daily job also runs a minute after start: a worker restarted daily (each deploy)
    # would otherwise never reach it.
    sched.modify_job("retention", next_run_time=datetime.now(UTC) + timedelta(minutes=1))
    return sched


def _safe(app: App, name: str) -> None:
    try:
        result = run_job(app, name)
        if any(result.values()):
            log.info("job %s: %s", name, result)
    except Exception:
        log.exception("job %s failed", name)


class ReaderLock:
    """The single mailbox reader's lock: a PostgreSQL advisory lock held on its own
    connection (SQLite runs in one process, so there it is always held)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.conn: Connection | None = None

    def acquire(self) -> bool:
        """Take the lock if no other worker holds it."""
        if self.app.engine.dialect.name != "postgresql":
            return True
        self.release()
        try:
            self.conn = self.app.engine.connect()
            got = bool(self.conn.scalar(_TRY_LOCK, {"k": _MAILBOX_LOCK}))
            self.conn.commit()
        except SQLAlchemyError as exc:
            log.warning("mailbox lock: database unavailable (%s)", exc)
            got = False
        if not got:
            self.release()
        return got

    def held(self) -> bool:
        """Whether the lock is still ours: it dies with its connection (a restart, say)."""
        if self.conn is None:
            return self.app.engine.dialect.name != "postgresql"
        try:
            mine = self.conn.scalar(_HOLDS_LOCK, {"k": _MAILBOX_LOCK})
            self.conn.commit()
            return bool(mine)
        except SQLAlchemyError:
            return False

    def release(self) -> None:
        if self.conn is None:
            return
        with contextlib.suppress(SQLAlchemyError):
            self.conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MAILBOX_LOCK})
            self.conn.commit()
        with contextlib.suppress(SQLAlchemyError):
            self.conn.close()
        self.conn = None


_TRY_LOCK = text("SELECT pg_try_advisory_lock(:k)")
_HOLDS_LOCK = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :k "
    "AND pid = pg_backend_pid() AND granted"
)


def read_mailbox(app: App, stop: threading.Event, *, check_s: float = 10.0) -> None:
    """Read the mailbox whenever this worker holds the reader lock, until `stop`.

    Another worker holding the lock makes this one wait and take over when it goes; a lost
    lock (its connection died) stops reading until the lock is taken again.
    """

    def poll_status(error: str | None) -> None:
        now = app.now()
        with contextlib.suppress(SQLAlchemyError):
            jobs.record_run(app.uow, "poll", now, now, error)

    lock = ReaderLock(app)
    while not stop.is_set():
        if not lock.acquire():
            stop.wait(check_s)
            continue
        reading = threading.Event()
        ctx = intake_context(app)
        reader = threading.Thread(
            target=run_forever,
            args=(ctx, make_mailbox(ctx), reading),
            kwargs={"wait_s": 30, "on_poll": poll_status},
            name="intake-reader",
            daemon=True,
        )
        reader.start()
        while not stop.wait(check_s) and lock.held():
            pass
        if not stop.is_set():
            log.warning("mailbox lock lost; reading stops until it is taken again")
        reading.set()
        reader.join(timeout=60)
    lock.release()


def intake_thread(app: App, stop: threading.Event) -> threading.Thread:
    """Read the mailbox in the background (see `read_mailbox`)."""
    thread = threading.Thread(target=read_mailbox, args=(app, stop), name="intake", daemon=True)
    thread.start()
    return thread


def serve_metrics(app: App) -> WSGIServer | None:
    """Serve /metrics on METRICS_PORT in a thread of its own; the server, None when unset."""
    port = app.settings.metrics_port
    if port is None:
        return None
    server, _ = start_http_server(port, registry=metrics.registry(app.runtime.read, app.now))
    log.info("serving /metrics on port %s", port)
    return server


def run_worker(app: App, *, with_bot: bool = False) -> int:
    """Run until SIGTERM or Ctrl-C; the job in hand finishes before exit."""
    warn_if_unsafe(app)
    stop = threading.Event()
    served = serve_metrics(app)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sched = scheduler(app)
    sched.start()
    wakeup.watch(app, stop)
    deliverer = threading.Thread(
        target=wakeup.deliver_forever,
        args=(app, stop, lambda: _safe(app, "outbox"), INTERVALS["outbox"]),
        name="outbox",
        daemon=True,
    )
    deliverer.start()
    reader = intake_thread(app, stop)
    if with_bot and app.settings.slack_enabled:
        threading.Thread(target=serve_bot, args=(app, bot_port(None)), daemon=True).start()
    log.info("worker started: jobs %s, mailbox reader on", ", ".join(INTERVALS))
    try:
        while not stop.wait(1):
            pass
    except KeyboardInterrupt:
        stop.set()
    log.info("stopping: finishing the jobs in hand")
    sched.shutdown(wait=True)
    wake.OUTBOX.set()  # the deliverer sees `stop` at once
    deliverer.join(timeout=60)
    reader.join(timeout=60)
    if served is not None:
        served.shutdown()
    return 0


def worker(app: App, args: argparse.Namespace) -> int:
    """`dealreg worker`: the scheduler and the mailbox reader."""
    configure_logging()
    return run_worker(app)


def run(app: App, args: argparse.Namespace) -> int:
    """`dealreg run`: migrate the database, then the worker and (if configured) the bot."""
    configure_logging()
    schema.upgrade(app.engine)
    print(describe(app), flush=True)
    return run_worker(app, with_bot=True)


def describe(app: App) -> str:
    """What `dealreg run` runs, told to whoever started it: where mail comes in and goes
    out, whether Slack is on, and how to send a first registration."""
    s = app.settings
    url = make_url(s.database_url).render_as_string(hide_password=True)
    if s.imap_url is not None:
        imap = urlsplit(s.imap_url.get_secret_value())
        port = f":{imap.port}" if imap.port else ""
        inbox = f"IMAP {imap.scheme}://{imap.hostname}{port}{imap.path or '/INBOX'}"
        first = f"send examples/registration.eml to {s.intake_address}"
    else:
        inbox = f"the Maildir {s.maildir}: drop .eml files into {s.maildir / 'new'}"
        first = f"cp examples/registration.eml {s.maildir / 'new'}/"
    if s.smtp_url is not None:
        smtp = urlsplit(s.smtp_url.get_secret_value())
        out, confirm = f"SMTP {smtp.hostname}:{smtp.port or 25}", "the confirmation email"
    else:
        out = f".eml files in {s.outbox_dir} (set SMTP_URL to send them)"
        confirm = f"the confirmation in {s.outbox_dir}"
    if s.intake_require_sender_proof:
        first += f", then answer {confirm}"
    slack = (
        f"on: the bot listens on port {bot_port(None)}, reviews go to {s.slack_review_channel}"
        if s.slack_enabled
        else "off: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET to start the bot (README: Slack)"
    )
    proof = (
        "on: mail from an unproven sender is held until its sender confirms it"
        if s.intake_require_sender_proof
        else "OFF: anyone can send mail in a partner's name"
    )
    return "\n".join(
        [
            "dealreg is running; Ctrl-C stops it.",
            f"  database      {url}",
            f"  mail in       {inbox}",
            f"  mail out      {out}",
            f"  intake        {s.intake_address}; sender proof {proof}",
            f"  Slack         {slack}",
            f"  first deal    {first}",
            f'  by email      write "help" to {s.intake_address} for the form and the commands',
        ]
    )
