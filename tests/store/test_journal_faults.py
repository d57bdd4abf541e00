"""Faults, for real: a full disk (SQLITE_FULL via max_page_count) and kill -9 mid-stream."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from store_helpers import T0, capture_body, raw

from camaudit.errors import JournalError
from camaudit.store.journal import Journal
from camaudit.store.verify import verify_journal


def test_full_disk_fails_cleanly_and_recovers_gapless(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    with Journal.open(db, "cafe-01", checkpoint_every=10**6, checkpoint_s=10**6) as j:
        for i in range(5):
            j.append("capture.update", "counter", capture_body(frames=i), T0 + i)
        head, before = j.head, j.events()
        # A real SQLITE_FULL: the database may not grow past its current size.
        pages = j._conn.execute("PRAGMA page_count").fetchone()[0]
        j._conn.execute(f"PRAGMA max_page_count = {pages}")
        big = capture_body() | {"evidence": ["x" * 3000]}
        with pytest.raises(JournalError, match=f"journal {db}: disk full") as exc_info:
            for i in range(50):  # the free space left in the last pages runs out quickly
                j.append("capture.update", "counter", big, T0 + 100 + i)
        assert "\n" not in str(exc_info.value)
        written = j.head[0] - head[0]  # appends that still fitted are whole and chained
        assert j.events()[: len(before)] == before
        assert len(j.events()) == 5 + written and j.outbox_size() == 5 + written
        assert verify_journal(db).ok  # no half-written event, earlier ones intact
        failed_at = j.head
        with pytest.raises(JournalError, match="disk full"):
            j.checkpoint(T0 + 500)
        assert j.head == failed_at
        # space is back: the chain continues without a gap
        j._conn.execute("PRAGMA max_page_count = 1073741823")
        ev = j.append("capture.end", "counter", big, T0 + 1000)
        assert ev.seq == failed_at[0] + 1 and ev.prev == failed_at[1]
    r = verify_journal(db)
    assert r.ok and r.head_seq == ev.seq and r.events == ev.seq


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from camaudit.store.journal import Journal

    j = Journal.open(Path(sys.argv[1]), "kill-01", checkpoint_every=7, checkpoint_s=10**6)
    i = 0
    while True:
        i += 1
        body = {"capture": "c-000001", "start": 1, "end": None, "frames": i}
        ev = j.append("capture.update", "counter", body, 1_000_000 + i)
        print(ev.seq, flush=True)
    """
)


@pytest.mark.timeout(60)
def test_kill_9_mid_stream_leaves_a_verified_gapless_journal(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    last_returned = 0
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        while last_returned < 200 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            last_returned = int(line)
        os.kill(proc.pid, signal.SIGKILL)  # mid-stream: it is appending as fast as it can
    finally:
        if proc.poll() is None:
            proc.kill()
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert last_returned >= 200, f"writer did not get going: {err[-500:]}"
    r = verify_journal(db)
    assert r.ok, r.first_bad
    assert r.head_seq >= last_returned  # every append that returned is durable
    assert r.checkpoints >= last_returned // 8
    with raw(db) as c:
        seqs = [s for (s,) in c.execute("SELECT seq FROM events ORDER BY seq")]
        outbox = c.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    assert seqs == list(range(1, r.head_seq + 1))
    assert outbox == len(seqs)  # each event committed together with its outbox row
    with Journal.open(db, "kill-01") as j:  # the device restarts and carries on
        ev = j.append("device.online", None, {}, 2_000_000)
        assert ev.seq == r.head_seq + 1
    assert verify_journal(db).ok
