"""A video file or animated GIF as a feed (offline audit, demo, tests)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SourceError
from .backoff import stopped, wait
from .base import FeedStatus, Frame
from .decoders import Decoder, open_decoder

log = logging.getLogger(__name__)

DEFAULT_FPS = 25.0  # when the file does not say, and no fps is given


@dataclass
class _Pass:
    good: int = 0  # frames decoded in this pass (kept or subsampled away)
    length: int = 0  # media frames this pass covered


class VideoFileSource:
    """Frames of a video file or animated GIF, decoded with OpenCV (Pillow for GIFs it cannot read).

    Timestamps: t0 = clock() when the source is opened; a frame's ts_ms is t0 + its media time
    (frame index / the file's own fps), so captures get realistic durations even when the file
    is processed faster than real time.

    fps: if given and lower than the file's own rate, the file is subsampled: only every k-th
    frame is yielded, k = round(native_fps / fps) (k >= 1). A value at or above the file's rate
    changes nothing (a file has no more frames to give). When the file does not state its rate,
    `fps` (or 25) is taken as its rate.

    pace: sleep so that each frame comes out at its media time (real-time playback, like a
    camera); without it the source runs as fast as decoding allows. loop: restart at the end;
    media time and Frame.index keep increasing across loops.

    Frame.index is the frame's position in the played media (gaps show skipped/subsampled frames).

    Damaged input: a frame that cannot be decoded is skipped and counted in `skipped_frames`,
    never fatal. When a read fails while the file declares more frames, reading goes on, up to
    `max_consecutive_failures` failed reads in a row; the frames the file declares but that
    never decoded are counted as skipped. (Seeking past the damage is not tried: on broken
    AVI indexes OpenCV's seek silently returns earlier frames again.)
    """

    def __init__(
        self,
        path: str | Path,
        *,
        fps: float | None = None,
        loop: bool = False,
        pace: bool = False,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.time,
        decoder: str = "auto",
        max_consecutive_failures: int = 30,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise SourceError(f"video file not found: {self.path}")
        if fps is not None and fps <= 0:
            raise SourceError(f"fps must be > 0, got {fps} for {self.path}")
        self.loop = loop
        self.pace = pace
        self._stop = stop
        self._clock = clock
        self._decoder_kind = decoder
        self._max_failures = max(1, max_consecutive_failures)
        self.skipped_frames = 0
        self.decoded_frames = 0
        self._closed = False
        self._pending: Decoder | None = open_decoder(self.path, decoder)
        native = self._pending.native_fps
        if native <= 0:
            native = fps or DEFAULT_FPS
            log.warning("%s does not state its frame rate; assuming %.3g fps", self.path, native)
        self.native_fps = native
        self.frame_count = self._pending.frame_count
        self.step = max(1, round(native / fps)) if fps and fps < native else 1
        self.fps = native / self.step  # rate of the frames this source yields
        self.t0 = clock()
        self.description = f"file {self.path.name} ({self._pending.name}, {native:.3g} fps" + (
            f", 1 frame in {self.step})" if self.step > 1 else ")"
        )

    @property
    def lossless(self) -> bool:
        """True when every frame should be processed (unpaced file): readers must not drop."""
        return not self.pace

    def items(self) -> Iterator[Frame | FeedStatus]:
        base = 0  # media index of the first frame of the current pass
        start_mono = time.monotonic()
        while not stopped(self._stop) and not self._closed:
            dec = self._pending or open_decoder(self.path, self._decoder_kind)
            self._pending = None
            result = _Pass()
            try:
                for pos, image in self._one_pass(dec, result):
                    index = base + pos
                    media_s = index / self.native_fps
                    if self.pace:
                        delay = start_mono + media_s - time.monotonic()
                        if delay > 0 and wait(self._stop, delay):
                            return
                    yield Frame(image=image, ts_ms=round((self.t0 + media_s) * 1000.0), index=index)
                    if stopped(self._stop):
                        return
            finally:
                dec.close()
            if not self.loop:
                return
            if result.good == 0:
                log.warning("%s: no frame decoded in a whole pass, not looping", self.path)
                return
            base += result.length

    def _one_pass(self, dec: Decoder, result: _Pass) -> Iterator[tuple[int, np.ndarray]]:
        """(position in this pass, image) for every kept frame; counts the skipped frames."""
        pos = 0  # position of the frame read next
        failures = 0  # failed reads in a row
        while not stopped(self._stop) and not self._closed:
            keep = pos % self.step == 0
            got = dec.read(keep)
            if got is None:
                failures += 1
                if pos + 1 < dec.frame_count and failures < self._max_failures:
                    pos += 1  # the file declares more frames: skip this one, read on
                    continue
                break
            failures = 0
            result.good += 1
            if keep and isinstance(got, np.ndarray):
                self.decoded_frames += 1
                yield pos, got
            pos += 1
        result.length = max(dec.frame_count, pos)
        skipped = max(0, dec.frame_count - result.good)
        if skipped and not stopped(self._stop) and not self._closed:
            log.info(  # the run's summary warns the person once, with the total
                "%s: %d of %d frames could not be decoded and were skipped",
                self.path,
                skipped,
                dec.frame_count,
            )
            self.skipped_frames += skipped

    def close(self) -> None:
        self._closed = True
        if self._pending is not None:
            self._pending.close()
            self._pending = None
