"""Camera health adapter: measures each frame's motion-gate thumbnail, keeps the reference,
and journals what camaudit.core.camera_health decides.

Measured on the grey thumbnail the motion gate already made (about 64 px wide), never on the
full frame: mean and standard deviation (covered), scene_match to the reference thumbnail
(moved) and sharpness relative to the reference's (blurred). How the numbers behave on the
shared clips: docs/camera-health.md.

The reference is learned from the first `learn_s` seconds of frames that are not covered,
stored in `<data_dir>/camera_health/`, and kept across restarts: a camera turned to the wall
before a restart is still `moved`. It is learned again only when an operator asks
(`camaudit relearn FEED` leaves a request file the running device picks up, or the next
start does). Each reference, learned or loaded, is journalled (`camera.reference`) with the
SHA-256 of its bytes.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from camaudit.config.feeds import HealthConfig
from camaudit.core.camera_health import (
    EVENT_FOR,
    REASON_FOR,
    REFERENCE,
    CameraHealth,
    HealthLimits,
    HealthSample,
    classify,
)

log = logging.getLogger(__name__)

Sink = Callable[[str, str | None, Mapping[str, Any], int], Any]

CELL = 8  # thumbnail cell side (px) for the scene scene_match
MIN_CELL_STD = 4.0  # reference cells flatter than this (sky, wall) are not compared
MIN_CELLS = 4  # fewer textured cells: the scene cannot be compared
MATCH_CORR = 0.6  # a reference cell still matches when its correlation with now is at least
MIN_NOW_STD = 2.0  # ... and the cell now is not flat (a plain wall's faint ramp matches nothing)
MIN_SHARPNESS = 0.5  # a reference this flat cannot tell blur
MAX_LEARN_THUMBS = 64
MAX_REFERENCE_BYTES = 1_000_000
RELEARN_POLL_S = 1.0


def sharpness(thumb: npt.NDArray[np.float32]) -> float:
    """Mean absolute 4-neighbour Laplacian of the thumbnail (grey levels)."""
    t = thumb
    if t.shape[0] < 3 or t.shape[1] < 3:
        return 0.0
    lap = 4 * t[1:-1, 1:-1] - t[:-2, 1:-1] - t[2:, 1:-1] - t[1:-1, :-2] - t[1:-1, 2:]
    return float(np.mean(np.abs(lap)))


def _cells(thumb: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    ny, nx = thumb.shape[0] // CELL, thumb.shape[1] // CELL
    t = thumb[: ny * CELL, : nx * CELL].astype(np.float32)
    c = t.reshape(ny, CELL, nx, CELL).transpose(0, 2, 1, 3).reshape(ny * nx, CELL * CELL)
    out: npt.NDArray[np.float32] = c - c.mean(axis=1, keepdims=True)
    return out


def _resized(thumb: npt.NDArray[np.float32], shape: tuple[int, ...]) -> npt.NDArray[np.float32]:
    import cv2

    out = cv2.resize(thumb.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    return np.asarray(out, dtype=np.float32)


class Reference:
    """A learned view: the median thumbnail (uint8) and its sharpness."""

    def __init__(self, thumb: npt.NDArray[np.uint8], sharp: float, learned_ms: int) -> None:
        self.thumb = thumb
        self.sharpness = sharp
        self.learned_ms = learned_ms
        cells = _cells(thumb.astype(np.float32))
        norms = np.sqrt((cells * cells).sum(axis=1))
        keep = norms / CELL >= MIN_CELL_STD  # std of a cell = norm / sqrt(CELL*CELL)
        self._cells = cells[keep] / norms[keep, None]
        self._keep = keep
        self.textured_cells = int(keep.sum())

    @property
    def sha256(self) -> str:
        h, w = self.thumb.shape
        return hashlib.sha256(f"{w}x{h}:".encode() + self.thumb.tobytes()).hexdigest()

    def scene_match(self, thumb: npt.NDArray[np.float32]) -> float | None:
        """The share of the reference's textured cells that still match the same cells now
        (correlation >= MATCH_CORR, not flat now): people passing hide some cells, a turned
        camera all of them. None when not comparable."""
        if thumb.shape != self.thumb.shape or self.textured_cells < MIN_CELLS:
            return None
        cur = _cells(thumb)[self._keep]
        norms = np.sqrt((cur * cur).sum(axis=1))
        dots = (cur * self._cells).sum(axis=1)
        match = (norms / CELL >= MIN_NOW_STD) & (dots >= MATCH_CORR * norms)
        return float(np.count_nonzero(match)) / float(match.size)

    def sharpness_ratio(self, sharp: float, shape: tuple[int, ...]) -> float | None:
        if shape != self.thumb.shape or self.sharpness < MIN_SHARPNESS:
            return None
        return sharp / self.sharpness

    def body(self, reason: str) -> dict[str, Any]:
        h, w = self.thumb.shape
        return {
            "reason": reason,
            "learned": self.learned_ms,
            "size": [w, h],
            "sharpness": round(self.sharpness, 3),
            "mean": round(float(self.thumb.mean()), 2),
            "std": round(float(self.thumb.std()), 2),
            "textured_cells": self.textured_cells,
            "sha256": self.sha256,
        }

    def to_json(self, feed: str) -> str:
        h, w = self.thumb.shape
        return json.dumps({"feed": feed, "w": w, "h": h, "sharpness": self.sharpness,
                           "learned": self.learned_ms,
                           "thumb": base64.b64encode(self.thumb.tobytes()).decode("ascii")})

    @classmethod
    def from_json(cls, raw: bytes, feed: str) -> Reference:
        """Parse a stored reference; ValueError on anything unexpected."""
        if len(raw) > MAX_REFERENCE_BYTES:
            raise ValueError("file too large")
        d = json.loads(raw)
        if not isinstance(d, dict) or d.get("feed") != feed:
            raise ValueError("not this feed's reference")
        w, h, sharp, learned = d.get("w"), d.get("h"), d.get("sharpness"), d.get("learned")
        if not (isinstance(w, int) and isinstance(h, int) and 0 < w <= 1024 and 0 < h <= 1024):
            raise ValueError("bad size")
        if not isinstance(sharp, (int, float)) or not np.isfinite(sharp) or sharp < 0:
            raise ValueError("bad sharpness")
        if not isinstance(learned, int):
            raise ValueError("bad time")
        data = base64.b64decode(str(d.get("thumb", "")), validate=True)
        if len(data) != w * h:
            raise ValueError("thumbnail size does not match")
        return cls(np.frombuffer(data, dtype=np.uint8).reshape(h, w).copy(), float(sharp), learned)


def _safe(feed: str) -> str:
    return hashlib.sha256(feed.encode("utf-8")).hexdigest()[:16]


def reference_path(state_dir: Path, feed: str) -> Path:
    return state_dir / f"{_safe(feed)}.json"


def relearn_path(state_dir: Path, feed: str) -> Path:
    return state_dir / f"{_safe(feed)}.relearn"


def request_relearn(state_dir: Path, feed: str) -> Path:
    """Leave the request the device picks up (running: within a second; else at start)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = relearn_path(state_dir, feed)
    path.write_text(feed + "\n", encoding="utf-8")
    return path


class HealthWatch:
    """One feed's camera health: observe(thumbnail, ts) on every frame."""

    def __init__(
        self,
        feed: str,
        cfg: HealthConfig,
        sink: Sink,
        *,
        state_dir: Path | None = None,
        board: Any = None,
    ) -> None:
        self.feed = feed
        self.cfg = cfg
        self.sink = sink
        self.state_dir = state_dir
        self.board = board
        self.limits = HealthLimits(
            dark_level=cfg.dark_level, uniform_std=cfg.uniform_std,
            moved_match=cfg.moved_match, blurred_ratio=cfg.blurred_ratio,
            enter_ms=round(cfg.enter_s * 1000), restore_ms=round(cfg.restore_s * 1000),
            alert_ms=round(cfg.alert_after_s * 1000),
        )
        self.machine = CameraHealth(feed, self.limits)
        self.reference: Reference | None = None
        self._learn: list[npt.NDArray[np.float32]] = []
        self._learn_sharp: list[float] = []
        self._learn_from: int | None = None
        self._learn_reason = "start"
        self._loaded_pending = False  # a stored reference still to be journalled
        self._unsure: str | None = None
        self._start_seq: int | None = None
        self._polled = float("-inf")
        self.frames = 0
        self.cost_s = 0.0  # time spent in observe(), for the bench
        self._load()

    # --- reference ---------------------------------------------------------------------
    def _load(self) -> None:
        if self.state_dir is None:
            return
        if relearn_path(self.state_dir, self.feed).exists():
            self._take_request()
            return
        path = reference_path(self.state_dir, self.feed)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("feed %s: camera reference %s unreadable (%s): learning anew", self.feed, path, exc)
            self._learn_reason = "stored_unreadable"
            return
        try:
            self.reference = Reference.from_json(raw, self.feed)
            self._loaded_pending = True
        except (ValueError, UnicodeDecodeError) as exc:
            log.warning("feed %s: camera reference %s invalid (%s): learning anew", self.feed, path, exc)
            self._learn_reason = "stored_unreadable"

    def _take_request(self) -> None:
        assert self.state_dir is not None
        with contextlib.suppress(OSError):
            relearn_path(self.state_dir, self.feed).unlink()
        log.info("feed %s: re-learning the camera reference (operator request)", self.feed)
        self.reference = None
        self._loaded_pending = False
        self._learn, self._learn_sharp, self._learn_from = [], [], None
        self._learn_reason = "operator"

    def _poll(self) -> None:
        if self.state_dir is None:
            return
        now = time.monotonic()
        if now - self._polled < RELEARN_POLL_S:
            return
        self._polled = now
        if relearn_path(self.state_dir, self.feed).exists():
            self._take_request()

    def _learn_step(self, thumb: npt.NDArray[np.float32], sharp: float, ts_ms: int) -> None:
        if self._learn_from is None or ts_ms < self._learn_from:
            self._learn, self._learn_sharp, self._learn_from = [], [], ts_ms
        self._learn.append(thumb)
        self._learn_sharp.append(sharp)
        if len(self._learn) > MAX_LEARN_THUMBS:  # keep an even spread over the window
            self._learn, self._learn_sharp = self._learn[::2], self._learn_sharp[::2]
        if ts_ms - self._learn_from < self.limits_learn_ms or len(self._learn) < 3:
            return
        shape = self._learn[-1].shape
        same = [t for t in self._learn if t.shape == shape]
        med = np.clip(np.rint(np.median(np.stack(same), axis=0)), 0, 255).astype(np.uint8)
        self.reference = Reference(med, float(np.median(self._learn_sharp)), ts_ms)
        self._learn, self._learn_sharp, self._learn_from = [], [], None
        self._save()
        body = self.reference.body(self._learn_reason)
        body["frames"] = len(same)
        log.info("feed %s: camera reference learned (%s)", self.feed, self._learn_reason)
        self.sink(REFERENCE, self.feed, body, ts_ms)

    @property
    def limits_learn_ms(self) -> int:
        return round(self.cfg.learn_s * 1000)

    def _save(self) -> None:
        if self.state_dir is None or self.reference is None:
            return
        path = reference_path(self.state_dir, self.feed)
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(self.reference.to_json(self.feed), encoding="utf-8")
            tmp.replace(path)
        except OSError as exc:  # the audit goes on; the next start learns again
            log.error("feed %s: camera reference not saved: %s", self.feed, exc)

    # --- per frame ---------------------------------------------------------------------
    def observe(self, thumb: npt.NDArray[np.float32], ts_ms: int) -> None:
        t0 = time.perf_counter()
        self._poll()
        if self._loaded_pending and self.reference is not None:
            self._loaded_pending = False
            self.sink(REFERENCE, self.feed, self.reference.body("stored"), ts_ms)
        if thumb.size == 0:
            return
        mean, std = float(thumb.mean()), float(thumb.std())
        sharp = sharpness(thumb)
        ref = self.reference
        cmp, cmp_sharp = thumb, sharp
        if ref is not None and thumb.shape != ref.thumb.shape:
            # the stream's resolution changed: compare at the reference's size (a camera
            # cannot leave the audit's view by switching resolution)
            cmp = _resized(thumb, ref.thumb.shape)
            cmp_sharp = sharpness(cmp)
        sample = HealthSample(
            ts_ms, mean, std,
            scene_match=ref.scene_match(cmp) if ref is not None else None,
            sharpness_ratio=ref.sharpness_ratio(cmp_sharp, cmp.shape) if ref is not None else None,
        )
        if ref is None and classify(sample, self.limits) is None:
            self._learn_step(thumb, sharp, ts_ms)
        for ch in self.machine.step(sample):
            body = dict(ch.body)
            if ch.type == "alert":
                body["ref_seq"] = self._start_seq
            written = self.sink(ch.type, self.feed, body, ch.ts_ms)
            if ch.type in EVENT_FOR.values():
                log.warning("feed %s: camera %s since %s", self.feed, ch.condition, ch.body["start"])
                self._start_seq = getattr(written, "seq", None)
                if self.board is not None:
                    self.board.camera_blind(self.feed, REASON_FOR[ch.condition], ch.ts_ms)
            elif ch.type != "alert":
                log.info("feed %s: camera no longer %s", self.feed, ch.condition)
        unsure = self.machine.unsure
        if unsure != self._unsure:
            self._unsure = unsure
            if self.board is not None:
                self.board.camera_unsure(self.feed, unsure)
        self.frames += 1
        self.cost_s += time.perf_counter() - t0
