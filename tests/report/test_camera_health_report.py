"""Camera health periods in reports (pure): from the journalled camera.* records."""

from __future__ import annotations

from camaudit.core.record import Event
from camaudit.report.camera_health import blind_periods, period_text
from camaudit.report.model import Clock

T = 1_796_562_120_000  # 2026-12-06 14:02:00 Europe/Paris (13:02 UTC)


def ev(seq: int, type_: str, feed: str | None, body: dict, ts: int | None = None) -> Event:
    return Event(device="d1", seq=seq, ts=ts if ts is not None else T + seq, type=type_, feed=feed,
                 body=body, prev="0" * 64)


def test_periods_from_start_to_restored_feed_down_restart_and_open():
    recs = [
        ev(1, "device.online", None, {}),
        ev(2, "camera.reference", "door", {"reason": "start", "sha256": "0" * 64}),
        ev(3, "camera.covered", "door", {"condition": "covered", "start": T}),
        ev(4, "alert", "door", {"text": "...", "reasons": ["camera_covered"]}),
        ev(5, "camera.restored", "door", {"condition": "covered", "start": T, "end": T + 38 * 60_000}),
        ev(6, "camera.moved", "bar", {"condition": "moved", "start": T + 60_000}),
        ev(7, "feed.down", "bar", {"detail": "eof"}, ts=T + 120_000),
        ev(8, "camera.blurred", "door", {"condition": "blurred", "start": T + 3_600_000}),
        ev(9, "device.online", None, {}, ts=T + 3_700_000),
        ev(10, "camera.covered", "door", {"condition": "covered", "start": T + 3_800_000}),
    ]
    p = blind_periods(recs)
    assert [(x.feed, x.condition, x.start - T, None if x.end is None else x.end - T, x.ended_by, x.alerted)
            for x in p] == [
        ("door", "covered", 0, 38 * 60_000, "restored", True),
        ("bar", "moved", 60_000, 120_000, "feed stopped", False),
        ("door", "blurred", 3_600_000, 3_700_000, "device restarted", False),
        ("door", "covered", 3_800_000, None, "", False),
    ]
    assert [x.condition for x in blind_periods(recs, "bar")] == ["moved"]
    clock = Clock("Europe/Paris")
    text = period_text(p[0], clock.both)
    assert text.startswith("The camera 'door' was covered from 2026-12-06 14:02:00 CET")
    assert "to 2026-12-06 14:40:00 CET" in text and "unknown, not absent" in text
    assert "to the end of these records" in period_text(p[3], clock.both)
    assert "(feed stopped)" in period_text(p[1], clock.both)


def test_no_health_records_no_periods_and_hostile_bodies_do_not_crash():
    recs = [ev(1, "camera.covered", "door", {"start": "x"}),
            ev(2, "camera.restored", "door", {"end": True}),
            ev(3, "camera.restored", "gate", {})]
    (p,) = blind_periods(recs)
    assert p.start == recs[0].ts and p.end == recs[1].ts
    assert blind_periods([ev(1, "capture.start", "door", {"capture": "c-1"})]) == ()
