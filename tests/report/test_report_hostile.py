"""Records are the report's only input; a device (or whoever wrote its config) controls
their text. Markup, formulas and oversized text must come out as inert text, and the
renderers must finish, bounded in time."""

from __future__ import annotations

import csv
import io
import subprocess
import time
from pathlib import Path

from camaudit.report.files import report_files
from camaudit.store.journal import Journal

T0 = 1_795_651_200_000
EVIL = '<script>alert(1)</script> <font name="x"> & <b>'
FORMULA = '=HYPERLINK("http://evil.example","click")'


def _capture(cid: str, feed_text: str) -> dict[str, object]:
    return {"capture": cid, "start": T0, "end": T0 + 5000, "frames": 50, "max_faces": 2,
            "distinct_tracks": 2, "identifiable_tracks": 2, "verdict": "unconsented",
            "reasons": ["notice_missing", FORMULA], "basis": None, "evidence": ["sha256:" + "ab" * 32]}


def test_hostile_text_is_inert_and_huge_text_still_renders(tmp_path: Path):
    db = tmp_path / "journal.db"
    with Journal.open(db, "cafe-01") as j:
        j.append("device.online", None, {"venue": EVIL, "timezone": "Not/AZone"}, T0)
        j.append("notice.registered", None, {
            "notice": "entrance", "controller": EVIL, "purposes": [FORMULA, "x" * 6000],
            "rights": "r " * 3000, "covers": [FORMULA], "languages": ["en"], "hours": {"mon": EVIL},
            "translations": {"fr": {"controller": "<i>unclosed"}},
        }, T0 + 1)
        j.append("capture.end", FORMULA, _capture(FORMULA, FORMULA), T0 + 5000)
        records = j.events()
    t = time.monotonic()
    files = report_files(records, {"device": "cafe-01", "public_key": "00", "created": T0 + 9000})
    assert time.monotonic() - t < 60
    html = files["report.html"].decode()
    assert "<script>" not in html and "&lt;script&gt;" in html and '<font name="x">' not in html
    rows = list(csv.reader(io.StringIO(files["captures.csv"].decode())))
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    assert rows[1][0] == "'" + FORMULA  # kept, as text
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(files["report.pdf"])
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True, timeout=60).stdout
    assert "<script>alert(1)</script>" in text  # shown as the text it is
    assert "UTC" in text  # an unknown zone falls back to UTC
