from camaudit.core.capture import CaptureBuilder
from camaudit.core.policy import Verdict
from camaudit.core.tracking import Tracker
from camaudit.core.types import Detection

UNC = Verdict("unconsented", ("no_notice",), None)
OK = Verdict("consented", (), "notice:door")


def det(x: float, h: float = 40) -> Detection:
    """A frontal (landmarks), sharp face: identifiable when at least min_face_px (default 28) tall."""
    eyes_nose = (x + 0.3 * h, 10 + 0.4 * h, x + 0.7 * h, 10 + 0.4 * h, x + 0.5 * h, 10 + 0.6 * h)
    return Detection(x, 10, h, h, 0.9, (*eyes_nose, x + 0.35 * h, 10 + 0.8 * h, x + 0.65 * h, 10 + 0.8 * h), 1.0)


def run(frames, verdicts=None, **kw):
    """frames: list of (ts, [detections]); returns all events."""
    tr = Tracker(min_hits=1, max_age_ms=200, max_missed=1)
    cb = CaptureBuilder(**kw)
    out = []
    for i, (ts, dets) in enumerate(frames):
        v = verdicts[i] if verdicts else UNC
        out += cb.step(tr.update(dets, ts), v)
    return out, cb


def test_capture_opens_updates_and_closes_after_idle():
    frames = [(t, [det(10)]) for t in range(0, 1000, 100)]
    frames += [(t, [det(10), det(300, h=20)]) for t in range(1000, 2000, 100)]
    frames += [(t, []) for t in range(2000, 6000, 100)]
    events, _ = run(frames, idle_ms=3000, update_ms=500)
    types = [e.type for e in events]
    assert types[0] == "capture.start"
    assert types[1] == "alert"
    assert "capture.update" in types
    assert types[-1] == "capture.end"
    end = events[-1]
    assert end.body.start == 0 and end.body.end == 1900
    # the end event fires idle_ms after the last face
    assert end.ts >= 1900 + 3000
    assert end.body.max_faces == 2
    assert end.body.distinct_tracks == 2
    assert end.body.identifiable_tracks == 1  # the 20 px face is presence only
    assert end.body.face_px is not None
    assert (end.body.face_px.min, end.body.face_px.max) == (20, 40)
    assert end.body.frames == 20
    assert end.body.verdict == "unconsented" and end.body.reasons == ("no_notice",)


def test_updates_are_rate_limited():
    frames = [(t, [det(10 + (t // 100) * 300 % 900)]) for t in range(0, 2000, 100)]
    events, _ = run(frames, idle_ms=3000, update_ms=1000)
    updates = [e for e in events if e.type == "capture.update"]
    ts = [e.ts for e in updates]
    assert all(b - a >= 1000 for a, b in zip(ts, ts[1:], strict=False))


def test_no_faces_no_capture():
    events, cb = run([(t, []) for t in range(0, 5000, 100)])
    assert events == [] and cb.open_capture is None


def test_verdict_change_mid_capture_is_recorded_and_makes_capture_unconsented():
    frames = [(t, [det(10)]) for t in range(0, 2000, 100)] + [(t, []) for t in range(2000, 6000, 100)]
    verdicts = [OK] * 10 + [Verdict("unconsented", ("notice_missing",), None)] * 10 + [OK] * 40
    events, _ = run(frames, verdicts, idle_ms=1000)
    end = events[-1].body
    assert end.verdict == "unconsented"
    assert end.reasons == ("notice_missing",)
    assert end.basis is None
    assert [(c.ts, c.verdict) for c in end.verdict_changes] == [(0, "consented"), (1000, "unconsented")]
    assert sum(e.type == "alert" for e in events) == 1


def test_consented_capture_keeps_basis_and_raises_no_alert():
    frames = [(t, [det(10)]) for t in range(0, 500, 100)] + [(t, []) for t in range(500, 5000, 100)]
    events, _ = run(frames, [OK] * len(frames), idle_ms=1000)
    assert [e.type for e in events] == ["capture.start", "capture.end"]
    assert events[-1].body.verdict == "consented" and events[-1].body.basis == "notice:door"


def test_capture_ids_increase_and_alert_once_per_capture():
    on = [(t, [det(10)]) for t in range(0, 300, 100)]
    off = [(t, []) for t in range(300, 2000, 100)]
    on2 = [(t, [det(10)]) for t in range(2000, 2300, 100)]
    off2 = [(t, []) for t in range(2300, 4000, 100)]
    events, _ = run(on + off + on2 + off2, idle_ms=1000)
    ends = [e.body.capture for e in events if e.type == "capture.end"]
    assert ends == ["c-000001", "c-000002"]
    assert sum(e.type == "alert" for e in events) == 2


def test_close_ends_open_capture_and_body_serialises():
    frames = [(t, [det(10)]) for t in range(0, 300, 100)]
    _, cb = run(frames)
    cb.add_evidence("sha256:ab")
    (end,) = cb.close(5000)
    d = end.body.to_dict()
    assert d["end"] == 200 and d["evidence"] == ["sha256:ab"]
    assert set(d) >= {"capture", "start", "end", "frames", "max_faces", "distinct_tracks",
                      "identifiable_tracks", "face_px", "verdict", "reasons", "basis", "evidence"}
    assert cb.close(6000) == []


def test_shared_id_iterator_keeps_ids_unique_across_feeds():
    from camaudit.core.capture import capture_ids, capture_number

    ids = capture_ids(41)
    a, b = CaptureBuilder(ids=ids), CaptureBuilder(ids=ids)
    tr_a, tr_b = Tracker(min_hits=1), Tracker(min_hits=1)
    (sa,) = [e for e in a.step(tr_a.update([det(1)], 0), OK)]
    (sb,) = [e for e in b.step(tr_b.update([det(1)], 0), OK)]
    assert (sa.body.capture, sb.body.capture) == ("c-000041", "c-000042")
    assert capture_number("c-000042") == 42 and capture_number("x-1") is None
