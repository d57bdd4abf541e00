"""Frame-by-frame decoders for files: OpenCV (video, GIF) and Pillow (GIF fallback)."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import SourceError

log = logging.getLogger(__name__)


class Decoder(Protocol):
    """Reads a file's frames in order. read() -> BGR image, None for a frame it could not decode."""

    native_fps: float  # 0.0 when unknown
    frame_count: int  # declared number of frames, 0 when unknown
    name: str

    def read(self, keep: bool = True) -> np.ndarray | bool | None: ...

    def close(self) -> None: ...


def one_decode_thread(cv2: Any) -> list[int]:
    """VideoCapture open parameters for one FFmpeg decode thread.

    FFmpeg's default is one frame thread per CPU, each with its own frames in flight: at
    1920x1080 H.264 that is 13.6 MB more peak RSS with 2 threads than with 1 (measured,
    docs/tracks.md "Peak memory of one feed"), and more on a 4-core board. A feed is one
    reader thread by design; several feeds share the cores.
    """
    return [cv2.CAP_PROP_N_THREADS, 1]


class OpenCVDecoder:
    """cv2.VideoCapture on a file, one decode thread. read(keep=False) only grabs (skips
    the colour conversion)."""

    name = "opencv"

    def __init__(self, path: Path) -> None:
        import cv2

        self._cv2 = cv2
        self._cap = cv2.VideoCapture(str(path), cv2.CAP_ANY, one_decode_thread(cv2))
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(f"OpenCV cannot open video file {path}")
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.native_fps = fps if math.isfinite(fps) and 0.0 < fps <= 1000.0 else 0.0
        count = self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0
        self.frame_count = int(count) if math.isfinite(count) and count > 0 else 0

    @property
    def threads(self) -> int:
        """Decode threads of the open capture (as OpenCV reports them)."""
        return int(self._cap.get(self._cv2.CAP_PROP_N_THREADS))

    def read(self, keep: bool = True) -> np.ndarray | bool | None:
        if not self._cap.grab():
            return None
        if not keep:
            return True
        ok, image = self._cap.retrieve()
        return image if ok and image is not None else None

    def close(self) -> None:
        self._cap.release()


class PillowGifDecoder:
    """Animated GIF through Pillow, for OpenCV builds that cannot read GIFs."""

    name = "pillow"

    def __init__(self, path: Path) -> None:
        from PIL import Image

        try:
            self._img = Image.open(path)
            self._img.load()
        except (OSError, SyntaxError, ValueError) as e:
            raise SourceError(f"Pillow cannot open GIF {path}: {e}") from e
        self.frame_count = int(getattr(self._img, "n_frames", 1))
        duration_ms = float(self._img.info.get("duration") or 0.0)
        self.native_fps = 1000.0 / duration_ms if duration_ms > 0 else 0.0
        self._next = 0

    def read(self, keep: bool = True) -> np.ndarray | bool | None:
        if self._next >= self.frame_count:
            return None
        index = self._next
        self._next += 1
        try:
            self._img.seek(index)
            if not keep:
                return True
            rgb = np.asarray(self._img.convert("RGB"))
        except (OSError, ValueError, EOFError) as e:
            log.debug("GIF frame %d undecodable: %s", index, e)
            return None
        return np.ascontiguousarray(rgb[:, :, ::-1])

    def close(self) -> None:
        self._img.close()


def open_decoder(path: Path, decoder: str = "auto") -> Decoder:
    """OpenCV first; for .gif fall back to Pillow when OpenCV cannot open or decode it."""
    if decoder == "pillow":
        return PillowGifDecoder(path)
    if decoder not in ("auto", "opencv"):
        raise SourceError(f"unknown decoder {decoder!r} (expected auto, opencv or pillow)")
    is_gif = path.suffix.lower() == ".gif"
    try:
        dec = OpenCVDecoder(path)
    except SourceError:
        if decoder == "auto" and is_gif:
            log.info("OpenCV cannot open %s, reading it with Pillow", path)
            return PillowGifDecoder(path)
        raise
    if decoder == "auto" and is_gif and dec.frame_count <= 1:
        # Some OpenCV builds open a GIF but see only its first frame: count with Pillow.
        pil = PillowGifDecoder(path)
        if pil.frame_count > max(dec.frame_count, 1):
            dec.close()
            log.info("OpenCV sees %d frame(s) of %s, reading it with Pillow", dec.frame_count, path)
            return pil
        pil.close()
    return dec
