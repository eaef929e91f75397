"""Changes that arrive at once: an amendment and an approval, two amendments, a withdrawal and
an approval. One wins cleanly, the other gets a clear error or applies after it; no update is
lost. Both databases; each round starts the two together from a barrier."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from core.errors import DealError, NotAllowed
from core.services.withdraw import Withdrawal
from tests import factories, services
from tests.factories import ANN, NOW, REVIEWER, World, form

ROUNDS = 4


def register(world: World, domain: str) -> str:
    with world.uow() as uow:
        done = factories.register(
            uow, world.actor(ANN), form(domain=domain), now=NOW, settings=world.settings
        )
        return done.deal.number


def together(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released at once; each result or the DealError it raised."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[index] = call()
        except DealError as refused:
            results[index] = refused

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def view(world: World, number: str) -> dict[str, Any]:
    with world.uow() as uow:
        actor = world.actor(REVIEWER)
        return services.deal_view(services.show(uow.session, actor, number), actor)


def approve(world: World, number: str) -> Callable[[], Any]:
    def call() -> Any:
        with world.uow() as uow:
            return services.approve(
                uow, world.actor(REVIEWER), number, now=NOW, settings=world.settings
            )

    return call


def amend(world: World, number: str, users: int) -> Callable[[], Any]:
    def call() -> Any:
        with world.uow() as uow:
            return services.amend(
                uow, world.actor(ANN), number, changes={"number_of_users": users}, now=NOW,
                settings=world.settings,
            )  # fmt: skip

    return call


def withdraw(world: World, number: str) -> Callable[[], Any]:
    def call() -> Any:
        with world.uow() as uow:
            return services.withdraw(
                uow, world.actor(ANN), number, Withdrawal("no_budget"), now=NOW,
                settings=world.settings,
            )  # fmt: skip

    return call


def test_an_amendment_and_an_approval_at_once_leave_the_quote_true_to_the_deal(
    world: World,
) -> None:
    for n in range(ROUNDS):
        number = register(world, f"race-a{n}.com")
        results = together(amend(world, number, 300), approve(world, number))
        assert not any(isinstance(r, DealError) for r in results), results
        shown = view(world, number)
        [quote] = shown["quotes"]
        if shown["amendment"] is None:  # the amendment went first: approved as amended
            assert shown["number_of_users"] == quote["number_of_users"] == 300
        else:  # the approval went first: the claim change waits for the deal desk
            assert shown["amendment"] == {"number_of_users": [250, 300]}
            assert shown["number_of_users"] == quote["number_of_users"] == 250
        assert shown["stage"] == "approved"


def test_two_amendment_requests_at_once_one_is_pending_and_the_other_refused(
    world: World,
) -> None:
    for n in range(ROUNDS):
        number = register(world, f"race-b{n}.com")
        approve(world, number)()
        results = together(amend(world, number, 300), amend(world, number, 400))
        refused = [r for r in results if isinstance(r, NotAllowed)]
        done = [r for r in results if isinstance(r, services.Amended)]
        assert len(refused) == 1 and len(done) == 1, results
        assert "already has an amendment request" in str(refused[0])
        assert view(world, number)["amendment"] == done[0].requested
        history = [e["action"] for e in view(world, number)["history"]]
        assert history.count("amend_requested") == 1


def test_a_withdrawal_and_an_approval_at_once_end_withdrawn_with_no_quote_standing(
    world: World,
) -> None:
    for n in range(ROUNDS):
        number = register(world, f"race-c{n}.com")
        results = together(withdraw(world, number), approve(world, number))
        shown = view(world, number)
        assert shown["stage"] == "withdrawn"
        assert all(q["status"] == "void" for q in shown["quotes"])
        approved = results[1]
        if isinstance(approved, DealError):  # the withdrawal went first
            assert isinstance(approved, NotAllowed) and "withdrawn" in str(approved)
            assert shown["quotes"] == []
        else:
            assert len(shown["quotes"]) == 1
