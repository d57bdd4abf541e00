import numpy as np

from camaudit.core.tracking import Tracker
from camaudit.core.types import Detection


def det(x: float, y: float = 100, s: float = 40, score: float = 0.9) -> Detection:
    return Detection(x, y, s, s, score)


def test_track_needs_min_hits_before_it_counts():
    tr = Tracker(min_hits=2)
    u1 = tr.update([det(10)], 0)
    assert u1.active == () and u1.started == ()
    u2 = tr.update([det(12)], 100)
    assert [t.id for t in u2.active] == [1]
    assert u2.started == (1,)
    # heights of the confirming detections are reported once confirmed
    assert u2.new_heights == (40, 40)


def test_ids_stable_while_boxes_overlap_and_new_face_gets_new_id():
    tr = Tracker(min_hits=1)
    tr.update([det(10)], 0)
    u = tr.update([det(14), det(300)], 100)
    ids = sorted(t.id for t in u.active)
    assert ids == [1, 2]
    u = tr.update([det(18), det(304)], 200)
    assert sorted(t.id for t in u.active) == [1, 2]


def test_greedy_matching_prefers_highest_overlap():
    tr = Tracker(min_hits=1)
    tr.update([det(0), det(50)], 0)
    u = tr.update([det(48), det(2)], 100)
    by_x = {round(t.box.x): t.id for t in u.active}
    assert by_x == {2: 1, 48: 2}


def test_track_ends_only_after_missed_runs_and_age():
    tr = Tracker(min_hits=1, max_age_ms=1000, max_missed=2)
    tr.update([det(10)], 0)
    assert tr.update([], 100).ended == ()  # missed once
    assert tr.update([], 500).ended == ()  # missed twice but young
    ended = tr.update([], 1000).ended
    assert [e.id for e in ended] == [1]
    assert ended[0].last_ts == 0


def test_unconfirmed_blip_ends_silently():
    tr = Tracker(min_hits=2, max_age_ms=0, max_missed=1)
    tr.update([det(10)], 0)
    u = tr.update([], 100)
    assert u.ended == () and tr.tracks == ()


def test_hold_keeps_tracks_without_aging():
    tr = Tracker(min_hits=1, max_age_ms=100, max_missed=1)
    tr.update([det(10)], 0)
    for ts in range(100, 5000, 100):
        u = tr.hold(ts)
        assert [t.id for t in u.active] == [1]
    # the next real detection run still matches the same track
    assert [t.id for t in tr.update([det(11)], 5000).active] == [1]


def test_finish_ends_confirmed_tracks():
    tr = Tracker(min_hits=1)
    tr.update([det(10), det(200)], 0)
    assert sorted(e.id for e in tr.finish(50).ended) == [1, 2]
    assert tr.tracks == ()


def test_track_counts_only_after_a_confident_detection():
    tr = Tracker(min_hits=2, confirm_score=0.75)
    for ts in range(0, 500, 100):  # a hand-like look-alike: many weak hits
        assert tr.update([det(10, score=0.62)], ts).active == ()
    u = tr.update([det(10, score=0.9)], 500)
    assert [t.id for t in u.active] == [1] and u.started == (1,)
    # once confirmed, weaker detections keep it going
    assert [t.id for t in tr.update([det(11, score=0.61)], 600).active] == [1]


# --- issue 19: people, not boxes -------------------------------------------------------

from camaudit.core.identify import IdentifyRule, measure  # noqa: E402
from camaudit.core.scene import SceneCuts  # noqa: E402
from camaudit.core.tracking import drop_stacked  # noqa: E402


def face(x: float, y: float = 100, s: float = 60, score: float = 0.9, *, yaw: float = 0.0,
         eyes: float = 0.4, sharp: float | None = 0.5, marks: bool = True) -> Detection:
    """A face box with five landmarks: eye distance `eyes` * width, nose offset from the
    eyes' midpoint `yaw` * half that distance."""
    lm = None
    if marks:
        cx, half = x + s / 2, eyes * s / 2
        lm = (cx - half, y + 0.4 * s, cx + half, y + 0.4 * s, cx + yaw * half, y + 0.6 * s,
              cx - half, y + 0.8 * s, cx + half, y + 0.8 * s)
    return Detection(x, y, s, s, score, lm, sharp)


def ended(tr: Tracker, ts: int):
    return list(tr.finish(ts).ended)


def test_a_track_never_crosses_a_cut():
    """Two scenes with a face at the same place: the cut ends the track, a new one starts."""
    tr = Tracker(min_hits=1, relink_ms=3000)
    cuts = SceneCuts(22.0)
    scene_a = np.full((36, 64), 40, np.float32)
    scene_b = np.full((36, 64), 200, np.float32)
    out = []
    for i in range(20):
        ts = i * 100
        if cuts.check(scene_a if i < 10 else scene_b):
            out += tr.cut(ts).ended
        tr.update([face(100 + i)], ts, frame=i, frame_size=(640, 360))
    out += tr.finish(2000).ended
    assert cuts.cuts == 1
    assert [(e.record.first_frame, e.record.last_frame, e.record.ended_by) for e in out] == [
        (0, 9, "cut"), (10, 19, "end")]


def test_scene_cuts_ignore_motion_and_noise():
    rng = np.random.default_rng(1)
    cuts = SceneCuts(22.0)
    base = rng.uniform(0, 255, (36, 64)).astype(np.float32)
    for i in range(30):
        frame = base + rng.normal(0, 3, base.shape).astype(np.float32)
        frame[10:30, i:i + 16] = 255  # someone walking through
        assert not cuts.check(frame)


def test_a_stacked_box_is_dropped():
    head = face(100, 100, 60, 0.92)
    hair = face(104, 40, 56, 0.70)  # right on top of the face: a second box on one head
    inside = face(120, 120, 20, 0.65)  # nested in the face box
    other = face(300, 100, 60, 0.80)  # someone beside: stays
    behind = face(100, 250, 60, 0.80)  # one face height below, not touching: stays
    assert drop_stacked([head, hair, inside, other, behind]) == [head, other, behind]
    tr = Tracker(min_hits=1)
    u = tr.update([hair, head], 0, frame=0)
    assert [t.box for t in u.active] == [head] and tr.dropped_stacked == 1


def _gap_run(gap_ms: int, relink_ms: int = 3000) -> list:
    """A face walking right at 50 px/s, unseen for `gap_ms`, then seen where motion puts it."""
    tr = Tracker(min_hits=2, relink_ms=relink_ms, max_age_ms=1000)
    out = []
    ts = 0
    for i in range(10):
        ts = i * 100
        out += tr.update([face(100 + 5 * i)], ts, frame=i).ended
    resume = ts + gap_ms
    for k in range(0, resume - ts, 200):  # detection keeps running on empty frames
        out += tr.update([], ts + k + 100, frame=-1).ended
    for i in range(10):
        t = resume + i * 100
        out += tr.update([face(100 + 0.05 * t)], t, frame=100 + i).ended
    return out + list(tr.finish(resume + 1000).ended)


def test_a_two_second_gap_is_relinked():
    out = _gap_run(2000)
    assert len(out) == 1
    assert out[0].record.relinks == 1 and out[0].record.last_frame == 109


def test_a_ten_second_gap_is_not_relinked():
    out = _gap_run(10_000)
    assert len(out) == 2
    assert [e.record.relinks for e in out] == [0, 0]


def test_no_relink_when_size_or_place_disagree():
    tr = Tracker(min_hits=1, relink_ms=3000)
    tr.update([face(100)], 0)
    tr.update([], 500)
    tr.update([], 1500)
    u = tr.update([face(500, s=60)], 2000)  # 400 px away: another person
    assert [t.id for t in u.active] == [2]
    u = tr.update([face(100, s=150)], 2100)  # same place, 2.5 times the size
    assert 1 not in [t.id for t in u.active]


def test_a_face_from_behind_or_in_profile_is_never_identifiable():
    rule = IdentifyRule(min_face_px=32, min_eye_ratio=0.25, max_yaw=0.6, min_sharpness=0.1)
    back = face(0, s=300, marks=False, sharp=2.0)  # no landmarks found: the back of a head
    profile = face(0, s=300, yaw=1.8, eyes=0.12, sharp=2.0)
    for d in (back, profile):
        m = measure(d, rule)
        assert not m.identifiable and m.failed == ("pose",)
    tr = Tracker(min_hits=1, rule=rule)
    for i in range(20):
        tr.update([face(100, s=200 + i, marks=False, sharp=3.0)], i * 100, frame=i)
    (e,) = tr.finish(2000).ended
    assert e.record.identifiable is False and e.record.measure.failed == ("pose",)


def test_identifiable_is_the_best_over_the_track_and_its_criteria_are_recorded():
    rule = IdentifyRule(min_face_px=40, min_sharpness=0.2)
    tr = Tracker(min_hits=1, rule=rule)
    frames = [face(100, s=30), face(100, s=50, yaw=1.5), face(100, s=54, sharp=0.1),
              face(100, s=61), face(100, s=45, yaw=1.2)]
    for i, d in enumerate(frames):
        tr.update([d], i * 100, frame=i, frame_size=(1920, 1080))
    (e,) = tr.finish(600).ended
    body = e.record.to_body("c-000001")
    assert body["identifiable"] is True and body["peak"]["frame"] == 3
    assert body["criteria"]["face_px"] == {**body["criteria"]["face_px"], "value": 61, "passed": True, "min": 40}
    assert body["criteria"]["pose"]["value"] == {"eyes": 0.4, "yaw": 0.0}
    assert body["frame_size"] == [1920, 1080]
    frames_in = [b[0] for b in body["boxes"]]
    assert frames_in == sorted(frames_in) and {0, 3, 4} <= set(frames_in)


def test_boxes_at_least_once_a_second_and_bounded():
    tr = Tracker(min_hits=1)
    for i in range(0, 3000):  # 10 fps for 300 s
        tr.update([face(100 + (i % 7))], i * 100, frame=i)
    (e,) = tr.finish(300_000).ended
    frames = [b[0] for b in e.record.boxes]
    assert frames[0] == 0 and frames[-1] == 2999
    assert max(b - a for a, b in zip(frames, frames[1:], strict=False)) <= 10


def test_default_size_threshold_is_28_native_px_and_a_smaller_face_is_presence():
    """The default min_face_px (28, chosen with bench/people.py's sweep, docs/people-bench.md):
    a frontal, sharp face 28 px tall is identifiable, one 27 px tall fails on size alone, and
    its record states the threshold it was judged by."""
    rule = IdentifyRule()
    assert rule.min_face_px == 28
    ok, small = measure(face(0, s=28), rule), measure(face(0, s=27.4), rule)
    assert ok.identifiable and ok.criteria(rule)["face_px"] == {**ok.criteria(rule)["face_px"], "value": 28, "min": 28}
    assert not small.identifiable and small.failed == ("face_px",) and small.face_px == 27
    # the old default is still a configuration: the same face is presence under it
    assert measure(face(0, s=28), IdentifyRule(min_face_px=32)).failed == ("face_px",)


def test_records_judged_at_32_px_keep_their_threshold_next_to_records_at_28():
    """The definition's name did not change with the default (32 -> 28 px): each record
    states its own size threshold, and the words describing it are taken from the record."""
    from camaudit.core.identify import DEFINITION, definition_words

    old_rule, new_rule = IdentifyRule(min_face_px=32), IdentifyRule()
    old = {"definition": DEFINITION, "criteria": measure(face(0, s=30), old_rule).criteria(old_rule)}
    new = {"definition": DEFINITION, "criteria": measure(face(0, s=30), new_rule).criteria(new_rule)}
    assert old["criteria"]["face_px"]["passed"] is False and new["criteria"]["face_px"]["passed"] is True
    first, second = definition_words([old, new, old])
    assert "at least 32 px tall" in first and "at least 28 px tall" in second
