"""Motion gate: skip face detection on frames where nothing moved (pure: arrays and ms in).

The gate compares a small grey thumbnail of each frame with the thumbnail of the last frame
that was sent to detection. Comparing with the last DETECTED frame (not the previous frame)
means slow movement still adds up and triggers detection.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

# BGR -> grey weights (ITU-R BT.601, as cv2.cvtColor uses)
_GREY_BGR = np.array([0.114, 0.587, 0.299], dtype=np.float32)

DEFAULT_THRESHOLD = 1.0  # mean abs difference, grey levels 0..255, of ~64 px thumbnails (tuned: tests/core/test_motion.py)
_SAMPLES = 4  # pixels sampled per block side when pooling


def downscale_gray(frame_bgr: npt.NDArray[np.uint8], size: int = 64) -> npt.NDArray[np.float32]:
    """A grey thumbnail whose longer side is about `size` px, by mean pooling.

    The frame is cut into square blocks of max(h, w) // size pixels; each thumbnail pixel is
    the mean of a grid of up to 4x4 pixels sampled evenly inside its block (cheap on big
    frames, still averaging out sensor noise). Accepts BGR (h, w, 3) or grey (h, w) uint8.
    """
    if frame_bgr.ndim not in (2, 3) or frame_bgr.shape[0] < 1 or frame_bgr.shape[1] < 1:
        raise ValueError(f"expected an image array (h, w[, 3]), got shape {frame_bgr.shape}")
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    if frame_bgr.ndim == 3 and frame_bgr.shape[2] != 3:  # BGRA: drop alpha; (h, w, 1): grey
        frame_bgr = frame_bgr[:, :, :3] if frame_bgr.shape[2] >= 3 else frame_bgr[:, :, 0]
    h, w = frame_bgr.shape[:2]
    block = max(1, max(h, w) // size)
    k = min(block, _SAMPLES)
    offsets = (np.arange(k) * block) // k
    rows = (np.arange(h // block)[:, None] * block + offsets[None, :]).ravel()
    cols = (np.arange(w // block)[:, None] * block + offsets[None, :]).ravel()
    if rows.size == 0 or cols.size == 0:  # a frame thinner than one block
        rows = np.arange(h)
        cols = np.arange(w)
        k = 1
    sampled = frame_bgr.take(rows, axis=0).take(cols, axis=1)
    if sampled.ndim == 3:
        grey = sampled.reshape(-1, 3).astype(np.float32) @ _GREY_BGR
    else:
        grey = sampled.astype(np.float32).ravel()
    nh, nw = sampled.shape[0] // k, sampled.shape[1] // k
    blocks = grey.reshape(nh, k, nw, k).sum(axis=3, dtype=np.float32).sum(axis=1, dtype=np.float32)
    pooled: npt.NDArray[np.float32] = blocks / np.float32(k * k)
    return pooled


class MotionGate:
    """Decides per frame whether to run face detection.

    check(thumb, ts_ms) is True (detect) on the first frame, when the thumbnail's mean
    absolute difference from the last detected frame's thumbnail exceeds `threshold`
    (grey levels), when the thumbnail size changes, and whenever `max_skip_s` seconds have
    passed since the last detection (so a still scene is still looked at).
    """

    def __init__(
        self, threshold: float = DEFAULT_THRESHOLD, max_skip_s: float = 2.0, size: int = 64
    ) -> None:
        if threshold < 0:
            raise ValueError(f"threshold must be >= 0, got {threshold}")
        if max_skip_s < 0:
            raise ValueError(f"max_skip_s must be >= 0, got {max_skip_s}")
        self.threshold = threshold
        self.max_skip_ms = round(max_skip_s * 1000)
        self.size = size
        self._ref: npt.NDArray[np.float32] | None = None
        self._ref_ts = 0
        self.last_diff = 0.0
        self.checked = 0
        self.skipped = 0

    def thumbnail(self, frame_bgr: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """downscale_gray at this gate's size."""
        return downscale_gray(frame_bgr, self.size)

    def check(self, small_gray: npt.NDArray[np.floating | np.integer], ts_ms: int) -> bool:
        """True when detection should run on this frame (see the class doc)."""
        thumb = np.asarray(small_gray, dtype=np.float32)
        self.checked += 1
        ref = self._ref
        if ref is None or ref.shape != thumb.shape:
            self.last_diff = float("inf")
        else:
            self.last_diff = float(np.mean(np.abs(thumb - ref)))
            due = ts_ms - self._ref_ts >= self.max_skip_ms or ts_ms < self._ref_ts
            if self.last_diff <= self.threshold and not due:
                self.skipped += 1
                return False
        self._ref = thumb
        self._ref_ts = ts_ms
        return True

    @property
    def skip_share(self) -> float:
        """Share of checked frames that were skipped."""
        return self.skipped / self.checked if self.checked else 0.0
