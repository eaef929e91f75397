"""A memory of Slack requests already taken in, so a replay or a retry is not acted on twice.

Slack's signature holds for five minutes either side of its timestamp, and Slack retries an
event up to three times over about five minutes; a key is kept a little longer than both.
The memory lives in one process: behind a load balancer spreading requests over several bot
processes, a replay that lands on another process is not recognised there.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

log = logging.getLogger(__name__)

# Ten minutes of signature validity (five either side of the timestamp), and a minute spare.
TTL_S = 11 * 60.0
# Two keys a request: 75 requests a second, sustained for TTL_S, in about 20 MB.
CAPACITY = 100_000


class SeenRequests:
    """Keys seen in the last `ttl` seconds, at most `capacity` of them; thread-safe."""

    def __init__(
        self,
        ttl: float = TTL_S,
        capacity: int = CAPACITY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._capacity = capacity
        self._clock = clock
        # Every key lives the same `ttl`, so insertion order is expiry order: the oldest first.
        self._expiry: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()

    def first(self, key: str) -> bool:
        """Remember `key`; say whether it is new, that is not seen within the last `ttl`."""
        digest = hashlib.blake2b(key.encode(), digest_size=16).digest()  # small, fixed size
        with self._lock:
            now = self._clock()
            self._expire(now)
            if digest in self._expiry:
                return False
            self._expiry[digest] = now + self._ttl
            if len(self._expiry) > self._capacity:
                # Only signed requests reach here, so a full memory is real traffic: keep
                # serving, and forget the oldest key rather than refuse a new request.
                self._expiry.popitem(last=False)
                log.warning("slack replay memory full (%s keys); forgot the oldest", self._capacity)
            return True

    def __len__(self) -> int:
        with self._lock:
            self._expire(self._clock())
            return len(self._expiry)

    def _expire(self, now: float) -> None:
        while self._expiry:
            oldest = next(iter(self._expiry.values()))
            if oldest > now:
                return
            self._expiry.popitem(last=False)
