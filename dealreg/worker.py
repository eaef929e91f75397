"""`dealreg worker` and `dealreg run`: the scheduler, the mailbox reader and (for `run`) the bot."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import text

from dealreg.jobs import run_job
from dealreg.wiring import App

log = logging.getLogger(__name__)

# Seconds between runs of each job.
INTERVALS = {"outbox": 15, "expire": 300, "remind": 3600, "nudge": 3600}
_MAILBOX_LOCK = 0x6465616C  # "deal": one mailbox reader across all workers


def scheduler(app: App) -> BackgroundScheduler:
    """Every job on its interval; one instance of each at a time, late runs coalesced."""
    sched = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    for name, seconds in INTERVALS.items():
        sched.add_job(_safe, "interval", seconds=seconds, args=(app, name), id=name, name=name)
    return sched


def _safe(app: App, name: str) -> None:
    try:
        result = run_job(app, name)
        if any(result.values()):
            log.info("job %s: %s", name, result)
    except Exception:
        log.exception("job %s failed", name)


@contextmanager
def mailbox_lock(app: App, stop: threading.Event) -> Iterator[bool]:
    """Hold the single-reader lock on PostgreSQL (advisory); SQLite has one process anyway."""
    if app.engine.dialect.name != "postgresql":
        yield True
        return
    with app.engine.connect() as conn:
        while not stop.is_set():
            if conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": _MAILBOX_LOCK}):
                try:
                    yield True
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MAILBOX_LOCK})
                    conn.commit()
                return
            conn.commit()
            stop.wait(10)  # another worker reads the mailbox; take over if it goes away
        yield False


def intake_thread(app: App, stop: threading.Event) -> threading.Thread:
    """Read the mailbox in the background while this worker holds the reader lock."""
    from core import jobs
    from dealreg.intake_command import intake_context
    from intake.pipeline import make_mailbox, run_forever

    def poll_status(error: str | None) -> None:
        now = app.now()
        jobs.record_run(app.uow, "poll", now, now, error)

    def body() -> None:
        with mailbox_lock(app, stop) as held:
            if held:
                ctx = intake_context(app)
                run_forever(ctx, make_mailbox(ctx), stop, wait_s=30, on_poll=poll_status)

    thread = threading.Thread(target=body, name="intake", daemon=True)
    thread.start()
    return thread


def run_worker(app: App, *, with_bot: bool = False, port: int | None = None) -> int:
    """Run until SIGTERM or Ctrl-C; the job in hand finishes before exit."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sched = scheduler(app)
    sched.start()
    reader = intake_thread(app, stop)
    if with_bot and app.settings.slack_enabled:
        from dealreg.bot_command import bot_port

        threading.Thread(target=_bot, args=(app, bot_port(port)), daemon=True).start()
    log.info("worker started: jobs %s, mailbox reader on", ", ".join(INTERVALS))
    try:
        while not stop.wait(1):
            pass
    except KeyboardInterrupt:
        stop.set()
    log.info("stopping: finishing the jobs in hand")
    sched.shutdown(wait=True)
    reader.join(timeout=60)
    return 0


def _bot(app: App, port: int) -> None:
    from bot.app import serve

    serve(app, port)
