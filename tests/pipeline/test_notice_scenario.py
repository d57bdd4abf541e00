"""Scenario on a real clip: the notice is visible, then covered mid-clip (issue 5).

The video is made from real frames: the facenet arcade clip (people walking towards the
camera) with the printed sign composited on a wall, a quiet stretch with no one in view
(frames of the bottle clip) during which the sign is covered, then people again.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pipeline_helpers import camaudit, captures, clip_frames, run_watched_clip

from camaudit.config.notices import NoticeConfig
from camaudit.notices.composite import composite_sign, perspective_quad
from camaudit.notices.sign import render_sign

pytestmark = pytest.mark.integration

FPS = 25.0
SIZE = (960, 540)
NOTICE = {
    "controller": "Example Café Ltd, 1 Main St",
    "purposes": ["security of the premises"],
    "rights": "access, erasure, objection: ask the contact below",
    "contact": "dpo@example.org",
    "full_notice": "https://example.org/cctv",
    "covers": ["arcade"],
}


@pytest.fixture(scope="module")
def scenario(shared_data: Path, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("scenario")
    people = clip_frames(shared_data / "videos" / "facenet-pytorch_video.mp4", SIZE)
    empty = clip_frames(shared_data / "videos" / "NOFACE_intel_bottle-detection.mp4", SIZE, 100)
    quad = perspective_quad(870, 110, 150, yaw_deg=15)
    sign = render_sign("entrance", NoticeConfig.model_validate(NOTICE), 600)
    # the "covered" sign: a grey cover taped over it
    cover = np.full_like(sign, 128)

    def with_(img: np.ndarray, s: np.ndarray) -> np.ndarray:
        return composite_sign(img, s, quad)

    parts = (
        [with_(f, sign) for f in people]  # 0 .. 104: people, sign visible
        + [with_(f, sign) for f in empty[:25]]  # 105 .. 129: nobody, sign visible
        + [with_(f, cover) for f in empty[25:]]  # 130 .. 204: nobody, sign covered
        + [with_(f, cover) for f in people]  # 205 .. 309: people, sign covered
    )
    covered_at = 130
    db, _ = run_watched_clip(tmp, "scenario.avi", parts, FPS, SIZE, quad, NOTICE, {"id": "scenario-01"})
    return db, covered_at


def journal_events(db: Path) -> list[dict]:
    import sqlite3

    con = sqlite3.connect(db)
    rows = [json.loads(r[0]) for r in con.execute("select json from events order by seq")]
    con.close()
    return rows


def test_captures_before_are_consented_after_are_not(scenario):
    db, _ = scenario
    caps = captures(db)
    assert len(caps) >= 2
    first, last = caps[0], caps[-1]
    assert first["verdict"] == "consented" and first["basis"] == "notice:entrance"
    assert first["reasons"] == []
    assert last["verdict"] == "unconsented" and last["reasons"] == ["notice_missing"]
    assert last["identifiable_tracks"] >= 1


def test_journal_shows_notice_missing_after_grace(scenario):
    db, covered_at = scenario
    events = journal_events(db)
    # what was posted, journalled once at the start, before any sighting
    reg = [e for e in events if e["type"] == "notice.registered"]
    assert len(reg) == 1 and reg[0]["body"]["notice"] == "entrance"
    assert reg[0]["body"]["controller"] == NOTICE["controller"] and reg[0]["body"]["covers"] == ["arcade"]
    notice = [e for e in events if e["type"].startswith("notice.") and e["type"] != "notice.registered"]
    assert reg[0]["seq"] < notice[0]["seq"]
    assert [e["type"] for e in notice] == ["notice.restored", "notice.missing"]
    # the first check is on frame 0, so the restored event's clip time is the clip's time
    # zero (`ts` is when the journal wrote it; a file feed's own time is `clip_ts`)
    missing_at = (notice[1]["body"]["clip_ts"] - notice[0]["body"]["clip_ts"]) / 1000
    cover_s = covered_at / FPS
    # MISSING once the grace period (1 s) has passed since the last sighting, which is at
    # most one check (0.2 s) before the cover went up
    assert cover_s + 1.0 - 0.2 <= missing_at <= cover_s + 1.0 + 0.2
    # an alert for the unconsented capture, in words, once
    alerts = [e for e in events if e["type"] == "alert"]
    assert len(alerts) == 1 and "notice" in alerts[0]["body"]["text"]
    camaudit("verify", str(db))
