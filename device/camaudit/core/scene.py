"""Scene cuts (pure): a frame whose motion thumbnail differs from the previous frame's
by more than a threshold starts a new scene. Tracks never continue across a cut.

The thumbnail is the motion gate's (core.motion.downscale_gray), made for every frame
anyway, so the check costs one subtraction of ~64 x 36 values. A cut in edited video
(TV footage, a switched camera) changes nearly every pixel at once; a person walking
through the view changes only the part of the frame they cover.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


class SceneCuts:
    def __init__(self, threshold: float = 22.0) -> None:
        if threshold <= 0:
            raise ValueError(f"threshold must be > 0, got {threshold}")
        self.threshold = threshold
        self._prev: npt.NDArray[np.float32] | None = None
        self.last_diff = 0.0
        self.cuts = 0

    def check(self, thumb: npt.NDArray[np.float32]) -> bool:
        """True when `thumb` starts a new scene (never on the first frame)."""
        prev, self._prev = self._prev, thumb
        if prev is None or prev.shape != thumb.shape:
            self.last_diff = 0.0
            return False
        self.last_diff = float(np.mean(np.abs(thumb - prev)))
        if self.last_diff > self.threshold:
            self.cuts += 1
            return True
        return False
