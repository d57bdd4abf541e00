"""The Raspberry Pi camera through picamera2 (libcamera), imported lazily."""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..errors import SourceError
from .backoff import Backoff, now_ms, stopped, wait
from .base import FeedStatus, Frame

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "picamera2 is not installed: on Raspberry Pi OS run 'sudo apt install python3-picamera2' "
    "and create the venv with --system-site-packages so that it can see it "
    "(python3 -m venv --system-site-packages .venv)"
)
BROKEN_HINT = (
    "picamera2 is installed but does not import: its extensions are built for Raspberry Pi "
    "OS's numpy (python3-numpy); keep that numpy in the venv (sudo ./deploy.sh --upgrade does; "
    "by hand: pip uninstall numpy in a --system-site-packages venv), and "
    "'sudo apt install --reinstall python3-picamera2 python3-simplejpeg'"
)


def import_picamera2() -> Any:
    """The picamera2 module, or SourceError with one line telling what to install.

    Any failure counts, not only ImportError: an extension built for another numpy raises
    ValueError ("numpy.dtype size changed"), others raise AttributeError or OSError.
    """
    try:
        return importlib.import_module("picamera2")
    except ModuleNotFoundError as e:
        if e.name == "picamera2":
            raise SourceError(f"{INSTALL_HINT} ({e})") from e
        raise SourceError(f"{BROKEN_HINT} ({type(e).__name__}: {_one_line(e)})") from e
    except Exception as e:  # whatever the camera stack raises on import: one line, no traceback
        raise SourceError(f"{BROKEN_HINT} ({type(e).__name__}: {_one_line(e)})") from e


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text[:300] + ("..." if len(text) > 300 else "")


class PiCameraSource:
    """Frames from the Pi camera: Picamera2() with a video configuration, main stream "RGB888".

    (picamera2's "RGB888" is B,G,R in memory, which is OpenCV's BGR order: no conversion.)
    Timestamps are clock() at capture (UTC ms). fps is passed to the camera as its FrameRate
    control. A camera that fails (unplugged ribbon, libcamera error) yields FeedStatus
    ("feed.down") once; the camera is closed and reopened with backoff (0.5 s doubling up to
    reconnect_max_s, interrupted by `stop`), then FeedStatus("feed.up") before the next frame.
    """

    lossless = False

    def __init__(
        self,
        *,
        size: tuple[int, int] = (640, 480),
        fps: float | None = None,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.time,
        reconnect_max_s: float = 30.0,
        reconnect_first_s: float = 0.5,
    ) -> None:
        self._mod = import_picamera2()
        self.size = size
        self.fps = fps
        self._stop = stop
        self._clock = clock
        self._backoff = Backoff(reconnect_first_s, max(reconnect_first_s, reconnect_max_s))
        self._closed = False
        self.skipped_frames = 0
        self.reconnects = 0
        self.description = f"picamera2 {size[0]}x{size[1]}" + (f" @ {fps:g} fps" if fps else "")

    def _start(self) -> Any:
        cam = self._mod.Picamera2()
        try:
            kwargs: dict[str, Any] = {"main": {"size": tuple(self.size), "format": "RGB888"}}
            if self.fps:
                kwargs["controls"] = {"FrameRate": float(self.fps)}
            cam.configure(cam.create_video_configuration(**kwargs))
            cam.start()
        except Exception:
            _shutdown(cam)
            raise
        return cam

    def items(self) -> Iterator[Frame | FeedStatus]:
        cam: Any | None = None
        down = False
        index = 0
        try:
            while not stopped(self._stop) and not self._closed:
                try:
                    if cam is None:
                        cam = self._start()
                    array = cam.capture_array("main")
                except Exception as e:  # libcamera raises many kinds: all mean "camera gone"
                    if cam is not None:
                        _shutdown(cam)
                        cam = None
                    if not down:
                        down = True
                        log.warning("%s: camera failed (%s), retrying", self.description, e)
                        yield FeedStatus("feed.down", now_ms(self._clock), f"camera error: {e}")
                    if wait(self._stop, self._backoff.next()):
                        return
                    self.reconnects += 1
                    continue
                ts = now_ms(self._clock)
                image = _as_bgr(array)
                if image is None:
                    self.skipped_frames += 1
                    continue
                if down:
                    down = False
                    self._backoff.reset()
                    log.info("%s: frames flow again", self.description)
                    yield FeedStatus("feed.up", ts, "frames flow again")
                yield Frame(image=image, ts_ms=ts, index=index)
                index += 1
        finally:
            if cam is not None:
                _shutdown(cam)

    def close(self) -> None:
        self._closed = True


def _as_bgr(array: Any) -> np.ndarray | None:
    a = np.asarray(array)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] not in (3, 4):
        return None
    return np.ascontiguousarray(a[:, :, :3])


def _shutdown(cam: Any) -> None:
    for call in ("stop", "close"):
        try:
            getattr(cam, call)()
        except Exception as e:  # best effort on a camera that is already gone
            log.debug("picamera2 %s failed: %s", call, e)
