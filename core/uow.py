"""One session, one transaction: rolled back unless committed."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from sqlalchemy.orm import Session, SessionTransaction, sessionmaker


class UnitOfWork:
    """Use as `with uow_factory() as uow: ...; uow.commit()`."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._factory = session_factory
        self.session: Session

    def __enter__(self) -> UnitOfWork:
        self.session = self._factory()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back whatever was not committed and detaches the objects without
        # expiring them, so results stay readable after the unit of work ends.
        self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    @property
    def dialect(self) -> str:
        bind = self.session.get_bind()
        return bind.dialect.name


UowFactory = Callable[[], UnitOfWork]


class SavepointUnitOfWork(UnitOfWork):
    """A unit of work inside a caller's open transaction, for handling many events in one.

    `commit()` releases a savepoint into the caller's transaction and `rollback()` undoes
    only the work since the last commit; the caller commits or rolls back the whole.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
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
        if self._savepoint is not None and self._savepoint.is_active:
            self._savepoint.rollback()
        self._savepoint = None

    def commit(self) -> None:
        assert self._savepoint is not None, "use the unit of work as a context manager"
        self._savepoint.commit()
        self._savepoint = self.session.begin_nested()

    def rollback(self) -> None:
        assert self._savepoint is not None, "use the unit of work as a context manager"
        self._savepoint.rollback()
        self._savepoint = self.session.begin_nested()
