"""The composition root: settings, engine, units of work and logs for every entry point."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings
from core.db import make_engine, make_session_factory
from core.ports import Runtime
from core.uow import UnitOfWork


@dataclass
class App:
    """Everything an entry point needs, built once from the settings."""

    settings: Settings

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    @cached_property
    def session_factory(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine)

    @cached_property
    def read_session_factory(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine, reading=True)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)

    def read_uow(self) -> UnitOfWork:
        """A unit of work that only reads (it never waits for SQLite's write lock)."""
        return UnitOfWork(self.read_session_factory, reading=True)

    def background_uow(self) -> UnitOfWork:
        """A unit of work whose mail waits behind people's (the intake's batches)."""
        return UnitOfWork(self.session_factory, background=True)

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    def close(self) -> None:
        """Close the database's connections, when any were opened."""
        engine = self.__dict__.get("engine")
        if engine is not None:
            engine.dispose()

    @cached_property
    def runtime(self) -> Runtime:
        """What the Slack bot and the email intake are handed: settings, units of work, clock."""
        return Runtime(settings=self.settings, uow=self.uow, now=self.now, read=self.read_uow)


class KeyValueFormatter(logging.Formatter):
    """One line per record, `key=value` pairs first (deal=DR-… where a line concerns one)."""

    def format(self, record: logging.LogRecord) -> str:
        deal = getattr(record, "deal", None)
        prefix = (
            f"ts={self.formatTime(record, '%Y-%m-%dT%H:%M:%S')} level={record.levelname} "
            f"logger={record.name}"
        )
        if deal:
            prefix += f" deal={deal}"
        line = f"{prefix} msg={record.getMessage()!r}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(level: str = "INFO") -> None:
    """Structured one-line logs on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(KeyValueFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
