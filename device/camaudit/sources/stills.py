"""A folder of still images (jpg/png/bmp) as a feed, in name order."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ..errors import SourceError
from .backoff import stopped, wait
from .base import FeedStatus, Frame

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp"})


class StillsFolderSource:
    """Every jpg/jpeg/png/bmp file of a folder (not recursive), sorted by name.

    Image i gets ts_ms = t0 + i / fps (t0 = clock() at open; fps defaults to 1), and Frame.index
    = i. pace sleeps so image i comes out i / fps seconds after the start; loop starts over at
    the end. A file that cannot be read or decoded is skipped, counted in `skipped_frames`, and
    named in a log warning.
    """

    def __init__(
        self,
        folder: str | Path,
        *,
        fps: float | None = None,
        loop: bool = False,
        pace: bool = False,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise SourceError(f"stills folder not found: {self.folder}")
        if fps is not None and fps <= 0:
            raise SourceError(f"fps must be > 0, got {fps} for {self.folder}")
        self.files = sorted(
            p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
        )
        if not self.files:
            raise SourceError(f"no .jpg/.png/.bmp images in folder {self.folder}")
        self.fps = fps or 1.0
        self.loop = loop
        self.pace = pace
        self._stop = stop
        self._clock = clock
        self._closed = False
        self.skipped_frames = 0
        self.t0 = clock()
        self.description = f"stills {self.folder} ({len(self.files)} images, {self.fps:.3g} fps)"

    @property
    def lossless(self) -> bool:
        """True when every image should be processed (unpaced): readers must not drop."""
        return not self.pace

    def items(self) -> Iterator[Frame | FeedStatus]:
        start_mono = time.monotonic()
        index = 0
        while not self._closed:
            good = 0
            for path in self.files:
                if stopped(self._stop) or self._closed:
                    return
                media_s = index / self.fps
                image = _read_image(path)
                if image is None:
                    self.skipped_frames += 1
                    index += 1
                    continue
                good += 1
                if self.pace:
                    delay = start_mono + media_s - time.monotonic()
                    if delay > 0 and wait(self._stop, delay):
                        return
                yield Frame(image=image, ts_ms=round((self.t0 + media_s) * 1000.0), index=index)
                index += 1
            if not self.loop or good == 0:
                return

    def close(self) -> None:
        self._closed = True


def _read_image(path: Path) -> np.ndarray | None:
    import cv2

    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        log.warning("skipping unreadable image %s: %s", path, e)
        return None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        log.warning("skipping undecodable image %s", path)
    return image
