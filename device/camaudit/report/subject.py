"""Subject check: "was I captured at this venue between these times?" (no face matching).

From an evidence pack of the window (made by the device or the hub), list the captures of
one feed in the window with their verdicts, notice states and evidence references, and
write a one-page access-request letter (GDPR Art. 15) per sign language, citing those
capture ids and the pack's SHA-256. Nothing here looks at faces: a capture is a period in
which a camera had people in view, and the person identifies themself to the controller.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from camaudit.core.record import Event
from camaudit.errors import CamauditError
from camaudit.report import words
from camaudit.report.letter_text import LETTERS
from camaudit.report.model import Report, build
from camaudit.report.quote import one_line, quoted


class SubjectCheckError(CamauditError):
    """The window or the pack cannot be checked."""


@dataclass(frozen=True)
class SubjectCheck:
    report: Report
    pack: Path
    pack_hash: str
    letters: Mapping[str, str]  # language -> letter text (empty when no capture)


def read_pack(pack: Path) -> tuple[list[Event], dict[str, Any], dict[str, Any]]:
    try:
        with zipfile.ZipFile(pack) as z:
            records = [Event.from_json(x) for x in z.read("events.jsonl").decode().splitlines() if x]
            device = json.loads(z.read("device.json"))
            manifest = json.loads(z.read("manifest.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise SubjectCheckError(f"pack {pack}: unreadable: {exc}") from None
    return records, device, manifest


def check(pack: Path, feed: str, since_ms: int, until_ms: int) -> SubjectCheck:
    records, device, manifest = read_pack(pack)
    report = build(
        records,
        {
            "device": device.get("device"),
            "public_key": device.get("public_key"),
            "created": manifest.get("created"),
            "signed_by": manifest.get("signed_by", "device"),
            "feed": feed,
            "since": since_ms,
            "until": until_ms,
        },
    )
    pack_hash = hashlib.sha256(Path(pack).read_bytes()).hexdigest()
    letters = letter_texts(report, feed, pack_hash) if report.captures else {}
    return SubjectCheck(report, Path(pack), pack_hash, letters)


def _notices_for(report: Report, feed: str) -> list[Mapping[str, Any]]:
    latest: dict[str, Mapping[str, Any]] = {}
    for n in report.notices:
        if feed in (n.body.get("covers") or ()):
            latest[n.notice] = n.body
    return list(latest.values())


def letter_texts(report: Report, feed: str, pack_hash: str) -> dict[str, str]:
    """One letter per language of the notices covering `feed` (English when none)."""
    notices = _notices_for(report, feed)
    langs: list[str] = []
    for body in notices:
        for lang in body.get("languages") or ["en"]:
            if lang in LETTERS and lang not in langs:
                langs.append(lang)
    langs = langs or ["en"]
    c = report.clock
    window = f"{c.both(report.since)} – {c.both(report.until)}"
    # every device-signed value below is quoted: bounded, on one line, inside «» (quote.py)
    captures = ", ".join(quoted(i.row.capture) for i in report.captures)
    feed_line = one_line(feed)
    out = {}
    for lang in langs:
        controller = "; ".join(quoted(_in_lang(b, "controller", lang)) for b in notices) or "the controller"
        contact = "; ".join(quoted(b.get("contact", "")) for b in notices if b.get("contact")) or "-"
        t = LETTERS[lang]
        fields = {
            "controller": controller, "contact": contact,
            "venue": quoted(report.venue) if report.venue else f"the place filmed by camera '{feed_line}'",
            "device": quoted(report.device), "feed": feed_line, "window": window, "captures": captures,
            "pack_hash": pack_hash,
        }
        fill = "\n".join(
            (x[3:] + " " + "_" * 30) if x.startswith("__ ") else "_" * 60 for x in t["fill"].split("\n")
        )
        out[lang] = "\n\n".join(
            [t["subject"], t["to"].format(**fields), t["body"].format(**fields), t["quoted"], fill]
        ) + "\n"
    return out


def _in_lang(body: Mapping[str, Any], key: str, lang: str) -> str:
    trans = body.get("translations")
    tr = trans.get(lang) if isinstance(trans, Mapping) else None
    v = (tr.get(key) if isinstance(tr, Mapping) else None) or body.get(key) or ""
    return "; ".join(str(x) for x in v) if isinstance(v, list) else str(v)


def summary_lines(res: SubjectCheck) -> list[str]:
    r = res.report
    c = r.clock
    head = (
        f"device {r.device}, feed {r.feed}, {c.both(r.since)} to {c.both(r.until)}: "
        f"{len(r.captures)} capture(s)"
    )
    lines = [head]
    for item in r.captures:
        row = item.row
        lines.append(
            f"  {row.capture}  {c.both(row.start)} to "
            f"{c.both(row.end) if row.state == 'closed' else 'still open'}  "
            f"{words.verdict_text(item)}; notice: {words.notice_state_text(item, r)}; "
            f"{row.identifiable_tracks} identifiable of {row.distinct_tracks} tracks; evidence: "
            + (", ".join(f"sha256:{d}" for d in item.evidence_digests()) or "none kept")
        )
    if not r.captures:
        lines.append("  no capture on this camera in the window: nobody was recorded there then")
    lines.append(f"evidence pack {res.pack} sha256 {res.pack_hash}")
    return lines


def letter_pdf(letters: Mapping[str, str]) -> bytes:
    """One A4 page per language, real text (reportlab, embedded fonts, deterministic)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer

    from camaudit.report.pdf import BOLD, FONT, markup, register_fonts

    register_fonts()
    body = ParagraphStyle("b", fontName=FONT, fontSize=9.5, leading=13, spaceAfter=6)
    head = ParagraphStyle("h", parent=body, fontName=BOLD, fontSize=12, leading=15, spaceAfter=10)
    story: list[Any] = []
    for i, (_lang, text) in enumerate(letters.items()):
        if i:
            story.append(PageBreak())
        parts = text.strip().split("\n\n")
        story.append(Paragraph(markup(parts[0]), head))
        for para in parts[1:-1]:
            story.append(Paragraph("<br/>".join(markup(x) for x in para.split("\n")), body))
            story.append(Spacer(1, 2))
        for line in parts[-1].split("\n"):  # the lines the person fills in, with room to write
            story.append(Spacer(1, 10))
            story.append(Paragraph(markup(line), body))
    buf = io.BytesIO()
    SimpleDocTemplate(
        buf, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=20 * mm,
        bottomMargin=20 * mm, title="Access request (GDPR Art. 15)", author="", creator="camaudit",
        producer="camaudit", invariant=1, initialFontName=FONT,
    ).build(story)
    return buf.getvalue()


def write_letters(res: SubjectCheck, out_dir: Path, signer: Any = None) -> list[Path]:
    """letter-<lang>.txt per language and letter.pdf; `signer` (a trust.pdf_sign
    SigningIdentity: the key that signed the pack) signs letter.pdf."""
    written = []
    for lang, text in res.letters.items():
        p = out_dir / f"letter-{lang}.txt"
        p.write_text(text, encoding="utf-8")
        written.append(p)
    if res.letters:
        p = out_dir / "letter.pdf"
        pdf = letter_pdf(res.letters)
        if signer is not None:
            from camaudit.trust.pdf_sign import sign_pdf

            pdf = sign_pdf(pdf, signer, reason="camaudit subject check: access request letter")
        p.write_bytes(pdf)
        written.append(p)
    return written
