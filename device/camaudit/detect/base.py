"""The Detector interface: any face model plugs in behind it without touching callers."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from camaudit.core.types import Detection


class Detector(Protocol):
    """Finds faces in one BGR uint8 frame (H x W x 3); boxes in that frame's pixels."""

    name: str

    def detect(self, frame: np.ndarray) -> list[Detection]: ...
