"""Units of work that only read: they see the last commit while a writer works, at once."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select, update

from core.models import Deal
from dealreg.wiring import App
from tests.factories import ANN, NOW, World, form, register


def app_on(world: World) -> App:
    app = App(world.settings)
    app.__dict__["engine"] = world.engine
    return app


def names(app: App) -> list[str]:
    with app.read_uow() as uow:
        return list(uow.session.scalars(select(Deal.company_name)))


def test_a_read_does_not_wait_for_a_writer_and_sees_only_what_is_committed(world: World) -> None:
    app = app_on(world)
    with app.uow() as uow:
        register(
            uow, world.actor(ANN), form(company_name="Before"), now=NOW, settings=world.settings
        )
    writing, done = threading.Event(), threading.Event()

    def writer() -> None:  # holds its transaction (SQLite: the write lock) for a while
        with app.uow() as uow:
            uow.session.execute(update(Deal).values(company_name="After"))
            writing.set()
            done.wait(10)
            uow.commit()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert writing.wait(10)
        started = time.monotonic()
        assert names(app) == ["Before"]  # the change is not committed yet
        assert time.monotonic() - started < 1.0  # and the read did not queue behind it
    finally:
        done.set()
        thread.join(10)
    assert names(app) == ["After"]


def test_a_reading_unit_of_work_refuses_to_commit(world: World) -> None:
    with app_on(world).read_uow() as uow, pytest.raises(RuntimeError, match="does not commit"):
        uow.commit()
