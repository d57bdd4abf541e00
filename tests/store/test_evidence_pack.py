"""Evidence packs: `camaudit export` writes one, `camaudit verify PACK.zip` checks it offline,
and every kind of tampering is caught and named."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from store_helpers import T0, capture_body

from camaudit.cli import main
from camaudit.core.types import Detection
from camaudit.errors import JournalError, VerifyError
from camaudit.pipeline.evidence import save_evidence
from camaudit.store.journal import Journal
from camaudit.store.keys import DeviceKey
from camaudit.store.pack import export_pack
from camaudit.store.pack_verify import verify_pack

HOUR = 3_600_000


@pytest.fixture()
def journal(tmp_path: Path) -> tuple[Path, list[str]]:
    """A journal over three hours: two captures (one with two blurred evidence frames)."""
    db = tmp_path / "dev" / "journal.db"
    frame = np.full((120, 160, 3), 90, np.uint8)
    frame[30:70, 60:100] = 200
    refs = [
        save_evidence(frame, [Detection(60, 30, 40, 40, 0.9)], db.parent / "evidence"),
        save_evidence(frame[::-1].copy(), [Detection(60, 50, 40, 40, 0.9)], db.parent / "evidence"),
    ]
    with Journal.open(db, "cafe-01", checkpoint_every=4) as j:
        j.append("device.online", None, {}, T0)
        j.append("capture.start", "counter", capture_body("c-000001"), T0 + 1000)
        body = capture_body("c-000001", frames=40, end=T0 + 60_000) | {"evidence": refs}
        j.append("capture.end", "counter", body, T0 + 60_000)
        j.append("capture.start", "door", capture_body("c-000002", start=T0 + 2 * HOUR), T0 + 2 * HOUR)
        end = capture_body("c-000002", frames=9, start=T0 + 2 * HOUR, end=T0 + 2 * HOUR + 9000)
        j.append("capture.end", "door", end | {"verdict": "consented", "reasons": [], "basis": "notice:door"}, T0 + 2 * HOUR + 9000)
        j.append("device.online", None, {}, T0 + 3 * HOUR)
    return db, [r[7:] for r in refs]


def _rezip(src: Path, dst: Path, change: dict[str, bytes | None]) -> Path:
    """Copy a pack, replacing (or with None dropping, or adding) members."""
    with zipfile.ZipFile(src) as z:
        files = {n: z.read(n) for n in z.namelist()}
    for name, data in change.items():
        if data is None:
            files.pop(name, None)
        else:
            files[name] = data
    with zipfile.ZipFile(dst, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return dst


def _member(pack: Path, name: str) -> bytes:
    with zipfile.ZipFile(pack) as z:
        return z.read(name)


def test_export_then_verify_offline(journal: tuple[Path, list[str]], tmp_path: Path) -> None:
    db, digests = journal
    pack = tmp_path / "pack.zip"
    s = export_pack(db, pack, now_ms=T0 + 4 * HOUR)
    assert (s.first_seq, s.events, s.captures, s.evidence, s.missing_evidence) == (1, s.last_seq, 2, 2, 0)
    assert s.last_seq >= 6  # six records plus checkpoints
    names = set(zipfile.ZipFile(pack).namelist())
    assert {f"evidence/{d}.jpg" for d in digests} <= names
    assert {"events.jsonl", "device.json", "report.md", "manifest.json", "manifest.sig"} <= names
    # the records are the journal's, byte for byte
    lines = _member(pack, "events.jsonl").decode().splitlines()
    assert json.loads(lines[2])["body"]["evidence"] == [f"sha256:{d}" for d in digests]
    report = _member(pack, "report.md").decode()
    assert "c-000001" in report and "unconsented" in report and "no_notice" in report
    assert "notice:door" in report
    # the evidence frames are the blurred files, untouched
    for d in digests:
        assert hashlib.sha256(_member(pack, f"evidence/{d}.jpg")).hexdigest() == d
    r = verify_pack(pack)
    assert (r.device, r.first_seq, r.last_seq, r.evidence) == ("cafe-01", 1, s.last_seq, 2)
    assert r.checkpoints >= 1


def test_a_time_span_exports_a_contiguous_verifiable_range(journal: tuple[Path, list[str]], tmp_path: Path) -> None:
    db, _ = journal
    pack = tmp_path / "door.zip"
    s = export_pack(db, pack, since_ms=T0 + HOUR, until_ms=T0 + 2 * HOUR + 9000, feed="door", now_ms=T0)
    assert s.first_seq > 1 and s.captures == 1 and s.evidence == 0
    r = verify_pack(pack)
    assert r.first_seq == s.first_seq  # chained from the hash of the record before the span
    report = _member(pack, "report.md").decode()
    assert "c-000002" in report and "c-000001" not in report
    with pytest.raises(JournalError, match="no record in that time span"):
        export_pack(db, tmp_path / "none.zip", since_ms=T0 + 10 * HOUR, now_ms=T0)
    with pytest.raises(JournalError, match="exists"):
        export_pack(db, pack, now_ms=T0)


def test_a_missing_evidence_frame_is_reported_not_fatal(journal: tuple[Path, list[str]], tmp_path: Path) -> None:
    db, digests = journal
    (db.parent / "evidence" / f"{digests[0]}.jpg").unlink()
    (db.parent / "evidence" / f"{digests[1]}.jpg").write_bytes(b"damaged")
    pack = tmp_path / "p.zip"
    s = export_pack(db, pack, now_ms=T0)
    assert (s.evidence, s.missing_evidence) == (0, 2)
    assert digests[0] in _member(pack, "report.md").decode()
    assert verify_pack(pack).evidence == 0


def test_every_kind_of_tampering_is_caught(journal: tuple[Path, list[str]], tmp_path: Path) -> None:
    db, digests = journal
    pack = tmp_path / "pack.zip"
    export_pack(db, pack, now_ms=T0)
    lines = _member(pack, "events.jsonl").decode().splitlines()
    edited = lines[2].replace('"unconsented"', '"consented"')
    events = ("\n".join(lines[:2] + [edited] + lines[3:]) + "\n").encode()
    manifest = json.loads(_member(pack, "manifest.json"))

    cases: dict[str, tuple[dict[str, bytes | None], str]] = {
        "record edited": ({"events.jsonl": events}, "events.jsonl was changed"),
        "frame swapped": ({f"evidence/{digests[0]}.jpg": b"\xff\xd8 other"}, "was changed"),
        "report edited": ({"report.md": b"# nothing to see\n"}, "report.md was changed"),
        "file added": ({"evidence/extra.jpg": b"x"}, "not in the manifest"),
        "record file dropped": ({"events.jsonl": None}, "events.jsonl is missing"),
        "signature dropped": ({"manifest.sig": None}, "manifest.sig is missing"),
    }
    # a careful forger also fixes the manifest: then its signature no longer holds
    forged = dict(manifest, files=dict(manifest["files"], **{"events.jsonl": hashlib.sha256(events).hexdigest()}))
    forged_bytes = (json.dumps(forged, sort_keys=True, indent=1) + "\n").encode()
    cases["manifest re-hashed"] = ({"events.jsonl": events, "manifest.json": forged_bytes}, "not the device key's signature")
    # ... and re-signs with a key of their own: the records' own signatures give it away
    other = DeviceKey.generate()
    device = json.loads(_member(pack, "device.json")) | {"public_key": other.public_hex}
    device_bytes = (json.dumps(device, sort_keys=True, indent=1) + "\n").encode()
    forged2 = dict(forged, public_key=other.public_hex, signer_key=other.public_hex, files=dict(forged["files"], **{"device.json": hashlib.sha256(device_bytes).hexdigest()}))
    forged2_bytes = (json.dumps(forged2, sort_keys=True, indent=1) + "\n").encode()
    cases["re-signed with another key"] = (
        {
            "events.jsonl": events,
            "device.json": device_bytes,
            "manifest.json": forged2_bytes,
            "manifest.sig": other.sign(forged2_bytes).hex().encode(),
        },
        "events.jsonl:1: seq 1: bad signature",
    )
    for label, (change, message) in cases.items():
        bad = _rezip(pack, tmp_path / f"bad-{len(message)}-{abs(hash(label))}.zip", change)
        with pytest.raises(VerifyError) as err:
            verify_pack(bad)
        assert message in str(err.value), (label, str(err.value))
    with pytest.raises(VerifyError, match="is not the pinned --pubkey"):
        verify_pack(pack, DeviceKey.generate().public_bytes)


def test_cli_export_and_verify(journal: tuple[Path, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db, _ = journal
    pack = tmp_path / "cli.zip"
    main(["export", "--db", str(db), "--out", str(pack), "--since", "2026-11-26T00:00:00+00:00", "--until", "2026-11-26"])
    out = capsys.readouterr()
    assert "2 capture(s), 2 evidence frame(s)" in out.out and "camaudit verify" in out.err
    pub = json.loads(_member(pack, "device.json"))["public_key"]
    assert f"camaudit verify {pack} --pubkey {pub}" in out.err
    main(["verify", str(pack), "--pubkey", pub])
    assert "OK, authentic evidence pack of device cafe-01" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        main(["verify", str(pack)])  # nothing pinned: consistent, origin unproven
    assert exit_.value.code == 3
    assert "UNPROVEN ORIGIN" in capsys.readouterr().out
    bad = _rezip(pack, tmp_path / "bad.zip", {"report.md": b"changed"})
    with pytest.raises(SystemExit) as exit_:
        main(["verify", str(bad), "--pubkey", pub])
    assert exit_.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"camaudit: error: {bad}: FAILED: report.md was changed (sha256 differs from the manifest)"]
    with pytest.raises(SystemExit) as exit_:
        main(["export", "--db", str(db), "--out", str(tmp_path / "x.zip"), "--since", "yesterday"])
    assert exit_.value.code == 2
