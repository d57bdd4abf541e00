"""Shared bits for the notice tests: a notice, real clip frames, a sign composited in."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from camaudit.config.notices import NoticeConfig

NOTICE_ID = "entrance-sign"


def notice(**over: object) -> NoticeConfig:
    fields: dict[str, object] = {
        "controller": "Example Café Ltd, 1 Main St",
        "purposes": ["security of the premises"],
        "rights": "access, erasure, objection: ask the contact below",
        "contact": "dpo@example.org",
        "full_notice": "https://example.org/cctv",
        "covers": ["counter"],
        "watch": {"feed": "door", "region": [0.05, 0.05, 0.6, 0.95], "check_s": 0.2, "grace_s": 1.0},
    }
    fields.update(over)
    return NoticeConfig.model_validate(fields)


def read_frames(path: Path, limit: int | None = None) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out: list[np.ndarray] = []
    while limit is None or len(out) < limit:
        ok, f = cap.read()
        if not ok:
            break
        out.append(f)
    cap.release()
    assert out, f"no frame decoded from {path}"
    return out
