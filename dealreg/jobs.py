"""Scheduled jobs, runnable one at a time (`dealreg jobs run NAME`) or by the scheduler."""

from __future__ import annotations

import os
import socket
from typing import Any

from core import outbox
from core.mailer import make_mailer
from core.services import expire_lapsed
from dealreg.wiring import App

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


def run_job(app: App, name: str) -> dict[str, Any]:
    """Run the named job once, now."""
    now = app.now()
    if name == "outbox":
        report = outbox.deliver_due(
            app.uow, make_mailer(app.settings), now, WORKER_ID, settings=app.settings
        )
        return {"sent": report.sent, "failed": report.failed, "retrying": report.retrying}
    if name == "expire":
        return {"expired": expire_lapsed(app.uow, now, app.settings)}
    raise NotImplementedError(name)
