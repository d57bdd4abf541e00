"""systemd's watchdog for `camaudit hub`: READY=1 once, then WATCHDOG=1 only while every
part of the hub is alive.

The hub's parts (the collector loop, the broker supervisor, the web server) are given as
named callables returning True while that part is alive, so this module knows nothing of
the hub's classes; `hub_checks` builds them for a running hub. A part that stops answering
(a collector stuck in a write, a dead supervisor thread, a web server that no longer
answers) stops the pings, and systemd kills and restarts the service after WatchdogSec.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from camaudit.health.sd_notify import Notifier

log = logging.getLogger(__name__)

Check = Callable[[], bool]
DEFAULT_EVERY_S = 5.0


class HubWatchdog:
    """`tick()` from the hub's main loop every `every_s` seconds."""

    def __init__(self, checks: Mapping[str, Check], notifier: Notifier | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.checks = dict(checks)
        self.notifier = notifier or Notifier()
        self.clock = clock
        wd = self.notifier.watchdog_s
        self.ping_every_s = wd / 2 if wd else None
        self.every_s = min(DEFAULT_EVERY_S, wd / 4) if wd else DEFAULT_EVERY_S
        self.ready = False
        self.pings = 0
        self._last_ping = float("-inf")
        self._down: set[str] = set()

    def failing(self) -> list[str]:
        out = []
        for name, check in self.checks.items():
            try:
                ok = bool(check())
            except Exception as exc:  # a check that raises says "not alive"
                log.debug("hub check %s raised %r", name, exc)
                ok = False
            if not ok:
                out.append(name)
        return out

    def tick(self) -> list[str]:
        """One round: the names of the failing parts (pings withheld while any fails)."""
        down = self.failing()
        for name in sorted(set(down) - self._down):
            log.error("hub %s is not alive; no longer petting the watchdog", name)
        for name in sorted(self._down - set(down)):
            log.warning("hub %s is alive again", name)
        self._down = set(down)
        if down:
            self.notifier.status("not alive: " + ", ".join(down))
            return down
        now = self.clock()
        if not self.ready:
            self.ready = True
            self.notifier.ready("collector, broker and web page alive")
        if self.ping_every_s is not None and now - self._last_ping >= self.ping_every_s:
            self.notifier.watchdog()
            self.pings += 1
            self._last_ping = now
        return []

    def stopping(self) -> None:
        self.notifier.stopping()


def turning(progress: Callable[[], float], stall_s: float,
            clock: Callable[[], float] = time.monotonic) -> Check:
    """Alive while `progress()` (a monotonic time a loop stamps as it turns) is recent."""
    return lambda: clock() - progress() <= stall_s


def thread_alive(get: Callable[[], threading.Thread | None]) -> Check:
    def check() -> bool:
        t = get()
        return t is not None and t.is_alive()
    return check


def http_answers(url: str, timeout_s: float = 5.0) -> Check:
    """Alive while the server at `url` answers HTTP at all (any status counts)."""
    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=timeout_s):  # noqa: S310 - our own 127.0.0.1/host URL
                return True
        except urllib.error.HTTPError:
            return True  # it answered: 401/404 is an event loop that runs
        except OSError:
            return False
    return check


def hub_checks(handle: Any, stall_s: float = 30.0) -> dict[str, Check]:
    """The liveness checks of a running hub (camaudit.hub.run.HubHandle):
    - collector: its thread runs and its loop stamped its heartbeat (every ~1 s) within stall_s;
    - broker: the thread that supervises (and restarts) the hub's own mosquitto runs;
    - web: the web server thread runs and answers HTTP.
    """
    collector = handle.collector
    checks: dict[str, Check] = {
        "collector": lambda: (thread_alive(lambda: collector._thread)()
                              and turning(lambda: collector._last_beat, stall_s)()),
    }
    broker = handle.embedded_broker
    if broker is not None:
        checks["broker supervisor"] = thread_alive(lambda: broker._watch)
    if handle.web_url:
        answers = http_answers(handle.web_url + "/", timeout_s=min(5.0, stall_s / 2))
        checks["web server"] = lambda: thread_alive(lambda: handle._web_thread)() and answers()
    return checks
