"""Notice state machine: VISIBLE at once, MISSING only after the grace period, UNKNOWN while
the watching feed is down (never VISIBLE)."""

from __future__ import annotations

import pytest

from camaudit.core.notice_state import NoticeState, NoticeStateMachine

V, M, U = NoticeState.VISIBLE, NoticeState.MISSING, NoticeState.UNKNOWN


def run(steps: list[tuple[str, int]], grace_ms: int = 60_000) -> list[tuple[int, str, str]]:
    sm = NoticeStateMachine(grace_ms)
    out = []
    for what, ts in steps:
        change = {"seen": sm.seen, "not": sm.not_seen, "down": sm.feed_down}[what](ts)
        if change is not None:
            out.append((ts, str(change.state), change.event_type))
    return out


@pytest.mark.parametrize(
    ("name", "steps", "expected"),
    [
        ("seen at start", [("seen", 0), ("seen", 10_000)], [(0, "VISIBLE", "notice.restored")]),
        (
            "covered: missing only after grace",
            [("seen", 0), ("not", 10_000), ("not", 50_000), ("not", 59_999), ("not", 60_000), ("not", 70_000)],
            [(0, "VISIBLE", "notice.restored"), (60_000, "MISSING", "notice.missing")],
        ),
        (
            "briefly hidden within grace: no change",
            [("seen", 0), ("not", 10_000), ("not", 50_000), ("seen", 55_000), ("not", 100_000), ("seen", 110_000)],
            [(0, "VISIBLE", "notice.restored")],
        ),
        (
            "grace counts from the last sighting",
            [("seen", 0), ("seen", 40_000), ("not", 90_000), ("not", 100_000)],
            [(0, "VISIBLE", "notice.restored"), (100_000, "MISSING", "notice.missing")],
        ),
        (
            "never seen: missing one grace after the first check",
            [("not", 5_000), ("not", 60_000), ("not", 65_000)],
            [(65_000, "MISSING", "notice.missing")],
        ),
        (
            "restored",
            [("seen", 0), ("not", 60_000), ("seen", 70_000)],
            [(0, "VISIBLE", "notice.restored"), (60_000, "MISSING", "notice.missing"), (70_000, "VISIBLE", "notice.restored")],
        ),
        (
            "feed down: unknown, not visible",
            [("seen", 0), ("down", 5_000), ("down", 6_000)],
            [(0, "VISIBLE", "notice.restored"), (5_000, "UNKNOWN", "notice.unknown")],
        ),
        (
            "feed back, sign gone: grace starts anew",
            [("seen", 0), ("down", 5_000), ("not", 30_000), ("not", 89_999), ("not", 90_000)],
            [(0, "VISIBLE", "notice.restored"), (5_000, "UNKNOWN", "notice.unknown"), (90_000, "MISSING", "notice.missing")],
        ),
        (
            "feed back, sign there",
            [("not", 0), ("not", 60_000), ("down", 61_000), ("seen", 70_000)],
            [(60_000, "MISSING", "notice.missing"), (61_000, "UNKNOWN", "notice.unknown"), (70_000, "VISIBLE", "notice.restored")],
        ),
        (
            "zero grace: missing at the first miss",
            [("seen", 0), ("not", 1)],
            [(0, "VISIBLE", "notice.restored"), (1, "MISSING", "notice.missing")],
        ),
    ],
)
def test_state_sequences(name, steps, expected):
    grace = 0 if name.startswith("zero") else 60_000
    assert run(steps, grace) == expected, name


def test_change_carries_previous_state_and_last_sighting():
    sm = NoticeStateMachine(1_000)
    assert sm.state is U
    sm.seen(100)
    change = sm.not_seen(1_200)
    assert change is not None
    assert (change.previous, change.state, change.last_seen_ms) == (V, M, 100)
    assert "not seen for 1 s" in change.why
    down = sm.feed_down(2_000)
    assert down is not None and (down.previous, down.state) == (M, U)
    assert sm.last_seen_ms is None
