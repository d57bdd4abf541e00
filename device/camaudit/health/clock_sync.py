"""Is the system clock synchronised? And the watch that journals the moment it becomes so.

Sources, behind one small interface (a callable returning SyncState, or None when it cannot
tell), tried in order:
- systemd-timesyncd's flag file /run/systemd/timesync/synchronized (created once it
  synchronised; readable inside the hardened unit);
- the kernel's adjtimex(2) (read-only, modes 0): STA_UNSYNC clear means an NTP daemon
  (timesyncd, chrony, ntpd) disciplines the clock. The device unit's ProtectClock= filters
  this call (EPERM): then it cannot tell.
Neither answering counts as not synchronised, said as such.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

log = logging.getLogger(__name__)

TIMESYNCD_FLAG = Path("/run/systemd/timesync/synchronized")
STA_UNSYNC = 0x0040
POLL_S = 5.0


class SyncState(NamedTuple):
    synced: bool
    how: str


SyncSource = Callable[[], SyncState | None]


def timesyncd_flag(path: Path = TIMESYNCD_FLAG) -> SyncSource:
    def read() -> SyncState | None:
        return SyncState(True, f"systemd-timesyncd: {path} exists") if path.exists() else None
    return read


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):  # struct timex, <sys/timex.h> (Linux, LP64)
    _fields_ = [
        ("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
        ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
        ("time", _Timeval), ("tick", ctypes.c_long), ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long), ("shift", ctypes.c_int), ("stable", ctypes.c_long),
        ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long), ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int), ("_pad", ctypes.c_int * 11),
    ]


def adjtimex() -> SyncSource:
    def read() -> SyncState | None:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
            tx = _Timex()  # modes 0: read only
            if libc.adjtimex(ctypes.byref(tx)) < 0:
                log.debug("adjtimex: errno %d", ctypes.get_errno())
                return None
        except (OSError, AttributeError) as exc:
            log.debug("adjtimex unavailable: %s", exc)
            return None
        unsynced = bool(tx.status & STA_UNSYNC)
        return SyncState(not unsynced, f"adjtimex: STA_UNSYNC {'set' if unsynced else 'clear'}, "
                                       f"maxerror {tx.maxerror} us")
    return read


def first_of(sources: Sequence[SyncSource]) -> Callable[[], SyncState]:
    def read() -> SyncState:
        for src in sources:
            state = src()
            if state is not None:
                return state
        return SyncState(False, "unknown: neither timesyncd's flag nor adjtimex answers")
    return read


def system_sync() -> Callable[[], SyncState]:
    return first_of([timesyncd_flag(), adjtimex()])


class ClockWatch:
    """`start()` once (the body of device.online's `clock`), then `poll()` from the main
    loop: the body of a `clock.synced` record the first time the clock is synchronised."""

    def __init__(self, source: Callable[[], SyncState] | None = None, *,
                 wall_ms: Callable[[], int] = lambda: int(time.time() * 1000),
                 mono: Callable[[], float] = time.monotonic, every_s: float = POLL_S) -> None:
        self.source = source or system_sync()
        self.wall_ms, self.mono, self.every_s = wall_ms, mono, every_s
        self.synced = False
        self._wall0 = 0
        self._mono0 = 0.0
        self._last = float("-inf")

    def start(self) -> dict[str, Any]:
        state = self.source()
        self.synced = state.synced
        self._wall0, self._mono0 = self.wall_ms(), self.mono()
        self._last = self._mono0
        if not state.synced:
            log.warning("clock not yet synchronised (%s): records are marked until it is", state.how)
        return {"synced": state.synced, "how": state.how}

    def poll(self) -> dict[str, Any] | None:
        if self.synced:
            return None
        now = self.mono()
        if now - self._last < self.every_s:
            return None
        self._last = now
        state = self.source()
        if not state.synced:
            return None
        self.synced = True
        elapsed_ms = round((now - self._mono0) * 1000)
        step_ms = (self.wall_ms() - self._wall0) - elapsed_ms
        log.info("clock synchronised after %d ms (%s); it stepped %+d ms", elapsed_ms, state.how, step_ms)
        return {"how": state.how, "unsynced_ms": elapsed_ms, "clock_step_ms": step_ms}
