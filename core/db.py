"""The declarative base, the column type map and the engine/session factory."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, cast

from sqlalchemy import (
    JSON,
    DateTime,
    Engine,
    Numeric,
    String,
    Table,
    TypeDecorator,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.orm import DeclarativeBase, make_transient_to_detached, mapped_column, sessionmaker
from sqlalchemy.orm import Session as _Session


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC one is required")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


intpk = Annotated[int, mapped_column(primary_key=True)]
str40 = Annotated[str, mapped_column(String(40))]
str200 = Annotated[str, mapped_column(String(200))]
str320 = Annotated[str, mapped_column(String(320))]
money = Annotated[Decimal, mapped_column(Numeric(18, 4))]
pct = Annotated[Decimal, mapped_column(Numeric(7, 4))]
utc = Annotated[datetime, mapped_column(UTCDateTime())]


class Base(DeclarativeBase):
    type_annotation_map = {
        datetime: UTCDateTime(),
        Decimal: Numeric(18, 4),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
        str: String(500),
    }


READING = "dealreg_reading"  # the execution option of transactions that only read


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy own transactions: pysqlite's implicit BEGIN defers locking.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            # Large sorts (the report's GROUP BY over every deal) on the spare cores: a
            # quarter less time at 1,000,000 deals on two cores; small ones are unaffected.
            cur.execute(f"PRAGMA threads={min(os.cpu_count() or 1, 4)}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock up front, so concurrent writers queue
            # on busy_timeout instead of failing with "database is locked" mid-way.
            # A reading transaction takes no lock: under WAL it reads a snapshot while
            # a writer works, instead of queueing behind the intake's batches.
            reading = conn.get_execution_options().get(READING)
            conn.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


def make_session_factory(engine: Engine, *, reading: bool = False) -> sessionmaker[_Session]:
    """Sessions on `engine`; `reading` ones only read (on SQLite they take no write lock)."""
    bind = engine.execution_options(**{READING: True}) if reading else engine
    return sessionmaker(bind=bind, expire_on_commit=False)


def table_of(model: type[Base]) -> Table:
    """A mapped class's table, for Core statements (no unit of work, no ORM bookkeeping)."""
    return cast(Table, model.__table__)


def reserve_ids(session: _Session, model: type[Base], n: int) -> list[int]:
    """Reserve the next `n` ids of `model`'s table, ascending, for rows not yet inserted.

    A row can then be written with its id and what derives from it (a deal's number) in
    one INSERT. On PostgreSQL the ids come from the column's sequence (serial or
    identity: `pg_get_serial_sequence` finds both): `nextval` never gives an id twice,
    even to concurrent transactions, and an id a rolled-back transaction took is skipped.
    On SQLite they follow the table's largest id (and, for an AUTOINCREMENT table, the
    largest it ever had, kept in sqlite_sequence): safe because every writer holds the
    database's write lock from its BEGIN IMMEDIATE (`make_engine`) to its end, so no
    other transaction can insert in between; a rolled-back transaction's ids are given
    again, as SQLite itself would. The ORM query autoflushes rows of the table pending
    in `session`, so they count.
    """
    if n <= 0:
        return []
    table = table_of(model)
    (pk,) = table.primary_key.columns
    if session.get_bind().dialect.name == "postgresql":
        stmt = text(
            "SELECT nextval(pg_get_serial_sequence(:table, :column)) FROM generate_series(1, :n)"
        )
        params = {"table": table.name, "column": pk.name, "n": n}
        # Concurrent transactions can interleave: the ids are unique, not always consecutive.
        return sorted(session.scalars(stmt, params))
    last = session.scalar(select(func.max(getattr(model, pk.key)))) or 0
    if table.dialect_options["sqlite"]["autoincrement"]:
        seq = text("SELECT seq FROM sqlite_sequence WHERE name = :table")
        last = max(last, session.scalar(seq, {"table": table.name}) or 0)
    return list(range(last + 1, last + 1 + n))


def insert_loaded(session: _Session, objs: Sequence[Base]) -> None:
    """INSERT new objects' rows and attach the objects to `session` as if loaded.

    For the hot write paths: a unit-of-work flush sorts every mapper's dependencies each
    time and costs more than the rest of a registration together, where one INSERT of all
    the rows does the same work. The objects, all of one class, must have every column set
    (defaults are not applied) and their many-to-one links set both as objects and as ids.
    Either all of them have their id set (reserved with `reserve_ids`: then the INSERT
    needs no RETURNING, which SQLite can only keep in order one row per statement) or none
    has, and the database gives them theirs.
    """
    if not objs:
        return
    table = table_of(type(objs[0]))
    (pk,) = table.primary_key.columns
    ids = [getattr(o, pk.key) for o in objs]
    if None not in ids:
        session.execute(
            table.insert(), [{c.key: getattr(o, c.key) for c in table.columns} for o in objs]
        )
    elif ids.count(None) == len(ids):
        rows = [{c.key: getattr(o, c.key) for c in table.columns if c is not pk} for o in objs]
        stmt = table.insert().returning(pk, sort_by_parameter_order=True)
        ids = list(session.execute(stmt, rows).scalars())
    else:
        raise ValueError("either every object has its id set or none has")
    for obj, new_id in zip(objs, ids, strict=True):
        setattr(obj, pk.key, new_id)
        make_transient_to_detached(obj)
        # An object left by a rolled-back savepoint may still hold this id (SQLite reuses
        # the ids of rows rolled back): the database has just given the id to this row.
        stale = session.identity_map.get(_Session.identity_key(type(obj), new_id))
        if stale is not None:
            session.expunge(stale)
        session.add(obj)
