"""Per-key request limits (a sliding window of one minute), for patients and for client addresses."""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable

from radledger.portal.errors import RateLimited


class RateLimiter:
    """At most `per_minute` requests for one key in any 60 seconds; :meth:`hit` raises RateLimited beyond."""

    def __init__(self, kind: str, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.kind = kind
        self.per_minute = per_minute
        self.window = 60.0
        self.clock = clock
        self._hits: defaultdict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, key: str) -> None:
        now = self.clock()
        with self._lock:
            hits = self._hits[key]
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.per_minute:
                retry = max(1, math.ceil(hits[0] + self.window - now))
                raise RateLimited(self.kind, key, retry)
            hits.append(now)
            if len(self._hits) > 10_000:  # forget idle keys now and then
                for stale in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]:
                    del self._hits[stale]
