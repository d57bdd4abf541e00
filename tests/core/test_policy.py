"""Consent policy: every reason alone and combined, hours in the venue's local time (DST days
included), overlapping notices, releases, privacy zones. Table-driven, pure."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from camaudit.core.policy import (
    HoursError,
    Moment,
    NoticeRule,
    Policy,
    Release,
    Verdict,
    box_overlaps_polygon,
    parse_hours,
)
from camaudit.core.types import Detection


def utc(*args: int) -> int:
    """UTC wall time -> ms (written out in UTC so the tests do not reuse the code under test)."""
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


FRAME = (1000, 500)
# right-hand strip of the frame, top 40%: x 800..1000, y 0..200 px
ZONE = [(0.8, 0.0), (1.0, 0.0), (1.0, 0.4), (0.8, 0.4)]
FACE_OUT = Detection(100, 100, 60, 60, 0.9)
FACE_IN = Detection(850, 50, 60, 60, 0.9)
FACE_EDGE = Detection(780, 150, 40, 40, 0.9)  # straddles the zone's left edge and bottom edge
FACE_TOUCH = Detection(760, 100, 40, 40, 0.9)  # right side touches x=800: no shared area

BERLIN_HOURS = {"mon-fri": "07:00-19:00", "sat": "09:00-17:00"}
# Wednesday 2026-06-10 is CEST (UTC+2): 12:00 local = 10:00 UTC
WED_NOON = utc(2026, 6, 10, 10, 0)
WED_2000 = utc(2026, 6, 10, 18, 0)
SUN_NOON = utc(2026, 6, 14, 10, 0)
SAT_1000 = utc(2026, 6, 13, 8, 0)
SAT_1800 = utc(2026, 6, 13, 16, 0)

REL = Release("study-42", frozenset({"counter"}), utc(2026, 6, 10, 9, 0), utc(2026, 6, 10, 11, 0))
REL_DOOR = Release("study-7", frozenset({"door"}), utc(2026, 6, 10, 9, 0), utc(2026, 6, 10, 11, 0))


def one_notice_policy() -> Policy:
    return Policy(
        [NoticeRule("entrance", frozenset({"counter"}), parse_hours(BERLIN_HOURS))],
        zones={"counter": [ZONE], "back": [ZONE]},
        timezone="Europe/Berlin",
    )


V, M, U = "VISIBLE", "MISSING", "UNKNOWN"
OK = Verdict("consented", (), "notice:entrance")


def bad(*reasons: str) -> Verdict:
    return Verdict("unconsented", reasons, None)


@pytest.mark.parametrize(
    ("name", "feed", "ts", "state", "faces", "releases", "expected"),
    [
        ("valid notice", "counter", WED_NOON, V, [FACE_OUT], [], OK),
        ("valid notice, no faces", "counter", WED_NOON, V, [], [], OK),
        ("saturday within hours", "counter", SAT_1000, V, [FACE_OUT], [], OK),
        ("no notice for the feed", "back", WED_NOON, V, [FACE_OUT], [], bad("no_notice")),
        ("notice missing", "counter", WED_NOON, M, [FACE_OUT], [], bad("notice_missing")),
        ("notice unknown (watching feed down)", "counter", WED_NOON, U, [FACE_OUT], [], bad("notice_missing")),
        ("notice never checked", "counter", WED_NOON, None, [FACE_OUT], [], bad("notice_missing")),
        ("after hours", "counter", WED_2000, V, [FACE_OUT], [], bad("outside_hours")),
        ("sunday (no hours stated)", "counter", SUN_NOON, V, [FACE_OUT], [], bad("outside_hours")),
        ("saturday after 17:00", "counter", SAT_1800, V, [FACE_OUT], [], bad("outside_hours")),
        ("face in zone", "counter", WED_NOON, V, [FACE_IN], [], bad("privacy_zone")),
        ("face straddling zone edge", "counter", WED_NOON, V, [FACE_EDGE], [], bad("privacy_zone")),
        ("face touching zone only", "counter", WED_NOON, V, [FACE_TOUCH], [], OK),
        ("one of two faces in zone", "counter", WED_NOON, V, [FACE_OUT, FACE_IN], [], bad("privacy_zone")),
        ("missing + after hours", "counter", WED_2000, M, [FACE_OUT], [], bad("notice_missing", "outside_hours")),
        ("missing + zone", "counter", WED_NOON, M, [FACE_IN], [], bad("notice_missing", "privacy_zone")),
        ("after hours + zone", "counter", WED_2000, V, [FACE_IN], [], bad("outside_hours", "privacy_zone")),
        (
            "missing + after hours + zone",
            "counter", WED_2000, U, [FACE_IN], [],
            bad("notice_missing", "outside_hours", "privacy_zone"),
        ),
        ("no notice + zone", "back", WED_NOON, V, [FACE_IN], [], bad("no_notice", "privacy_zone")),
        ("release overrides missing notice", "counter", WED_NOON, M, [FACE_OUT], [REL], Verdict("consented", (), "release:study-42")),
        ("release overrides hours", "counter", utc(2026, 6, 10, 9, 30), U, [FACE_OUT], [REL], Verdict("consented", (), "release:study-42")),
        ("release does not override zone", "counter", WED_NOON, M, [FACE_IN], [REL], bad("privacy_zone")),
        ("release for another feed", "counter", WED_NOON, M, [FACE_OUT], [REL_DOOR], bad("notice_missing")),
        ("release at its end (exclusive)", "counter", REL.end_ms, M, [FACE_OUT], [REL], bad("notice_missing")),
        ("release at its start (inclusive)", "counter", REL.start_ms, M, [FACE_OUT], [REL], Verdict("consented", (), "release:study-42")),
        ("release before it starts", "counter", REL.start_ms - 1, M, [FACE_OUT], [REL], bad("notice_missing")),
        ("release on a feed with no notice", "door", WED_NOON, M, [FACE_OUT], [REL_DOOR], Verdict("consented", (), "release:study-7")),
    ],
)
def test_single_notice_table(name, feed, ts, state, faces, releases, expected):
    states = {} if state is None else {"entrance": state}
    moment = Moment(feed, ts, faces, FRAME, states, releases)
    assert one_notice_policy().decide(moment) == expected, name


@pytest.mark.parametrize(
    ("name", "ts", "expected_consented"),
    [
        ("07:00:00.000 opens", utc(2026, 6, 10, 5, 0), True),
        ("06:59:59.999 closed", utc(2026, 6, 10, 5, 0) - 1, False),
        ("18:59:59.999 open", utc(2026, 6, 10, 17, 0) - 1, True),
        ("19:00:00.000 closed", utc(2026, 6, 10, 17, 0), False),
        # winter: CET (UTC+1), 07:00 local = 06:00 UTC
        ("winter 06:30 UTC = 07:30 CET", utc(2026, 1, 14, 6, 30), True),
        ("winter 05:30 UTC = 06:30 CET", utc(2026, 1, 14, 5, 30), False),
        # friday 18:30 local open, saturday 08:30 closed (sat opens at 09:00)
        ("fri 18:30", utc(2026, 6, 12, 16, 30), True),
        ("sat 08:30", utc(2026, 6, 13, 6, 30), False),
        ("sat 09:00", utc(2026, 6, 13, 7, 0), True),
    ],
)
def test_hour_edges_in_venue_local_time(name, ts, expected_consented):
    v = one_notice_policy().decide(Moment("counter", ts, [FACE_OUT], FRAME, {"entrance": V}))
    assert v.consented is expected_consented, name
    if not expected_consented:
        assert v.reasons == ("outside_hours",)


@pytest.mark.parametrize(
    ("name", "tz", "hours", "ts", "expected_open"),
    [
        # Europe/Berlin DST starts Sun 2026-03-29 01:00 UTC (02:00 CET -> 03:00 CEST)
        ("berlin day before DST, 05:30 UTC = 06:30 CET", "Europe/Berlin", {"daily": "07:00-19:00"}, utc(2026, 3, 28, 5, 30), False),
        ("berlin DST start day, 05:30 UTC = 07:30 CEST", "Europe/Berlin", {"daily": "07:00-19:00"}, utc(2026, 3, 29, 5, 30), True),
        ("berlin DST start day, 17:30 UTC = 19:30 CEST", "Europe/Berlin", {"daily": "07:00-19:00"}, utc(2026, 3, 29, 17, 30), False),
        ("berlin DST start day, 00:59 UTC = 01:59 CET", "Europe/Berlin", {"sun": "01:00-02:00"}, utc(2026, 3, 29, 0, 59), True),
        ("berlin DST start day, 01:00 UTC = 03:00 CEST", "Europe/Berlin", {"sun": "01:00-02:30"}, utc(2026, 3, 29, 1, 0), False),
        # Europe/Berlin DST ends Sun 2026-10-25 01:00 UTC (03:00 CEST -> 02:00 CET)
        ("berlin DST end day, 05:30 UTC = 06:30 CET", "Europe/Berlin", {"daily": "07:00-19:00"}, utc(2026, 10, 25, 5, 30), False),
        ("berlin day before DST end, 05:30 UTC = 07:30 CEST", "Europe/Berlin", {"daily": "07:00-19:00"}, utc(2026, 10, 24, 5, 30), True),
        ("berlin repeated hour, first 02:15 CEST", "Europe/Berlin", {"sun": "02:00-02:30"}, utc(2026, 10, 25, 0, 15), True),
        ("berlin repeated hour, second 02:15 CET", "Europe/Berlin", {"sun": "02:00-02:30"}, utc(2026, 10, 25, 1, 15), True),
        ("berlin repeated hour, 02:45 CEST", "Europe/Berlin", {"sun": "02:00-02:30"}, utc(2026, 10, 25, 0, 45), False),
        # America/New_York DST starts Sun 2026-03-08 07:00 UTC
        ("new york before DST, 13:30 UTC = 08:30 EST", "America/New_York", {"daily": "09:00-17:00"}, utc(2026, 3, 7, 13, 30), False),
        ("new york DST day, 13:30 UTC = 09:30 EDT", "America/New_York", {"daily": "09:00-17:00"}, utc(2026, 3, 8, 13, 30), True),
        # same instant, different venues
        ("tokyo 10:00 UTC = 19:00 JST", "Asia/Tokyo", {"daily": "07:00-19:00"}, utc(2026, 6, 10, 10, 0), False),
        ("utc 10:00", "UTC", {"daily": "07:00-19:00"}, utc(2026, 6, 10, 10, 0), True),
        # overnight ranges, including Sunday night into Monday
        ("sun 22:00-02:00, mon 01:00", "UTC", {"sun": "22:00-02:00"}, utc(2026, 6, 15, 1, 0), True),
        ("sun 22:00-02:00, mon 02:00", "UTC", {"sun": "22:00-02:00"}, utc(2026, 6, 15, 2, 0), False),
        ("sun 22:00-02:00, sun 21:59", "UTC", {"sun": "22:00-02:00"}, utc(2026, 6, 14, 21, 59), False),
        ("sun 22:00-02:00, sun 23:00", "UTC", {"sun": "22:00-02:00"}, utc(2026, 6, 14, 23, 0), True),
        ("24:00 end, 23:59", "UTC", {"daily": "12:00-24:00"}, utc(2026, 6, 14, 23, 59), True),
        ("two ranges, lunch break closed", "UTC", {"daily": "08:00-12:00,13:00-18:00"}, utc(2026, 6, 14, 12, 30), False),
        ("two ranges, afternoon open", "UTC", {"daily": "08:00-12:00,13:00-18:00"}, utc(2026, 6, 14, 13, 30), True),
        ("day list", "UTC", {"mon,wed": "00:00-24:00"}, utc(2026, 6, 10, 3, 0), True),
        ("day list, other day", "UTC", {"mon,wed": "00:00-24:00"}, utc(2026, 6, 11, 3, 0), False),
        ("wrapping day range fri-mon, sun", "UTC", {"fri-mon": "00:00-24:00"}, utc(2026, 6, 14, 3, 0), True),
        ("wrapping day range fri-mon, tue", "UTC", {"fri-mon": "00:00-24:00"}, utc(2026, 6, 16, 3, 0), False),
    ],
)
def test_hours_time_zones_and_dst(name, tz, hours, ts, expected_open):
    p = Policy([NoticeRule("n", frozenset({"f"}), parse_hours(hours))], timezone=tz)
    v = p.decide(Moment("f", ts, [FACE_OUT], FRAME, {"n": V}))
    assert v.consented is expected_open, name
    assert v.reasons == (() if expected_open else ("outside_hours",))


def overlap_policy() -> Policy:
    return Policy(
        [
            NoticeRule("b-side", frozenset({"counter", "door"})),
            NoticeRule("a-entrance", frozenset({"counter"}), parse_hours(BERLIN_HOURS)),
        ],
        zones={"counter": [ZONE]},
        timezone="Europe/Berlin",
    )


@pytest.mark.parametrize(
    ("name", "ts", "states", "faces", "expected"),
    [
        ("both valid: first by id", WED_NOON, {"a-entrance": V, "b-side": V}, [FACE_OUT], Verdict("consented", (), "notice:a-entrance")),
        ("a valid, b missing", WED_NOON, {"a-entrance": V, "b-side": M}, [FACE_OUT], Verdict("consented", (), "notice:a-entrance")),
        ("a missing, b valid", WED_NOON, {"a-entrance": M, "b-side": V}, [FACE_OUT], Verdict("consented", (), "notice:b-side")),
        ("a after hours, b valid (no hours)", WED_2000, {"a-entrance": V, "b-side": V}, [FACE_OUT], Verdict("consented", (), "notice:b-side")),
        ("a after hours, b missing", WED_2000, {"a-entrance": V, "b-side": M}, [FACE_OUT], bad("notice_missing", "outside_hours")),
        ("a after hours, b unknown", WED_2000, {"a-entrance": V, "b-side": U}, [FACE_OUT], bad("notice_missing", "outside_hours")),
        ("both missing", WED_NOON, {"a-entrance": M, "b-side": U}, [FACE_OUT], bad("notice_missing")),
        ("both missing, after hours", WED_2000, {}, [FACE_OUT], bad("notice_missing", "outside_hours")),
        ("valid notice but face in zone", WED_NOON, {"a-entrance": V, "b-side": V}, [FACE_IN], bad("privacy_zone")),
        ("none valid and face in zone", WED_2000, {"a-entrance": V, "b-side": M}, [FACE_IN], bad("notice_missing", "outside_hours", "privacy_zone")),
    ],
)
def test_overlapping_notices(name, ts, states, faces, expected):
    assert overlap_policy().decide(Moment("counter", ts, faces, FRAME, states)) == expected, name


def test_other_feed_of_overlapping_notice_only_sees_its_own_notice():
    p = overlap_policy()
    assert p.decide(Moment("door", WED_2000, [], FRAME, {"b-side": V})) == Verdict(
        "consented", (), "notice:b-side"
    )
    assert p.decide(Moment("door", WED_NOON, [], FRAME, {"a-entrance": V, "b-side": M})) == bad(
        "notice_missing"
    )


def test_policy_releases_from_rules_and_from_moment_combine():
    p = Policy([], releases=[REL_DOOR])
    assert p.decide(Moment("door", WED_NOON)).basis == "release:study-7"
    assert p.decide(Moment("counter", WED_NOON)).reasons == ("no_notice",)
    assert p.decide(Moment("counter", WED_NOON, releases=[REL])).basis == "release:study-42"


def test_decision_is_deterministic_whatever_the_input_order():
    states = {"b-side": M, "a-entrance": V}
    a = overlap_policy().decide(Moment("counter", WED_2000, [FACE_IN, FACE_OUT], FRAME, states))
    b = overlap_policy().decide(
        Moment("counter", WED_2000, [FACE_OUT, FACE_IN], FRAME, dict(reversed(states.items())))
    )
    assert a == b
    assert list(a.reasons) == sorted(a.reasons)


def test_zone_needs_frame_size_when_faces_are_present():
    with pytest.raises(ValueError, match="frame_size"):
        one_notice_policy().decide(Moment("counter", WED_NOON, [FACE_IN], (0, 0), {"entrance": V}))


@pytest.mark.parametrize(
    ("box", "poly", "expected"),
    [
        (Detection(10, 10, 10, 10, 1), [(0, 0), (100, 0), (100, 100)], True),  # inside a triangle
        (Detection(80, 5, 10, 10, 1), [(0, 0), (100, 0), (100, 100)], True),
        (Detection(5, 80, 10, 10, 1), [(0, 0), (100, 0), (100, 100)], False),  # below the diagonal
        (Detection(0, 0, 100, 100, 1), [(40, 40), (60, 40), (50, 60)], True),  # zone inside box
        (Detection(0, 0, 10, 10, 1), [(10, 0), (20, 0), (20, 10), (10, 10)], False),  # shared edge
        # concave "U": the box sits in the notch, touching nothing
        (Detection(40, 0, 20, 50, 1), [(0, 0), (30, 0), (30, 60), (70, 60), (70, 0), (100, 0), (100, 100), (0, 100)], False),
        (Detection(40, 0, 20, 70, 1), [(0, 0), (30, 0), (30, 60), (70, 60), (70, 0), (100, 0), (100, 100), (0, 100)], True),
        (Detection(10, 10, 0, 10, 1), [(0, 0), (100, 0), (100, 100), (0, 100)], False),  # empty box
    ],
)
def test_box_polygon_overlap(box, poly, expected):
    assert box_overlaps_polygon(box, poly) is expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"mon-fry": "07:00-19:00"}, "mon-fry"),
        ({"mon": "7-19"}, "HH:MM"),
        ({"mon": "07:00-25:00"}, "not a valid time"),
        ({"mon": "07:60-08:00"}, "not a valid time"),
        ({"mon": "24:00-08:00"}, "not a valid time"),
        ({"mon": "07:00"}, "HH:MM-HH:MM"),
        ({"mon": "07:00-07:00"}, "empty"),
        ({"mon-fri": "07:00-19:00", "fri": "09:00-12:00"}, "fri is already given"),
        ({}, "no days"),
    ],
)
def test_bad_hours_name_the_problem(spec, message):
    with pytest.raises(HoursError, match=message):
        parse_hours(spec)


def test_unknown_time_zone_is_an_error():
    with pytest.raises(ValueError, match="Mars/Olympus"):
        Policy([], timezone="Mars/Olympus")
