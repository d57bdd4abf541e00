"""`camaudit hub export`: a device's evidence pack from what the hub stored, signed by the
hub's key; `camaudit verify` accepts it and still checks every record by the device key."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from camaudit.cli import main
from camaudit.core.record import Event
from camaudit.errors import JournalError
from camaudit.hub.evidence.pack import export_hub_pack
from camaudit.hub.store.hub_store import HubError, HubStore
from camaudit.store.journal import Journal
from camaudit.store.keys import load_or_create_key
from camaudit.store.pack_verify import verify_pack

T0 = 1_795_651_200_000


def _capture(cid: str, verdict: str, evidence: list[str]) -> dict[str, object]:
    return {"capture": cid, "start": T0, "end": T0 + 5000, "frames": 50, "max_faces": 2,
            "distinct_tracks": 2, "identifiable_tracks": 2, "face_px": {"min": 40, "median": 50, "max": 60},
            "verdict": verdict, "reasons": ["no_notice"] if verdict == "unconsented" else [],
            "basis": None, "evidence": evidence}


@pytest.fixture()
def hub(tmp_path: Path, hub_db: str) -> tuple[str, Path, Journal]:
    """A device journal, and a hub store (SQLite file, then PostgreSQL URL) holding its
    records 1..N (as the collector stores them: the device's JSON text, verbatim)."""
    jpath = tmp_path / "dev" / "journal.db"
    with Journal.open(jpath, "cafe-01", checkpoint_every=3) as j:
        j.append("device.online", None, {}, T0)
        j.append("capture.end", "counter", _capture("c-000001", "unconsented", ["sha256:" + "ab" * 32]), T0 + 5000)
        j.append("capture.end", "door", _capture("c-000002", "consented", []), T0 + 9000)
        events = j.events()
        public_key = j.public_key.hex()
    data = tmp_path / "hub"
    load_or_create_key(data / "hub.key")
    store = HubStore(hub_db)
    store.enroll("cafe-01", public_key)
    store.write_batch([(ev, ev.to_json().decode(), T0) for ev in events], {}, {}, {}, [])
    store.close()
    return hub_db, data / "hub.key", j


def test_hub_pack_verifies_and_is_signed_by_the_hub(hub: tuple[str, Path, Journal], tmp_path: Path) -> None:
    db, key, journal = hub
    pack = tmp_path / "hub.zip"
    s = export_hub_pack(db, key, "cafe-01", pack, now_ms=T0)
    assert (s.first_seq, s.captures, s.evidence, s.missing_evidence) == (1, 2, 0, 1)
    assert "kept on the device" in s.summary()
    r = verify_pack(pack, journal.public_key)
    assert r.signed_by == "hub" and r.signer_key == load_or_create_key(key).public_hex
    assert r.last_seq == s.last_seq
    with zipfile.ZipFile(pack) as z:
        assert json.loads(z.read("manifest.json"))["signed_by"] == "hub"
        report = z.read("report.md").decode()
        lines = z.read("events.jsonl").decode().splitlines()
    assert "stay on the device" in report and "ab" * 32 in report
    assert [Event.from_json(x).seq for x in lines] == list(range(1, s.last_seq + 1))


def test_hub_export_refuses_gaps_and_unknown_devices(hub: tuple[str, Path, Journal], tmp_path: Path) -> None:
    from camaudit.hub.store.sql import open_sql

    db, key, _ = hub
    with pytest.raises(HubError, match="no enrolled device 'nope'"):
        export_hub_pack(db, key, "nope", tmp_path / "x.zip", now_ms=T0)
    sql = open_sql(db)
    sql.execute("DELETE FROM events WHERE seq = 2")
    sql.close()
    with pytest.raises(JournalError, match="missing seq 2..2"):
        export_hub_pack(db, key, "cafe-01", tmp_path / "y.zip", now_ms=T0)
    # a span after the gap still exports and verifies
    s = export_hub_pack(db, key, "cafe-01", tmp_path / "z.zip", since_ms=T0 + 9000, now_ms=T0)
    assert s.first_seq >= 3
    assert verify_pack(tmp_path / "z.zip").first_seq == s.first_seq


def test_cli_hub_export(hub: tuple[str, Path, Journal], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db, key, _ = hub
    pack = tmp_path / "cli.zip"
    main(["hub", "--data-dir", str(key.parent), "export", "cafe-01", "--out", str(pack), "--db", db])
    assert "2 capture(s)" in capsys.readouterr().out
    main(["verify", str(pack), "--hub-key", load_or_create_key(key).public_hex])
    assert "signed by the hub; against the pinned hub key" in capsys.readouterr().out
