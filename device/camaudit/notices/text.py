"""Setting UTF-8 text with the shipped fonts: DejaVu Sans for Latin/Greek/Cyrillic/Hebrew/
Arabic, Droid Sans Fallback for Chinese/Japanese/Korean; greedy word wrapping."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import ImageDraw, ImageFont

FONT_DIR = Path(__file__).resolve().parent / "fonts"
REGULAR = "DejaVuSans.ttf"
BOLD = "DejaVuSans-Bold.ttf"
CJK = "DroidSansFallback.ttf"

_CJK_RANGES = (
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3000, 0x30FF),  # CJK punctuation, Hiragana, Katakana
    (0x3100, 0x9FFF),  # Bopomofo ... CJK unified ideographs
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF00, 0xFFEF),  # half/full-width forms
    (0x20000, 0x2FA1F),  # CJK extensions
)


def is_cjk(ch: str) -> bool:
    o = ord(ch)
    return any(a <= o <= b for a, b in _CJK_RANGES)


@lru_cache(maxsize=64)
def font(size: float, *, bold: bool = False, cjk: bool = False) -> ImageFont.FreeTypeFont:
    name = CJK if cjk else (BOLD if bold else REGULAR)
    return ImageFont.truetype(str(FONT_DIR / name), size=max(1.0, size))


def runs(text: str) -> list[tuple[str, bool]]:
    """Split text into (chunk, is_cjk) runs."""
    out: list[tuple[str, bool]] = []
    for ch in text:
        c = is_cjk(ch)
        if out and out[-1][1] == c:
            out[-1] = (out[-1][0] + ch, c)
        else:
            out.append((ch, c))
    return out


def text_width(text: str, size: float, *, bold: bool = False) -> float:
    return sum(font(size, bold=bold, cjk=c).getlength(chunk) for chunk, c in runs(text))


def draw_text(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    size: float,
    *,
    bold: bool = False,
    fill: tuple[int, int, int] = (0, 0, 0),
) -> None:
    x, y = xy
    for chunk, c in runs(text):
        f = font(size, bold=bold, cjk=c)
        draw.text((x, y), chunk, font=f, fill=fill)
        x += f.getlength(chunk)


def _tokens(text: str) -> list[str]:
    """Words (with their trailing space); every CJK character is a token of its own."""
    out: list[str] = []
    cur = ""
    for ch in text:
        if is_cjk(ch):
            if cur:
                out.append(cur)
                cur = ""
            out.append(ch)
        elif ch == " ":
            out.append(cur + " ")
            cur = ""
        else:
            cur += ch
    if cur:
        out.append(cur)
    return out


def wrap(text: str, size: float, max_width: float, *, bold: bool = False) -> list[str]:
    lines: list[str] = []
    for para in text.split("\n"):
        line = ""
        for tok in _tokens(para):
            cand = line + tok
            if line and text_width(cand.rstrip(), size, bold=bold) > max_width:
                lines.append(line.rstrip())
                line = tok
            else:
                line = cand
            while text_width(line.rstrip(), size, bold=bold) > max_width and len(line) > 1:
                # a single word longer than the line (a URL): break it by characters
                cut = len(line) - 1
                while cut > 1 and text_width(line[:cut], size, bold=bold) > max_width:
                    cut -= 1
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(line.rstrip())
    return lines


PDF_FONTS = {"regular": "CamauditSans", "bold": "CamauditSans-Bold", "cjk": "CamauditCJK"}


def register_pdf_fonts() -> dict[str, str]:
    """Register the shipped fonts with reportlab (embedded, subset) once; their names."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if PDF_FONTS["regular"] not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(PDF_FONTS["regular"], str(FONT_DIR / REGULAR)))
        pdfmetrics.registerFont(TTFont(PDF_FONTS["bold"], str(FONT_DIR / BOLD)))
        pdfmetrics.registerFont(TTFont(PDF_FONTS["cjk"], str(FONT_DIR / CJK)))
        pdfmetrics.registerFontFamily(
            PDF_FONTS["regular"], normal=PDF_FONTS["regular"], bold=PDF_FONTS["bold"],
            italic=PDF_FONTS["regular"], boldItalic=PDF_FONTS["bold"],
        )
    return PDF_FONTS
