"""Proved deletion: retention profiles, the signed retention.pruned record a prune leaves,
a pack that shows it, and verify refusing a pruned chain without it."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from trust_helpers import verify

from camaudit.config.device import DeviceConfig
from camaudit.core.types import Detection
from camaudit.pipeline.evidence import save_evidence
from camaudit.store.journal import Journal
from camaudit.store.pack import export_pack
from camaudit.store.verify import verify_journal
from camaudit.trust.retention import DAY_MS, HOUR_MS, PRESETS, policy_period

NOW = int(time.time() * 1000)


def _capture(cid: str, ts: int, refs: list[str]) -> dict:
    return {"capture": cid, "start": ts, "end": ts + 1000, "frames": 5, "max_faces": 1,
            "distinct_tracks": 1, "identifiable_tracks": 1,
            "face_px": {"min": 40, "median": 40, "max": 40}, "verdict": "unconsented",
            "reasons": ["no_notice"], "basis": None, "evidence": refs}


def _journal(tmp_path: Path) -> tuple[Path, list[str]]:
    """Five days of records: two old captures with evidence frames, one recent one."""
    db = tmp_path / "dev" / "journal.db"
    frame = np.full((120, 160, 3), 90, np.uint8)
    ev_dir = db.parent / "evidence"
    old_ref = save_evidence(frame, [Detection(60, 30, 40, 40, 0.9)], ev_dir)
    new_ref = save_evidence(frame[::-1].copy(), [Detection(60, 50, 40, 40, 0.9)], ev_dir)
    with Journal.open(db, "cafe-01", checkpoint_every=3) as j:
        j.append("device.online", None, {}, NOW - 5 * DAY_MS)
        j.append("capture.end", "counter", _capture("c-000001", NOW - 5 * DAY_MS + 10, [old_ref]), NOW - 5 * DAY_MS + 2000)
        j.append("capture.end", "counter", _capture("c-000002", NOW - 4 * DAY_MS, []), NOW - 4 * DAY_MS + 2000)
        j.append("device.online", None, {}, NOW - 3 * DAY_MS)
        j.append("capture.end", "counter", _capture("c-000003", NOW - HOUR_MS, [new_ref]), NOW - HOUR_MS + 2000)
        j.checkpoint(NOW - HOUR_MS + 3000)
        j.ack(j.head[0])  # the hub has every record
    return db, [old_ref[7:], new_ref[7:]]


def test_profiles_are_config_presets_with_sources() -> None:
    assert set(PRESETS) == {"edpb-72h", "at-72h", "de-48h", "fr-1month", "es-1month", "uk-31d"}
    assert all(p.source and p.rule for p in PRESETS.values())
    assert policy_period("de-48h", 30) == ("de-48h", 48 * HOUR_MS)
    assert policy_period(None, 30) == ("retention_days=30", 30 * DAY_MS)
    assert DeviceConfig(retention="edpb-72h").retention == "edpb-72h"
    with pytest.raises(ValidationError, match="unknown retention profile 'de-72h'; known: edpb-72h"):
        DeviceConfig(retention="de-72h")
    with pytest.raises(ValidationError, match="not both"):
        DeviceConfig(retention="de-48h", retention_days=14)


def test_a_retention_run_leaves_a_deletion_record_a_pack_shows_and_verify_checks(tmp_path, capsys) -> None:
    db, (old_frame, new_frame) = _journal(tmp_path)
    policy, period = policy_period("de-48h", 30)
    with Journal.open(db, "cafe-01") as j:
        n = j.prune(NOW - period, policy=policy, period_ms=period, now_ms=NOW)
        events = j.events()
    rec = events[-1]
    assert rec.type == "retention.pruned" and rec.body["policy"] == "de-48h"
    # seq 1..6 (three records, their checkpoints at 4 and 6: checkpoint_s also applies) were
    # older than 48 h and acked; 7 (recent), 8, 9 (checkpoints) stay; the record is seq 10
    assert n == 6 and rec.body["events"] == 6 and rec.body["kept"]["seq"] == 6 and rec.body["first_seq"] == 1
    assert [e.seq for e in events] == [7, 8, 9, 10]
    assert rec.body["frames"] == 1 and rec.body["before"] == NOW - 48 * HOUR_MS and rec.body["on"] == NOW
    ev_dir = db.parent / "evidence"
    assert not (ev_dir / f"{old_frame}.jpg").exists() and (ev_dir / f"{new_frame}.jpg").exists()
    assert all(e.ts >= NOW - period for e in events)
    assert verify_journal(db).ok
    pack = tmp_path / "pack.zip"
    export_pack(db, pack, now_ms=NOW)
    with zipfile.ZipFile(pack) as z:
        device = json.loads(z.read("device.json"))
        report = z.read("report.md").decode()
        pdf, html = z.read("report.pdf"), z.read("report.html").decode()
    assert json.loads(device["deletion"])["type"] == "retention.pruned"
    day = time.strftime("%Y-%m-%d", time.gmtime(NOW / 1000))
    said = f"were deleted on {day}"
    assert "## Deleted records" in report and said in report and "under policy de-48h" in report
    # report.pdf and report.html, what people read and forward, say it too
    flat = " ".join(subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True,
                                   check=True, timeout=60).stdout.decode().split())
    assert f"Records before {_utc(rec.body['before'])} were deleted on {_utc(NOW)} under policy de-48h" in flat
    assert f"were deleted on {_utc(NOW)} under policy de-48h" in html
    code, out = verify(capsys, str(pack), "--pubkey", _pub(db))
    assert code == 0 and "records before " in out and said in out and f"{n} record(s) and 1 evidence frame(s)" in out


def _utc(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ms / 1000))


def _pub(db: Path) -> str:
    with sqlite3.connect(db) as c:
        return str(c.execute("SELECT value FROM meta WHERE key = 'public_key'").fetchone()[0])


def _silent_gap(db: Path, upto: int) -> None:
    """What an older camaudit's prune (or someone with the file) leaves: rows gone, the
    pruned point in meta, no record of the deletion."""
    with sqlite3.connect(db) as c:
        h = c.execute("SELECT hash FROM events WHERE seq = ?", (upto,)).fetchone()[0]
        c.execute("DELETE FROM events WHERE seq <= ?", (upto,))
        c.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                      [("pruned_seq", str(upto)), ("pruned_hash", h)])


def test_silent_gap_at_the_start_fails_journal_and_pack(tmp_path, capsys) -> None:
    db, _ = _journal(tmp_path)
    _silent_gap(db, 3)
    r = verify_journal(db)
    assert not r.ok and "no retention.pruned record names that point" in str(r.first_bad)
    pack = tmp_path / "pack.zip"
    export_pack(db, pack, now_ms=NOW)
    code, out = verify(capsys, str(pack), "--pubkey", _pub(db))
    assert code == 1 and "missing without a record of their deletion" in out, out
    # a span asked for (--since) may start anywhere: no claim about the journal's start
    span = tmp_path / "span.zip"
    export_pack(db, span, since_ms=NOW - 3 * DAY_MS, now_ms=NOW)
    code, out = verify(capsys, str(span), "--pubkey", _pub(db))
    assert code == 0, out


def test_a_journal_pruned_by_an_older_camaudit_gets_its_record_once(tmp_path) -> None:
    db, _ = _journal(tmp_path)
    _silent_gap(db, 3)
    with Journal.open(db, "cafe-01") as j:
        ev = j.record_legacy_deletion(NOW)
        assert ev is not None and ev.body["events"] == 3 and ev.body["frames"] is None
        assert ev.body["on"] is None and "unrecorded" in ev.body["policy"]
        assert j.record_legacy_deletion(NOW) is None  # once
    assert verify_journal(db).ok


def test_forged_deletion_record_in_the_pack_fails(tmp_path, capsys) -> None:
    """A deletion record not signed by the device key, or naming another point, fails."""
    db, _ = _journal(tmp_path)
    with Journal.open(db, "cafe-01") as j:
        j.prune(NOW - 48 * HOUR_MS, policy="de-48h", now_ms=NOW)
    pack = tmp_path / "pack.zip"
    export_pack(db, pack, now_ms=NOW)
    with zipfile.ZipFile(pack) as z:
        files = {n: z.read(n) for n in z.namelist()}
    device = json.loads(files["device.json"])
    rec = json.loads(device["deletion"])
    rec["body"]["policy"] = "edpb-72h"  # rewritten after signing
    device["deletion"] = json.dumps(rec, sort_keys=True, separators=(",", ":"))
    forged = _resign(tmp_path / "f.zip", files, {"device.json": (json.dumps(device, sort_keys=True, indent=1) + "\n").encode()}, db)
    code, out = verify(capsys, str(forged), "--pubkey", _pub(db))
    assert code == 1 and "device.json: deletion" in out, out


def _resign(dst: Path, files: dict[str, bytes], change: dict[str, bytes], db: Path) -> Path:
    """The pack re-made and re-signed by the device key's holder."""
    import hashlib

    from camaudit.store.keys import load_key

    key = load_key(db.parent / "device.key")
    manifest = json.loads(files["manifest.json"])
    files = {n: d for n, d in {**files, **change}.items() if not n.startswith("manifest.")}
    manifest["files"] = {n: hashlib.sha256(d).hexdigest() for n, d in files.items()}
    mb = (json.dumps(manifest, sort_keys=True, indent=1) + "\n").encode()
    with zipfile.ZipFile(dst, "w") as z:
        for n, d in {**files, "manifest.json": mb, "manifest.sig": key.sign(mb).hex().encode() + b"\n"}.items():
            z.writestr(n, d)
    return dst


def test_a_frame_still_queued_for_the_hub_is_kept_and_not_counted(tmp_path) -> None:
    from camaudit.store.evidence_outbox import EvidenceOutbox

    db, (old_frame, _) = _journal(tmp_path)
    box = EvidenceOutbox(db, start_cursor=0)
    box.enqueue([(old_frame, 2, "counter")], cursor=2)  # the hub has not acked this frame
    box.close()
    with Journal.open(db, "cafe-01") as j:
        assert j.prune(NOW - 48 * HOUR_MS, policy="de-48h", now_ms=NOW) == 6
        assert j.events()[-1].body["frames"] == 0
    assert (db.parent / "evidence" / f"{old_frame}.jpg").exists()
