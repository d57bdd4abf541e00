"""Shared state of the venue's notices and release sessions, for every feed's loop.

Notice watchers run on the frames of the feed that sees the posted sign; the notices they
watch may cover other feeds, so their states live here, behind a lock. Release sessions
started with `camaudit release start` are polled from the release store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from camaudit.config.model import Config
from camaudit.core.policy import Release

log = logging.getLogger(__name__)

Sink = Callable[[str, str | None, Mapping[str, Any], int], Any]
StateListener = Callable[[str, str], None]  # (notice id, VISIBLE/MISSING/UNKNOWN)


class NoticeBoard:
    def __init__(
        self,
        cfg: Config,
        sink: Sink,
        *,
        data_dir: Path,
        on_state: StateListener | None = None,
        release_poll_s: float = 2.0,
    ) -> None:
        from camaudit.notices.watcher import NoticeWatcher

        self.sink = sink
        self.on_state = on_state
        self.data_dir = data_dir
        self._lock = threading.Lock()
        self.watchers = [
            NoticeWatcher(nid, n) for nid, n in sorted(cfg.notices.items()) if n.watch is not None
        ]
        # registered notices nobody watches: the device cannot see them, so they stay UNKNOWN
        self._states: dict[str, str] = {nid: "UNKNOWN" for nid in cfg.notices}
        for w in self.watchers:
            self._states[w.notice_id] = w.state
        # feeds whose camera looks covered/moved/blurred (camera health): no sign checks there
        self._unsure: dict[str, str] = {}
        self._release_poll_s = release_poll_s
        self._releases: tuple[Release, ...] = ()
        self._releases_checked = float("-inf")

    def states(self) -> dict[str, str]:
        with self._lock:
            return dict(self._states)

    def observe(self, feed: str, frame: np.ndarray, ts_ms: int) -> None:
        """A frame of `feed`: let the watchers that look through it check the sign, if due."""
        if feed in self._unsure:  # a sign nobody can see is not "missing"
            return
        for w in self.watchers:
            if w.feed == feed and w.due(ts_ms):
                self._apply(w.observe(frame, ts_ms), feed)

    def camera_unsure(self, feed: str, condition: str | None) -> None:
        """Camera health suspects `condition` on `feed` (None: it looks fine): sign checks
        through it pause, so a covered camera cannot make its notice MISSING."""
        if condition is None:
            self._unsure.pop(feed, None)
        else:
            self._unsure[feed] = condition

    def camera_blind(self, feed: str, reason: str, ts_ms: int) -> None:
        """Camera health confirmed `feed` covered/moved/blurred: its notices are UNKNOWN."""
        for w in self.watchers:
            if w.feed == feed:
                self._apply(w.camera_blind(ts_ms, reason), feed)

    def feed_down(self, feed: str, ts_ms: int) -> None:
        for w in self.watchers:
            if w.feed == feed:
                self._apply(w.feed_down(ts_ms), feed)

    def _apply(self, tr: Any, feed: str) -> None:
        if tr is None:
            return
        with self._lock:
            self._states[tr.notice_id] = tr.state
        self.sink(tr.event_type, feed, tr.body, tr.ts_ms)
        if self.on_state is not None:
            self.on_state(tr.notice_id, tr.state)

    def releases(self, ts_ms: int) -> tuple[Release, ...]:
        """Active release sessions from the store (polled every few seconds, wall clock)."""
        from camaudit.notices.releases import active_releases, release_changes

        now = time.monotonic()
        with self._lock:
            if now - self._releases_checked < self._release_poll_s:
                return self._releases
            self._releases_checked = now
            before = self._releases
            try:
                after = tuple(active_releases(self.data_dir, ts_ms))
            except Exception as exc:  # a broken store must not stop the audit
                log.error("release store unreadable, keeping the last known sessions: %s", exc)
                return before
            self._releases = after
        started, ended = release_changes(before, after)
        for r in started:
            self.sink("release.start", None, _release_body(r), ts_ms)
        for r in ended:
            self.sink("release.end", None, _release_body(r), ts_ms)
        return after


def _release_body(r: Release) -> dict[str, Any]:
    return {"ref": r.ref, "feeds": sorted(r.feeds), "start": r.start_ms, "end": r.end_ms}
