"""Create or upgrade the database schema with the Alembic migrations shipped in the package."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine

import migrations

_SCRIPTS = Path(migrations.__file__).parent


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the database to the latest revision (creates it when empty)."""
    _migrate(engine, command.upgrade, "head")


def downgrade(engine: Engine, revision: str) -> None:
    """Take the database back to `revision`, keeping its rows (tests of migrations)."""
    _migrate(engine, command.downgrade, revision)


def _migrate(engine: Engine, step: Callable[[Config, str], None], revision: str) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        # A batch migration on SQLite copies a table and drops the old one, which the rows
        # referring to it would refuse. SQLite's own recipe: foreign keys off (only possible
        # outside a transaction), change, check them all, commit, foreign keys on.
        if sqlite:
            _sqlite_pragma(conn, "foreign_keys = OFF")
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                step(cfg, revision)
                if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise RuntimeError("the migration left rows with broken foreign keys")
        finally:
            if sqlite:
                _sqlite_pragma(conn, "foreign_keys = ON")


def _sqlite_pragma(conn: Connection, pragma: str) -> None:
    # On the driver's connection: SQLAlchemy would begin a transaction first.
    conn.connection.driver_connection.execute(f"PRAGMA {pragma}")  # type: ignore[union-attr]


def current(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


# Not models: SQLite's FTS5 search index (migration 0006) and the shadow tables FTS5 keeps
# beside it (deal_search_data, _idx, _content, _docsize, _config).
SEARCH_INDEX = "deal_search"


def include_name(name: str | None, type_: str, parent_names: Mapping[str, str | None]) -> bool:
    """Whether a schema comparison (Alembic's `include_name`) looks at a database name."""
    if type_ != "table" or name is None:
        return True
    return name != SEARCH_INDEX and not name.startswith(f"{SEARCH_INDEX}_")
