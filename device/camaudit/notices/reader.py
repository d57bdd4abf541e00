"""QR reading on a watch-region crop with OpenCV: try the crop at growing scales until a code
decodes (small signs far from the camera need upscaling before OpenCV finds them)."""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

ReaderKind = Literal["opencv", "aruco", "both"]


class MarkerReader:
    """Decodes QR texts in a BGR image. One per watcher (OpenCV detectors keep state).

    kind "both" (the default, measured best by bench/markers.py): cv2.QRCodeDetector at every
    scale and cv2.QRCodeDetectorAruco at `aruco_scales` (it reads some steeply angled codes the
    first one misses, but seldom needs upscaling), smallest scale first. "opencv"/"aruco": one
    detector at every scale."""

    def __init__(
        self,
        kind: ReaderKind = "both",
        scales: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0),
        max_side: int = 1800,
        sharpen: bool = True,
        aruco_scales: tuple[float, ...] = (1.0, 2.0, 3.0),
    ) -> None:
        self.kind = kind
        self.scales = scales
        self.max_side = max_side
        self.sharpen = sharpen
        qr, aruco = cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco()
        self._plan: list[tuple[float, cv2.QRCodeDetector | cv2.QRCodeDetectorAruco]] = []
        for s in sorted(set(scales) | (set(aruco_scales) if kind == "both" else set())):
            if kind in ("opencv", "both") and s in scales:
                self._plan.append((s, qr))
            if kind == "aruco" or (kind == "both" and s in aruco_scales):
                self._plan.append((s, aruco))

    def read(self, image: np.ndarray, accept: object = None) -> list[str]:
        """Texts of the QR codes found; stops at the first scale where one decodes.

        `accept` (a callable text -> bool) lets the caller stop only at a code it wants."""
        if image.size == 0:
            return []
        h, w = image.shape[:2]
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        found: list[str] = []
        cache: dict[float, np.ndarray] = {}
        for s, det in self._plan:
            if s != 1.0 and max(h, w) * s > self.max_side:
                continue
            img = cache.get(s)
            if img is None:
                img = gray if s == 1.0 else _upscale(gray, s, self.sharpen)
                cache = {s: img}  # keep one scaled image: the plan visits scales in order
            try:
                text, _pts, _ = det.detectAndDecode(img)
            except cv2.error:
                continue
            if text:
                found.append(text)
                if accept is None or accept(text):  # type: ignore[operator]
                    return found
        return found


def _upscale(gray: np.ndarray, s: float, sharpen: bool) -> np.ndarray:
    img = cv2.resize(gray, None, fx=s, fy=s, interpolation=cv2.INTER_CUBIC)
    if sharpen:  # unsharp mask at the scale of one original pixel: restores module edges
        blur = cv2.GaussianBlur(img, (0, 0), s * 0.5)
        img = cv2.addWeighted(img, 1.8, blur, -0.8, 0)
    return img
