"""Per frame, the box height of every confirmed track on one clip (for choosing min_face_px).

Runs the whole appliance unpaced on the clip (default config, one thread, a fresh journal in
a temporary directory) and records, without changing what it does, each confirmed track's
box height in native pixels at every frame it is active. Prints one line per track:
the frames and heights, and how many frames reach each candidate size.

    .venv/bin/python bench/track_heights.py ../shared/data/videos/intel_face-demographics-walking.gif
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "device"))

SIZES = (24, 26, 28, 30, 32)


def heights(clip: Path) -> dict[int, list[tuple[int, int]]]:
    import cv2

    cv2.setNumThreads(1)
    from camaudit.config.model import Config
    from camaudit.core import tracking
    from camaudit.pipeline.runner import run

    seen: dict[int, list[tuple[int, int]]] = {}
    orig = tracking.Tracker.update

    def update(self: Any, detections: Any, ts_ms: int, frame: int | None = None, *a: Any, **k: Any) -> Any:
        upd = orig(self, detections, ts_ms, frame, *a, **k)
        for t in upd.active:
            seen.setdefault(t.id, []).append((-1 if frame is None else frame, round(t.box.h)))
        return upd

    tracking.Tracker.update = update  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory(prefix="camaudit-heights-") as tmp:
            cfg = Config.model_validate({"device": {"id": "bench-01", "data_dir": tmp},
                                         "detector": {"threads": 1}, "feeds": {"cam": {"source": str(clip)}}})  # fmt: skip
            run(cfg, db=Path(tmp) / "journal.db", install_signals=False)
    finally:
        tracking.Tracker.update = orig  # type: ignore[method-assign]
    return seen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clip", type=Path)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not args.clip.is_file():
        raise SystemExit(f"{args.clip}: no such file")
    seen = heights(args.clip)
    out = {str(k): {"frames_and_heights": v, "frames_at_least": {n: sum(h >= n for _, h in v) for n in SIZES}}
           for k, v in sorted(seen.items())}  # fmt: skip
    if args.json:
        print(json.dumps(out, indent=2))
        return
    for k, d in out.items():
        fh = d["frames_and_heights"]
        print(f"track {k}: {len(fh)} frames, max {max(h for _, h in fh)} px; frames at least "
              + ", ".join(f"{n} px: {c}" for n, c in d["frames_at_least"].items()))  # fmt: skip
        print("  " + " ".join(f"{f}:{h}" for f, h in fh))


if __name__ == "__main__":
    main()
