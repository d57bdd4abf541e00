"""report.html, report.pdf and captures.csv in evidence packs (issue 13), on a real run.

The PDF is rendered to PNG pages (pdftoppm) and its text extracted (pdftotext): the key
figures must be there as real text, the charts vector (the only images are the blurred
evidence frames), the fonts embedded; the same records always give the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from pipeline_helpers import camaudit
from report_helpers import VENUE

from camaudit.core.record import Event
from camaudit.report.files import report_files
from camaudit.store.keys import load_or_create_key
from camaudit.trust.pdf_sign import check_pdf, signer_of

pytestmark = pytest.mark.integration


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} (poppler-utils) is not installed: scripts/system-deps.sh installs it")
    return path


@pytest.fixture(scope="module")
def pack(venue_run: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    db, _ = venue_run
    out = tmp_path_factory.mktemp("pack") / "pack.zip"
    camaudit("export", "--db", str(db), "--out", str(out))
    return out, db


def _pdf_text(pdf: Path) -> str:
    return subprocess.run([_tool("pdftotext"), "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True, timeout=60).stdout


def test_pack_has_the_reports_and_still_verifies(pack: tuple[Path, Path], tmp_path: Path):
    out, db = pack
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        manifest = json.loads(z.read("manifest.json"))
        z.extractall(tmp_path)
    assert {"report.html", "report.pdf", "captures.csv"} <= names
    assert {"report.html", "report.pdf", "captures.csv"} <= set(manifest["files"])
    pub = load_or_create_key(db.parent / "device.key").public_hex
    assert "OK, authentic" in camaudit("verify", str(out), "--pubkey", pub).stdout
    # a changed report is caught: it is in the signed manifest
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, data.replace(b"unconsented", b"consented!!") if info.filename == "report.html" else data)
    proc = camaudit("verify", str(bad), "--pubkey", pub, check=False)
    assert proc.returncode == 1 and "report.html" in proc.stdout + proc.stderr


def test_pdf_pages_render_and_carry_the_key_figures_as_text(pack: tuple[Path, Path], tmp_path: Path):
    out, db = pack
    with zipfile.ZipFile(out) as z:
        (tmp_path / "report.pdf").write_bytes(z.read("report.pdf"))
        frames = [n for n in z.namelist() if n.startswith("evidence/")]
    caps = json.loads(camaudit("log", "--db", str(db), "--json").stdout)
    assert [c["verdict"] for c in caps] == ["consented", "unconsented"]
    pdf = tmp_path / "report.pdf"
    subprocess.run([_tool("pdftoppm"), "-r", "50", "-png", str(pdf), str(tmp_path / "page")], check=True, timeout=120)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 2 and all(p.stat().st_size > 5000 for p in pages)
    text = _pdf_text(pdf)
    flat = " ".join(text.split())
    for needle in [
        "device cafe-01", VENUE, "Example Café Ltd, 1 Main St", "Europe/Paris",
        "2 capture(s) in the span: 1 consented, 1 unconsented.",
        "2 identifiable capture(s)", "security of the premises", "sécurité des locaux",
        "while the privacy notice was not seen posted", "consented, basis notice:entrance",
        "entrance: VISIBLE (seen posted)", "entrance: MISSING (not seen posted)",
        "Identifiable captures per hour (x: hour starting, Europe/Paris)",
        "Identifiable captures per day (x: day, Europe/Paris)",
        "camaudit verify PACK.zip --pubkey", "Notice timeline",
    ]:
        assert needle in flat, needle
    for c in caps:
        assert c["capture"] in flat
        for ev in c["evidence"]:
            assert ev in flat
    # every time in the venue's zone (named) and in UTC
    assert re.search(r"\d\d:\d\d:\d\d (CET|CEST) \(\d\d:\d\d:\d\d UTC\)", flat)
    # charts are vector: the only raster images are the blurred evidence frames
    images = subprocess.run([_tool("pdfimages"), "-list", str(pdf)], capture_output=True, text=True,
                            check=True, timeout=60).stdout.splitlines()[2:]
    assert len(images) == len(frames) == 2
    fonts = subprocess.run([_tool("pdffonts"), str(pdf)], capture_output=True, text=True, check=True,
                           timeout=60).stdout.splitlines()[2:]
    # text is set in embedded DejaVu (reportlab also declares, unused, its base Helvetica)
    assert any(f.startswith("AAAAAA+DejaVuSans ") and " yes " in f for f in fonts)
    assert all(" yes " in f for f in fonts if not f.startswith("Helvetica "))


def test_csv_rows_match_the_capture_log(pack: tuple[Path, Path]):
    out, db = pack
    with zipfile.ZipFile(out) as z:
        rows = list(csv.DictReader(io.StringIO(z.read("captures.csv").decode("utf-8"))))
    caps = json.loads(camaudit("log", "--db", str(db), "--json").stdout)
    assert [r["capture"] for r in rows] == [c["capture"] for c in caps]
    for r, c in zip(rows, caps, strict=True):
        assert r["verdict"] == c["verdict"] and int(r["identifiable_tracks"]) == c["identifiable_tracks"]
        assert r["timezone"] == "Europe/Paris" and r["start_local"].endswith("+01:00")
        assert r["start_utc"].endswith("Z") and r["start_local"][11:13] != r["start_utc"][11:13]
    assert rows[0]["notice_states"] == "entrance=VISIBLE" and rows[1]["notice_states"] == "entrance=MISSING"
    assert rows[1]["reasons"] == "notice_missing"
    assert rows[1]["reasons_in_words"] == "while the privacy notice was not seen posted"


def test_html_shows_frames_inline_and_the_same_facts(pack: tuple[Path, Path]):
    out, _ = pack
    with zipfile.ZipFile(out) as z:
        page = z.read("report.html").decode()
        n_frames = sum(1 for n in z.namelist() if n.startswith("evidence/"))
    assert page.count('src="data:image/jpeg;base64,') == n_frames == 2
    assert page.count("<svg") == 3  # per hour, per day, notice timeline
    assert "Example Café Ltd, 1 Main St" in page and "Europe/Paris" in page


def test_same_records_same_bytes(pack: tuple[Path, Path]):
    out, _ = pack
    with zipfile.ZipFile(out) as z:
        records = [Event.from_json(line) for line in z.read("events.jsonl").decode().splitlines()]
        frames = {n[9:-4]: z.read(n) for n in z.namelist() if n.startswith("evidence/")}
        packed = {n: z.read(n) for n in ("report.html", "report.pdf", "captures.csv")}
        dev = json.loads(z.read("device.json"))
        created = json.loads(z.read("manifest.json"))["created"]
    meta = {"device": dev["device"], "public_key": dev["public_key"], "created": created,
            "signed_by": "device", "feed": None, "since": None, "until": None,
            "missing_evidence": [], "evidence_on_device": False}
    # report.pdf is signed in the pack (trust.pdf_sign): the derived bytes are its first
    # revision, the signature (with the clock's signing time) is appended after them
    signed = signer_of(packed["report.pdf"])
    assert signed is not None
    meta["pdf_cert"] = signed.fingerprint
    made = report_files(records, meta, frames)
    assert made == report_files(records, meta, frames)
    assert {n: made[n] for n in ("report.html", "captures.csv")} == {n: packed[n] for n in ("report.html", "captures.csv")}
    assert packed["report.pdf"].startswith(made["report.pdf"]) and len(packed["report.pdf"]) > len(made["report.pdf"])
    check_pdf(packed["report.pdf"], made["report.pdf"], bytes.fromhex(dev["public_key"]))


def test_export_feed_the_journal_never_saw_names_the_known_feeds(pack: tuple[Path, Path], tmp_path: Path):
    _, db = pack
    proc = camaudit("export", "--db", str(db), "--out", str(tmp_path / "x.zip"), "--feed", "kitchen", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"camaudit: error: --feed 'kitchen': journal {db} never saw that feed; known feeds: arcade"
    ]
    assert not (tmp_path / "x.zip").exists()
    camaudit("export", "--db", str(db), "--out", str(tmp_path / "ok.zip"), "--feed", "arcade")
