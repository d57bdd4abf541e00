"""Rate limits of the public routes: token buckets per source address and one for all.

A bucket holds up to `burst` tokens and gains `rate` per second; a request takes one. The
map of addresses is bounded (`max_keys`): when full, buckets that have refilled are dropped
first, then the oldest, so a spray of addresses costs bounded memory and never unlocks a
full bucket for anyone (the global bucket still limits them all)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class TokenBuckets:
    def __init__(self, rate: float, burst: float, *, global_rate: float, global_burst: float,
                 max_keys: int = 4096, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self.global_rate, self.global_burst = global_rate, global_burst
        self._clock = clock
        self._b: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)
        self._g = (global_burst, clock())
        self._lock = threading.Lock()

    @staticmethod
    def _fill(tokens: float, at: float, now: float, rate: float, burst: float) -> float:
        return min(burst, tokens + max(0.0, now - at) * rate)

    def __len__(self) -> int:
        return len(self._b)

    def take(self, key: str) -> float:
        """0.0 if `key` may go on (a token taken from its bucket and the global one), else
        the seconds until it may."""
        now = self._clock()
        with self._lock:
            tokens, at = self._b.get(key, (self.burst, now))
            tokens = self._fill(tokens, at, now, self.rate, self.burst)
            g = self._fill(*self._g, now, self.global_rate, self.global_burst)
            if tokens < 1.0:
                self._b[key] = (tokens, now)
                return (1.0 - tokens) / self.rate
            if g < 1.0:
                self._g = (g, now)
                return (1.0 - g) / self.global_rate
            self._b[key] = (tokens - 1.0, now)
            self._b.move_to_end(key)
            self._g = (g - 1.0, now)
            if len(self._b) > self.max_keys:
                self._shrink(now)
            return 0.0

    def _shrink(self, now: float) -> None:
        full = [k for k, (t, at) in self._b.items()
                if self._fill(t, at, now, self.rate, self.burst) >= self.burst]
        for k in full:
            del self._b[k]
        while len(self._b) > self.max_keys:
            self._b.popitem(last=False)
