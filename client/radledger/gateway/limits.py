"""Rate limits: token buckets per grantee key and per network address (answered with 429).

Any fresh key makes a valid token, so a limit per key alone does not stop one client; a limit
per address alone does not stop a key used from many. Both apply: the address is checked before
a token is verified (a signature recovery, and for a contract wallet a node call), the key after.
Behind a reverse proxy on this host the address is the proxy's ``X-Real-IP`` (trusted from a
loopback peer only).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from radledger.gateway.errors import RateLimited

LOOPBACK = ("127.0.0.1", "::1")


class RateLimiter:
    """A token bucket per key: `rate` requests a second sustained, `burst` at once."""

    def __init__(
        self, what: str, rate: float, burst: float, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self.what = what
        self.rate = rate
        self.burst = max(burst, 1.0)
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str, cost: float = 1.0) -> None:
        """Spend `cost` from `key`'s bucket, or raise RateLimited with the wait."""
        if not self.enabled:
            return
        now = self.clock()
        with self._lock:
            level, at = self._buckets.get(key, (self.burst, now))
            level = min(self.burst, level + (now - at) * self.rate)
            if level < cost:
                self._buckets[key] = (level, now)
                raise RateLimited(self.what, key, (cost - level) / self.rate)
            if len(self._buckets) >= self.max_keys and key not in self._buckets:
                full = [k for k, (lv, t) in self._buckets.items() if lv + (now - t) * self.rate >= self.burst]
                for k in full:
                    del self._buckets[k]
            self._buckets[key] = (level - cost, now)


def client_address(peer: str | None, real_ip: str | None) -> str:
    """The requester's address: the proxy's X-Real-IP when the peer is this host, else the peer."""
    if peer in LOOPBACK and real_ip:
        return real_ip.strip()
    return peer or "unknown"
