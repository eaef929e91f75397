"""The composition root: settings, engine and units of work for every entry point."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

from sqlalchemy import Engine

from core.config import Settings
from core.db import make_engine, make_session_factory
from core.uow import UnitOfWork


@dataclass
class App:
    """Everything an entry point needs, built once from the settings."""

    settings: Settings

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    @cached_property
    def session_factory(self):  # type: ignore[no-untyped-def]
        return make_session_factory(self.engine)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
