"""Alembic environment: the URL and connection come from the caller (`dealreg init`)."""

from __future__ import annotations

from typing import Any

from alembic import context

import core.models  # noqa: F401  (registers every table on Base.metadata)
from core.db import Base, UTCDateTime, make_engine
from core.schema import include_name

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj: Any, autogen_context: Any) -> Any:
    # The UTC decorator is Python-side only: the column is a plain timestamptz.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run_with(conn)
    engine.dispose()


def _run_with(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=render_item,
        compare_type=True,
        include_name=include_name,  # not SQLite's search index: no model describes it
    )
    with context.begin_transaction():
        context.run_migrations()


run()
