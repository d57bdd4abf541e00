"""Notice watcher on real clip frames with the printed sign composited in: VISIBLE, then
covered -> MISSING only after the grace period; feed down -> UNKNOWN; a sign that stays up a
whole clip never produces notice.missing; a sign printed for other content does not count."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from notice_helpers import NOTICE_ID, notice, read_frames

from camaudit.errors import ConfigError
from camaudit.notices.composite import composite_sign, perspective_quad, quad_bbox
from camaudit.notices.sign import render_sign
from camaudit.notices.watcher import NoticeWatcher


@pytest.fixture(scope="module")
def arcade(shared_data):
    return read_frames(shared_data / "videos" / "facenet-pytorch_video.mp4")


def cover(frame: np.ndarray, quad) -> np.ndarray:
    """Someone hangs a grey coat over the sign."""
    out = frame.copy()
    q = np.asarray(quad, dtype=np.int32)
    cv2.fillPoly(out, [q], (70, 75, 80))
    return out


def run(watcher: NoticeWatcher, frames, ts_step: int, make=lambda i, f: f):
    """Feed frames at ts = i * ts_step; `make(i, frame)` builds a frame only when it is checked."""
    out = []
    for i, f in enumerate(frames):
        ts = i * ts_step
        if watcher.due(ts):
            t = watcher.observe(make(i, f), ts)
            if t is not None:
                out.append(t)
    return out


def test_visible_then_covered_goes_missing_only_after_grace(arcade):
    n = notice(watch={"feed": "door", "region": [0.1, 0.2, 0.45, 0.85], "check_s": 1.0, "grace_s": 4.0})
    sign = render_sign(NOTICE_ID, n, 1000)
    quad = perspective_quad(500, 560, 240, yaw_deg=25, tilt_deg=-5)
    cover_at = 50  # frames at 200 ms: covered from 10.0 s
    w = NoticeWatcher(NOTICE_ID, n)
    assert w.state == "UNKNOWN" and w.feed == "door"
    ts = run(w, arcade, 200, lambda i, f: composite_sign(f, sign, quad) if i < cover_at else cover(f, quad))
    assert [t.event_type for t in ts] == ["notice.restored", "notice.missing"]
    assert [t.state for t in ts] == ["VISIBLE", "MISSING"]
    restored, missing = ts
    assert restored.ts_ms == 0 and restored.body["previous"] == "UNKNOWN"
    last_seen = missing.body["last_seen"]
    assert last_seen is not None and last_seen < cover_at * 200
    # not before the grace period after the last sighting, and at the first check after it
    assert missing.ts_ms - last_seen >= 4000
    assert missing.ts_ms <= cover_at * 200 + 4000 + 1000
    assert missing.notice_id == NOTICE_ID and missing.body["covers"] == ["counter"]
    assert w.state == "MISSING"


def test_feed_down_is_unknown_never_visible_then_restored(arcade):
    n = notice(watch={"feed": "door", "region": [0.1, 0.2, 0.45, 0.85], "check_s": 1.0, "grace_s": 4.0})
    sign = render_sign(NOTICE_ID, n, 1000)
    quad = perspective_quad(500, 560, 240)
    frames = [composite_sign(f, sign, quad) for f in arcade[:10]]
    w = NoticeWatcher(NOTICE_ID, n)
    assert w.observe(frames[0], 0).state == "VISIBLE"
    down = w.feed_down(5_000)
    assert down is not None and (down.state, down.event_type) == ("UNKNOWN", "notice.unknown")
    assert down.body["previous"] == "VISIBLE" and w.state == "UNKNOWN"
    assert w.feed_down(6_000) is None  # no repeat while down
    assert w.due(6_500)  # checked again at the first frame after the feed is back
    back = w.observe(frames[5], 30_000)
    assert back is not None and (back.state, back.event_type) == ("VISIBLE", "notice.restored")


@pytest.mark.parametrize(
    ("clip", "width", "centre", "step_ms"),
    [
        ("face_recognition_short_hamilton_clip.mp4", 200, (140, 180), 33),
        ("intel_face-demographics-walking.gif", 170, (110, 134), 80),
    ],
)
def test_sign_up_for_a_whole_clip_never_goes_missing(shared_data, clip, width, centre, step_ms):
    n = notice(watch={"feed": "door", "region": [0.0, 0.0, 0.6, 1.0], "check_s": 0.2, "grace_s": 1.0})
    sign = render_sign(NOTICE_ID, n, 800)
    quad = perspective_quad(*centre, width, yaw_deg=-20)
    w = NoticeWatcher(NOTICE_ID, n)
    ts = run(w, read_frames(shared_data / "videos" / clip), step_ms, lambda i, f: composite_sign(f, sign, quad))
    assert [t.event_type for t in ts] == ["notice.restored"]
    assert w.state == "VISIBLE"


def test_sign_printed_for_other_content_does_not_count(arcade):
    posted = notice(controller="Another Venue Ltd, 9 Side St")  # same id, other text
    configured = notice(watch={"feed": "door", "region": [0.1, 0.2, 0.45, 0.85], "check_s": 1.0, "grace_s": 2.0})
    quad = perspective_quad(500, 560, 240)
    sign = render_sign(NOTICE_ID, posted, 1000)
    w = NoticeWatcher(NOTICE_ID, configured)
    ts = run(w, arcade[:20], 200, lambda i, f: composite_sign(f, sign, quad))
    assert [t.state for t in ts] == ["MISSING"]
    assert ts[0].body.get("other_content_seen") is True


def test_sign_outside_the_watch_region_is_not_seen(arcade):
    n = notice(watch={"feed": "door", "region": [0.6, 0.0, 1.0, 0.5], "check_s": 1.0, "grace_s": 0.0})
    quad = perspective_quad(500, 560, 240)
    frame = composite_sign(arcade[0], render_sign(NOTICE_ID, n, 1000), quad)
    t = NoticeWatcher(NOTICE_ID, n).observe(frame, 0)
    assert t is not None and t.state == "MISSING"
    region = quad_bbox(quad, frame.shape)
    n2 = notice(watch={"feed": "door", "region": list(region), "check_s": 1.0, "grace_s": 0.0})
    assert NoticeWatcher(NOTICE_ID, n2).observe(frame, 0).state == "VISIBLE"


def test_due_every_check_interval():
    w = NoticeWatcher(NOTICE_ID, notice(watch={"feed": "door", "check_s": 10, "grace_s": 60}))
    assert w.due(0)
    w.observe(np.zeros((120, 160, 3), np.uint8), 0)
    assert not w.due(9_999) and w.due(10_000)
    assert w.due(-5)  # clock stepped back: check again


def test_unwatched_notice_cannot_be_watched():
    with pytest.raises(ConfigError, match="no `watch` section"):
        NoticeWatcher(NOTICE_ID, notice(watch=None))


def _qr_card(text: str, px: int = 400) -> np.ndarray:
    """A white card with only a QR code holding `text` (what a forger could print)."""
    from camaudit.notices.sign import qr_matrix

    m = qr_matrix(text, border=4)
    img = np.where(m, 0, 255).astype(np.uint8)
    img = cv2.resize(img, (px, px), interpolation=cv2.INTER_NEAREST)
    return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)


def test_sign_qr_opens_the_full_notice_and_a_redirected_one_does_not_count(arcade):
    """The printed QR is the full notice's address with the marker as fragment: the watcher
    reads it as the marker. The same marker behind another address (a QR sending phones
    elsewhere) is not the posted notice; the bare marker of an older print still is."""
    from camaudit.notices.marker import marker_payload, qr_text

    n = notice()
    w = NoticeWatcher(NOTICE_ID, n)
    marker = marker_payload(NOTICE_ID, n)
    frame = arcade[0].copy()
    h, wd = frame.shape[:2]
    region = (int(0.1 * wd), int(0.1 * h))

    def with_card(text: str) -> np.ndarray:
        f = frame.copy()
        card = _qr_card(text)
        f[region[1]:region[1] + 400, region[0]:region[0] + 400] = card
        return f

    assert qr_text(NOTICE_ID, n) == "https://example.org/cctv#" + marker
    assert w.look(with_card(qr_text(NOTICE_ID, n))) == (True, False)
    assert w.look(with_card(marker)) == (True, False)
    assert w.look(with_card("https://evil.example/cctv#" + marker)) == (False, True)
    assert w.look(with_card("https://example.org/cctv")) == (False, False)
