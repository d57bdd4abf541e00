"""The capture log behind `camaudit log`: latest state per capture, read-only."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from store_helpers import T0, capture_body

from camaudit.errors import JournalError
from camaudit.store.captures import CaptureRow, format_table, list_captures
from camaudit.store.journal import Journal

STABLE_KEYS = {
    "feed",
    "start",
    "end",
    "max_faces",
    "distinct_tracks",
    "identifiable_tracks",
    "verdict",
    "reasons",
    "capture",
    "state",
    "frames",
    "face_px",
    "basis",
}


@pytest.fixture(scope="module")
def journal_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Read-only tests share one journal."""
    db = tmp_path_factory.mktemp("captures") / "j.db"
    with Journal.open(db, "cafe-01", checkpoint_every=3) as j:
        j.append("device.online", None, {}, T0)
        j.append("capture.start", "counter", capture_body("c-000001", frames=1), T0 + 1000)
        j.append("capture.start", "door", capture_body("c-000001", start=T0 + 1500), T0 + 1500)
        j.append("capture.update", "counter", capture_body("c-000001", frames=40), T0 + 5000)
        j.append("feed.down", "door", {"reason": "timeout"}, T0 + 6000)
        end = T0 + 83_000
        body = capture_body("c-000001", frames=412, end=end) | {"max_faces": 3}
        j.append("capture.end", "counter", body, end + 10_000)
        j.append(
            "capture.start", "counter", capture_body("c-000002", start=T0 + 100_000), T0 + 100_000
        )
    return db


def test_latest_event_per_capture_and_feed(journal_db: Path) -> None:
    rows = list_captures(journal_db)
    assert [(r.feed, r.capture, r.state) for r in rows] == [
        ("counter", "c-000001", "closed"),
        ("door", "c-000001", "open"),
        ("counter", "c-000002", "open"),
    ]
    closed = rows[0]
    assert closed.frames == 412 and closed.max_faces == 3
    assert closed.start == T0 and closed.end == T0 + 83_000
    assert closed.device == "cafe-01"
    assert rows[1].end is None


def test_to_dict_has_the_stable_json_keys(journal_db: Path) -> None:
    d = list_captures(journal_db)[0].to_dict()
    assert d.keys() >= STABLE_KEYS
    assert d["reasons"] == ["no_notice"] and d["verdict"] == "unconsented"
    assert d["face_px"] == {"min": 18, "median": 41, "max": 96}
    json.dumps(d)  # JSON-ready as is


def test_format_table(journal_db: Path) -> None:
    os.environ["TZ"] = "UTC"
    try:
        import time

        time.tzset()
        text = format_table(list_captures(journal_db))
    finally:
        del os.environ["TZ"]
        time.tzset()
    lines = text.splitlines()
    assert lines[0].split()[:4] == ["CAPTURE", "FEED", "START", "END"]
    assert len(lines) == 5
    assert "2026-11-26 00:00:00 UTC  00:01:23" in lines[1] and "1m23s" in lines[1]
    assert lines[-1] == "times in this machine's zone (UTC, now UTC+00:00)"
    assert "unconsented" in lines[1] and "no_notice" in lines[1]
    assert " open " in lines[2]
    assert format_table([]) == "no captures"
    from zoneinfo import ZoneInfo

    tokyo = format_table(list_captures(journal_db), ZoneInfo("Asia/Tokyo")).splitlines()
    assert "2026-11-26 09:00:00 JST  09:01:23" in tokyo[1]
    assert tokyo[-1] == "times in Asia/Tokyo (now UTC+09:00)"


def test_works_while_the_device_writes_and_never_creates_files(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    with Journal.open(db, "cafe-01") as j:
        j.append("capture.start", "counter", capture_body(), T0)
        assert [r.state for r in list_captures(db)] == ["open"]
        j.append("capture.end", "counter", capture_body(end=T0 + 1), T0 + 1)
        assert [r.state for r in list_captures(db)] == ["closed"]
    with pytest.raises(JournalError, match="no such file"):
        list_captures(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()


def test_row_is_frozen() -> None:
    row = CaptureRow(
        device="d",
        feed="f",
        capture="c-1",
        state="open",
        start=1,
        end=None,
        frames=0,
        max_faces=0,
        distinct_tracks=0,
        identifiable_tracks=0,
        face_px=None,
        verdict=None,
        reasons=(),
        basis=None,
        evidence=(),
        seq=1,
        ts=1,
    )
    with pytest.raises(AttributeError):
        row.state = "closed"  # type: ignore[misc]
