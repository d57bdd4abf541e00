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
