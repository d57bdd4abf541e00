"""The printable sign: first-layer notice (EDPB 3/2019), camera pictogram, QR marker.

`render_sign_image` draws it with Pillow at any width (portrait, ISO 216 aspect 1:sqrt 2);
`render_sign` gives the same as a BGR array (for compositing into frames);
`save_sign` writes a vector PDF (`sign_pdf`: real text, sharp QR) or a PNG at print
resolution (A4 or A5). Both are drawn by `draw_sign` through a Painter (Pillow or reportlab).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import segno
from PIL import Image, ImageDraw

from camaudit.config.notices import NoticeConfig
from camaudit.errors import CamauditError
from camaudit.notices import text as tx
from camaudit.notices.labels import day_spec, label
from camaudit.notices.marker import qr_text

log = logging.getLogger(__name__)

PAPER_MM = {"A4": (210.0, 297.0), "A5": (148.0, 210.0)}
ASPECT = math.sqrt(2.0)
YELLOW = (255, 212, 0)
BLACK = (0, 0, 0)
WHITE = (255, 255, 255)
RGB = tuple[int, int, int]
QR_WIDTH = 0.62  # of the sign's width, including a 2-module quiet zone (the sign around it is
# white too); bench/markers.py measures how wide the sign must appear for the marker to be read
QR_BORDER = 2


class SignError(CamauditError):
    """A sign cannot be rendered or written."""


def qr_matrix(payload: str, border: int = QR_BORDER) -> np.ndarray:
    """The QR code as a bool array (True = dark), with a quiet zone of `border` modules."""
    qr = segno.make(payload, error="m", micro=False)
    m = np.array([[bool(v) for v in row] for row in qr.matrix], dtype=bool)
    return np.pad(m, border, constant_values=False)


def _camera_pictogram(p: Painter, x: float, y: float, s: float) -> None:
    """A CCTV camera (s = box size) in black, drawn with shapes (no image file needed)."""
    lw = max(1, round(s * 0.04))
    # housing, tilted down to the right
    body = [
        (x + 0.10 * s, y + 0.22 * s),
        (x + 0.78 * s, y + 0.40 * s),
        (x + 0.72 * s, y + 0.62 * s),
        (x + 0.04 * s, y + 0.44 * s),
    ]
    p.polygon(body, BLACK)
    # lens hood
    p.polygon(
        [(x + 0.78 * s, y + 0.40 * s), (x + 0.95 * s, y + 0.40 * s), (x + 0.90 * s, y + 0.66 * s), (x + 0.72 * s, y + 0.62 * s)],
        BLACK,
    )
    # mount
    p.line([(x + 0.30 * s, y + 0.52 * s), (x + 0.30 * s, y + 0.82 * s)], BLACK, lw * 2)
    p.line([(x + 0.12 * s, y + 0.82 * s), (x + 0.48 * s, y + 0.82 * s)], BLACK, lw * 2)
    # recording dot
    r = 0.05 * s
    p.ellipse((x + 0.22 * s - r, y + 0.36 * s - r, x + 0.22 * s + r, y + 0.36 * s + r), YELLOW)


class Painter(Protocol):
    """Draws the sign in pixel coordinates (origin top left), on a raster or a PDF page."""

    def rect(self, box: tuple[float, float, float, float], fill: RGB | None, outline: RGB | None = None, width: float = 0) -> None: ...

    def polygon(self, points: list[tuple[float, float]], fill: RGB) -> None: ...

    def line(self, points: list[tuple[float, float]], fill: RGB, width: float) -> None: ...

    def ellipse(self, box: tuple[float, float, float, float], fill: RGB) -> None: ...

    def text(self, xy: tuple[float, float], text: str, size: float, *, bold: bool = False, fill: RGB = BLACK) -> None: ...

    def qr(self, matrix: np.ndarray, x: int, y: int, module: int) -> None: ...


class PilPainter:
    def __init__(self, img: Image.Image) -> None:
        self.img = img
        self.draw = ImageDraw.Draw(img)

    def rect(self, box: tuple[float, float, float, float], fill: RGB | None, outline: RGB | None = None, width: float = 0) -> None:
        self.draw.rectangle(list(box), fill=fill, outline=outline, width=max(1, round(width)) if outline else 0)

    def polygon(self, points: list[tuple[float, float]], fill: RGB) -> None:
        self.draw.polygon(points, fill=fill)

    def line(self, points: list[tuple[float, float]], fill: RGB, width: float) -> None:
        self.draw.line(points, fill=fill, width=round(width))

    def ellipse(self, box: tuple[float, float, float, float], fill: RGB) -> None:
        self.draw.ellipse(list(box), fill=fill)

    def text(self, xy: tuple[float, float], text: str, size: float, *, bold: bool = False, fill: RGB = BLACK) -> None:
        tx.draw_text(self.draw, xy, text, size, bold=bold, fill=fill)

    def qr(self, matrix: np.ndarray, x: int, y: int, module: int) -> None:
        n = matrix.shape[0]
        qr_img = Image.fromarray(np.where(matrix, 0, 255).astype(np.uint8), "L").resize(
            (module * n, module * n), Image.Resampling.NEAREST
        )
        self.img.paste(qr_img.convert("RGB"), (x, y))


class PdfPainter:
    """Vector drawing on a reportlab canvas: text as text (embedded fonts), the QR code as
    one filled rectangle per run of dark modules."""

    def __init__(self, canvas: Any, height_px: float, scale: float) -> None:
        self.c = canvas
        self.h = height_px
        self.k = scale
        self.fonts = tx.register_pdf_fonts()

    def _xy(self, x: float, y: float) -> tuple[float, float]:
        return x * self.k, (self.h - y) * self.k

    def _color(self, rgb: RGB, stroke: bool = False) -> None:
        r, g, b = (v / 255 for v in rgb)
        if stroke:
            self.c.setStrokeColorRGB(r, g, b)
        else:
            self.c.setFillColorRGB(r, g, b)

    def _path(self, points: list[tuple[float, float]]) -> Any:
        path = self.c.beginPath()
        path.moveTo(*self._xy(*points[0]))
        for pt in points[1:]:
            path.lineTo(*self._xy(*pt))
        return path

    def rect(self, box: tuple[float, float, float, float], fill: RGB | None, outline: RGB | None = None, width: float = 0) -> None:
        x0, y0, x1, y1 = box
        if outline is not None:  # a frame inside the box, as Pillow draws it
            inset = width / 2
            x0, y0, x1, y1 = x0 + inset, y0 + inset, x1 + 1 - inset, y1 + 1 - inset
            self._color(outline, stroke=True)
            self.c.setLineWidth(width * self.k)
        if fill is not None:
            self._color(fill)
        X, Y = self._xy(x0, y1)
        self.c.rect(X, Y, (x1 - x0) * self.k, (y1 - y0) * self.k, stroke=int(outline is not None), fill=int(fill is not None))

    def polygon(self, points: list[tuple[float, float]], fill: RGB) -> None:
        path = self._path(points)
        path.close()
        self._color(fill)
        self.c.drawPath(path, stroke=0, fill=1)

    def line(self, points: list[tuple[float, float]], fill: RGB, width: float) -> None:
        self._color(fill, stroke=True)
        self.c.setLineWidth(width * self.k)
        self.c.drawPath(self._path(points), stroke=1, fill=0)

    def ellipse(self, box: tuple[float, float, float, float], fill: RGB) -> None:
        x0, y0, x1, y1 = box
        self._color(fill)
        X0, Y0 = self._xy(x0, y1)
        X1, Y1 = self._xy(x1, y0)
        self.c.ellipse(X0, Y0, X1, Y1, stroke=0, fill=1)

    def text(self, xy: tuple[float, float], text: str, size: float, *, bold: bool = False, fill: RGB = BLACK) -> None:
        x, y = xy
        self._color(fill)
        for chunk, cjk in tx.runs(text):
            f = tx.font(size, bold=bold, cjk=cjk)
            ascent = f.getmetrics()[0]
            name = self.fonts["cjk" if cjk else ("bold" if bold else "regular")]
            self.c.setFont(name, size * self.k)
            self.c.drawString(*self._xy(x, y + ascent), chunk)
            x += f.getlength(chunk)

    def qr(self, matrix: np.ndarray, x: int, y: int, module: int) -> None:
        self._color(BLACK)
        n = matrix.shape[0]
        for r in range(n):
            c0 = 0
            while c0 < n:
                if not matrix[r, c0]:
                    c0 += 1
                    continue
                c1 = c0
                while c1 < n and matrix[r, c1]:
                    c1 += 1
                X, Y = self._xy(x + c0 * module, y + (r + 1) * module)
                self.c.rect(X, Y, (c1 - c0) * module * self.k, module * self.k, stroke=0, fill=1)
                c0 = c1


def _hours_text(hours: dict[str, str], lang: str) -> str:
    return "; ".join(f"{day_spec(days, lang)} {times}" for days, times in hours.items())


def _sections(notice: NoticeConfig) -> list[tuple[str, list[str]]]:
    """(label key, texts) in sign order; texts: primary language first, then translations."""
    langs = notice.languages

    def texts(field: str) -> list[str]:
        out: list[str] = []
        base = getattr(notice, field)
        if base is None:
            return out
        out.append("; ".join(base) if isinstance(base, list) else str(base))
        for lang in langs[1:]:
            tr = notice.translations.get(lang)
            val = getattr(tr, field, None) if tr is not None else None
            text = ("; ".join(val) if isinstance(val, list) else str(val)) if val else ""
            if text and text not in out:  # a translation identical to a text already printed: once
                out.append(text)
        return out

    secs: list[tuple[str, list[str]]] = [
        ("controller", texts("controller")),
        ("purposes", texts("purposes")),
    ]
    if notice.hours:
        lines: list[str] = []
        for lg in langs:
            t = _hours_text(notice.hours, lg)
            if t not in lines:
                lines.append(t)
        secs.append(("hours", lines))
    if notice.retention_days is not None:
        secs.append(
            ("retention", [" / ".join(f"{notice.retention_days} {label(lg, 'days')}" for lg in langs)])
        )
    for key in ("impacts", "legitimate_interest", "rights"):
        if getattr(notice, key):
            secs.append((key, texts(key)))
    secs.append(("contact", [notice.contact]))
    if notice.dpo:
        secs.append(("dpo", [notice.dpo]))
    secs.append(("full_notice", [notice.full_notice]))
    return secs


def _labels(key: str, langs: list[str]) -> str:
    seen: list[str] = []
    for lg in langs:
        t = label(lg, key)
        if t not in seen:
            seen.append(t)
    return " / ".join(seen)


def render_sign_image(
    notice_id: str, notice: NoticeConfig, width_px: int, aspect: float = ASPECT
) -> Image.Image:
    """The sign as an RGB image, `width_px` wide, height width * aspect (ISO: sqrt 2)."""
    if width_px < 40:
        raise SignError(f"sign width {width_px} px is too small to draw")
    w = int(width_px)
    h = round(w * aspect)
    img = Image.new("RGB", (w, h), WHITE)
    draw_sign(PilPainter(img), notice_id, notice, w, h)
    return img


def draw_sign(p: Painter, notice_id: str, notice: NoticeConfig, w: int, h: int) -> None:
    """Lay the sign out in a w x h pixel box and draw it with `p`."""
    m = round(0.05 * w)
    langs = list(notice.languages)

    # header band: pictogram + title
    band = round(0.17 * w)
    p.rect((0, 0, w, band), YELLOW)
    pict = band - 2 * round(0.02 * w)
    _camera_pictogram(p, m, round(0.02 * w), pict)
    title = _labels("title", langs)
    tx_left = m + pict + round(0.03 * w)
    tmax = w - tx_left - m
    size: float = round(0.06 * w)
    while size > 6:
        lines = tx.wrap(title, size, tmax, bold=True)
        if len(lines) * size * 1.2 <= band - 0.04 * w:
            break
        size -= 1
    ty = (band - len(lines) * size * 1.2) / 2
    for line in lines:
        p.text((tx_left, ty), line, size, bold=True)
        ty += size * 1.2

    # QR marker at the bottom, centred, with a caption
    matrix = qr_matrix(qr_text(notice_id, notice))
    n = matrix.shape[0]
    module = max(1, int(QR_WIDTH * w / n))
    qr_px = module * n
    caption_size = max(6, round(0.018 * w))
    qr_y = h - m - caption_size * 2 - qr_px
    p.qr(matrix, (w - qr_px) // 2, qr_y, module)
    caption = f"{notice_id} · {_labels('scan', langs[:1])}"
    cw = tx.text_width(caption, caption_size)
    p.text(((w - cw) / 2, qr_y + qr_px + caption_size * 0.4), caption, caption_size, fill=(90, 90, 90))

    # body text between header and QR: shrink until it fits
    top = band + m * 0.6
    bottom = qr_y - m * 0.3
    sections = _sections(notice)
    body_w = w - 2 * m
    size = 0.035 * w
    while True:
        layout: list[tuple[str, float, bool]] = []
        for key, texts in sections:
            layout += [(ln, size, True) for ln in tx.wrap(_labels(key, langs), size, body_w, bold=True)]
            for t in texts:
                layout += [(ln, size, False) for ln in tx.wrap(t, size, body_w)]
            layout.append(("", size * 0.5, False))
        total = sum(s * 1.25 for _, s, _ in layout)
        if total <= bottom - top or size <= 5:
            break
        size *= 0.96
    if total > bottom - top:
        log.warning("notice %s: text does not fit a %d px wide sign", notice_id, w)
    # spread what is left between the sections, so the text block ends above the QR code
    gap = max(0.0, (bottom - top - total) / max(1, len(sections)))
    y = top
    for line, s, bold in layout:
        if line:
            p.text((m, y), line, s, bold=bold)
            y += s * 1.25
        else:
            y += s * 1.25 + min(gap, s * 1.5)
    # thin frame so the sign's edge shows on white walls
    p.rect((0, 0, w - 1, h - 1), None, outline=BLACK, width=max(1, round(0.004 * w)))


def render_sign(notice_id: str, notice: NoticeConfig, width_px: int) -> np.ndarray:
    """The sign as a BGR uint8 array (H x W x 3)."""
    rgb = np.asarray(render_sign_image(notice_id, notice, width_px))
    return np.ascontiguousarray(rgb[:, :, ::-1])


def save_sign(
    notice_id: str, notice: NoticeConfig, path: Path, paper: str = "A4", dpi: int = 300
) -> Path:
    """Write the sign as PDF or PNG (by suffix) for `paper` (A4/A5) at `dpi`."""
    if paper not in PAPER_MM:
        raise SignError(f"paper size {paper!r}: use one of {', '.join(PAPER_MM)}")
    suffix = path.suffix.lower()
    if suffix not in (".pdf", ".png"):
        raise SignError(f"{path}: the output must end in .pdf or .png")
    width_mm, height_mm = PAPER_MM[paper]
    width_px = round(width_mm / 25.4 * dpi)
    try:
        if suffix == ".pdf":
            path.write_bytes(sign_pdf(notice_id, notice, paper))
        else:
            img = render_sign_image(notice_id, notice, width_px, aspect=height_mm / width_mm)
            img.save(path, "PNG", dpi=(dpi, dpi))
    except OSError as exc:
        raise SignError(f"{path}: cannot write: {exc}") from None
    log.info("notice %s printed to %s (%s, %d dpi)", notice_id, path, paper, dpi)
    return path


def sign_pdf(notice_id: str, notice: NoticeConfig, paper: str = "A4") -> bytes:
    """The sign as a vector PDF page: selectable text in embedded fonts, the QR code as
    filled squares (sharp at any print size), deterministic bytes."""
    import io

    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas

    width_mm, height_mm = PAPER_MM[paper]
    w = round(width_mm / 25.4 * 300)  # laid out on a 300 dpi grid, drawn as vectors
    h = round(w * height_mm / width_mm)
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(width_mm * mm, height_mm * mm), invariant=1, pageCompression=1)
    c.setTitle(f"camaudit notice {notice_id}")
    c.setCreator("camaudit")
    c.setProducer("camaudit")
    draw_sign(PdfPainter(c, h, width_mm * mm / w), notice_id, notice, w, h)
    c.showPage()
    c.save()
    return buf.getvalue()
