"""`dealreg worker` in a process of its own, for the tests that need the real thing: its
wake-ups, its delivery rounds, its METRICS_PORT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def dealreg_worker(
    database_url: str, tmp_path: Path, **settings: str | None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `dealreg worker` on `database_url` with the Maildir and outbox folder under
    `tmp_path`, and these settings (None: unset; IMAP_URL is unset unless given); stop it
    with SIGTERM (killed if it takes over 30 s). Its stderr goes to `worker.log`."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MAILDIR": str(tmp_path / "maildir"),
        "OUTBOX_DIR": str(tmp_path / "outbox"),
    }
    env.pop("IMAP_URL", None)
    for name, value in settings.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    proc = subprocess.Popen(
        [sys.executable, "-m", "dealreg", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "worker.log").open("wb"),
    )
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
