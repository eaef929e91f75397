"""Byte scans of a database's own files, for the privacy tests: an SQLite file with its
write-ahead log, or a PostgreSQL database as `pg_dump` writes it (binary values decoded)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import make_url

from tests.servers import PostgresServer

_BYTEA = re.compile(rb"\\\\x([0-9a-f]+)")  # a bytea value in COPY's text format


class Scan:
    """Everything the database holds, as bytes, read afresh at each `finds`."""

    def __init__(self, url: str, postgres: PostgresServer | None) -> None:
        self.url = make_url(url)
        self.postgres = postgres

    def data(self) -> bytes:
        if self.postgres is None:
            path = Path(self.url.database or "")
            files = [path, path.with_name(path.name + "-wal")]
            return b"".join(f.read_bytes() for f in files if f.exists())
        dump = subprocess.run(
            [str(self.postgres.bindir / "pg_dump"), "-h", "127.0.0.1",
             "-p", str(self.postgres.port), "-U", "postgres", str(self.url.database)],
            capture_output=True, check=True, timeout=60,
        ).stdout  # fmt: skip
        return dump + b"".join(bytes.fromhex(m.decode()) for m in _BYTEA.findall(dump))

    def finds(self, text: str) -> bool:
        """Whether `text` is anywhere in the database's bytes, whatever its case."""
        return text.lower().encode() in self.data().lower()


def scanner(db_url: str, request: pytest.FixtureRequest) -> Scan:
    """A scan of the test's database (on PostgreSQL, through the session's cluster)."""
    postgres = None
    if db_url.startswith("postgresql"):
        postgres = request.getfixturevalue("postgres")
    return Scan(db_url, postgres)
