"""Reconnect delays (exponential backoff) and sleeps that a stop event interrupts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Backoff:
    """Delays first_s, 2*first_s, 4*first_s, ... capped at max_s; reset() when the feed is back."""

    def __init__(self, first_s: float = 0.5, max_s: float = 30.0) -> None:
        if first_s <= 0 or max_s < first_s:
            raise ValueError(f"bad backoff: first_s={first_s}, max_s={max_s}")
        self.first_s = first_s
        self.max_s = max_s
        self._next = first_s

    def next(self) -> float:
        """The delay to wait now; the following one doubles (up to max_s)."""
        delay = self._next
        self._next = min(self._next * 2.0, self.max_s)
        return delay

    def reset(self) -> None:
        self._next = self.first_s


def wait(stop: threading.Event | None, seconds: float) -> bool:
    """Sleep `seconds` (interrupted by `stop`); True when stop is set."""
    if stop is None:
        if seconds > 0:
            time.sleep(seconds)
        return False
    if seconds > 0:
        return stop.wait(seconds)
    return stop.is_set()


def stopped(stop: threading.Event | None) -> bool:
    return stop is not None and stop.is_set()


def now_ms(clock: Callable[[], float]) -> int:
    """UTC ms from a clock returning seconds (time.time-like)."""
    return round(clock() * 1000.0)
