"""Run a scheduled job by name, once (`dealreg jobs run NAME`) or for the scheduler."""

from __future__ import annotations

import argparse
import json
import os
import socket
import traceback
from collections.abc import Callable
from datetime import datetime
from typing import Any

from core import delivery, jobs, webhook_delivery
from core.mailer import make_mailer
from core.services.retention import retention
from dealreg import bot_command
from dealreg.intake_command import intake_context
from dealreg.output import emit
from dealreg.wiring import App
from intake.pipeline import make_mailbox, run_once

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"
ROUND = 10  # rows of each kind claimed at a time by the outbox job
Clock = Callable[[], datetime]


def run_job(app: App, name: str, at: datetime | None = None) -> dict[str, Any]:
    """Run the named job once, now or as of `at`, and record its outcome for `dealreg
    status` (when it really ran)."""
    started = app.now()
    clock: Clock = app.now if at is None else (lambda: at)
    try:
        result = _run(app, name, clock)
    except Exception as exc:
        error = "".join(traceback.format_exception_only(exc)).strip()
        jobs.record_run(app.uow, name, started, app.now(), error)
        raise
    jobs.record_run(app.uow, name, started, app.now(), None)
    return result


def jobs_run(app: App, args: argparse.Namespace) -> int:
    """`dealreg jobs run NAME [--at TIME]`: run one job now (or as of TIME), print what it did."""
    result = run_job(app, args.name, args.at)
    return emit(args, result, f"{args.name}: {json.dumps(result, default=str)}")


def _run(app: App, name: str, clock: Clock) -> dict[str, Any]:
    now = clock()
    if name == "outbox":
        return _deliver(app, clock)
    if name == "expire":
        return {
            "expired": jobs.expire(app.uow, now, app.settings),
            "lapsed": jobs.lapse_held(app.uow, now),
        }
    if name == "remind":
        return {"reminded": jobs.remind(app.uow, now, app.settings)}
    if name == "sla":
        return {"notified": jobs.sla(app.uow, now, app.settings)}
    if name == "digest":
        from core.services import digest

        return {"queued": digest.send(app.uow, now, app.settings)}
    if name == "retention":
        return retention(app.uow, now, app.settings)
    if name == "poll":
        ctx = intake_context(app)
        mailbox = make_mailbox(ctx)
        try:
            run = run_once(ctx, mailbox)
        finally:
            mailbox.close()
        return {"seen": run.seen, "failed": run.failed, "handled": run.handled}
    raise ValueError(f"unknown job {name!r}")


def _deliver(app: App, clock: Clock) -> dict[str, Any]:
    """Send the due emails, and the due Slack messages and webhooks when they are
    configured, until none is due.

    Each round claims a few rows of each kind, most urgent first, so a message a person
    is waiting for (an approval just clicked) goes out after at most one round of a
    backlog's, whichever kind it is, and what falls due meanwhile is in the next round.
    """
    mail, slack, hooks = (delivery.DeliveryReport() for _ in range(3))
    mailer = make_mailer(app.settings)
    sending = webhook_delivery.Sending.of(app.settings)
    webhook_delivery.sync(app.uow, app.settings.webhook_urls, clock())
    try:
        while True:
            now = clock()
            round_ = delivery.Round(WORKER_ID, now, limit=ROUND)
            mailed = delivery.deliver_due(app.uow, mailer, round_, settings=app.settings)
            posted, hooked = delivery.DeliveryReport(), delivery.DeliveryReport()
            if app.settings.slack_enabled:
                posted = bot_command.deliver_slack(app, now, WORKER_ID, limit=ROUND)
            if sending is not None:
                hook_round = delivery.Round(WORKER_ID, now, kind="webhook", limit=ROUND)
                hooked = webhook_delivery.deliver_due(app.uow, sending, hook_round)
            mail, slack, hooks = mail + mailed, slack + posted, hooks + hooked
            if max(mailed.tried, posted.tried, hooked.tried) < ROUND:
                break
    finally:
        mailer.close()
    result: dict[str, Any] = {"sent": mail.sent, "failed": mail.failed, "retrying": mail.retrying}
    if app.settings.slack_enabled:
        result["slack"] = {"sent": slack.sent, "failed": slack.failed}
    if sending is not None:
        result["webhooks"] = {"sent": hooks.sent, "failed": hooks.failed}
    return result
