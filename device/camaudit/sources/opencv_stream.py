"""Live feeds through OpenCV: RTSP/HTTP(S) URLs (FFmpeg backend), V4L2 devices, camera indexes.

A live feed can go away (camera unplugged, network down, server restarted): the source then
yields FeedStatus("feed.down") once, reconnects with exponential backoff, and yields
FeedStatus("feed.up") when frames flow again.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from .backoff import Backoff, now_ms, stopped, wait
from .base import FeedStatus, Frame
from .decoders import one_decode_thread

log = logging.getLogger(__name__)

_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def redact(url: str) -> str:
    """The URL without user:password (safe to log and to put in events)."""
    return _CREDENTIALS.sub("***@", url)



def quiet_video_logs() -> None:
    """OpenCV's WARN lines and FFmpeg's own ("[tcp @ 0x...] Connection ... refused") would add
    two lines in other formats to each retry; camaudit logs the retry itself. An operator's
    OPENCV_FFMPEG_LOGLEVEL / OPENCV_LOG_LEVEL win (e.g. to debug a camera)."""
    import cv2

    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    if "OPENCV_LOG_LEVEL" not in os.environ:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

class OpenCVStreamSource:
    """A network stream, a V4L2 device path or a camera index, read with cv2.VideoCapture.

    target: a URL (rtsp://, http(s)://, ...), a device path (/dev/video0) or an int index.
    Timestamps are clock() when the frame was read (UTC ms). fps: when given, frames arriving
    faster are read and dropped (grab without decode), so at most ~fps frames per second are
    yielded. Frame.index counts the frames yielded.

    A camera that stops sending without closing the connection fails a read after
    read_timeout_s. Not reachable at start, or a failed read: FeedStatus("feed.down") is yielded once, then
    the source reopens after 0.5 s, 1 s, 2 s, ... up to reconnect_max_s (each wait
    interrupted by `stop`), and yields FeedStatus("feed.up") before the first frame that
    flows again. Until stop is set the source never ends by itself.
    """

    lossless = False  # a live feed: readers drop the oldest frame rather than lag behind

    def __init__(
        self,
        target: str | int,
        *,
        fps: float | None = None,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.time,
        reconnect_max_s: float = 30.0,
        reconnect_first_s: float = 0.5,
        open_timeout_s: float = 10.0,
        read_timeout_s: float = 5.0,
    ) -> None:
        self.target = target
        self.fps = fps
        self._stop = stop
        self._clock = clock
        self._backoff = Backoff(reconnect_first_s, max(reconnect_first_s, reconnect_max_s))
        self._open_timeout_ms = int(open_timeout_s * 1000)
        self._read_timeout_ms = int(read_timeout_s * 1000)
        self._closed = False
        self.skipped_frames = 0
        self.reconnects = 0
        self.backend = ""  # OpenCV backend of the last successful open ("FFMPEG", "V4L2", ...)
        shown = redact(target) if isinstance(target, str) else f"camera index {target}"
        self.description = f"stream {shown}"

    def _open(self) -> Any | None:
        """An opened cv2.VideoCapture, or None (logged) when it cannot be opened now."""
        import cv2

        quiet_video_logs()
        timeouts = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            self._open_timeout_ms,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            self._read_timeout_ms,
            *one_decode_thread(cv2),
        ]
        if isinstance(self.target, int):
            cap = cv2.VideoCapture(self.target)
        elif self.target.startswith("/dev/"):
            cap = cv2.VideoCapture(self.target, cv2.CAP_V4L2)
        else:
            if self.target.lower().startswith("rtsp"):
                # RTSP over TCP: UDP loses packets on Wi-Fi and smears frames. An explicit
                # OPENCV_FFMPEG_CAPTURE_OPTIONS set by the operator wins.
                os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
            cap = cv2.VideoCapture(self.target, cv2.CAP_FFMPEG, timeouts)
        if not cap.isOpened():
            cap.release()
            return None
        try:
            self.backend = str(cap.getBackendName())
        except Exception:  # cv2.error on builds that cannot name it
            self.backend = "?"
        return cap

    def items(self) -> Iterator[Frame | FeedStatus]:
        cap: Any | None = None
        down = False
        attempts = 0
        index = 0
        min_gap = 0.95 / self.fps if self.fps else 0.0
        last_kept = -1e18
        try:
            while not stopped(self._stop) and not self._closed:
                if cap is None:
                    cap = self._open()
                    if cap is None:
                        delay = self._backoff.next()
                        attempts += 1
                        # one line per attempt (OpenCV's and FFmpeg's own lines are silenced)
                        log.warning("%s: cannot open (attempt %d); retrying in %.1f s",
                                    self.description, attempts, delay)
                        if not down:
                            down = True
                            yield FeedStatus("feed.down", now_ms(self._clock), "cannot open")
                        if wait(self._stop, delay):
                            return
                        self.reconnects += 1
                        continue
                    attempts = 0
                if not cap.grab():
                    cap.release()
                    cap = None
                    delay = self._backoff.next()
                    log.warning("%s: read failed; reconnecting in %.1f s", self.description, delay)
                    if not down:
                        down = True
                        yield FeedStatus("feed.down", now_ms(self._clock), "read failed")
                    if wait(self._stop, delay):
                        return
                    self.reconnects += 1
                    continue
                ts = now_ms(self._clock)
                mono = time.monotonic()
                if mono - last_kept < min_gap:
                    continue
                ok, image = cap.retrieve()
                if not ok or image is None:
                    self.skipped_frames += 1
                    continue
                last_kept = mono
                if down:
                    down = False
                    self._backoff.reset()
                    log.info("%s: frames flow again", self.description)
                    yield FeedStatus("feed.up", ts, "frames flow again")
                yield Frame(image=image, ts_ms=ts, index=index)
                index += 1
        finally:
            if cap is not None:
                cap.release()

    def close(self) -> None:
        self._closed = True
