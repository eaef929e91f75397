"""Scheduled jobs, runnable one at a time (`dealreg jobs run NAME`) or by the scheduler."""

from __future__ import annotations

import os
import socket
import traceback
from typing import Any

from core import jobs, outbox
from core.mailer import make_mailer
from dealreg.wiring import App

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


def run_job(app: App, name: str) -> dict[str, Any]:
    """Run the named job once, now, and record its outcome for `dealreg status`."""
    started = app.now()
    try:
        result = _run(app, name)
    except Exception as exc:
        jobs.record_run(app.uow, name, started, app.now(), "".join(
            traceback.format_exception_only(exc)).strip())  # fmt: skip
        raise
    jobs.record_run(app.uow, name, started, app.now(), None)
    return result


def _run(app: App, name: str) -> dict[str, Any]:
    now = app.now()
    if name == "outbox":
        report = outbox.deliver_due(
            app.uow, make_mailer(app.settings), now, WORKER_ID, settings=app.settings
        )
        result = {"sent": report.sent, "failed": report.failed, "retrying": report.retrying}
        if app.settings.slack_enabled:
            from bot.app import make_client
            from bot.delivery import deliver_slack_due

            slack = deliver_slack_due(app, make_client(app), now, WORKER_ID)
            result["slack"] = {"sent": slack.sent, "failed": slack.failed}
        return result
    if name == "expire":
        return {
            "expired": jobs.expire(app.uow, now, app.settings),
            "lapsed": jobs.lapse_held(app.uow, now),
        }
    if name == "remind":
        return {"reminded": jobs.remind(app.uow, now, app.settings)}
    if name == "nudge":
        return {"nudged": jobs.nudge(app.uow, now, app.settings)}
    if name == "poll":
        from dealreg.intake_command import intake_context
        from intake.pipeline import make_mailbox, run_once

        ctx = intake_context(app)
        mailbox = make_mailbox(ctx)
        try:
            report = run_once(ctx, mailbox)
        finally:
            mailbox.close()
        return {"seen": report.seen, "failed": report.failed, "handled": report.handled}
    raise ValueError(f"unknown job {name!r}")
