"""Track words in pack reports (issue 19): a real clip run by the real pipeline and model,
exported to a pack; report.html and report.pdf say per capture how many people were
identifiable and why the others were not, and what identifiable meant with the thresholds
the signed track records state; the criteria round-trip journal -> pack -> verify."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from pipeline_helpers import camaudit

from camaudit.core.identify import DEFINITION
from camaudit.core.record import Event
from camaudit.report.files import report_files
from camaudit.store.keys import load_or_create_key
from camaudit.trust.pdf_sign import check_pdf, signer_of

pytestmark = pytest.mark.integration

WORD = {"face_px": "too small", "pose": "turned away", "sharpness": "blurred"}


@pytest.fixture(scope="module")
def run_and_pack(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("tracks")
    db = tmp / "j.db"
    camaudit("run", "--source", str(shared_data / "videos" / "facenet-pytorch_video.mp4"), "--db", str(db),
             "--no-pace")
    out = tmp / "pack.zip"
    camaudit("export", "--db", str(db), "--out", str(out))
    return db, out


def expected_words(tracks: list[dict]) -> str:
    """Written apart from the product's own function, from the --tracks --json records."""
    yes = sorted(t["criteria"]["face_px"]["value"] for t in tracks if t["identifiable"])
    no: dict[str, int] = {}
    for t in tracks:
        if not t["identifiable"]:
            w = WORD[t["why_not"][0]]
            no[w] = no.get(w, 0) + 1
    parts = []
    if yes:
        px = str(yes[0]) if len(yes) == 1 else ", ".join(map(str, yes[:-1])) + f" and {yes[-1]}"
        parts.append(f"{len(yes)} identifiable: frontal, sharp, {px} px")
    if no:
        parts.append(f"{sum(no.values())} not identifiable: "
                     + ", ".join(f"{n} {w}" for w, n in sorted(no.items(), key=lambda kv: (-kv[1], kv[0]))))
    return "; ".join(parts)


def test_report_words_match_the_track_records(run_and_pack: tuple[Path, Path], tmp_path: Path):
    db, out = run_and_pack
    tracks = json.loads(camaudit("log", "--db", str(db), "--tracks", "--json").stdout)
    assert tracks and any(t["identifiable"] for t in tracks) and any(not t["identifiable"] for t in tracks)
    by_cap: dict[str, list[dict]] = {}
    for t in tracks:
        by_cap.setdefault(t["capture"], []).append(t)
    with zipfile.ZipFile(out) as z:
        page = html.unescape(z.read("report.html").decode())
        (tmp_path / "report.pdf").write_bytes(z.read("report.pdf"))
    cells = dict(re.findall(r'<div class="capture" id="([^"]+)">.*?<td class="people">([^<]*)</td>', page, re.S))
    assert cells == {cap: expected_words(ts) for cap, ts in by_cap.items()}
    # the definition, with the thresholds the records carry
    (mins,) = {(t["criteria"]["face_px"]["min"], t["criteria"]["pose"]["min_eyes"],
                t["criteria"]["pose"]["max_yaw"], t["criteria"]["sharpness"]["min"]) for t in tracks}
    px, eyes, yaw, sharp = mins
    (definition,) = re.findall(r'<p class="definition">([^<]*)</p>', page)
    assert f"at least {px} px tall in native sensor pixels" in definition
    assert f"eye distance at least {eyes} of the box width" in definition
    assert f"nose offset at most {yaw} of half the eye distance" in definition
    assert f"at least {sharp})" in definition and DEFINITION in definition
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "poppler-utils: scripts/system-deps.sh installs it"
    flat = " ".join(subprocess.run([pdftotext, str(tmp_path / "report.pdf"), "-"], capture_output=True,
                                   text=True, check=True, timeout=60).stdout.split())
    for words in cells.values():
        assert words in flat
    assert f"at least {px} px tall in native sensor pixels" in flat


def test_criteria_round_trip_journal_pack_verify(run_and_pack: tuple[Path, Path]):
    db, out = run_and_pack
    journal = {(t["feed"], t["track"]): t for t in json.loads(
        camaudit("log", "--db", str(db), "--tracks", "--json").stdout)}
    with zipfile.ZipFile(out) as z:
        records = [Event.from_json(line) for line in z.read("events.jsonl").decode().splitlines()]
        packed = {n: z.read(n) for n in ("report.html", "report.pdf", "captures.csv")}
        dev = json.loads(z.read("device.json"))
        created = json.loads(z.read("manifest.json"))["created"]
    in_pack = {(e.feed, e.body["track"]): e.body for e in records if e.type == "track.end"}
    assert set(in_pack) == set(journal)
    for key, body in in_pack.items():
        assert body["criteria"] == journal[key]["criteria"]
        assert body["identifiable"] == journal[key]["identifiable"]
        assert body["why_not"] == journal[key]["why_not"]
    pub = load_or_create_key(db.parent / "device.key").public_hex
    assert "OK, authentic" in camaudit("verify", str(out), "--pubkey", pub).stdout
    # verify's re-derivation: the same records give the same report files
    meta = {"device": dev["device"], "public_key": dev["public_key"], "created": created,
            "signed_by": "device", "feed": None, "since": None, "until": None,
            "missing_evidence": [], "evidence_on_device": False}
    # report.pdf is signed in the pack (trust.pdf_sign): the derived bytes are its first revision
    signed = signer_of(packed["report.pdf"])
    assert signed is not None
    meta["pdf_cert"] = signed.fingerprint
    made = report_files(records, meta, {})
    assert {n: made[n] for n in ("report.html", "captures.csv")} == {n: packed[n] for n in ("report.html", "captures.csv")}
    assert packed["report.pdf"].startswith(made["report.pdf"])
    check_pdf(packed["report.pdf"], made["report.pdf"], bytes.fromhex(dev["public_key"]))
