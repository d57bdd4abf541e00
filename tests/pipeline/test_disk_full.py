"""A full disk under a running device: events are dropped and counted, the audit goes on,
nothing already recorded is lost, and the journal records the fault once space is back."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from pipeline_helpers import spawn, wait_while_running

from camaudit.store.verify import verify_journal

pytestmark = pytest.mark.integration


@pytest.fixture
def small_disk(tmp_path: Path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    # 4 MiB: room for the 4 s of honest growth (track.end records) once the filler is gone
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def events(db: Path) -> list[dict]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [json.loads(r[0]) for r in con.execute("select json from events order by seq")]
    finally:
        con.close()


def test_disk_full_drops_and_counts_then_recovers(shared_data: Path, small_disk: Path):
    db = small_disk / "j.db"
    cfg = small_disk.parent / "c.yaml"
    clip = shared_data / "videos" / "facenet-pytorch_video.mp4"
    cfg.write_text(
        f"device: {{id: full-01, data_dir: {small_disk}}}\n"
        "capture: {update_s: 0.3, idle_s: 0.5}\n"
        f"feeds:\n  cam: {{source: '{clip}', loop: true, pace: true}}\n"
    )
    proc = spawn("run", "--config", str(cfg), "--db", str(db))
    try:
        wait_while_running(
            proc, lambda: db.exists() and any(e["type"] == "capture.update" for e in events(db)),
            "a capture.update", timeout=60,
        )
        before = verify_journal(db)
        filler = fill(small_disk)
        time.sleep(4)  # updates keep coming and cannot be written
        assert proc.poll() is None  # the device keeps running
        filler.unlink()
        time.sleep(4)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert err.count("events are being dropped") == 1  # said once, not per event
    after = verify_journal(db)
    assert after.ok, after.first_bad
    assert after.head_seq > before.head_seq
    evs = events(db)
    assert [e["seq"] for e in evs[: before.head_seq]] == list(range(1, before.head_seq + 1))
    (fault,) = [e for e in evs if e["type"] == "device.fault"]
    assert fault["body"]["fault"] == "journal_write_failed"
    assert fault["body"]["dropped_events"] >= 1
    assert "DROPPED" in out
