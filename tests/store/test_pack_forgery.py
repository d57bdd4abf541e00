"""Evidence packs as an attacker makes them: each forgery gets the exit code and message it
must give (issue 12). Real journals, real keys, real zip files; the CLI's own exit codes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from store_helpers import T0, capture_body, run_verify

from camaudit.core.record import Event
from camaudit.core.types import Detection
from camaudit.errors import VerifyError
from camaudit.pipeline.evidence import save_evidence
from camaudit.store.journal import Journal
from camaudit.store.keys import DeviceKey
from camaudit.store.pack import build_pack, export_pack
from camaudit.store.pack_report import PackMeta, derived_files
from camaudit.store.pack_verify import fingerprint, verify_pack

HOUR = 3_600_000
ODD = "\u2028 \u2029 \u0085"  # line ends to str.splitlines(), plain characters to JSON


def _journal(dirpath: Path, feed: str = "counter", text: str = "no notice posted") -> Path:
    db = dirpath / "journal.db"
    frame = np.full((120, 160, 3), 90, np.uint8)
    ref = save_evidence(frame, [Detection(60, 30, 40, 40, 0.9)], dirpath / "evidence")
    with Journal.open(db, "cafe-01", checkpoint_every=4) as j:
        j.append("device.online", None, {}, T0)
        j.append("capture.start", feed, capture_body("c-000001"), T0 + 1000)
        j.append("notice.missing", feed, {"notice": "entrance", "text": text}, T0 + 1500)
        j.append("capture.end", feed, capture_body("c-000001", frames=40, end=T0 + 60_000) | {"evidence": [ref]}, T0 + 60_000)
        j.append("alert", feed, {"capture": "c-000001", "text": text}, T0 + 60_001)
    return db


def _lines(db: Path) -> list[str]:
    con = sqlite3.connect(db)
    try:
        return [t for (t,) in con.execute("SELECT json FROM events ORDER BY seq")]
    finally:
        con.close()


def _pub(db: Path) -> str:
    con = sqlite3.connect(db)
    try:
        return str(con.execute("SELECT value FROM meta WHERE key = 'public_key'").fetchone()[0])
    finally:
        con.close()


@pytest.fixture()
def device(tmp_path: Path) -> tuple[Path, str]:
    d = tmp_path / "dev"
    d.mkdir()
    db = _journal(d)
    return db, _pub(db)


def _files(pack: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(pack) as z:
        return {n: z.read(n) for n in z.namelist()}


def _zip(dst: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return dst


def _resign(src: Path, dst: Path, key: DeviceKey, signed_by: str, files: dict[str, bytes]) -> Path:
    """What a forger with their own key does: new content, manifest re-hashed, re-signed."""
    old = json.loads(_files(src)["manifest.json"])
    manifest = dict(
        old,
        signed_by=signed_by,
        signer_key=key.public_hex,
        files={n: hashlib.sha256(d).hexdigest() for n, d in files.items()},
    )
    mb = (json.dumps(manifest, sort_keys=True, indent=1) + "\n").encode()
    return _zip(dst, {**files, "manifest.json": mb, "manifest.sig": key.sign(mb).hex().encode() + b"\n"})


def _hub_pack(db: Path, out: Path, hub: DeviceKey, now: int = T0 + 4 * HOUR) -> Path:
    build_pack(
        out, device="cafe-01", public_key=_pub(db), lines=_lines(db), signer=hub, signed_by="hub",
        evidence_dir=None, feed=None, since_ms=None, until_ms=None, now_ms=now,
    )
    return out


def test_hub_resigned_pack_with_rewritten_report_fails(device, tmp_path, capsys) -> None:
    db, pub = device
    hub = DeviceKey.generate()
    pack = _hub_pack(db, tmp_path / "hub.zip", hub)
    code, out, _ = run_verify(capsys, str(pack), "--pubkey", pub, "--hub-key", hub.public_hex)
    assert code == 0 and "OK, authentic" in out and "pinned hub key" in out
    attacker = DeviceKey.generate()
    files = {n: d for n, d in _files(pack).items() if not n.startswith("manifest")}
    files["report.md"] = files["report.md"].replace(b"unconsented", b"consented") + b"\nAll consented.\n"
    forged = _resign(pack, tmp_path / "forged.zip", attacker, "hub", files)
    # with the real device key pinned (the attack of the issue), the reports give it away:
    # report.pdf's PDF signature is the real hub's, not the forger's (checked first)...
    code, _, err = run_verify(capsys, str(forged), "--pubkey", pub)
    assert code == 1
    assert "report.pdf: report PDF is signed under key" in err and "not the pack's signer" in err
    # ...and without report.pdf, the rewritten report.md
    files.pop("report.pdf")
    forged = _resign(pack, tmp_path / "forged2.zip", attacker, "hub", files)
    code, _, err = run_verify(capsys, str(forged), "--pubkey", pub)
    assert code == 1
    assert "report.md differs from the one derived from the records: line" in err
    # with the hub key pinned, the signer gives it away first
    code, _, err = run_verify(capsys, str(forged), "--pubkey", pub, "--hub-key", hub.public_hex)
    assert code == 1 and "not the pinned --hub-key" in err


def test_dropped_tail_resigned_needs_the_hub_key(device, tmp_path, capsys) -> None:
    db, pub = device
    hub = DeviceKey.generate()
    pack = _hub_pack(db, tmp_path / "hub.zip", hub)
    lines = _lines(db)
    kept = lines[:-2]  # the alert (and what follows) dropped
    assert json.loads(lines[-1])["type"] in ("alert", "checkpoint")
    events = [Event.from_json(t) for t in kept]
    files = {n: d for n, d in _files(pack).items() if not n.startswith("manifest")}
    doc = json.loads(files["device.json"]) | {"last_seq": events[-1].seq, "head_seq": events[-1].seq}
    files["device.json"] = (json.dumps(doc, sort_keys=True, indent=1) + "\n").encode()
    files["events.jsonl"] = ("\n".join(kept) + "\n").encode()
    meta = PackMeta("cafe-01", pub, json.loads(_files(pack)["manifest.json"])["created"], "hub", None, None, None, ())
    files.update(derived_files(events, meta, {}))  # a careful forger regenerates the reports too
    forged = _resign(pack, tmp_path / "tail.zip", DeviceKey.generate(), "hub", files)
    # every record is the device's: only the hub key proves the pack holds them all
    code, out, _ = run_verify(capsys, str(forged), "--pubkey", pub)
    assert code == 3
    assert "UNPROVEN ORIGIN" in out and "not pinned (give --hub-key)" in out
    code, _, err = run_verify(capsys, str(forged), "--pubkey", pub, "--hub-key", hub.public_hex)
    assert code == 1 and "not the pinned --hub-key" in err


def test_records_ending_before_the_claimed_span_fail(device, tmp_path) -> None:
    db, pub = device
    lines = _lines(db)
    key = DeviceKey.generate()
    pack = tmp_path / "short.zip"
    # a signer that claims "to the end of the journal" (head seq N) but carries fewer records
    build_pack(
        pack, device="cafe-01", public_key=pub, lines=lines[:-2], signer=key, signed_by="hub",
        evidence_dir=None, feed=None, since_ms=None, until_ms=None, now_ms=T0, head_seq=len(lines),
    )
    with pytest.raises(VerifyError, match=f"records end at seq {len(lines) - 2}, but the pack claims the span to the end of the journal, whose head was seq {len(lines)}"):
        verify_pack(pack, bytes.fromhex(pub), key.public_bytes)


def test_whole_pack_forged_with_a_new_key(device, tmp_path, capsys) -> None:
    db, pub = device
    fake_dir = tmp_path / "fake"
    fake_dir.mkdir()
    fake = _journal(fake_dir, text="all consented")
    pack = tmp_path / "fake.zip"
    export_pack(fake, pack, now_ms=T0)
    fake_pub = _pub(fake)
    code, out, _ = run_verify(capsys, str(pack))
    assert code == 3
    assert out.startswith(f"{pack}: UNPROVEN ORIGIN: internally consistent evidence pack")
    assert "no device key was pinned (give --pubkey)" in out
    assert f"device key {fake_pub} (fingerprint {fingerprint(bytes.fromhex(fake_pub))})" in out
    code, _, err = run_verify(capsys, str(pack), "--pubkey", pub)
    assert code == 1 and f"device key {fake_pub[:16]}... is not the pinned --pubkey {pub[:16]}..." in err
    # the key pinned from a file, as `camaudit device-key` prints it
    keyfile = tmp_path / "device.pub"
    keyfile.write_text(f"cafe-01 {pub}\n")
    code, _, err = run_verify(capsys, str(pack), "--pubkey", str(keyfile))
    assert code == 1 and "is not the pinned --pubkey" in err


@pytest.mark.parametrize("where", ["feed", "text"])
def test_line_separators_in_strings_verify(tmp_path, where, capsys) -> None:
    d = tmp_path / "dev"
    d.mkdir()
    db = _journal(d, feed=f"door{ODD}" if where == "feed" else "door", text=f"notice torn{ODD}down")
    pack = tmp_path / "p.zip"
    export_pack(db, pack, now_ms=T0)
    raw = _files(pack)["events.jsonl"].decode()
    assert "\u2028" in raw and len(raw.splitlines()) > len(raw.split("\n")) - 1  # splitlines would break it
    code, out, err = run_verify(capsys, str(pack), "--pubkey", _pub(db))
    assert code == 0 and "OK, authentic" in out, err


def test_duplicate_keys_in_a_record_fail(device, tmp_path) -> None:
    db, pub = device
    pack = tmp_path / "p.zip"
    key = DeviceKey.generate()
    lines = _lines(db)
    lines[1] = lines[1][:-1] + ',"seq":99}'  # a second "seq": readers could disagree
    files = {n: d for n, d in _files(export_pack(db, pack, now_ms=T0) and pack).items() if not n.startswith("manifest")}
    files["events.jsonl"] = ("\n".join(lines) + "\n").encode()
    forged = _resign(pack, tmp_path / "dup.zip", key, "hub", files)
    with pytest.raises(VerifyError, match=r"events.jsonl:2: unreadable record: not JSON: duplicate key 'seq'"):
        verify_pack(forged)


def _bomb(path: Path, name: str, mib: int, extra: dict[str, bytes] | None = None) -> Path:
    zero = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for n, d in (extra or {}).items():
            z.writestr(n, d)
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w", force_zip64=True) as f:
            for _ in range(mib):
                f.write(zero)
    return path


PEAK = """
import sys
from camaudit.errors import VerifyError
from camaudit.store.pack_verify import verify_pack
try:
    verify_pack(sys.argv[1])
    print("OK")
except VerifyError as exc:
    print(exc)
hwm = [ln for ln in open("/proc/self/status") if ln.startswith("VmHWM:")][0].split()[1]
print(int(hwm) // 1024)
"""


def _peak(pack: Path) -> tuple[str, int]:
    proc = subprocess.run([sys.executable, "-c", PEAK, str(pack)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    msg, mib = proc.stdout.strip().splitlines()
    return msg, int(mib)


def test_zip_bombs_are_refused_before_reading_with_bounded_memory(device, tmp_path) -> None:
    db, _ = device
    pack = export_pack(db, tmp_path / "p.zip", now_ms=T0) and tmp_path / "p.zip"
    base_msg, base_mib = _peak(pack)
    # an honest pack: verify renders report.html and report.pdf again (reportlab, fonts)
    assert base_msg == "OK" and base_mib < 200
    honest = {n: d for n, d in _files(pack).items() if n != "events.jsonl"}
    big = _bomb(tmp_path / "big.zip", "events.jsonl", 800, honest)
    assert big.stat().st_size < 1 << 20  # under 1 MiB on disk, 800 MiB inflated
    msg, mib = _peak(big)
    assert "events.jsonl is 838860800 bytes uncompressed, more than 67108864 allowed" in msg
    assert mib < base_mib + 20 and mib < 100, (mib, base_mib)  # VmHWM of the child, MiB
    dense = _bomb(tmp_path / "dense.zip", "events.jsonl", 60, honest)
    msg, mib = _peak(dense)
    assert "refused as a zip bomb" in msg and mib < base_mib + 20
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as z:
        for i in range(20_001):
            z.writestr(f"evidence/{i}.jpg", b"")
    with pytest.raises(VerifyError, match="20001 zip entries, more than a pack may hold"):
        verify_pack(many)


@pytest.mark.parametrize(
    "name, attr, message",
    [
        ("../evil.jpg", 0, "a path with '..'"),
        ("evidence/../../etc/passwd", 0, "a path with '..'"),
        ("/abs.jpg", 0, "an absolute or non-portable path"),
        ("evidence\\x.jpg", 0, "an absolute or non-portable path"),
        ("evidence/link.jpg", (0o120777 << 16), "is a symbolic link"),
    ],
)
def test_unsafe_entries_fail(device, tmp_path, name, attr, message) -> None:
    db, _ = device
    pack = export_pack(db, tmp_path / "p.zip", now_ms=T0) and tmp_path / "p.zip"
    bad = tmp_path / "bad.zip"
    shutil.copy(pack, bad)
    with zipfile.ZipFile(bad, "a") as z:
        info = zipfile.ZipInfo(name)
        info.external_attr = attr
        z.writestr(info, b"/etc/passwd")
    with pytest.raises(VerifyError, match=message.replace("(", r"\(").replace(".", r"\.")):
        verify_pack(bad)


def test_duplicate_entry_names_fail(device, tmp_path) -> None:
    db, _ = device
    pack = export_pack(db, tmp_path / "p.zip", now_ms=T0) and tmp_path / "p.zip"
    bad = tmp_path / "bad.zip"
    shutil.copy(pack, bad)
    with pytest.warns(UserWarning), zipfile.ZipFile(bad, "a") as z:
        z.writestr("report.md", b"# all consented\n")
    with pytest.raises(VerifyError, match="zip entry 'report.md' appears twice"):
        verify_pack(bad)


def test_rezipped_with_folder_entries_still_verifies(device, tmp_path, capsys) -> None:
    db, pub = device
    pack = export_pack(db, tmp_path / "p.zip", now_ms=T0) and tmp_path / "p.zip"
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(pack) as z:
        z.extractall(unpacked)
    rezipped = tmp_path / "rezipped.zip"
    subprocess.run(["zip", "-q", "-r", str(rezipped), "."], cwd=unpacked, check=True, timeout=60)
    with zipfile.ZipFile(rezipped) as z:
        assert "evidence/" in z.namelist()  # zip -r adds the folder entry
    code, out, err = run_verify(capsys, str(rezipped), "--pubkey", pub)
    assert code == 0 and "OK, authentic" in out, err


def test_truncated_and_non_zip_packs_are_pack_errors(device, tmp_path, capsys) -> None:
    db, pub = device
    pack = export_pack(db, tmp_path / "p.zip", now_ms=T0) and tmp_path / "p.zip"
    data = pack.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 30):
        short = tmp_path / f"cut{cut}.zip"
        short.write_bytes(data[:cut])
        code, out, err = run_verify(capsys, str(short), "--pubkey", pub)
        assert code == 1, (cut, out, err)
        assert err.startswith(f"camaudit: error: {short}: FAILED: ") and "journal" not in err
        assert "damaged or truncated" in err
        assert len(err.strip().splitlines()) == 1
    text = tmp_path / "pack.zip"
    text.write_text("this is not a zip\n")
    code, _, err = run_verify(capsys, str(text))
    assert code == 1
    assert err.strip() == f"camaudit: error: {text}: FAILED: not a zip file (an evidence pack is the .zip `camaudit export` writes)"
    # a zip whose body was damaged (central directory intact) names the member
    bad = bytearray(data)
    off = data.index(b"events.jsonl") + 40
    bad[off : off + 20] = bytes(20)
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(bytes(bad))
    code, _, err = run_verify(capsys, str(damaged), "--pubkey", pub)
    assert code == 1 and "FAILED" in err and "Traceback" not in err


def test_pinned_key_arguments_are_checked(tmp_path, capsys) -> None:
    code, _, err = run_verify(capsys, str(tmp_path / "x.zip"), "--hub-key", "zz")
    assert code == 2 and "--hub-key" in err and "neither 64 hex digits nor a readable file" in err
    assert os.environ.get("CAMAUDIT_NEVER_SET") is None


def test_the_device_never_writes_a_string_the_reader_cannot_read_back(tmp_path, capsys) -> None:
    """Lone surrogates (not UTF-8) in a feed name or alert text: the record is still
    written (nothing lost), with U+FFFD in their place, and the pack verifies."""
    d = tmp_path / "dev"
    d.mkdir()
    db = _journal(d, feed="door\ud83d\ude00", text=f"torn \ud800 down{ODD}")
    events = [Event.from_json(t) for t in _lines(db)]
    alert = next(e for e in events if e.type == "alert")
    assert alert.feed == "door\U0001f600" and alert.body["text"] == f"torn \ufffd down{ODD}"
    pack = export_pack(db, tmp_path / "p.zip", now_ms=T0) and tmp_path / "p.zip"
    code, out, err = run_verify(capsys, str(pack), "--pubkey", _pub(db))
    assert code == 0 and "OK, authentic" in out, err


def test_derived_files_without_frames_leave_out_only_the_reports_that_show_them(device) -> None:
    """A checker not holding the frames (past verify's 64 MiB) regenerates what it can, the
    same bytes as with them."""
    db, pub = device
    events = [Event.from_json(t) for t in _lines(db)]
    meta = PackMeta("cafe-01", pub, T0, "device", None, None, None, ())
    full = derived_files(events, meta, {})
    partial = derived_files(events, meta)
    assert set(full) == {"report.md", "captures.csv", "report.html", "report.pdf"}
    assert set(partial) == {"report.md", "captures.csv"}
    assert all(partial[n] == full[n] for n in partial)
