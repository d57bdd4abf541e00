"""Event times (issue 13): `ts` is when an event was journalled, monotonic within a
journal; a file feed's own (clip) time is the body's `clip_ts`; the run's event count is
what `verify` counts."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path

import pytest
from pipeline_helpers import camaudit

pytestmark = pytest.mark.integration


def _records(db: Path) -> list[dict]:
    con = sqlite3.connect(db)
    try:
        return [json.loads(r[0]) for r in con.execute("select json from events order by seq")]
    finally:
        con.close()


def test_ts_is_journal_time_and_clip_time_is_separate(shared_data: Path, tmp_path: Path):
    db = tmp_path / "j.db"
    clip = shared_data / "videos" / "face_recognition_short_hamilton_clip.mp4"
    before = int(time.time() * 1000)
    runs = [camaudit("run", "--source", str(clip), "--db", str(db)) for _ in range(2)]
    after = int(time.time() * 1000)
    recs = _records(db)
    ts = [r["ts"] for r in recs]
    # two unpaced runs of the clip: its media times run ahead of the clock and the second
    # run's clip times start before the first's end, yet the journal never goes backwards
    assert ts == sorted(ts)
    assert before <= ts[0] and ts[-1] <= after
    caps = [r for r in recs if r["type"].startswith("capture.")]
    assert caps and all("clip_ts" in r["body"] for r in caps)
    # clip time: the capture's own start/end are clip times, between its clip_ts values
    ends = [r for r in caps if r["type"] == "capture.end"]
    assert all(r["body"]["start"] <= r["body"]["end"] <= r["body"]["clip_ts"] for r in ends)
    # device events (not from a feed) carry no clip time
    assert all("clip_ts" not in r["body"] for r in recs if r["type"] == "device.online")
    # each run's summary counts every record it wrote, checkpoints included
    written = [int(re.search(r"(\d+) event\(s\) written", r.stdout + r.stderr).group(1)) for r in runs]
    out = camaudit("verify", str(db)).stdout
    verified = int(re.search(r"(\d+) events", out).group(1))
    assert sum(written) == verified == len(recs)


def test_a_clock_stepped_back_never_makes_ts_run_backwards(tmp_path: Path):
    from camaudit.pipeline.runner import QuietReporter, _Sink
    from camaudit.store.journal import Journal

    db = tmp_path / "j.db"
    clock = iter([5_000, 9_000, 4_000, 9_500, 1_000])  # NTP steps the clock back twice
    with Journal.open(db, "dev-1") as j:
        sink = _Sink(j, QuietReporter(), [], clock=lambda: next(clock), clip_feeds=frozenset({"clip"}))
        sink("feed.up", "live", {"detail": "a"}, 123)
        sink("feed.up", "clip", {"detail": "b"}, 777)
        sink("feed.up", "live", {"detail": "c"}, 456)
        # reopened: the last ts is read back from the journal
    with Journal.open(db, "dev-1") as j:
        sink = _Sink(j, QuietReporter(), [], clock=lambda: next(clock))
        sink("feed.up", "live", {"detail": "d"}, 0)
        sink("feed.up", "live", {"detail": "e"}, 0)
        evs = j.events()
    assert [e.ts for e in evs] == [5_000, 9_000, 9_000, 9_500, 9_500]
    assert [e.body.get("clip_ts") for e in evs] == [None, 777, None, None, None]
