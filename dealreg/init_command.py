"""`dealreg init`: create or migrate the database, the one command that loads Alembic."""

from __future__ import annotations

import argparse
from pathlib import Path

from core import schema, webhook_delivery
from dealreg.wiring import App


def init(app: App, args: argparse.Namespace) -> int:
    """Create or migrate the database (and a SQLite file's directory)."""
    if app.settings.database_url.startswith("sqlite:///"):
        path = Path(app.settings.database_url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
    schema.upgrade(app.engine)
    # The endpoints of WEBHOOK_URLS take events from now on, whichever process makes them
    # (the worker, which sends, turns off those the setting left).
    webhook_delivery.sync(app.uow, app.settings.webhook_urls, app.now(), remove=False)
    print(f"database ready at revision {schema.current(app.engine)}")
    return 0
