"""bench/_common/people_score.py and people_annotations.py on small synthetic inputs (pure, fast),
and the shipped annotations load and validate."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from _common.people_annotations import (  # noqa: E402
    DEFAULT_PATH,
    AnnotationError,
    load,
    parse,
)
from _common.people_score import (  # noqa: E402
    PersonShot,
    Track,
    assign,
    box_at,
    iou,
    overlap,
    people_followed,
    score_clip,
)


def _person(key: str, first: int, last: int, kfs, ident: str = "yes", presence_only: bool = False) -> PersonShot:
    return PersonShot(key, first, last, tuple((f, tuple(map(float, b))) for f, *b in kfs), ident, presence_only)


def _track(tid: str, boxes, ident: bool = True) -> Track:
    rec = {"feed": "cam", "track": tid, "first_frame": boxes[0][0], "last_frame": boxes[-1][0],
           "boxes": [list(b) for b in boxes], "identifiable": ident}  # fmt: skip
    return Track.from_record(rec)


# two people side by side, walking right, frames 0-50
A = _person("a@0", 0, 50, [(0, 100, 100, 40, 40), (50, 200, 100, 40, 40)])
B = _person("b@0", 0, 50, [(0, 300, 100, 40, 40), (50, 400, 100, 40, 40)], ident="no")


def test_iou_and_interpolation() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (10, 0, 10, 10)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    kf = ((0, (0.0, 0.0, 10.0, 10.0)), (10, (100.0, 0.0, 20.0, 10.0)))
    assert box_at(kf, 5) == (50.0, 0.0, 15.0, 10.0)
    assert box_at(kf, -3) == kf[0][1] and box_at(kf, 99) == kf[1][1]


def test_a_track_goes_to_the_person_it_follows_not_the_neighbour() -> None:
    # the track only has boxes at 10 and 40: the person is interpolated there (120 and 180)
    t = _track("1", [(10, 122, 101, 38, 40), (40, 178, 99, 40, 41)])
    assert overlap(t, A) > 0.8
    assert overlap(t, B) == 0.0
    assert assign([t], [A, B]) == {"cam/1": "a@0"}


def test_no_match_without_time_overlap_even_where_boxes_coincide() -> None:
    late = _person("a@1", 60, 90, [(60, 100, 100, 40, 40)])
    t = _track("1", [(0, 100, 100, 40, 40), (50, 200, 100, 40, 40)])
    assert overlap(t, late) == 0.0
    assert assign([t], [late]) == {"cam/1": None}


def test_a_box_far_from_every_person_matches_nobody() -> None:
    t = _track("9", [(20, 10, 200, 30, 30), (30, 12, 200, 30, 30)])
    assert assign([t], [A, B]) == {"cam/9": None}


def test_recall_precision_and_fragmentation() -> None:
    tracks = [
        _track("1", [(0, 100, 100, 40, 40), (20, 140, 100, 40, 40)]),  # A, first half
        _track("2", [(30, 160, 100, 40, 40), (50, 200, 100, 40, 40)]),  # A again: fragment
        _track("3", [(0, 300, 100, 40, 40), (50, 400, 100, 40, 40)]),  # B (not identifiable) called yes
        _track("4", [(5, 10, 250, 30, 30), (9, 10, 250, 30, 30)]),  # nobody, called yes
        _track("5", [(5, 10, 10, 30, 30), (9, 10, 10, 30, 30)], ident=False),  # nobody, presence
    ]
    s = score_clip(tracks, [A, B])
    assert (s.people_yes, s.found_yes, s.recall) == (1, 1, 1.0)
    assert (s.ident_tracks, s.ident_true, s.ident_false, s.ident_on_nobody) == (4, 2, 2, 1)
    assert s.precision == 0.5
    assert s.tracks_matched == 3 and s.person_shots_tracked == 2
    assert s.tracks_per_person_shot == 1.5
    assert sorted(s.false_ident) == ["cam/3->b@0", "cam/4->nobody"]


def test_a_person_with_only_presence_tracks_is_missed() -> None:
    s = score_clip([_track("1", [(0, 100, 100, 40, 40), (50, 200, 100, 40, 40)], ident=False)], [A, B])
    assert (s.found_yes, s.recall, s.precision, s.missed_yes) == (0, 0.0, None, ["a@0"])


def test_unsure_counts_neither_way_and_back_views_are_flagged() -> None:
    u = _person("u@0", 0, 50, [(0, 100, 100, 40, 40)], ident="unsure", presence_only=True)
    back = _person("k@0", 0, 50, [(0, 300, 100, 40, 40)], ident="no", presence_only=True)
    s = score_clip(
        [_track("1", [(0, 100, 100, 40, 40), (9, 100, 100, 40, 40)]),
         _track("2", [(0, 300, 100, 40, 40), (9, 300, 100, 40, 40)])],
        [u, back],
    )  # fmt: skip
    assert (s.ident_unsure, s.ident_true, s.ident_false) == (1, 0, 1)
    assert s.precision == 0.0 and s.recall is None
    assert s.false_ident_presence_only == 2


def test_tracks_across_a_cut_are_counted() -> None:
    p0 = _person("p@0", 0, 19, [(0, 100, 100, 40, 40)])
    p1 = _person("q@1", 20, 40, [(20, 300, 100, 40, 40)])
    chained = _track("1", [(0, 100, 100, 40, 40), (19, 100, 100, 40, 40), (25, 300, 100, 40, 40)])
    clean = _track("2", [(20, 300, 100, 40, 40), (40, 300, 100, 40, 40)])
    s = score_clip([chained, clean], [p0, p1], cuts=[20])
    assert s.tracks_across_cut == 1
    assert s.tracks_chaining_people == 1
    assert people_followed(chained, [p0, p1]) == ["p@0", "q@1"]
    s2 = score_clip([clean], [p0, p1], cuts=[20])
    assert s2.tracks_across_cut == 0 and s2.tracks_chaining_people == 0


def test_a_track_that_switches_to_the_neighbour_chains_two_people() -> None:
    # on A until frame 20, then on B (A at 140, B at 340 there): one identity switch
    switch = _track("1", [(0, 100, 100, 40, 40), (20, 140, 100, 40, 40), (30, 360, 100, 40, 40)])
    assert people_followed(switch, [A, B]) == ["a@0", "b@0"]
    follow = _track("2", [(0, 100, 100, 40, 40), (50, 200, 100, 40, 40)])
    assert people_followed(follow, [A, B]) == ["a@0"]


def test_shipped_annotations_load_and_validate() -> None:
    clips = load(DEFAULT_PATH)
    ham = clips["face_recognition_short_hamilton_clip.mp4"]
    assert ham.cuts == (20, 82, 211) and ham.frame_size == (640, 360)
    for c in clips.values():
        for p in c.people:
            assert c.shot_of(p.first_frame) == c.shot_of(p.last_frame) == p.shot
            if p.pose == "back":
                assert p.identifiable == "no"
    assert not clips["NOFACE_intel_bottle-detection.mp4"].people
    assert clips["demo_corridor.gif"].people == clips["intel_face-demographics-walking.gif"].people
    assert sum(p.identifiable == "yes" for c in clips.values() if not c.same_as for p in c.people) >= 10


def _doc() -> dict:
    return json.loads(DEFAULT_PATH.read_text())


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c["people"][0].update(peak_frame=999), "(ginger-young-man): need first_frame <= peak_frame"),
        (lambda c: c["people"][0].update(peak_box=[1900, 10, 50, 50]), "outside the 1920x1080 frame"),
        (lambda c: c["people"][0].update(pose="sideways"), "pose must be one of"),
        (lambda c: c["people"][0].update(identifiable=True), "identifiable must be one of"),
        (lambda c: c["people"][0].pop("focus"), "missing focus"),
        (lambda c: c["people"][0].update(keyframes=[[30, 1, 1, 5, 5]]), "keyframes must hold the peak"),
        (lambda c: c["people"][8].update(identifiable="yes"), "seen from behind"),
        (lambda c: c["people"].append(copy.deepcopy(c["people"][0])), "annotated twice"),
        (lambda c: c.update(cuts=[50]), "lie in shots"),
    ],
)
def test_bad_annotations_give_one_line_naming_file_clip_and_entry(mutate, message) -> None:
    doc = _doc()
    mutate(doc["clips"]["facenet-pytorch_video.mp4"])
    with pytest.raises(AnnotationError) as exc:
        parse(doc, "people.json")
    text = str(exc.value)
    assert "\n" not in text and text.startswith("people.json: clips['facenet-pytorch_video.mp4']")
    assert message in text


def test_noface_clip_with_a_person_and_a_broken_twin_are_refused(tmp_path: Path) -> None:
    doc = _doc()
    doc["clips"]["NOFACE_opencv_tree.avi"]["people"] = copy.deepcopy(
        doc["clips"]["facenet-pytorch_video.mp4"]["people"][:1]
    )
    doc["clips"]["NOFACE_opencv_tree.avi"]["frame_size"] = [1920, 1080]
    doc["clips"]["NOFACE_opencv_tree.avi"]["frames"] = 105
    with pytest.raises(AnnotationError, match="NOFACE_ clip must have no people"):
        parse(doc)
    doc = _doc()
    doc["clips"]["demo_corridor.gif"]["sha256"] = "0" * 64
    with pytest.raises(AnnotationError, match="sha256 differs"):
        parse(doc)
    bad = tmp_path / "people.json"
    bad.write_text('{"format": ')
    with pytest.raises(AnnotationError, match=r"people.json: line 1: invalid JSON"):
        load(bad)
