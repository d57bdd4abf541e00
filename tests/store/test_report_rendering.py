"""Old packs keep verifying when the report wording changes: every pack's signed manifest
names the report rendering that made it (pack_report.REPORTS); `camaudit verify`
re-derives and compares the report files only for its own rendering. A pack of another
rendering still has its records, signatures and frames checked, but verify says its report
files were not re-derived and exits 4, never a plain OK. The rendering of fixed records is
pinned here, so a change of wording that forgets to bump REPORTS fails this test."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from store_helpers import T0, capture_body, run_verify

from camaudit.store.journal import Journal
from camaudit.store.keys import DeviceKey
from camaudit.store.pack import export_pack
from camaudit.store.pack_report import REPORTS
from camaudit.store.pack_verify import EXIT_REPORTS_UNCHECKED

# sha256 of report.md + report.html + captures.csv of the fixed records below, per rendering
PINNED = {3: "6abcf1511352ddca5fac131347280d6914ca8473ecd3e8d93329822d37ff3376"}
TEXT_FILES = ("report.md", "report.html", "captures.csv")


def _fixed_journal(d: Path) -> tuple[Path, DeviceKey]:
    """A journal with fixed records under a fixed key: the same bytes on every run."""
    d.mkdir(parents=True)
    key = DeviceKey(Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
    (d / "device.key").write_bytes(key.pem())
    os.chmod(d / "device.key", 0o600)
    db = d / "journal.db"
    with Journal.open(db, "cafe-01", checkpoint_every=4) as j:
        j.append("device.online", None, {}, T0)
        j.append("capture.start", "counter", capture_body("c-000001"), T0 + 1000)
        j.append("notice.missing", "counter", {"notice": "entrance", "text": "no notice posted"}, T0 + 1500)
        j.append("capture.end", "counter", capture_body("c-000001", frames=40, end=T0 + 60_000), T0 + 60_000)
        j.append("alert", "counter", {"capture": "c-000001", "text": "no notice posted"}, T0 + 60_001)
    return db, key


@pytest.fixture
def pack(tmp_path: Path) -> tuple[Path, DeviceKey]:
    db, key = _fixed_journal(tmp_path / "dev")
    return export_pack(db, tmp_path / "p.zip", now_ms=T0 + 120_000).path, key


def _files(p: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(p) as z:
        return {n: z.read(n) for n in z.namelist()}


def _rewritten(src: Path, dst: Path, key: DeviceKey, change: dict[str, bytes], **fields: object) -> Path:
    """The pack with files changed and manifest fields set, re-hashed and re-signed by the
    device key: what an older camaudit (or an attacker holding the key) would have signed."""
    files = {n: d for n, d in _files(src).items() if n not in ("manifest.json", "manifest.sig")}
    files.update(change)
    manifest = {k: v for k, v in json.loads(_files(src)["manifest.json"]).items() if v is not None}
    manifest.update(fields)
    manifest = {k: v for k, v in manifest.items() if v is not None}
    manifest["files"] = {n: hashlib.sha256(d).hexdigest() for n, d in files.items()}
    mb = (json.dumps(manifest, sort_keys=True, indent=1) + "\n").encode()
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in {**files, "manifest.json": mb, "manifest.sig": key.sign(mb).hex().encode() + b"\n"}.items():
            z.writestr(zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0)), data)
    return dst


def test_the_rendering_of_fixed_records_is_pinned_to_its_version(pack) -> None:
    files = _files(pack[0])
    assert json.loads(files["manifest.json"])["reports"] == REPORTS
    digest = hashlib.sha256(b"".join(files[n] for n in TEXT_FILES)).hexdigest()
    assert PINNED.get(REPORTS) == digest, (
        f"the report files of the same records changed (sha256 {digest}): packs made before would no "
        f"longer match what verify re-derives. Bump camaudit.store.pack_report.REPORTS to "
        f"{REPORTS + 1} and pin {digest} under it here."
    )


def test_a_pack_of_this_rendering_verifies_ok(pack, capsys) -> None:
    p, key = pack
    code, out, _ = run_verify(capsys, str(p), "--pubkey", key.public_hex)
    assert code == 0, out
    assert "OK, authentic" in out and "report.html" in out and "NOT" not in out


@pytest.mark.parametrize("rendering", [None, 2])
def test_an_older_renderings_pack_is_checked_but_not_called_ok(pack, tmp_path, capsys, rendering) -> None:
    """An old pack (no "reports" field, or rendering 2) whose report wording differs from
    today's: its records are proven, its report files are named as not re-derived, exit 4."""
    p, key = pack
    html = _files(p)["report.html"].replace(b"</body>", b"<p>older wording</p></body>")
    old = _rewritten(p, tmp_path / "old.zip", key, {"report.html": html}, reports=rendering)
    code, out, err = run_verify(capsys, str(old), "--pubkey", key.public_hex)
    assert code == EXIT_REPORTS_UNCHECKED, (out, err)
    assert "report files NOT re-derived" in out
    assert out.strip().splitlines()[-1].startswith("REPORTS NOT CHECKED: ")
    assert "OK, authentic" in out  # the records and signatures are still proven


def test_records_of_an_older_rendering_are_still_checked(pack, tmp_path, capsys) -> None:
    """Naming an old rendering does not let a changed record through."""
    p, key = pack
    events = _files(p)["events.jsonl"].replace(b'"frames":40', b'"frames":41')
    assert events != _files(p)["events.jsonl"]
    bad = _rewritten(p, tmp_path / "bad.zip", key, {"events.jsonl": events}, reports=2)
    code, out, err = run_verify(capsys, str(bad), "--pubkey", key.public_hex)
    assert code == 1, (out, err)
    assert "FAILED" in err + out


def test_this_renderings_pack_with_a_changed_report_fails(pack, tmp_path, capsys) -> None:
    p, key = pack
    html = _files(p)["report.html"].replace(b"</body>", b"<p>all consented</p></body>")
    bad = _rewritten(p, tmp_path / "bad.zip", key, {"report.html": html})
    code, out, err = run_verify(capsys, str(bad), "--pubkey", key.public_hex)
    assert code == 1 and "report.html differs" in err + out, (out, err)


OLD_RELEASE_PACK = Path(__file__).parent / "data" / "pack-made-by-ac41692.zip"
OLD_RELEASE_KEY = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"


def test_a_pack_the_previous_release_exported_is_proven_and_not_called_forged(capsys) -> None:
    """data/pack-made-by-ac41692.zip was exported by the release before report renderings
    were named (commit ac41692, the fixed records above; its report.html differs from
    today's wording): the release before this change called it FAILED (measured)."""
    code, out, err = run_verify(capsys, str(OLD_RELEASE_PACK), "--pubkey", OLD_RELEASE_KEY)
    assert code == EXIT_REPORTS_UNCHECKED, (out, err)
    assert "OK, authentic evidence pack of device cafe-01: 6 events" in out
    assert "REPORTS NOT CHECKED: " in out and "FAILED" not in out + err


def test_verify_prints_no_library_warning() -> None:
    """pyHanko's import of cryptography's DSA names printed a CryptographyDeprecationWarning
    on the terminal of every verify (seen before this change)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", "from camaudit.cli import main; main()", "verify",
                           str(OLD_RELEASE_PACK), "--pubkey", OLD_RELEASE_KEY],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == EXIT_REPORTS_UNCHECKED, proc.stderr
    assert proc.stderr == "", proc.stderr
