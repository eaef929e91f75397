"""A deal's number is its id, written with the row in one INSERT from an id reserved
beforehand: no UPDATE after it, no deal ever without a number. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, Identity, MetaData, delete, event, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from core import schema
from core.db import Base, insert_loaded, make_engine, make_session_factory, reserve_ids
from core.models import Deal, Quote, deal_number
from core.services.actors import Actor
from core.services.register import Request, validate
from core.uow import SavepointUnitOfWork, UnitOfWork
from tests import factories, services
from tests.factories import ANN, BOB, NOW, REVIEWER, World, form

US = {  # Bob's partner is in the US
    "contact_phone": "+1 415 555 0100",
    "partner_sales_lead_name": "Bob Smith",
    "partner_sales_lead_email": "bob@contoso-partners.example",
}


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements sent to `engine` inside the block."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def register(world: World, uow: UnitOfWork, actor: Actor, domain: str) -> Deal:
    done = factories.register(uow, actor, form(domain=domain), now=NOW, settings=world.settings)
    return done.deal


def register_batch(world: World, raws: list[tuple[str, dict[str, Any]]]) -> list[Deal]:
    actors = [world.actor(email) for email, _raw in raws]
    with world.uow() as uow:
        requests = [
            Request(actor, validate(uow.session, actor, raw, NOW))
            for actor, (_email, raw) in zip(actors, raws, strict=True)
        ]
        done = services.register(uow, requests, now=NOW, settings=world.settings)
    return [r.deal for r in done]


def stored(world: World) -> list[tuple[int, str, int | None]]:
    with world.uow() as uow:
        rows = uow.session.execute(
            select(Deal.id, Deal.number, Deal.conflict_with_id).order_by(Deal.id)
        )
        return [(i, n, c) for i, n, c in rows]


def test_a_batch_of_registrations_gets_consecutive_numbers_from_their_ids(world: World) -> None:
    ann = world.actor(ANN)
    with world.uow() as uow:
        first = register(world, uow, ann, "first.com")
    with statements(world.engine) as sent:
        deals = register_batch(world, [(ANN, form(domain=f"batch{n}.com")) for n in range(5)])
    ids = [d.id for d in deals]
    assert ids == list(range(first.id + 1, first.id + 6))
    assert [d.number for d in deals] == [deal_number(i) for i in ids]
    assert stored(world) == [(i, deal_number(i), None) for i in [first.id, *ids]]
    inserts = [s for s in sent if s.startswith("INSERT INTO deals ")]
    assert len(inserts) == 1 and "number" in inserts[0]
    assert not [s for s in sent if s.startswith("UPDATE deals ")]


def test_a_rival_new_in_the_same_batch_is_written_with_its_conflict(world: World) -> None:
    with statements(world.engine) as sent:
        ann, bob = register_batch(
            world, [(ANN, form(domain="harbour.co.uk")), (BOB, form(domain="harbour.co.uk", **US))]
        )
    assert (ann.conflict_with_id, bob.conflict_with_id) == (None, ann.id)
    assert stored(world) == [
        (ann.id, deal_number(ann.id), None),
        (bob.id, deal_number(bob.id), ann.id),
    ]
    assert not [s for s in sent if s.startswith("UPDATE deals ")]


def test_a_rolled_back_registration_leaves_the_next_numbered_by_its_id(world: World) -> None:
    ann = world.actor(ANN)  # before the transactions below take SQLite's write lock
    with world.uow() as outer:  # one message's savepoint of an intake batch is abandoned
        session = outer.session
        undone = session.begin_nested()
        with SavepointUnitOfWork(session) as uow:
            lost = register(world, uow, ann, "lost.com")
        undone.rollback()
        with SavepointUnitOfWork(session) as uow:
            kept = register(world, uow, ann, "kept.com")
        outer.commit()
    with world.uow() as outer, SavepointUnitOfWork(outer.session) as uow:
        gone = register(world, uow, ann, "gone.com")  # the whole transaction is not committed
    with world.uow() as uow:
        last = register(world, uow, ann, "last.com")
    # SQLite gives a rolled-back id again; PostgreSQL's sequence skips it. Either way the
    # numbers follow the ids of the rows that stayed.
    assert kept.id >= lost.id and gone.id > kept.id and last.id >= gone.id
    assert stored(world) == [(kept.id, kept.number, None), (last.id, last.number, None)]
    assert (kept.number, last.number) == (deal_number(kept.id), deal_number(last.id))


def test_the_schema_refuses_a_deal_or_quote_without_a_number(world: World) -> None:
    ann = world.actor(ANN)
    with world.uow() as uow:
        number = register(world, uow, ann, "example.co.uk").number
    reviewer = world.actor(REVIEWER)
    with world.uow() as uow:
        services.approve(uow, reviewer, number, now=NOW, settings=world.settings)
    for model in (Deal, Quote):
        with world.uow() as uow, pytest.raises(IntegrityError):
            uow.session.execute(update(model).values(number=None))
    with world.uow() as uow:
        quote = uow.session.scalars(select(Quote)).one()
        assert quote.number == f"Q-{quote.id:06d}"


def test_the_migration_numbers_the_deals_and_quotes_left_without_one(
    db_url: str, tmp_path: Path
) -> None:
    world = World(db_url, tmp_path)
    try:
        ann, reviewer = world.actor(ANN), world.actor(REVIEWER)
        with world.uow() as uow:
            number = register(world, uow, ann, "example.co.uk").number
        with world.uow() as uow:
            services.approve(uow, reviewer, number, now=NOW, settings=world.settings)
        schema.downgrade(world.engine, "0004")  # back to before numbers were required
        with world.engine.begin() as conn:
            conn.execute(update(Deal).values(number=None))
            conn.execute(update(Quote).values(number=None))
        # On SQLite the tables are rebuilt under the events, quotes and lines that refer to them.
        schema.upgrade(world.engine)
        with world.uow() as uow:
            deal = uow.session.scalars(select(Deal)).one()
            assert deal.number == deal_number(deal.id)
            assert [q.number for q in deal.quotes] == [f"Q-{q.id:06d}" for q in deal.quotes]
            assert len(deal.quotes) == 1 and deal.events
        if world.engine.dialect.name == "sqlite":
            with world.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        world.close()


# -- reserving ids -------------------------------------------------------------------------


class _Scratch(Base):
    """Tables of this file only: not part of the product's schema."""

    __abstract__ = True
    metadata = MetaData()


class Ticket(_Scratch):
    # AUTOINCREMENT on SQLite and an identity column on PostgreSQL: ids are never given
    # twice, even after the row with the largest one is deleted.
    __tablename__ = "tickets"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    label: Mapped[str]


def test_reserved_ids_follow_every_id_the_table_ever_gave(db_url: str) -> None:
    engine = make_engine(db_url)
    Ticket.metadata.create_all(engine)
    try:
        with UnitOfWork(make_session_factory(engine)) as uow:
            session = uow.session
            session.add_all([Ticket(label=str(n)) for n in range(3)])
            session.flush()
            session.execute(delete(Ticket).where(Ticket.id == 3))
            reserved = reserve_ids(session, Ticket, 2)
            assert reserved == [4, 5]
            insert_loaded(session, [Ticket(id=i, label="reserved") for i in reserved])
            later = Ticket(label="given by the database")
            session.add(later)
            session.flush()
            assert later.id == 6
            assert reserve_ids(session, Ticket, 1) == [7]
            assert reserve_ids(session, Ticket, 0) == []
    finally:
        engine.dispose()
