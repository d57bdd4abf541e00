"""Retention: the running device prunes only events the hub acknowledged, older than the limit."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_helpers import camaudit

from camaudit.store.journal import Journal
from camaudit.store.verify import verify_journal

pytestmark = pytest.mark.integration

DAY = 86_400_000


def test_run_prunes_old_acked_events_only(shared_data: Path, tmp_path: Path):
    import time

    db = tmp_path / "j.db"
    old = int(time.time() * 1000) - 40 * DAY
    j = Journal.open(db, "ret-01")
    for i in range(10):
        j.append("feed.up", "cam", {"detail": f"old {i}"}, old + i)
    j.ack(5)  # the hub stored seq 1..5; 6..10 are still in the outbox
    j.close()
    cfg = tmp_path / "c.yaml"
    clip = shared_data / "videos" / "NOFACE_opencv_tree.avi"
    cfg.write_text(
        f"device: {{id: ret-01, data_dir: {tmp_path}, retention_days: 30}}\n"
        f"feeds:\n  cam: {{source: '{clip}'}}\n"
    )
    camaudit("run", "--config", str(cfg), "--db", str(db))
    j = Journal.open(db, "ret-01")
    seqs = [e.seq for e in j.events()]
    j.close()
    assert seqs[0] == 6  # 1..5 acked and old: pruned; 6..10 unacked: kept
    report = verify_journal(db)
    assert report.ok and report.head_seq == seqs[-1]
