"""The hub pages' words and timeline (pure: no hub, no browser)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from camaudit.hub.web.charts import feed_charts
from camaudit.hub.web.views import Clock, capture_view, reason_label, verdict_words

BERLIN = Clock(ZoneInfo("Europe/Berlin"))


def test_clock_names_the_zone_across_daylight_saving() -> None:
    assert BERLIN.ts(1795651200000) == "2026-11-26 01:00:00 CET"
    assert BERLIN.ts(1782864000000) == "2026-07-01 02:00:00 CEST"
    assert BERLIN.utc(1795651200000) == "2026-11-26 00:00:00 UTC"
    assert BERLIN.ts(None) == "never"
    assert BERLIN.ts(10**20) == "-"  # a device-sent absurd time does not break the page


def test_clock_parses_venue_local_times() -> None:
    assert BERLIN.parse("2026-11-26 01:00") == 1795651200000
    assert BERLIN.parse("2026-07-01T02:00") == 1782864000000
    assert BERLIN.parse("1795651200000") == 1795651200000
    assert BERLIN.parse("") is None and BERLIN.parse(None) is None
    for bad in ("yesterday", "2026-13-01", "9" * 40):
        with pytest.raises(ValueError, match="is not a time; use YYYY-MM-DD HH:MM \\(Europe/Berlin\\)"):
            BERLIN.parse(bad)


def test_reasons_and_verdicts_in_words() -> None:
    assert reason_label("outside_hours") == "outside the notice's hours"
    assert reason_label("new_reason") == "new reason"
    assert verdict_words("consented", [], "release:shoot-1") == \
        "consented: release session 'shoot-1' (written releases)"
    assert verdict_words("unconsented", ["no_notice", "privacy_zone"], None) == \
        "unconsented: no notice registered for this camera; face in a privacy zone"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"capture": "c-1", "start": "soon", "verdict_changes": "x", "face_px": [1], "reasons": "abc"},
        {"capture": "c-1", "start": 5, "end": True, "verdict_changes": [1, None, {"ts": "x"}],
         "evidence": {"a": 1}, "face_px": {"min": "x"}},
    ],
)
def test_malformed_bodies_from_a_device_render_without_error(body) -> None:
    ev = {"device": "d", "seq": 1, "ts": 10, "type": "capture.end", "feed": "f", "body": body, "hash": "h"}
    view = capture_view([ev, {"device": "d", "seq": 2, "ts": 11, "type": "alert", "body": "nope"}],
                        [{"notice": "n", "state": "WEIRD", "covers": None}], [])
    assert view["records"][0]["seq"] == 1 and isinstance(view["timeline"], list)
    assert view["notices"][0]["words"] == "WEIRD"


def test_timeline_without_verdict_changes_uses_the_first_verdict() -> None:
    start = {"capture": "c-1", "start": 1000, "verdict": "consented", "reasons": [], "basis": "notice:a"}
    evs = [
        {"seq": 1, "ts": 1000, "type": "capture.start", "feed": "f", "body": start},
        {"seq": 2, "ts": 9000, "type": "capture.end", "feed": "f",
         "body": {**start, "end": 8000, "identifiable_tracks": 3}},
    ]
    changes = [{"notice": "a", "state": "MISSING", "ts": 5000, "covers": ["other"]},
               {"notice": "b", "state": "MISSING", "ts": 6000, "covers": ["f"]}]
    view = capture_view(evs, [], changes)
    assert [t["kind"] for t in view["timeline"]] == ["start", "consented", "notice", "end"]
    assert "notice 'b' missing" in view["timeline"][2]["what"]  # only notices covering this feed
    assert view["identifiable_tracks"] == 3 and not view["open"]


def test_chart_hours_and_axis_in_the_zone() -> None:
    (svg,) = feed_charts([("f", 1795651200000, "unconsented", 2)], ZoneInfo("America/New_York")).values()
    assert ">hour starting (America/New_York)</text>" in svg and ">captures</text>" in svg
    assert ">19:00</text>" in svg and ">2026-11-25</text>" in svg
    assert "<title>2026-11-25 19:00 EST: 2 unconsented</title>" in svg
