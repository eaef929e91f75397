"""Time to decision counts the desk's business hours only: a returned registration's wait
for the partner is left out, on SQLite and PostgreSQL, and the report ranks the hours in the
database.

Business hours Mon-Fri 09:00-17:30 London (GMT in November); registrations at Wed 25 Nov
2026 09:30 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.services.report import Window, report
from core.services.review import Rejection, answer, approve, reject, return_for_info
from tests.factories import ANN, NOW, REVIEWER, World, form, register


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def registered(world: World, domain: str) -> str:
    with world.uow() as uow:
        deal = register(uow, world.actor(ANN), form(domain=domain), now=NOW,
                        settings=world.settings).deal  # fmt: skip
        uow.commit()
        return deal.number


def test_a_return_stops_the_desks_clock_and_the_report_ranks_the_hours(world: World) -> None:
    desk, partner, s = world.actor(REVIEWER), world.actor(ANN), world.settings
    returned = registered(world, "returned.com")
    rejected = registered(world, "slow.com")
    quick = registered(world, "quick.com")
    registered(world, "waiting.com")  # not decided: no hours
    with world.uow() as uow:  # 2 h on Wednesday, then the partner's turn until Friday
        return_for_info(uow, desk, returned, question="Which site?", now=at(25, 11, 30),
                        settings=s)  # fmt: skip
    with world.uow() as uow:
        answer(uow, partner, returned, text="The Leeds office", now=at(27, 9), settings=s)
    with world.uow() as uow:  # 3 h on Friday: 5 h in all, not the 19.5 h since registering
        deal, _ = approve(uow, desk, returned, now=at(27, 12), settings=s)
        assert deal.review is not None and deal.review.decision_hours == pytest.approx(5)
    with world.uow() as uow:  # 8 h Wednesday + 8.5 h Thursday: past the 16 h service level
        reject(uow, desk, rejected, rejection=Rejection("duplicate"), now=at(26, 17, 30),
               settings=s)  # fmt: skip
    with world.uow() as uow:
        approve(uow, desk, quick, now=at(25, 10), settings=s)
    with world.uow() as uow:
        found = report(uow.session, Window(), None, 16.0, weekly_too=True)
    (tally,) = found.tallies
    hours = tally.hours
    assert (tally.registered, hours.decided, hours.within_sla) == (4, 3, 2)
    assert hours.median == pytest.approx(5)  # of 0.5, 5 and 16.5
    assert hours.p90 == pytest.approx(16.5)  # nearest rank: the 3rd of 3
    assert [(w.start.isoformat(), w.registered, w.decided) for w in found.weeks] == [
        ("2026-11-23", 4, 3)
    ]


def test_the_rank_arithmetic_matches_on_both_databases_for_even_and_odd_counts(
    world: World,
) -> None:
    """Six deals decided 0.5, 1, 1.5, 2, 2.5 and 3 business hours after registering: the
    median is the mean of the 3rd and 4th, the 90th percentile the 6th."""
    desk, s = world.actor(REVIEWER), world.settings
    numbers = [registered(world, f"d{i}.com") for i in range(6)]
    for i, number in enumerate(numbers):
        with world.uow() as uow:
            approve(uow, desk, number, now=at(25, 10 + i // 2, 30 * (i % 2)), settings=s)
    with world.uow() as uow:
        (tally,) = report(uow.session, Window(), "partner", 16.0).tallies
    assert tally.group == "Northwind IT"
    assert (tally.hours.median, tally.hours.p90) == (pytest.approx(1.75), pytest.approx(3))
