"""One capture thread per feed: reads a FrameSource into a small queue for the pipeline thread."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType

from .backoff import now_ms
from .base import FeedStatus, Frame, FrameSource

log = logging.getLogger(__name__)


class FeedReader:
    """Runs `source.items()` on its own thread and hands the items over through a queue.

    The queue holds at most `maxsize` frames (default 2). When it is full, a live feed drops
    the OLDEST frame (the camera is never blocked, and the pipeline always gets the newest
    frames); `dropped_frames` counts them. With `lossless=True` (meant for unpaced files and
    stills, where every frame should be processed) the reader waits for room instead. The
    default, lossless=None, asks the source (`source.lossless`, False when absent).
    FeedStatus items are never dropped and keep their order among the frames.

    get(timeout) returns the next Frame or FeedStatus, or None when nothing came within
    `timeout` or the feed has ended; `finished` is True once the source has ended and
    everything was taken. A source that raises is logged, turned into
    FeedStatus("feed.down", detail="source failed: ...") and ends the reader (`error` keeps
    the message). stop() sets the stop event and joins the thread; pass the same event to
    open_source() so that pacing and reconnect waits end at once too.
    """

    def __init__(
        self,
        source: FrameSource,
        *,
        name: str = "feed",
        maxsize: int = 2,
        lossless: bool | None = None,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        self.source = source
        self.name = name
        self.maxsize = maxsize
        self.lossless = bool(getattr(source, "lossless", False)) if lossless is None else lossless
        self.stop_event = stop if stop is not None else threading.Event()
        self._clock = clock
        self._queue: deque[Frame | FeedStatus] = deque()
        self._frames_queued = 0
        self._cond = threading.Condition()
        self._done = False
        self.dropped_frames = 0
        self.frames_read = 0
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"feed-{name}", daemon=True)

    def start(self) -> FeedReader:
        self._thread.start()
        return self

    def __enter__(self) -> FeedReader:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def finished(self) -> bool:
        """The source has ended (or failed, or was stopped) and the queue is empty."""
        with self._cond:
            return self._done and not self._queue

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def get(self, timeout: float | None = None) -> Frame | FeedStatus | None:
        """Next item; None after `timeout` seconds without one, or when the feed has ended."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._queue:
                if self._done:
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)
            item = self._queue.popleft()
            if isinstance(item, Frame):
                self._frames_queued -= 1
            self._cond.notify_all()
            return item

    def stop(self, timeout: float = 10.0) -> None:
        """Stop reading and join the thread (the source is closed by the thread itself)."""
        self.stop_event.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("feed %s: reader thread did not stop within %.1f s", self.name, timeout)

    def _run(self) -> None:
        log.info("feed %s: reading %s", self.name, getattr(self.source, "description", "?"))
        items = self.source.items()
        try:
            for item in items:
                if self.stop_event.is_set():
                    break
                self._put(item)
        except Exception as e:
            self.error = f"{type(e).__name__}: {e}"
            log.exception("feed %s: source failed", self.name)
            self._put(FeedStatus("feed.down", now_ms(self._clock), f"source failed: {self.error}"))
        finally:
            try:
                close_items = getattr(items, "close", None)  # a generator: run its finally now
                if close_items is not None:
                    close_items()
            except Exception:
                log.exception("feed %s: closing the source's iterator failed", self.name)
            try:
                self.source.close()
            except Exception:
                log.exception("feed %s: closing the source failed", self.name)
            with self._cond:
                self._done = True
                self._cond.notify_all()
            log.info(
                "feed %s: reader ended (%d frames read, %d dropped, %d undecodable)",
                self.name,
                self.frames_read,
                self.dropped_frames,
                getattr(self.source, "skipped_frames", 0),
            )

    def _put(self, item: Frame | FeedStatus) -> None:
        with self._cond:
            if isinstance(item, Frame):
                self.frames_read += 1
                if self.lossless:
                    while self._frames_queued >= self.maxsize and not self.stop_event.is_set():
                        self._cond.wait(0.5)
                    if self.stop_event.is_set():
                        return
                else:
                    while self._frames_queued >= self.maxsize:
                        self._drop_oldest_frame()
                self._frames_queued += 1
            self._queue.append(item)
            self._cond.notify_all()

    def _drop_oldest_frame(self) -> None:
        for i, queued in enumerate(self._queue):
            if isinstance(queued, Frame):
                del self._queue[i]
                self._frames_queued -= 1
                self.dropped_frames += 1
                return
