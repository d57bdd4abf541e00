"""Decoded frames of a clip by index (OpenCV, the order a file source reads them)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any


def frames_at(clip: Path, wanted: Iterable[int]) -> dict[int, Any]:
    """{index: BGR frame} for the wanted frame indices the clip has (fewer if it ends first)."""
    import cv2

    want = set(wanted)
    out: dict[int, Any] = {}
    cap = cv2.VideoCapture(str(clip))
    i = 0
    while want - out.keys() and i <= max(want, default=-1):
        ok, img = cap.read()
        if not ok:
            break
        if i in want:
            out[i] = img
        i += 1
    cap.release()
    return out


def frame_at(clip: Path, index: int) -> Any:
    """One frame; a clip with no frame `index` is a one-line SystemExit naming it."""
    got = frames_at(clip, [index])
    if index not in got:
        raise SystemExit(f"{clip}: fewer than {index + 1} frames")
    return got[index]
