"""A venue run end to end on real frames, shared by the report tests (module-scoped).

The facenet arcade clip (people walking towards the camera) with a printed bilingual sign
composited on a wall: people while the sign is visible, a quiet stretch in which the sign
is covered, people again with the sign covered. Run by the real pipeline and int8 model
with blurred evidence frames, in the Europe/Paris time zone.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipeline"))

from pipeline_helpers import clip_frames, run_watched_clip  # noqa: E402

from camaudit.config.notices import NoticeConfig  # noqa: E402
from camaudit.notices.composite import composite_sign, perspective_quad  # noqa: E402
from camaudit.notices.sign import render_sign  # noqa: E402

FPS = 25.0
SIZE = (960, 540)
NOTICE = {
    "controller": "Example Café Ltd, 1 Main St",
    "purposes": ["security of the premises"],
    "rights": "access, erasure, objection: ask the contact below",
    "contact": "dpo@example.org",
    "full_notice": "https://example.org/cctv",
    "covers": ["arcade"],
    "languages": ["en", "fr"],
    "translations": {"fr": {"purposes": ["sécurité des locaux"], "rights": "accès, effacement, opposition : écrivez au contact"}},
}
from report_helpers import VENUE  # noqa: E402


@pytest.fixture(scope="session")
def venue_run(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(journal db, config file) of the run."""
    tmp = tmp_path_factory.mktemp("venue")
    people = clip_frames(shared_data / "videos" / "facenet-pytorch_video.mp4", SIZE)
    empty = clip_frames(shared_data / "videos" / "NOFACE_intel_bottle-detection.mp4", SIZE, 100)
    quad = perspective_quad(850, 150, 200, yaw_deg=15)  # >= the 200 px minimum (README)
    sign = render_sign("entrance", NoticeConfig.model_validate(NOTICE), 600)
    cover = np.full_like(sign, 128)
    parts = (
        [composite_sign(f, sign, quad) for f in people]
        + [composite_sign(f, sign, quad) for f in empty[:25]]
        + [composite_sign(f, cover, quad) for f in empty[25:]]
        + [composite_sign(f, cover, quad) for f in people]
    )
    return run_watched_clip(tmp, "venue.avi", parts, FPS, SIZE, quad, NOTICE,
                            {"id": "cafe-01", "timezone": "Europe/Paris", "venue": VENUE}, {"evidence": "blurred"})

