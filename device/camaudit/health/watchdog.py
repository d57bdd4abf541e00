"""Tells systemd the daemon is ready and alive, from evidence that the pipeline loops turn.

Each feed's pipeline thread calls `beat()` every time round its loop (at least every 0.2 s
while it waits for frames). The main loop calls `tick()`; it sends:
- READY=1 once every feed loop has handled its first item (a frame, or the news that the
  camera is down), so "started" means the audit is running, not just that Python started;
- WATCHDOG=1 every half watchdog period, but only while no feed loop is stalled (no beat
  for `stall_s`). A hung detector or a dead-locked loop therefore stops the pings and
  systemd restarts the service, even though the process is alive;
- STATUS= with frames/s per feed, and the same facts into data_dir/status.json.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from camaudit.health.sd_notify import Notifier
from camaudit.health.status_file import write_status

log = logging.getLogger(__name__)

DEFAULT_STALL_S = 30.0
STATUS_EVERY_S = 5.0


@dataclass
class _Pulse:
    last: float
    started: bool = False
    state: str = "starting"  # starting | up | down | ended
    frames: int = 0
    last_frame_ms: int | None = None


@dataclass
class _Rate:
    t: float
    frames: int


@dataclass
class Supervisor:
    feeds: list[str]
    notifier: Notifier
    data_dir: Path | None = None
    info: dict[str, Any] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    wall_ms: Callable[[], int] = lambda: int(time.time() * 1000)
    status_every_s: float = STATUS_EVERY_S

    def __post_init__(self) -> None:
        wd = self.notifier.watchdog_s
        self.stall_s = wd / 2 if wd else DEFAULT_STALL_S
        self.ping_every_s = wd / 2 if wd else None
        now = self.clock()
        self._pulses = {n: _Pulse(last=now) for n in self.feeds}
        self._rates = {n: _Rate(now, 0) for n in self.feeds}
        self.fps: dict[str, float] = {n: 0.0 for n in self.feeds}
        self.ready = False
        self.pings = 0
        self._last_ping = float("-inf")
        self._last_status = float("-inf")
        self._stalled: set[str] = set()
        self._started_ms = self.wall_ms()
        self._lock = threading.Lock()

    # -- called from the pipeline threads -------------------------------------------
    def beat(self, feed: str, item: Any = None) -> None:
        """One turn of `feed`'s loop; `item` is what it just handled (Frame, FeedStatus)."""
        p = self._pulses[feed]
        p.last = self.clock()
        if item is None:
            return
        p.started = True
        kind = getattr(item, "kind", None)
        if kind is not None:  # FeedStatus
            p.state = "down" if kind == "feed.down" else "up"
        else:
            p.state = "up"
            p.frames += 1
            p.last_frame_ms = getattr(item, "ts_ms", None)

    def ended(self, feed: str) -> None:
        p = self._pulses[feed]
        p.started = True
        p.state = "ended"
        p.last = self.clock()

    # -- called from the main loop ---------------------------------------------------
    def stalled(self) -> list[str]:
        now = self.clock()
        return sorted(
            n for n, p in self._pulses.items() if p.state != "ended" and now - p.last > self.stall_s
        )

    def tick(self, broker_connected: bool | None = None) -> None:
        now = self.clock()
        stalled = self.stalled()
        for name in sorted(set(stalled) - self._stalled):
            log.error(
                "feed %s: pipeline loop stalled for over %.0f s; no longer petting the watchdog",
                name, self.stall_s,
            )
        for name in sorted(self._stalled - set(stalled)):
            log.warning("feed %s: pipeline loop turns again", name)
        self._stalled = set(stalled)
        if not self.ready and not stalled and all(p.started for p in self._pulses.values()):
            self.ready = True
            self._update_rates(now)
            self.notifier.ready(self.status_line())
            log.info("ready: every feed loop runs")
        if (
            self.ready
            and not stalled
            and self.ping_every_s is not None
            and now - self._last_ping >= self.ping_every_s
        ):
            self.notifier.watchdog()
            self.pings += 1
            self._last_ping = now
        if now - self._last_status >= self.status_every_s:
            self._last_status = now
            self._update_rates(now)
            self.notifier.status(self.status_line())
            if self.data_dir is not None:
                try:
                    write_status(self.data_dir, self.document(broker_connected))
                except OSError as exc:
                    log.warning("status file not written: %s", exc)

    def stopping(self) -> None:
        self.notifier.stopping()
        if self.data_dir is not None:
            try:
                write_status(self.data_dir, self.document(None, running=False))
            except OSError as exc:
                log.warning("status file not written: %s", exc)

    def _update_rates(self, now: float) -> None:
        for name, p in self._pulses.items():
            r = self._rates[name]
            dt = now - r.t
            if dt >= 0.5:
                self.fps[name] = (p.frames - r.frames) / dt
                self._rates[name] = _Rate(now, p.frames)

    def feed_state(self, name: str) -> str:
        return "stalled" if name in self._stalled else self._pulses[name].state

    def status_line(self) -> str:
        parts = []
        for name in self.feeds:
            st = self.feed_state(name)
            parts.append(f"{name} {self.fps[name]:.1f} fps" if st == "up" else f"{name} {st}")
        return "; ".join(parts)

    def document(self, broker_connected: bool | None, *, running: bool = True) -> dict[str, Any]:
        return {
            "v": 1,
            "pid": os.getpid(),
            "running": running,
            "ready": self.ready,
            "started_ms": self._started_ms,
            "updated_ms": self.wall_ms(),
            "every_s": self.status_every_s,
            "watchdog_s": self.notifier.watchdog_s,
            "broker_connected": broker_connected,
            "feeds": {
                name: {
                    "state": self.feed_state(name),
                    "fps": round(self.fps[name], 2),
                    "frames": p.frames,
                    "last_frame_ms": p.last_frame_ms,
                }
                for name, p in self._pulses.items()
            },
            **self.info,
        }
