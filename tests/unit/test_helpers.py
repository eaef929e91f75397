"""Small pure rules, each on its own: reject reasons, retry waits, permanent SMTP failures,
the new text of a reply, and the unit of work's rollback."""

from __future__ import annotations

import random
import smtplib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.db import make_engine, make_session_factory, table_of
from core.delivery import _permanent, backoff
from core.errors import Invalid
from core.models import Tier
from core.schema import upgrade
from core.services.review import reason_code
from core.uow import SavepointUnitOfWork, UnitOfWork
from intake.body import reply_text
from intake.messages import load

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "code", "note"),
    [
        ("duplicate", "duplicate", None),
        ("Existing-Customer", "existing_customer", None),
        ("not qualified", "not_qualified", None),
        ("Budget went elsewhere", "other", "Budget went elsewhere"),
    ],
)
def test_a_typed_reason_maps_to_its_code_or_to_other_with_a_note(
    typed: str, code: str, note: str | None
) -> None:
    assert reason_code(typed) == (code, note)


def test_an_empty_reason_is_refused() -> None:
    with pytest.raises(Invalid):
        reason_code("  ")


def test_retry_waits_double_from_30_seconds_up_to_an_hour_with_a_little_jitter() -> None:
    rng = random.Random(1)
    waits = [backoff(n, rng) for n in (1, 2, 3, 20)]
    assert timedelta(seconds=30) <= waits[0] <= timedelta(seconds=33)
    assert timedelta(seconds=60) <= waits[1] <= timedelta(seconds=66)
    assert timedelta(seconds=120) <= waits[2] <= timedelta(seconds=132)
    assert timedelta(hours=1) <= waits[3] <= timedelta(hours=1.1)


def test_only_refusals_for_good_are_permanent() -> None:
    assert _permanent(smtplib.SMTPRecipientsRefused({"a@x": (550, b"no such user")}))
    assert not _permanent(smtplib.SMTPRecipientsRefused({"a@x": (450, b"try later")}))
    assert _permanent(smtplib.SMTPDataError(554, b"rejected"))
    assert not _permanent(smtplib.SMTPDataError(451, b"later"))
    assert not _permanent(ConnectionRefusedError())


def test_the_new_text_of_a_reply_stops_at_the_quoted_original() -> None:
    for quote in ("On Wed, Ann wrote:", "> Which tenant?", "-----Original Message-----", "--"):
        raw = f"Subject: Re: x\n\nThe EU tenant.\n250 seats.\n\n{quote}\nold text\n".encode()
        assert reply_text(load(raw)) == "The EU tenant.\n250 seats."
    assert reply_text(load(b"Subject: x\n\n> only a quote\n")) == "(no text)"


def test_a_unit_of_work_rolls_back_unless_committed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'u.db'}")
    upgrade(engine)
    factory = make_session_factory(engine)
    with UnitOfWork(factory) as uow:
        uow.session.add(Tier(name="left", discount_pct=5))
    with UnitOfWork(factory) as uow:
        uow.session.add(Tier(name="kept", discount_pct=5))
        uow.commit()
    with UnitOfWork(factory) as uow:
        assert list(uow.session.scalars(select(Tier.name))) == ["kept"]
    engine.dispose()


def test_rows_added_to_a_unit_of_work_are_written_by_its_commit_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    upgrade(engine)
    factory = make_session_factory(engine)
    tiers = table_of(Tier)

    def tier(name: str) -> dict[str, object]:
        return {"name": name, "discount_pct": 5, "reward_margin_pct": None}

    with UnitOfWork(factory) as uow:
        uow.add(tiers, tier("dropped at the end"))
    with UnitOfWork(factory) as uow:
        uow.add(tiers, tier("rolled back"))
        uow.rollback()
        uow.add(tiers, tier("one"))
        uow.add(tiers, tier("two"))
        assert [r["name"] for r in uow.added(tiers)] == ["one", "two"]
        with SavepointUnitOfWork(uow.session) as inner:
            inner.add(tiers, tier("savepoint rolled back"))
        with SavepointUnitOfWork(uow.session) as inner:
            inner.add(tiers, tier("savepoint kept"))
            inner.commit()
        uow.commit()
        assert uow.added(tiers) == []
    with UnitOfWork(factory) as uow:
        names = list(uow.session.scalars(select(Tier.name).order_by(Tier.id)))
    assert names == ["savepoint kept", "one", "two"]
    engine.dispose()


def test_only_errors_from_decoding_the_message_are_the_messages_problem() -> None:
    from email.header import decode_header

    from intake.parser import decoding_problem

    try:
        decode_header("=?utf-8?b?" + "!" * 3 + "?=")  # not base64
        b"\xff".decode("utf-8")
    except Exception as exc:
        assert decoding_problem(exc)
    try:
        len(None)  # type: ignore[arg-type]
    except TypeError as exc:
        assert not decoding_problem(exc)
