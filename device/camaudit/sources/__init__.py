"""Feeds: open_source() turns a source string from the config or the CLI into a FrameSource.

video file / GIF   path to a file                    -> VideoFileSource (file.py)
folder of stills   path to a directory               -> StillsFolderSource (stills.py)
network / USB      rtsp://, http(s)://, ..., /dev/videoN, "0"  -> OpenCVStreamSource
Pi camera          "picamera2"                       -> PiCameraSource (picamera.py)
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import SourceError
from .base import FeedStatus, Frame, FrameSource

__all__ = ["FeedStatus", "Frame", "FrameSource", "SourceError", "is_lossless", "open_source"]

STREAM_SCHEMES = frozenset(
    {"rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "tcp", "rtp", "srt", "mms"}
)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def open_source(
    source: str,
    *,
    fps: float | None = None,
    loop: bool = False,
    pace: bool = False,
    stop: threading.Event | None = None,
    clock: Callable[[], float] = time.time,
    reconnect_max_s: float = 30.0,
) -> FrameSource:
    """Open a feed from its source string. SourceError for a missing path or unknown scheme.

    fps: files are subsampled to it, live feeds throttled to it, stills timed by it (default
    1). loop/pace apply to files and stills (live feeds are paced by the camera). stop ends
    items() (and interrupts pacing and reconnect waits). clock gives UTC seconds for
    timestamps. reconnect_max_s caps the backoff of live feeds.
    """
    src = source.strip()
    if not src:
        raise SourceError("empty source")
    if src == "picamera2":
        from .picamera import PiCameraSource

        return PiCameraSource(fps=fps, stop=stop, clock=clock, reconnect_max_s=reconnect_max_s)
    if src.isdigit():
        from .opencv_stream import OpenCVStreamSource

        return OpenCVStreamSource(
            int(src), fps=fps, stop=stop, clock=clock, reconnect_max_s=reconnect_max_s
        )
    m = _SCHEME.match(src)
    if m:
        scheme = m.group(1).lower()
        if scheme == "file":
            src = src[len("file://") :]
        elif scheme in STREAM_SCHEMES:
            from .opencv_stream import OpenCVStreamSource

            return OpenCVStreamSource(
                src, fps=fps, stop=stop, clock=clock, reconnect_max_s=reconnect_max_s
            )
        else:
            from .opencv_stream import redact

            raise SourceError(
                f"unknown source scheme {scheme!r} in {redact(src)!r}: expected a file or "
                f"folder path, picamera2, a camera index, /dev/videoN or one of "
                f"{', '.join(sorted(STREAM_SCHEMES))}"
            )
    path = Path(src).expanduser()
    if not path.exists():
        raise SourceError(f"source not found: {path}")
    if src.startswith("/dev/"):
        from .opencv_stream import OpenCVStreamSource

        return OpenCVStreamSource(
            src, fps=fps, stop=stop, clock=clock, reconnect_max_s=reconnect_max_s
        )
    if path.is_dir():
        from .stills import StillsFolderSource

        return StillsFolderSource(path, fps=fps, loop=loop, pace=pace, stop=stop, clock=clock)
    from .file import VideoFileSource

    return VideoFileSource(path, fps=fps, loop=loop, pace=pace, stop=stop, clock=clock)


def is_lossless(source: FrameSource) -> bool:
    """Whether a reader should keep every frame of this source (an unpaced file or folder)."""
    return bool(getattr(source, "lossless", False))
