"""One session, one transaction: rolled back unless committed.

Rows that nothing reads back before the commit (the audit trail, the outbox) are collected
with `add` and written by `commit`, all rows of a table in one statement: a batch of
registrations writes its events in one INSERT, and a unit of work that is rolled back
leaves nothing to undo. Rows made from the work's final state (a webhook carries the deal
as committed) are made by a step run just before that write (`before_write`).
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from core import wake


class UnitOfWork:
    """Use as `with uow_factory() as uow: ...; uow.commit()`.

    A `background` unit of work does work no one is waiting on at that moment (a batch of
    mail): the messages it queues are sent after those a person's action queued. A
    `reading` one only reads (a search, a page): it never commits, and its factory's
    sessions need not take the write lock.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        background: bool = False,
        reading: bool = False,
    ) -> None:
        self._factory = session_factory
        self.session: Session
        self._rows: dict[Table, list[dict[str, Any]]] = {}
        self._steps: dict[str, Step] = {}
        self._background = background
        self._reading = reading

    def __enter__(self) -> UnitOfWork:
        self.session = self._factory()
        self.session.info[_BACKGROUND] = self._background
        self._rows, self._steps = {}, {}
        return self

    @property
    def background(self) -> bool:
        """Whether this work's messages wait behind those of a person's action."""
        return bool(self.session.info.get(_BACKGROUND))

    def add(self, table: Table, values: dict[str, Any]) -> None:
        """Collect a row for `table`, to be INSERTed by `commit` (with every column set)."""
        self._rows.setdefault(table, []).append(values)

    def added(self, table: Table) -> list[dict[str, Any]]:
        """The rows collected for `table` and not written yet."""
        return self._rows.get(table, [])

    def before_write(self, key: str, step: Step) -> None:
        """Run `step(self)` once (per `key`) just before the collected rows are written."""
        self._steps.setdefault(key, step)

    def write(self) -> None:
        """INSERT the collected rows now, in the order their tables were first added to."""
        steps, self._steps = self._steps, {}
        for step in steps.values():
            step(self)
        rows, self._rows = self._rows, {}
        for table, values in rows.items():
            self.session.execute(table.insert(), values)
        if rows:
            wake.written(self.session, {table.name for table in rows})

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back whatever was not committed and detaches the objects without
        # expiring them, so results stay readable after the unit of work ends.
        self._rows, self._steps = {}, {}
        wake.rolled_back(self.session)
        self.session.close()

    def commit(self) -> None:
        if self._reading:
            raise RuntimeError("a reading unit of work does not commit")
        self.write()
        self.session.commit()
        wake.committed(self.session)  # the outbox's deliverers, if it queued mail

    def rollback(self) -> None:
        self._rows, self._steps = {}, {}
        wake.rolled_back(self.session)
        self.session.rollback()

    @property
    def dialect(self) -> str:
        bind = self.session.get_bind()
        return bind.dialect.name


UowFactory = Callable[[], UnitOfWork]
Step = Callable[[UnitOfWork], None]
_BACKGROUND = "dealreg.background"


class SavepointUnitOfWork(UnitOfWork):
    """A unit of work inside a caller's open transaction, for handling many events in one.

    `commit()` releases a savepoint into the caller's transaction and `rollback()` undoes
    only the work since the last commit; the caller commits or rolls back the whole.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._rows, self._steps = {}, {}
        self._savepoint: SessionTransaction | None = None

    def __enter__(self) -> SavepointUnitOfWork:
        self._savepoint = self.session.begin_nested()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Like a unit of work that ends uncommitted: what came after the last commit goes.
        self._rows, self._steps = {}, {}
        if self._savepoint is not None and self._savepoint.is_active:
            self._savepoint.rollback()
        self._savepoint = None

    def commit(self) -> None:
        assert self._savepoint is not None, "use the unit of work as a context manager"
        self.write()
        self._savepoint.commit()
        self._savepoint = self.session.begin_nested()

    def rollback(self) -> None:
        assert self._savepoint is not None, "use the unit of work as a context manager"
        self._rows, self._steps = {}, {}
        self._savepoint.rollback()
        self._savepoint = self.session.begin_nested()
