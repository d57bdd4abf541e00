"""report.pdf (reportlab): real, selectable text in embedded DejaVu fonts, charts as vector
drawings, the blurred evidence frames inline; byte-for-byte deterministic (`invariant`)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

from camaudit.notices.text import PDF_FONTS
from camaudit.report import words
from camaudit.report.charts import Shapes, bar_chart, timeline_chart
from camaudit.report.model import Report

FONT = PDF_FONTS["regular"]
BOLD = PDF_FONTS["bold"]
CJK = PDF_FONTS["cjk"]


def register_fonts() -> None:
    from camaudit.notices.text import register_pdf_fonts

    register_pdf_fonts()


def markup(text: str) -> str:
    """Escaped paragraph markup; CJK runs set in the CJK font."""
    from camaudit.notices.text import runs

    out = []
    for chunk, cjk in runs(text):
        e = escape(chunk)
        out.append(f'<font name="{CJK}">{e}</font>' if cjk else e)
    return "".join(out)


def drawing(shapes: Shapes, scale: float = 1.0):  # type: ignore[no-untyped-def]
    """A reportlab Drawing (vector) of chart shapes laid out with y downwards."""
    from reportlab.graphics.shapes import Drawing, Line, Rect, String
    from reportlab.lib.colors import HexColor

    h = shapes.height
    d = Drawing(shapes.width * scale, h * scale)
    for ln in shapes.lines:
        d.add(Line(ln.x1 * scale, (h - ln.y1) * scale, ln.x2 * scale, (h - ln.y2) * scale,
                   strokeColor=HexColor(ln.color), strokeWidth=0.6))
    for r in shapes.rects:
        d.add(Rect(r.x * scale, (h - r.y - r.h) * scale, r.w * scale, r.h * scale,
                   fillColor=HexColor(r.color), strokeColor=None))
    for lab in shapes.labels:
        d.add(String(lab.x * scale, (h - lab.y) * scale, lab.text, fontName=FONT,
                     fontSize=lab.size * scale, textAnchor=lab.anchor))
    return d


def keep_headings(story: list[Any]) -> list[Any]:
    """A heading (keepWithNext) followed by a KeepTogether block goes inside that block:
    reportlab's keepWithNext does not reach into a KeepTogether, so "Captures" or "Notices
    in force" could end a page with their content on the next (issue 22.8)."""
    from reportlab.platypus import KeepTogether

    out: list[Any] = []
    for f in story:
        if isinstance(f, KeepTogether) and out and getattr(out[-1], "getKeepWithNext", lambda: False)():
            heads: list[Any] = []
            while out and getattr(out[-1], "getKeepWithNext", lambda: False)():
                heads.insert(0, out.pop())
            f = KeepTogether([*heads, *f._content])
        out.append(f)
    return out


def render_pdf(r: Report, frames: Mapping[str, bytes]) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        Image,
        KeepTogether,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    register_fonts()
    body = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12, spaceAfter=3)
    small = ParagraphStyle("small", parent=body, fontSize=7.5, leading=9.5)
    h1 = ParagraphStyle("h1", parent=body, fontName=BOLD, fontSize=15, leading=19, spaceAfter=6)
    h2 = ParagraphStyle("h2", parent=body, fontName=BOLD, fontSize=12, leading=15, spaceBefore=10, spaceAfter=4, keepWithNext=1)
    h3 = ParagraphStyle("h3", parent=body, fontName=BOLD, fontSize=10, leading=13, spaceBefore=6, spaceAfter=2, keepWithNext=1)
    c = r.clock
    width = A4[0] - 36 * mm

    def table(rows: list[tuple[str, str]], key_w: float = 42 * mm) -> Table:
        t = Table(
            [[Paragraph(markup(k), small), Paragraph(markup(v), small)] for k, v in rows],
            colWidths=[key_w, width - key_w],
        )
        t.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#bbbbbb")),
            ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f3f3f3")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]))
        return t

    story: list[Any] = [Paragraph(markup(words.title(r)), h1), table(words.facts(r))]
    story.append(Paragraph("Summary", h2))
    story += [Paragraph(markup(line), body) for line in words.summary(r)]
    scale = float(width) / 520
    story += [Spacer(1, 4), drawing(bar_chart(r.per_hour), scale), Spacer(1, 4),
              drawing(bar_chart(r.per_day), scale)]
    story.append(Paragraph(markup(words.LIMITS_TITLE), h2))
    story += [Paragraph(markup(line), body) for line in words.what_it_shows(r)]
    story.append(Paragraph("Notices in force", h2))
    if not r.notices:
        story.append(Paragraph(
            "No notice.registered record is in this pack: the notices' texts were journalled "
            "before its first record (export an earlier span to include them), or no notice "
            "was registered.", body))
    for n in r.notices:
        rows = n.rows(words.NOTICE_FIELDS)
        story.append(KeepTogether([
            Paragraph(markup(f"Notice {n.notice}, {'withdrawn' if n.body.get('withdrawn') else 'as registered'} "
                             f"{c.both(n.since)} (seq {n.seq})"), h3),
            table(rows),
        ]))
    story.append(Paragraph("Notice timeline", h2))
    if r.timeline:
        story.append(drawing(timeline_chart(
            r.timeline, r.first_time, r.last_time, c.both(r.first_time), c.both(r.last_time)), scale))
        seg_rows = [(f"{s.notice}: {s.state}", f"{c.both(s.start)} to {c.both(s.end)}") for s in r.timeline]
        story.append(table(seg_rows))
    else:
        story.append(Paragraph("No notice is registered or watched in these records.", body))
    story.append(Paragraph("Captures", h2))
    if not r.captures:
        story.append(Paragraph("No capture in this span.", body))
    for item in r.captures:
        row = item.row
        rows = [
            ("verdict", words.verdict_text(item)),
            ("start", c.both(row.start)),
            ("end", c.both(row.end) if row.state == "closed" else "still open"),
            ("faces", f"at most {row.max_faces} at once; {row.distinct_tracks} distinct, "
                      f"{row.identifiable_tracks} identifiable"),
            ("notice state at start", words.notice_state_text(item, r)),
            ("record", f"seq {row.seq}"),
        ]
        digests = item.evidence_digests()
        rows.append(("evidence frames", "; ".join(words.evidence_text(r, d) for d in digests) or "none kept"))
        block = [Paragraph(markup(f"Capture {row.capture} on feed {row.feed or '-'}"), h3), table(rows)]
        for d in digests:
            if d in frames:
                img = Image(io.BytesIO(frames[d]))
                ratio = img.imageHeight / max(img.imageWidth, 1)
                img.drawWidth = min(width, 120 * mm)
                img.drawHeight = img.drawWidth * ratio
                block += [Spacer(1, 3), img]
        story.append(KeepTogether(block))
    story.append(Paragraph("How to verify this pack", h2))
    story += [Paragraph(markup(line), body) for line in words.how_to_verify(r)]

    buf = io.BytesIO()
    story = keep_headings(story)

    def footer(canvas, doc) -> None:  # type: ignore[no-untyped-def]
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.drawString(18 * mm, 10 * mm, f"camaudit report, device {r.device}, records seq "
                          f"{r.first_seq}..{r.last_seq}")
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, f"page {doc.page}")
        canvas.restoreState()

    doc = SimpleDocTemplate(
        buf, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
        bottomMargin=16 * mm, title=words.title(r), author="camaudit", creator="camaudit",
        producer="camaudit", subject=f"records seq {r.first_seq}..{r.last_seq}", invariant=1,
        initialFontName=FONT, initialFontSize=9,
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()
