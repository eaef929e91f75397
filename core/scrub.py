"""Leave no trace of erased or dropped values in the database's own files.

SQLite: the changes are made with `secure_delete` on (freed space is zeroed); then VACUUM
rewrites the file, and a checkpoint copies the write-ahead log into it and truncates the
log, which held the old pages. PostgreSQL: an UPDATE writes a new row version and leaves the
old one dead on its page, where `pg_dump` (live rows only) never reads it; VACUUM of the
touched tables marks that space free to be written over. VACUUM FULL would rewrite the files
at once, but locks each table against every reader and writer meanwhile, so it is left to
the operator (docs/privacy.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, text


@dataclass(frozen=True)
class Scrubbed:
    """What the scrub did: the file rewritten, and the log emptied into it."""

    vacuumed: bool
    log_emptied: bool


def scrub(engine: Engine, tables: Sequence[str]) -> Scrubbed:
    """Rewrite the database's files so that no old version of `tables`' rows is left."""
    if engine.dialect.name == "sqlite":
        return _sqlite(engine)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in tables:
            quoted = engine.dialect.identifier_preparer.quote(table)
            conn.execute(text(f"VACUUM {quoted}"))
    return Scrubbed(vacuumed=True, log_emptied=True)


def _sqlite(engine: Engine) -> Scrubbed:
    raw = engine.raw_connection()
    try:
        # The connection runs without pysqlite's implicit transactions (core.db), so VACUUM
        # and the checkpoint run on their own, as they must.
        cur = raw.cursor()
        cur.execute("PRAGMA secure_delete=ON")
        cur.execute("VACUUM")
        # Waits (the connection's busy timeout) for readers of older snapshots to finish.
        busy, _log, _copied = cur.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        cur.close()
    finally:
        raw.close()
    return Scrubbed(vacuumed=True, log_emptied=not busy)
