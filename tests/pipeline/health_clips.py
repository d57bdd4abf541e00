"""Camera-health clips made from the shared people clips (in memory; tests write them to tmp).

Every clip starts with `CLEAR_S` seconds of the untouched people clip (played forwards and
backwards so people keep walking), then the camera is covered, panned to a wall or smeared.
Times below are clip seconds at `FPS`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FPS = 10.0
SIZE = (480, 270)  # w, h
BASE = "intel_face-demographics-walking.gif"
CLEAR_S = 3.0  # untouched at the start
CHANGE_S = 2.0  # the covering / pan / smear takes this long
HOLD_S = 5.0  # then it stays covered / on the wall / smeared
BACK_S = 3.0  # covered clip only: the sheet comes off, clear again
SMEAR_SIGMA = 10.0  # px at 480 px wide, at the end of the smear


def people_frames(path: Path, seconds: float) -> list[np.ndarray]:
    """The clip's frames at SIZE, played forwards then backwards until `seconds` long."""
    import cv2

    from camaudit.sources import open_source
    from camaudit.sources.base import Frame

    src = open_source(str(path), fps=None, loop=False, pace=False)
    frames = [cv2.resize(it.image, SIZE, interpolation=cv2.INTER_AREA)
              for it in src.items() if isinstance(it, Frame)]
    src.close()
    cycle = frames + frames[-2:0:-1]
    n = round(seconds * FPS)
    return [cycle[i % len(cycle)] for i in range(n)]


def _ramp(i: int, start_s: float, dur_s: float) -> float:
    """0 before start, 1 after start + dur, linear between (frame index i)."""
    t = i / FPS
    return float(min(1.0, max(0.0, (t - start_s) / dur_s)))


def covered(base: list[np.ndarray]) -> list[np.ndarray]:
    """A black sheet over the lens: fades to black (with sensor noise), stays, comes off."""
    rng = np.random.default_rng(1)
    out = []
    off = CLEAR_S + CHANGE_S + HOLD_S
    for i, f in enumerate(base):
        a = _ramp(i, CLEAR_S, CHANGE_S) * (1.0 - _ramp(i, off, 1.0))
        g = f.astype(np.float32) * (1.0 - a) + rng.normal(3.0, 1.5, f.shape) * a
        out.append(np.clip(g, 0, 255).astype(np.uint8))
    return out


def wall(h: int, w: int) -> np.ndarray:
    """A painted wall: a light gradient, a skirting board, a little noise (not uniform)."""
    rng = np.random.default_rng(2)
    x = np.linspace(150, 190, w, dtype=np.float32)[None, :].repeat(h, 0)
    x[int(h * 0.85):, :] -= 60  # skirting board
    x += rng.normal(0, 2.0, (h, w))
    return np.clip(x, 0, 255).astype(np.uint8)[:, :, None].repeat(3, 2)


def panned(base: list[np.ndarray]) -> list[np.ndarray]:
    """The camera turned to the wall beside the scene: the view slides over in CHANGE_S."""
    w, h = SIZE
    side = wall(h, w)
    out = []
    for i, f in enumerate(base):
        dx = round(_ramp(i, CLEAR_S, CHANGE_S) * w)
        out.append(np.ascontiguousarray(np.hstack([f, side])[:, dx:dx + w]))
    return out


def smeared(base: list[np.ndarray]) -> list[np.ndarray]:
    """A smeared lens: a Gaussian blur growing to SMEAR_SIGMA px over CHANGE_S."""
    import cv2

    out = []
    for i, f in enumerate(base):
        s = _ramp(i, CLEAR_S, CHANGE_S) * SMEAR_SIGMA
        out.append(cv2.GaussianBlur(f, (0, 0), s) if s > 0.3 else f)
    return out


def health_clip(kind: str, videos: Path) -> list[np.ndarray]:
    seconds = CLEAR_S + CHANGE_S + HOLD_S + (BACK_S + 1.0 if kind == "covered" else 0.0)
    base = people_frames(videos / BASE, seconds)
    return {"covered": covered, "panned": panned, "smeared": smeared}[kind](base)
