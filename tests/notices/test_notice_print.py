"""`notice print`: a PDF and a PNG whose QR marker decodes to the notice id and its content
hash; another text or venue gives another marker; UTF-8 text in several scripts."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from notice_helpers import NOTICE_ID, notice

from camaudit.notices.command import notice_cmd
from camaudit.notices.marker import marker_payload, notice_hash, parse_payload, qr_text
from camaudit.notices.reader import MarkerReader
from camaudit.notices.sign import SignError, render_sign, save_sign


def decode_png(path: Path) -> list[str]:
    img = cv2.imread(str(path))
    assert img is not None
    return MarkerReader().read(img)


def pdf_page_image(path: Path, dpi: int = 100) -> tuple[np.ndarray, list[float]]:
    """The page rendered by poppler's pdftoppm, and the page's MediaBox."""
    data = path.read_bytes()
    assert data.startswith(b"%PDF-")
    box = [float(v) for v in re.search(rb"/MediaBox \[ ?([\d. ]+)\]", data).group(1).split()]
    out = path.with_suffix("")
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-singlefile", str(path), str(out)], check=True, timeout=120)
    img = cv2.imread(str(out) + ".png")
    assert img is not None
    return img, box


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True, timeout=60).stdout


def test_png_and_pdf_markers_decode_to_id_and_hash(tmp_path):
    n = notice()
    png = save_sign(NOTICE_ID, n, tmp_path / "sign.png", "A4", dpi=150)
    pdf = save_sign(NOTICE_ID, n, tmp_path / "sign.pdf", "A5", dpi=150)
    # a phone opens the full notice; the marker rides in the address's fragment
    want = "https://example.org/cctv#" + marker_payload(NOTICE_ID, n)
    assert qr_text(NOTICE_ID, n) == want
    for texts in (decode_png(png), MarkerReader().read(pdf_page_image(pdf)[0])):
        assert texts == [want]
        m = parse_payload(texts[0])
        assert m is not None and m.notice_id == NOTICE_ID.upper()
        assert m.hash == notice_hash(NOTICE_ID, n) and m.matches(NOTICE_ID, n)


@pytest.mark.parametrize(("paper", "points"), [("A4", (595.3, 841.9)), ("A5", (419.5, 595.3))])
def test_pdf_page_has_the_paper_size(tmp_path, paper, points):
    _, box = pdf_page_image(save_sign(NOTICE_ID, notice(), tmp_path / "s.pdf", paper, dpi=100))
    assert box[2] == pytest.approx(points[0], abs=1.5) and box[3] == pytest.approx(points[1], abs=1.5)


def test_png_pixel_size_follows_paper_and_dpi(tmp_path):
    img = cv2.imread(str(save_sign(NOTICE_ID, notice(), tmp_path / "s.png", "A5", dpi=200)))
    assert img.shape[1] == round(148 / 25.4 * 200)
    assert abs(img.shape[0] / img.shape[1] - 2**0.5) < 0.01


@pytest.mark.parametrize(
    "change",
    [
        {"controller": "Other Venue GmbH, 2 High St"},
        {"purposes": ["security of the premises", "marketing"]},
        {"hours": {"daily": "00:00-24:00"}},
        {"retention_days": 90},
    ],
)
def test_another_text_or_venue_gives_another_marker(change):
    a, b = notice(), notice(**change)
    assert marker_payload(NOTICE_ID, a) != marker_payload(NOTICE_ID, b)
    m = parse_payload(marker_payload(NOTICE_ID, b))
    assert m is not None and not m.matches(NOTICE_ID, a)


def test_what_is_not_printed_does_not_change_the_marker():
    a = notice()
    b = notice(covers=["counter", "door"], watch={"feed": "counter", "check_s": 5, "grace_s": 30})
    assert marker_payload(NOTICE_ID, a) == marker_payload(NOTICE_ID, b)


@pytest.mark.parametrize(
    "text",
    ["not a marker", "CA1:ENTRANCE-SIGN", "CA1:ENTRANCE-SIGN:XYZ", "CA1::0123456789AB", "CA1:X:0123456789ABC"],
)
def test_foreign_qr_texts_are_not_markers(text):
    assert parse_payload(text) is None


def test_text_in_several_scripts_is_drawn_not_boxes():
    """The shipped fonts set accented Latin, Greek, Cyrillic and CJK: each script's text must
    produce ink, and different characters must look different (no .notdef boxes)."""
    from PIL import Image, ImageDraw

    from camaudit.notices import text as tx

    def ink(s: str) -> np.ndarray:
        img = Image.new("RGB", (400, 60), (255, 255, 255))
        tx.draw_text(ImageDraw.Draw(img), (5, 5), s, 36)
        return np.asarray(img.convert("L")) < 128

    for a, b in [("é", "ñ"), ("Ж", "Я"), ("Ω", "λ"), ("视", "频"), ("カ", "メ"), ("한", "국")]:
        ia, ib = ink(a), ink(b)
        assert ia.sum() > 20 and ib.sum() > 20, (a, b)
        assert (ia != ib).sum() > 20, f"{a!r} and {b!r} render the same (missing glyphs?)"


def test_multilingual_sign_renders_with_translations():
    n = notice(
        languages=["de", "en", "zh", "ru"],
        translations={"en": {"purposes": ["security"]}, "zh": {"purposes": ["场所安全"]}, "ru": {"rights": "доступ"}},
    )
    img = render_sign(NOTICE_ID, n, 600)
    assert img.shape == (round(600 * 2**0.5), 600, 3) and img.dtype == np.uint8
    assert MarkerReader().read(img) == [qr_text(NOTICE_ID, n)]


def test_bad_output_suffix_and_paper(tmp_path):
    with pytest.raises(SignError, match=r"\.pdf or \.png"):
        save_sign(NOTICE_ID, notice(), tmp_path / "s.jpg")
    with pytest.raises(SignError, match="paper size"):
        save_sign(NOTICE_ID, notice(), tmp_path / "s.png", paper="A3")


CONFIG = """\
device: {{id: cafe-01, data_dir: {data}}}
feeds:
  counter: {{source: clip.mp4}}
  door: {{source: door.mp4}}
notices:
  entrance-sign:
    controller: "Kavárna Příklad s.r.o., Náměstí 1, Praha"
    purposes: ["bezpečnost provozovny"]
    rights: "přístup, výmaz, námitka"
    contact: "dpo@example.cz"
    full_notice: "https://example.cz/kamery"
    covers: [counter]
"""


def test_cli_prints_pdf_and_png(tmp_path):
    cfg = tmp_path / "venue.yaml"
    cfg.write_text(CONFIG.format(data=tmp_path / "data"), encoding="utf-8")
    runner = CliRunner()
    for name, size in (("sign.pdf", "A4"), ("sign.png", "A5")):
        res = runner.invoke(notice_cmd, ["print", "entrance-sign", "-o", str(tmp_path / name), "--size", size, "--dpi", "100", "-c", str(cfg)])
        assert res.exit_code == 0, res.output + repr(res.exception)
        assert "CA1:ENTRANCE-SIGN:" in res.output
    texts = decode_png(tmp_path / "sign.png")
    assert texts and parse_payload(texts[0]).notice_id == "ENTRANCE-SIGN"
    res = runner.invoke(notice_cmd, ["print", "nope", "-o", str(tmp_path / "x.png"), "-c", str(cfg)])
    assert res.exit_code != 0 and "no notice 'nope'" in str(res.exception)


def test_pdf_is_vector_with_real_text_and_the_controller_once(tmp_path):
    same = "Example Café Ltd, 1 Main St"
    n = notice(languages=["en", "fr", "de"], translations={
        "fr": {"controller": same, "purposes": ["sécurité des locaux"]},
        "de": {"controller": same, "purposes": ["security of the premises"]},
    })
    pdf = save_sign(NOTICE_ID, n, tmp_path / "sign.pdf", "A4")
    text = pdf_text(pdf)
    assert text.count(same) == 1  # identical translations print once
    assert text.count("security of the premises") == 1 and "sécurité des locaux" in text
    assert "dpo@example.org" in text and "https://example.org/cctv" in text
    # no raster image at all: the QR code is drawn as filled squares
    images = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert images.splitlines()[2:] == []
    # sharp at any scale: read at 40 dpi (the whole A4 page 331 px wide) and at 300 dpi
    for dpi in (40, 300):
        assert MarkerReader().read(pdf_page_image(pdf, dpi)[0]) == [qr_text(NOTICE_ID, n)]
    # deterministic bytes
    assert save_sign(NOTICE_ID, n, tmp_path / "again.pdf", "A4").read_bytes() == pdf.read_bytes()


def test_a_full_notice_that_is_not_an_address_keeps_the_bare_marker():
    n = notice(full_notice="ask at the counter")
    assert qr_text(NOTICE_ID, n) == marker_payload(NOTICE_ID, n)
    img = render_sign(NOTICE_ID, n, 700)
    assert [t.upper() for t in MarkerReader().read(img)] == [marker_payload(NOTICE_ID, n)]


@pytest.mark.parametrize(
    "text",
    [
        "https://example.org/cctv#CA1:ENTRANCE-SIGN:0123456789ab",
        "http://example.org/a#b#ca1:entrance-sign:0123456789AB",
        "CA1:ENTRANCE-SIGN:0123456789AB",
    ],
)
def test_marker_is_read_from_an_address_fragment(text):
    m = parse_payload(text)
    assert m is not None and m.notice_id == "ENTRANCE-SIGN" and m.hash == "0123456789ab"


def test_addresses_without_a_marker_are_not_markers():
    for text in ("https://example.org/cctv", "https://example.org/cctv#top", "https://x.example/#CA1:ID"):
        assert parse_payload(text) is None
