"""Issue 20: ways a pack could make `camaudit verify` print OK while something in it is
checked by nobody. A device-signed pack past 64 MiB of frames with a lying report, signed
files no check covers, bytes outside the archive, forked records. Real journals, the
device's real key (as an attacker holding it has), real zips; the CLI's exit codes."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from store_helpers import T0, capture_body, run_verify

from camaudit.core.record import Event, seal
from camaudit.report.files import report_files
from camaudit.store.journal import Journal
from camaudit.store.keys import DeviceKey, load_key
from camaudit.store.pack import export_pack
from camaudit.store.pack_limits import INLINE_FRAMES_BYTES, frames_inline
from camaudit.store.pack_zip import MAX_DERIVED_BYTES
from camaudit.trust.pdf_sign import sign_pdf, signing_identity

PEAK = """
import sys
from camaudit.errors import VerifyError
from camaudit.store.pack_verify import verify_pack
try:
    r = verify_pack(sys.argv[1])
    print("OK", ",".join(r.regenerated))
except VerifyError as exc:
    print(str(exc).split("FAILED: ")[-1])
hwm = [ln for ln in open("/proc/self/status") if ln.startswith("VmHWM:")][0].split()[1]
print(int(hwm) // 1024)
"""


def _peak(pack: Path) -> tuple[str, int]:
    """verify_pack in a child process: (its one-line result, its peak RSS in MiB)."""
    proc = subprocess.run([sys.executable, "-c", PEAK, str(pack)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    msg, mib = proc.stdout.strip().splitlines()
    return msg, int(mib)


def _noise_jpeg(seed: int) -> bytes:
    """A real JPEG of about 3.4 MiB (noise does not compress), distinct per seed."""
    img = np.random.default_rng(seed).integers(0, 256, (1500, 2000, 3), np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return buf.tobytes()


def _journal(d: Path, frames: int) -> Path:
    """A journal with an unconsented capture and an alert; its capture.end references
    `frames` evidence frames kept in d/evidence."""
    (d / "evidence").mkdir(parents=True)
    refs = []
    for i in range(frames):
        data = _noise_jpeg(i)
        digest = hashlib.sha256(data).hexdigest()
        (d / "evidence" / f"{digest}.jpg").write_bytes(data)
        refs.append(f"sha256:{digest}")
    db = d / "journal.db"
    with Journal.open(db, "cafe-01", checkpoint_every=4) as j:
        j.append("device.online", None, {}, T0)
        j.append("capture.start", "counter", capture_body("c-000001"), T0 + 1000)
        j.append("notice.missing", "counter", {"notice": "entrance", "text": "no notice posted"}, T0 + 1500)
        end = capture_body("c-000001", frames=40, end=T0 + 60_000) | {"evidence": refs}
        j.append("capture.end", "counter", end, T0 + 60_000)
        j.append("alert", "counter", {"capture": "c-000001", "text": "no notice posted"}, T0 + 60_001)
    return db


def _files(pack: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(pack) as z:
        return {n: z.read(n) for n in z.namelist()}


def _resign(src: Path, dst: Path, key: DeviceKey, files: dict[str, bytes], **fields: object) -> Path:
    """What an attacker holding the device key does: new content, manifest re-hashed (and
    `fields` set in it) and re-signed by the real device key, zipped as export does."""
    old = json.loads(_files(src)["manifest.json"])
    manifest = dict(old, **fields, files={n: hashlib.sha256(d).hexdigest() for n, d in files.items() if n not in ("manifest.json", "manifest.sig")})
    mb = (json.dumps(manifest, sort_keys=True, indent=1) + "\n").encode()
    files = {n: d for n, d in files.items() if n not in ("manifest.json", "manifest.sig")}
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in {**files, "manifest.json": mb, "manifest.sig": key.sign(mb).hex().encode() + b"\n"}.items():
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED if name.endswith(".jpg") else zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return dst


def _pub(db: Path) -> str:
    return load_key(db.parent / "device.key").public_hex


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("small")
    db = _journal(d / "dev", 1)
    return db, export_pack(db, d / "p.zip", now_ms=T0).path


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An honest device export with more than 64 MiB of evidence frames (21 x 3.4 MiB): the
    size past which main compared neither report.html nor report.pdf."""
    d = tmp_path_factory.mktemp("large")
    db = _journal(d / "dev", 21)
    pack = export_pack(db, d / "p.zip", now_ms=T0).path
    with zipfile.ZipFile(pack) as z:
        frames = sum(i.file_size for i in z.infolist() if i.filename.startswith("evidence/"))
    assert frames > 64 << 20
    return db, pack


def _all_consented_reports(db: Path, pack: Path) -> dict[str, bytes]:
    """report.html / report.pdf of the same records with every verdict rewritten to
    "consented" and the alert dropped: what the attacker wants the reader to see."""
    records = []
    for ev in (Event.from_json(line) for line in _files(pack)["events.jsonl"].decode().splitlines()):
        if ev.type == "alert":
            continue
        body = dict(ev.body)
        if "verdict" in body:
            body.update(verdict="consented", reasons=[], basis="notice:entrance")
        records.append(seal(device=ev.device, seq=ev.seq, ts=ev.ts, type=ev.type, feed=ev.feed, body=body,
                            prev=ev.prev, sign=DeviceKey.generate().sign))
    # signed as export signs it, by the device key the attacker holds
    identity = signing_identity(load_key(db.parent / "device.key").private_key, "device", "cafe-01")
    meta = {"device": "cafe-01", "public_key": _pub(db), "created": T0, "signed_by": "device",
            "pdf_cert": identity.fingerprint}
    fake = report_files(records, meta, {})
    fake["report.pdf"] = sign_pdf(fake["report.pdf"], identity, reason="camaudit evidence pack of device cafe-01")
    assert b'<span class="unconsented">' not in fake["report.html"]
    assert b'<span class="unconsented">' in _files(pack)["report.html"]
    return fake


def test_large_pack_with_a_lying_report_pdf_fails(large, tmp_path, capsys) -> None:
    """#20.11: past 64 MiB of frames, report.pdf saying "all consented" beside records with
    an alert, re-signed with the real device key, verified with exit 0."""
    db, pack = large
    key = load_key(db.parent / "device.key")
    fake = _all_consented_reports(db, pack)
    files = _files(pack)
    for name in ("report.pdf", "report.html"):
        bad = _resign(pack, tmp_path / f"lying-{name}.zip", key, {**files, name: fake[name]})
        code, out, err = run_verify(capsys, str(bad), "--pubkey", _pub(db))
        assert code == 1 and "OK" not in out, (out, err)
        assert f"FAILED: {name}" in err and "differs from the one derived from the records" in err, err
        assert len(err.strip().splitlines()) == 1
    # a report left out altogether fails, not "not regenerated"
    gone = _resign(pack, tmp_path / "no-pdf.zip", key, {n: d for n, d in files.items() if n != "report.pdf"})
    code, out, err = run_verify(capsys, str(gone), "--pubkey", _pub(db))
    # (report.md, which names the PDF signature, is the first file that no longer matches)
    assert code == 1 and out == "" and "FAILED: report." in err and len(err.strip().splitlines()) == 1


def test_large_honest_pack_verifies_every_report_with_bounded_memory(small, large, capsys) -> None:
    """Every report regenerated and compared past 64 MiB of frames, without holding them:
    the peak RSS of verify on the >64 MiB pack stays within 20 MiB of the one-frame pack's."""
    sdb, spack = small
    ldb, lpack = large
    small_msg, small_mib = _peak(spack)
    large_msg, large_mib = _peak(lpack)
    assert small_msg == large_msg == "OK report.md,report.html,report.pdf,captures.csv"
    assert large_mib < small_mib + 20, (large_mib, small_mib)
    html = _files(lpack)["report.html"]
    assert b"data:image/jpeg" not in html and html.count(b'src="evidence/') == 21
    assert b"data:image/jpeg" in _files(spack)["report.html"]  # small packs unchanged: inline
    code, out, err = run_verify(capsys, str(lpack), "--pubkey", _pub(ldb))
    assert code == 0 and "OK, authentic" in out and "report.html, report.pdf, captures.csv match the records" in out
    assert "not regenerated" not in out


@pytest.mark.parametrize("name", ["notes.txt", "Report.pdf", "evidence/readme.txt", "evidence/" + "ab" * 32])
def test_a_signed_file_no_check_covers_fails(small, tmp_path, capsys, name) -> None:
    """A file the manifest signs but no check compares ("all consented" in notes.txt, a
    Report.pdf beside report.pdf) must not ride along under a plain OK."""
    db, pack = small
    key = load_key(db.parent / "device.key")
    bad = _resign(pack, tmp_path / "extra.zip", key, {**_files(pack), name: b"All captures were consented.\n"})
    code, out, err = run_verify(capsys, str(bad), "--pubkey", _pub(db))
    assert code == 1 and "OK" not in out
    if name.startswith("evidence/"):  # a frame-like name is checked as a frame first
        assert "FAILED: " in err and len(err.strip().splitlines()) == 1
    else:
        assert f"FAILED: {name!r} is signed in the manifest but is no file a pack holds" in err


def _zip_variant(pack: Path, dst: Path, how: str) -> Path:
    data = pack.read_bytes()
    if how == "prepended fake zip":
        fake = dst.with_name("fake.zip")
        with zipfile.ZipFile(fake, "w") as z:
            z.writestr("report.md", "# all consented\n")
        dst.write_bytes(fake.read_bytes() + data)
    elif how == "trailing junk":
        dst.write_bytes(data + b"PK\x03\x04 all consented")
    elif how == "archive comment":
        dst.write_bytes(data)
        with zipfile.ZipFile(dst, "a") as z:
            z.comment = b"all captures consented"
    elif how == "entry comment":
        with zipfile.ZipFile(pack) as src, zipfile.ZipFile(dst, "w") as z:
            for info in src.infolist():
                if info.filename == "report.md":
                    info.comment = b"all consented"
                z.writestr(info, src.read(info.filename))
    elif how == "hidden bytes between entries":
        with zipfile.ZipFile(pack) as src, zipfile.ZipFile(dst, "w") as z:
            for info in src.infolist():
                z.writestr(info, src.read(info.filename))
                if info.filename == "events.jsonl":
                    z.fp.write(b"hidden: all consented")  # type: ignore[union-attr]
                    z.start_dir = z.fp.tell()  # type: ignore[union-attr]
    elif how == "local name differs":  # unzip tools that read local headers see another name
        at = data.index(b"report.md")  # the first: its local header
        dst.write_bytes(data[:at] + b"report.MD" + data[at + 9 :])
    elif how == "local size differs":  # a streaming unzip reading local headers gets less
        head = data.index(b"report.md") - 30  # the first mention: its local header
        assert data[head : head + 4] == b"PK\x03\x04"
        size = int.from_bytes(data[head + 18 : head + 22], "little")
        dst.write_bytes(data[: head + 18] + (size - 1).to_bytes(4, "little") + data[head + 22 :])
    return dst


@pytest.mark.parametrize(
    "how, message",
    [
        ("prepended fake zip", "byte(s) before the zip's first entry (data or another zip prepended)"),
        ("trailing junk", "byte(s) after the zip's end record (trailing data or an archive comment)"),
        ("archive comment", "byte(s) after the zip's end record (trailing data or an archive comment)"),
        ("entry comment", "zip entry 'report.md' carries a comment"),
        ("hidden bytes between entries", "belong to no entry (data hidden between entries)"),
        ("local name differs", "report.md cannot be read (damaged or truncated zip)"),
        ("local size differs", "zip entry 'report.md': its local header disagrees with the central directory"),
    ],
)
def test_bytes_outside_the_archive_fail(small, tmp_path, capsys, how, message) -> None:
    """#20 low: "a zip with a fake zip prepended verifies"; likewise anything an unzip tool
    may show that the manifest does not sign."""
    db, pack = small
    bad = _zip_variant(pack, tmp_path / "bad.zip", how)
    with zipfile.ZipFile(bad) as z:  # python's zipfile lists all of it (and reads all but one)
        assert (z.testzip() is None) == (how != "local name differs") and "events.jsonl" in z.namelist()
    code, out, err = run_verify(capsys, str(bad), "--pubkey", _pub(db))
    assert code == 1 and out == "", (how, out)
    assert err.startswith(f"camaudit: error: {bad}: FAILED: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_rezipped_by_other_tools_still_verifies(small, tmp_path, capsys) -> None:
    """The layout check refuses only bytes outside the archive: the same files zipped
    again (other offsets, deflated) verify."""
    db, pack = small
    again = tmp_path / "again.zip"
    with zipfile.ZipFile(pack) as src, zipfile.ZipFile(again, "w", zipfile.ZIP_DEFLATED) as z:
        for name in reversed(src.namelist()):
            z.writestr(name, src.read(name))
    code, out, err = run_verify(capsys, str(again), "--pubkey", _pub(db))
    assert code == 0 and "OK, authentic" in out, err
    # zip writing to a pipe puts a data descriptor after each entry: part of the archive
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(pack) as z:
        z.extractall(unpacked)
    piped = tmp_path / "piped.zip"
    out_zip = subprocess.run(["zip", "-q", "-r", "-", "."], cwd=unpacked, capture_output=True, check=True, timeout=60)
    piped.write_bytes(out_zip.stdout)
    with zipfile.ZipFile(piped) as z:
        assert sum(bool(i.flag_bits & 0x8) for i in z.infolist()) >= 8, [(i.filename, i.flag_bits) for i in z.infolist()]
    code, out, err = run_verify(capsys, str(piped), "--pubkey", _pub(db))
    assert code == 0 and "OK, authentic" in out, err


def test_a_repeated_seq_in_the_records_fails(small, tmp_path, capsys) -> None:
    """Two versions of one seq (a fork, or a record repeated) re-signed into a pack by the
    device key: the chain names the line."""
    db, pack = small
    key = load_key(db.parent / "device.key")
    files = _files(pack)
    lines = files["events.jsonl"].decode().splitlines()
    for variant, lineno in ((lines[:3] + [lines[2]] + lines[3:], 4), (lines[:2] + [lines[1].replace("c-000001", "c-000009")] + lines[2:], 3)):
        body = ("\n".join(variant) + "\n").encode()
        bad = _resign(pack, tmp_path / f"dup{lineno}.zip", key, {**files, "events.jsonl": body})
        code, out, err = run_verify(capsys, str(bad), "--pubkey", _pub(db))
        assert code == 1 and out == ""
        assert f"FAILED: events.jsonl:{lineno}: " in err and len(err.strip().splitlines()) == 1


def test_a_pack_of_20_mib_of_frames_verifies(tmp_path, capsys) -> None:
    """About 20 MiB of frames: main inlined them into a 27 MiB report.html and then refused
    its own export ("more than 16777216 allowed"). Past 12 MiB the reports link the frames."""
    db = _journal(tmp_path / "dev", 6)
    pack = export_pack(db, tmp_path / "p.zip", now_ms=T0).path
    with zipfile.ZipFile(pack) as z:
        assert sum(i.file_size for i in z.infolist() if i.filename.startswith("evidence/")) > 20 << 20
        assert z.getinfo("report.html").file_size < 1 << 20 and z.getinfo("report.pdf").file_size < 1 << 20
    code, out, err = run_verify(capsys, str(pack), "--pubkey", _pub(db))
    assert code == 0 and "report.html, report.pdf, captures.csv match the records" in out, err


def test_inline_reports_fit_their_limit() -> None:
    """Frames under the inline limit, base64 in report.html (4/3), fit a derived file's
    limit with room for the text: the threshold never makes an honest pack unverifiable."""
    assert INLINE_FRAMES_BYTES * 4 // 3 + (1 << 20) < MAX_DERIVED_BYTES
    assert frames_inline(INLINE_FRAMES_BYTES - 1) and not frames_inline(INLINE_FRAMES_BYTES)


def _doc(files: dict[str, bytes], name: str, **fields: object) -> dict[str, bytes]:
    doc = json.loads(files[name]) | fields
    return {**files, name: (json.dumps(doc, sort_keys=True, indent=1) + "\n").encode()}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"device.json": {"summary": "all captures consented"}}, "device.json: field 'summary' is no field of a pack"),
        ({"manifest.json": {"note": "all captures consented"}}, "manifest.json: field 'note' is no field of a pack"),
        ({"manifest.json": {"device": "other-venue-07"}}, "manifest.json and device.json name different devices"),
        ({"device.json": {"until": "2026-11-26"}}, "device.json: until is '2026-11-26', not a time in ms or null"),
    ],
)
def test_signed_fields_no_check_covers_fail(small, tmp_path, capsys, change, message) -> None:
    """manifest.json / device.json fields a reader may take at their word, signed with the
    device key: each is refused, not passed over."""
    db, pack = small
    key = load_key(db.parent / "device.key")
    files = _files(pack)
    if "device.json" in change:
        files = _doc(files, "device.json", **change["device.json"])
    bad = _resign(pack, tmp_path / "bad.zip", key, files, **change.get("manifest.json", {}))
    code, out, err = run_verify(capsys, str(bad), "--pubkey", _pub(db))
    assert code == 1 and out == ""
    assert f"FAILED: {message}" in err and len(err.strip().splitlines()) == 1
