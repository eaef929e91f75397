"""The memory of Slack requests already taken in: each key once per time-to-live, bounded."""

from __future__ import annotations

import threading

from bot.replay import SeenRequests


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_new_once_and_new_again_after_it_expires() -> None:
    clock = Clock()
    seen = SeenRequests(ttl=60, capacity=10, clock=clock)
    assert seen.first("v0=abc")
    assert not seen.first("v0=abc")
    assert seen.first("v0=abd")
    clock.now += 59.9
    assert not seen.first("v0=abc")
    clock.now += 0.2
    assert seen.first("v0=abc")


def test_expired_keys_are_dropped_without_being_asked_for() -> None:
    clock = Clock()
    seen = SeenRequests(ttl=60, capacity=100, clock=clock)
    for n in range(30):
        seen.first(f"early-{n}")
    clock.now += 30
    for n in range(20):
        seen.first(f"late-{n}")
    assert len(seen) == 50
    clock.now += 31
    assert len(seen) == 20
    clock.now += 30
    assert len(seen) == 0


def test_a_full_memory_forgets_its_oldest_keys_and_never_grows_past_its_capacity() -> None:
    clock = Clock()
    seen = SeenRequests(ttl=600, capacity=100, clock=clock)
    for n in range(250):
        clock.now += 0.01
        assert seen.first(f"key-{n}")
    assert len(seen) == 100
    assert not seen.first("key-249")  # the newest are still known
    assert not seen.first("key-150")
    assert seen.first("key-149")  # the oldest were forgotten to make room


def test_threads_racing_on_one_key_see_it_new_exactly_once() -> None:
    seen = SeenRequests(ttl=60, capacity=1000)
    results: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def race() -> None:
        start.wait()
        for n in range(200):
            new = seen.first(f"key-{n}")
            with lock:
                results.append(new)

    threads = [threading.Thread(target=race) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 16 * 200
    assert sum(results) == 200
