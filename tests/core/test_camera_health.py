"""Camera health state machine (pure): numbers and times in, events out."""

from __future__ import annotations

import pytest

from camaudit.core.camera_health import (
    BLURRED,
    COVERED,
    MOVED,
    CameraHealth,
    HealthLimits,
    HealthSample,
    classify,
)
from camaudit.core.notice_state import NoticeState, NoticeStateMachine
from camaudit.core.record import EVENT_TYPES

LIM = HealthLimits(enter_ms=1000, restore_ms=1000, alert_ms=3000)


def fine(ts: int) -> HealthSample:
    return HealthSample(ts, mean=120, std=40, scene_match=0.8, sharpness_ratio=1.0)


def dark(ts: int) -> HealthSample:
    return HealthSample(ts, mean=3, std=0.5, scene_match=0.0, sharpness_ratio=0.05)


def turned(ts: int) -> HealthSample:
    return HealthSample(ts, mean=160, std=20, scene_match=0.0, sharpness_ratio=0.3)


def smeared(ts: int) -> HealthSample:
    return HealthSample(ts, mean=120, std=35, scene_match=0.75, sharpness_ratio=0.2)


def run(machine: CameraHealth, samples: list[HealthSample]) -> list[tuple[str, str, int]]:
    out = []
    for s in samples:
        out += [(c.type, c.condition, c.ts_ms) for c in machine.step(s)]
    return out


def test_every_health_event_type_is_a_journal_type():
    for t in ("camera.covered", "camera.moved", "camera.blurred", "camera.restored", "camera.reference"):
        assert t in EVENT_TYPES


@pytest.mark.parametrize("make,cond", [(dark, COVERED), (turned, MOVED), (smeared, BLURRED)])
def test_condition_starts_after_enter_time_and_ends_after_restore_time(make, cond):
    m = CameraHealth("door", LIM)
    frames = [fine(t) for t in range(0, 2000, 200)]
    frames += [make(t) for t in range(2000, 6000, 200)]
    frames += [fine(t) for t in range(6000, 8000, 200)]
    ev = run(m, frames)
    assert ev == [
        (f"camera.{cond}", cond, 3000),  # held 1 s from its first frame at 2.0 s
        ("alert", cond, 5000),  # lasting 3 s
        ("camera.restored", cond, 7000),  # fine for 1 s from 6.0 s
    ]


def test_events_carry_start_end_and_measured_values():
    m = CameraHealth("door", LIM)
    changes = []
    for t in range(0, 8000, 200):
        changes += m.step(dark(t) if 2000 <= t < 6000 else fine(t))
    start, alert, end = changes
    assert start.body["start"] == 2000 and start.body["values"]["mean"] == 3
    assert start.body["thresholds"]["dark_level"] == LIM.dark_level
    assert alert.body["reasons"] == ["camera_covered"] and alert.body["start"] == 2000
    assert "unknown, not absent" in alert.body["text"] and "'door'" in alert.body["text"]
    assert end.body == {
        "condition": "covered", "start": 2000, "end": 6000, "duration_ms": 4000,
        "values": fine(0).values(), "worst": {"mean": 3.0, "std": 0.5, "scene_match": 0.0,
                                              "sharpness_ratio": 0.05},
    }


def test_short_blips_are_not_events():
    """A hand over the lens for 0.8 s, a person filling the view for 0.8 s: nothing."""
    m = CameraHealth("door", LIM)
    frames = [fine(t) for t in range(0, 2000, 200)] + [dark(t) for t in range(2000, 2800, 200)]
    frames += [fine(t) for t in range(2800, 4000, 200)] + [turned(t) for t in range(4000, 4800, 200)]
    frames += [fine(t) for t in range(4800, 7000, 200)]
    assert run(m, frames) == []


def test_hysteresis_values_at_the_threshold_do_not_flap():
    m = CameraHealth("door", LIM)
    ev = run(m, [HealthSample(t, 120, 40, 0.05, 1.0) for t in range(0, 1200, 200)])
    assert ev == [("camera.moved", MOVED, 1000)]
    # back just above the entering threshold, not above the restore one: still moved
    assert run(m, [HealthSample(t, 120, 40, 0.15, 1.0) for t in range(1200, 5000, 200)]) == [
        ("alert", MOVED, 3000)]
    assert m.state == MOVED
    assert run(m, [HealthSample(t, 120, 40, 0.5, 1.0) for t in range(5000, 6200, 200)]) == [
        ("camera.restored", MOVED, 6000)]


def test_covered_hides_moved_and_blurred():
    s = dark(0)
    assert s.scene_match == 0.0 and s.sharpness_ratio is not None and s.sharpness_ratio < 0.1
    assert classify(s, LIM) == COVERED
    assert classify(turned(0), LIM) == MOVED  # low sharpness on a wall is not "blurred"
    assert classify(smeared(0), LIM) == BLURRED


def test_uniform_bright_is_covered_and_dim_textured_scene_is_not():
    assert classify(HealthSample(0, 230, 3.0), LIM) == COVERED  # white sheet
    assert classify(HealthSample(0, 16, 19.8), LIM) is None  # a dark stage (shared clip)


def test_without_reference_only_covered_is_judged():
    m = CameraHealth("door", LIM)
    ev = run(m, [HealthSample(t, 120, 40) for t in range(0, 3000, 200)])
    assert ev == []
    assert classify(HealthSample(0, 2, 0.4), LIM) == COVERED


def test_change_of_condition_restores_one_and_starts_the_other():
    m = CameraHealth("door", LIM)
    frames = [dark(t) for t in range(0, 2000, 200)] + [turned(t) for t in range(2000, 4000, 200)]
    assert run(m, frames) == [("camera.covered", COVERED, 1000), ("camera.restored", COVERED, 3000),
                              ("camera.moved", MOVED, 3000)]


def test_unsure_while_pending_or_active():
    m = CameraHealth("door", LIM)
    m.step(fine(0))
    assert m.unsure is None
    m.step(dark(200))
    assert m.unsure == COVERED and m.state is None  # suspected, not journalled yet
    m.step(dark(1200))
    assert m.state == COVERED
    m.step(fine(1400))
    assert m.unsure == COVERED  # restoring, not restored
    m.step(fine(2400))
    assert m.unsure is None


def test_time_going_back_does_not_confirm_or_crash():
    m = CameraHealth("door", LIM)
    assert run(m, [dark(5000), dark(100), dark(600)]) == []
    assert run(m, [dark(1100)]) == [("camera.covered", COVERED, 1100)]


def test_negative_limits_refused():
    with pytest.raises(ValueError, match="enter_ms"):
        HealthLimits(enter_ms=-1)


def test_notice_goes_unknown_with_camera_reason_not_missing():
    sm = NoticeStateMachine(grace_ms=1000)
    sm.seen(0)
    ch = sm.camera_blind(500, "camera_covered")
    assert ch is not None and ch.state == NoticeState.UNKNOWN and ch.why == "camera_covered"
    assert ch.event_type == "notice.unknown"
    # once the camera is back, the grace period starts anew from the first unseen check
    assert sm.not_seen(5000) is None
    ch = sm.not_seen(6000)
    assert ch is not None and ch.state == NoticeState.MISSING
