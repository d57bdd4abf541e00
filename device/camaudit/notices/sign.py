"""The printable sign: first-layer notice (EDPB 3/2019), camera pictogram, QR marker.

`render_sign_image` draws it with Pillow at any width (portrait, ISO 216 aspect 1:sqrt 2);
`render_sign` gives the same as a BGR array (for compositing into frames);
`save_sign` writes a PDF or PNG at print resolution (A4 or A5).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import segno
from PIL import Image, ImageDraw

from camaudit.config.notices import NoticeConfig
from camaudit.errors import CamauditError
from camaudit.notices import text as tx
from camaudit.notices.labels import day_spec, label
from camaudit.notices.marker import marker_payload

log = logging.getLogger(__name__)

PAPER_MM = {"A4": (210.0, 297.0), "A5": (148.0, 210.0)}
ASPECT = math.sqrt(2.0)
YELLOW = (255, 212, 0)
BLACK = (0, 0, 0)
WHITE = (255, 255, 255)
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


def _camera_pictogram(draw: ImageDraw.ImageDraw, x: float, y: float, s: float) -> None:
    """A CCTV camera (s = box size) in black, drawn with shapes (no image file needed)."""
    lw = max(1, round(s * 0.04))
    # housing, tilted down to the right
    body = [
        (x + 0.10 * s, y + 0.22 * s),
        (x + 0.78 * s, y + 0.40 * s),
        (x + 0.72 * s, y + 0.62 * s),
        (x + 0.04 * s, y + 0.44 * s),
    ]
    draw.polygon(body, fill=BLACK)
    # lens hood
    draw.polygon(
        [(x + 0.78 * s, y + 0.40 * s), (x + 0.95 * s, y + 0.40 * s), (x + 0.90 * s, y + 0.66 * s), (x + 0.72 * s, y + 0.62 * s)],
        fill=BLACK,
    )
    # mount
    draw.line([(x + 0.30 * s, y + 0.52 * s), (x + 0.30 * s, y + 0.82 * s)], fill=BLACK, width=lw * 2)
    draw.line([(x + 0.12 * s, y + 0.82 * s), (x + 0.48 * s, y + 0.82 * s)], fill=BLACK, width=lw * 2)
    # recording dot
    r = 0.05 * s
    draw.ellipse([x + 0.22 * s - r, y + 0.36 * s - r, x + 0.22 * s + r, y + 0.36 * s + r], fill=YELLOW)


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
            if val:
                out.append("; ".join(val) if isinstance(val, list) else str(val))
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
    draw = ImageDraw.Draw(img)
    m = round(0.05 * w)
    langs = list(notice.languages)

    # header band: pictogram + title
    band = round(0.17 * w)
    draw.rectangle([0, 0, w, band], fill=YELLOW)
    pict = band - 2 * round(0.02 * w)
    _camera_pictogram(draw, m, round(0.02 * w), pict)
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
        tx.draw_text(draw, (tx_left, ty), line, size, bold=True)
        ty += size * 1.2

    # QR marker at the bottom, centred, with a caption
    matrix = qr_matrix(marker_payload(notice_id, notice))
    n = matrix.shape[0]
    module = max(1, int(QR_WIDTH * w / n))
    qr_px = module * n
    qr_img = Image.fromarray(np.where(matrix, 0, 255).astype(np.uint8), "L").resize(
        (qr_px, qr_px), Image.Resampling.NEAREST
    )
    caption_size = max(6, round(0.018 * w))
    qr_y = h - m - caption_size * 2 - qr_px
    img.paste(qr_img.convert("RGB"), ((w - qr_px) // 2, qr_y))
    caption = f"{notice_id} · {_labels('scan', langs[:1])}"
    cw = tx.text_width(caption, caption_size)
    tx.draw_text(draw, ((w - cw) / 2, qr_y + qr_px + caption_size * 0.4), caption, caption_size, fill=(90, 90, 90))

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
            tx.draw_text(draw, (m, y), line, s, bold=bold)
            y += s * 1.25
        else:
            y += s * 1.25 + min(gap, s * 1.5)
    # thin frame so the sign's edge shows on white walls
    draw.rectangle([0, 0, w - 1, h - 1], outline=BLACK, width=max(1, round(0.004 * w)))
    return img


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
    img = render_sign_image(notice_id, notice, width_px, aspect=height_mm / width_mm)
    try:
        if suffix == ".pdf":
            img.save(path, "PDF", resolution=float(dpi), title=f"camaudit notice {notice_id}")
        else:
            img.save(path, "PNG", dpi=(dpi, dpi))
    except OSError as exc:
        raise SignError(f"{path}: cannot write: {exc}") from None
    log.info("notice %s printed to %s (%s, %d dpi)", notice_id, path, paper, dpi)
    return path
