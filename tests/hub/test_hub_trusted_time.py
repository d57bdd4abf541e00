"""Trusted time and pruning on the hub (issue 24): the hub asks a local `openssl ts`
authority for a token over each device's newest checkpoint, keeps it in the hub store
(SQLite and PostgreSQL) and its packs carry it, checked by `verify --tsa-cert`; the hub
prunes under a retention profile with a hub-signed deletion record that a pack shows and
without which verify refuses the pruned start."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from pydantic import ValidationError
from test_hub_custody import JPEG  # a real tiny JPEG: hub packs put stored frames into report.pdf

from camaudit.config.hub import HubConfig
from camaudit.errors import VerifyError
from camaudit.hub.custody.keeper import Keeper
from camaudit.hub.evidence.inbox import EvidenceStore, Frame
from camaudit.hub.evidence.pack import export_hub_pack
from camaudit.hub.store.hub_store import HubStore
from camaudit.hub.store.sql import open_sql
from camaudit.store.journal import Journal
from camaudit.store.keys import load_or_create_key
from camaudit.store.pack_verify import verify_pack
from camaudit.trust.local_tsa import make_authority, serve
from camaudit.trust.retention import DAY_MS, HOUR_MS
from camaudit.trust.tsa import load_certs

T0 = 1_795_651_200_000
SHA = "cd" * 32
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl command missing")


def _capture(cid: str, ts: int, evidence: list[str]) -> dict[str, object]:
    return {"capture": cid, "start": ts, "end": ts + 5000, "frames": 50, "max_faces": 2,
            "distinct_tracks": 2, "identifiable_tracks": 2, "face_px": {"min": 40, "median": 50, "max": 60},
            "verdict": "unconsented", "reasons": ["no_notice"], "basis": None, "evidence": evidence}


@pytest.fixture()
def hub(tmp_path: Path, hub_db: str) -> tuple[str, Path, bytes]:
    """Records 1..: three old (T0, with an evidence frame), then new ones 10 days later,
    with checkpoints every 3 records."""
    with Journal.open(tmp_path / "dev" / "journal.db", "cafe-01", checkpoint_every=3) as j:
        j.append("device.online", None, {}, T0)
        j.append("capture.end", "counter", _capture("c-000001", T0, ["sha256:" + SHA]), T0 + 5000)
        j.append("capture.end", "counter", _capture("c-000002", T0 + 10 * DAY_MS, []), T0 + 10 * DAY_MS)
        j.append("capture.end", "counter", _capture("c-000003", T0 + 10 * DAY_MS, []), T0 + 10 * DAY_MS + 9000)
        events = j.events()
    key = tmp_path / "hub" / "hub.key"
    load_or_create_key(key)
    store = HubStore(hub_db)
    store.enroll("cafe-01", j.public_key.hex())
    store.write_batch([(ev, ev.to_json().decode(), T0) for ev in events], {}, {}, {}, [])
    frame_seq = next(ev.seq for ev in events if ev.body.get("capture") == "c-000001")
    EvidenceStore(store.sql).add(Frame("cafe-01", SHA, "c-000001", frame_seq, "counter", 4, 4, len(JPEG), T0), JPEG)
    store.close()
    return hub_db, key, j.public_key


def _cfg(tmp_path: Path, db: str, **extra: object) -> HubConfig:
    return HubConfig.model_validate({"data_dir": str(tmp_path / "hub"), "db": db, **extra})


@needs_openssl
def test_hub_stamps_checkpoints_and_its_packs_carry_the_tokens(hub: tuple[str, Path, bytes], tmp_path: Path) -> None:
    db, key, device_key = hub
    authority = make_authority(tmp_path / "tsa")
    store = HubStore(db)
    try:
        (last_cp,) = store.sql.execute("SELECT MAX(seq) FROM events WHERE type = 'checkpoint'").fetchone()
        # an authority that is down costs an error line, never a record
        down = Keeper(_cfg(tmp_path, db, timestamps={"urls": ["http://127.0.0.1:9/tsa"], "timeout_s": 2}),
                      load_or_create_key(key))
        r = down.run_once(store)
        assert r["stamped"] == 0 and len(r["errors"]) == 1 and "127.0.0.1:9" in r["errors"][0]
        with serve(authority) as url:
            keeper = Keeper(_cfg(tmp_path, db, timestamps={"urls": [url]}), load_or_create_key(key))
            assert keeper.run_once(store)["stamped"] == 1
            assert keeper.run_once(store)["stamped"] == 0  # nothing new to stamp
        assert store.sql.execute("SELECT seq FROM hub_tokens").fetchall() == [(last_cp,)]
        export_hub_pack(store, key, "cafe-01", tmp_path / "p.zip", now_ms=T0 + 11 * DAY_MS)
    finally:
        store.close()
    with zipfile.ZipFile(tmp_path / "p.zip") as z:
        assert [n for n in z.namelist() if n.startswith("timestamps/")] == [
            n for n in z.namelist() if n.startswith(f"timestamps/{last_cp:010d}.")] != []
    rep = verify_pack(tmp_path / "p.zip", device_key, load_or_create_key(key).public_bytes,
                      load_certs(authority.ca.read_bytes()))
    assert len(rep.times) == 1 and rep.times[0].startswith(f"records up to seq {last_cp} existed by ")
    assert "(CN=camaudit test TSA)" in rep.times[0]
    # pinned to another authority: refused
    other = make_authority(tmp_path / "other", "another TSA")
    with pytest.raises(VerifyError, match="not signed by a pinned authority"):
        verify_pack(tmp_path / "p.zip", device_key, None, load_certs(other.ca.read_bytes()))


def test_hub_prunes_with_a_signed_deletion_record(hub: tuple[str, Path, bytes], tmp_path: Path) -> None:
    db, key, device_key = hub
    hub_key = load_or_create_key(key).public_bytes
    now = T0 + 10 * DAY_MS + HOUR_MS
    store = HubStore(db)
    try:
        (total,) = store.sql.execute("SELECT COUNT(*) FROM events").fetchone()
        (young,) = store.sql.execute("SELECT MIN(seq) FROM events WHERE ts >= ?", (now - 2 * DAY_MS,)).fetchone()
        keeper = Keeper(_cfg(tmp_path, db, retention="de-48h"), load_or_create_key(key))
        (body,) = keeper.run_once(store, now_ms=now)["pruned"]
        assert body["policy"] == "de-48h" and body["events"] == young - 1 and body["frames"] == 1
        assert body["kept"]["seq"] == young - 1 and body["before"] == now - 2 * DAY_MS and body["on"] == now
        assert store.sql.execute("SELECT MIN(seq), COUNT(*) FROM events").fetchone() == (young, total - young + 1)
        assert store.sql.execute("SELECT COUNT(*) FROM evidence_frames").fetchone() == (0,)
        assert keeper.run_once(store, now_ms=now + 2 * HOUR_MS)["pruned"] == []  # nothing older left
        export_hub_pack(store, key, "cafe-01", tmp_path / "p.zip", now_ms=now)
    finally:
        store.close()
    rep = verify_pack(tmp_path / "p.zip", device_key, hub_key)
    assert rep.first_seq == young
    said = "under policy de-48h: "
    assert any(said in d and "were deleted on" in d for d in rep.deletions), rep.deletions
    with zipfile.ZipFile(tmp_path / "p.zip") as z:
        assert said in z.read("report.md").decode()

    # the record changed (another policy claimed): its hub signature fails
    sql = open_sql(db)
    doc = json.loads(sql.execute("SELECT json FROM hub_deletions").fetchone()[0])
    doc["body"]["policy"] = "uk-31d"
    sql.execute("UPDATE hub_deletions SET json = ?", (json.dumps(doc),))
    sql.close()
    export_hub_pack(db, key, "cafe-01", tmp_path / "forged.zip", now_ms=now)
    with pytest.raises(VerifyError, match="hub_deletion: not signed by the hub key"):
        verify_pack(tmp_path / "forged.zip", device_key, hub_key)
    # without the record the pruned start is a silent gap
    sql = open_sql(db)
    sql.execute("DELETE FROM hub_deletions")
    sql.close()
    export_hub_pack(db, key, "cafe-01", tmp_path / "gap.zip", now_ms=now)
    with pytest.raises(VerifyError, match="missing without a record of their deletion"):
        verify_pack(tmp_path / "gap.zip", device_key, hub_key)


def test_no_retention_no_pruning_and_an_open_fork_blocks_it(hub: tuple[str, Path, bytes], tmp_path: Path) -> None:
    db, key, _ = hub
    now = T0 + 20 * DAY_MS
    store = HubStore(db)
    try:
        (total,) = store.sql.execute("SELECT COUNT(*) FROM events").fetchone()
        assert Keeper(_cfg(tmp_path, db), load_or_create_key(key)).run_once(store, now_ms=now)["pruned"] == []
        store.sql.execute("INSERT INTO fork_state (device, fork_seq, detected_ms, copies) VALUES (?,?,?,?)",
                          ("cafe-01", 2, T0, 2))
        keeper = Keeper(_cfg(tmp_path, db, retention_days=1), load_or_create_key(key))
        assert keeper.run_once(store, now_ms=now)["pruned"] == []
        assert store.sql.execute("SELECT COUNT(*) FROM events").fetchone() == (total,)
    finally:
        store.close()
    with pytest.raises(ValidationError, match="unknown retention profile"):
        _cfg(tmp_path, db, retention="forever")
    with pytest.raises(ValidationError, match="not both"):
        _cfg(tmp_path, db, retention="de-48h", retention_days=2)
