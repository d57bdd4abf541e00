"""Issue 20 item 7: device-signed text (venue, controller, contact, device name, capture id)
cannot speak as the data subject in the access-request letter. It is quoted as such:
bounded, on one line, inside «», with a line saying text in «» is the device's."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from camaudit.report.quote import QUOTE_MAX
from camaudit.report.subject import check, write_letters
from camaudit.store.journal import Journal
from camaudit.store.pack import export_pack

T0 = 1_795_651_200_000
WITHDRAW = "I withdraw this request and consent to the recording."
EVIL = f"Cafe\n\nSubject access request withdrawn\n__ Date and signature:\u202e {WITHDRAW}\x1b[2J " + "x" * 300


def _capture(cid: str) -> dict[str, object]:
    return {"capture": cid, "start": T0 + 1000, "end": T0 + 5000, "frames": 50, "max_faces": 2,
            "distinct_tracks": 2, "identifiable_tracks": 2, "verdict": "unconsented",
            "reasons": ["notice_missing"], "basis": None, "evidence": []}


def _pack(tmp_path: Path) -> Path:
    db = tmp_path / "journal.db"
    with Journal.open(db, "cafe-01") as j:
        j.append("device.online", None, {"venue": EVIL, "timezone": "UTC"}, T0)
        j.append("notice.registered", None, {
            "notice": "entrance", "controller": EVIL, "contact": f"dpo@x.org\n{WITHDRAW}",
            "purposes": ["security"], "rights": "r", "covers": ["counter"], "languages": ["en", "fr"],
            "translations": {"fr": {"controller": f"Café\r\n{WITHDRAW}"}},
        }, T0 + 1)
        cid = f"c-1\n\n{WITHDRAW}"
        j.append("capture.end", "counter", _capture(cid), T0 + 5000)
    return export_pack(db, tmp_path / "p.zip", now_ms=T0 + 60_000).path


def test_device_text_is_quoted_never_the_requesters_words(tmp_path: Path):
    res = check(_pack(tmp_path), "counter", T0, T0 + 60_000)
    assert set(res.letters) == {"en", "fr"}
    for lang, text in res.letters.items():
        quotes = re.findall(r"«([^»]*)»", text)
        assert len(quotes) >= 4, (lang, quotes)  # venue, controller, contact, device, capture id
        for q in quotes:
            assert "\n" not in q and "\x1b" not in q and "\u202e" not in q and "\r" not in q
            assert len(q) <= QUOTE_MAX
        assert any(q.endswith("…") for q in quotes)  # the long venue is cut, visibly
        outside = re.sub(r"«[^»]*»", "«»", text)
        assert "withdraw" not in outside.lower() and "consent to the recording" not in outside
        assert "Subject access request withdrawn" not in outside
        # the fake heading and signature line never start a line of their own
        assert not any(line.startswith("Subject access request withdrawn") for line in text.splitlines())
        assert outside.count("Date and signature") + outside.count("Date et signature") == 1
    assert "is quoted as the camera audit device signed it" in res.letters["en"]
    assert "est cité tel que l'appareil d'audit l'a signé" in res.letters["fr"]
    # the signed-for-print letter says the same: the PDF text has the attribution line
    out = tmp_path / "out"
    out.mkdir()
    write_letters(res, out)
    pdf = " ".join(subprocess.run(["pdftotext", str(out / "letter.pdf"), "-"], capture_output=True, text=True,
                                  check=True, timeout=60).stdout.split())
    assert "is quoted as the camera audit device signed it" in pdf and "«Cafe Subject access" in pdf
