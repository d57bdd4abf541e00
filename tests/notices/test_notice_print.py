"""`notice print`: a PDF and a PNG whose QR marker decodes to the notice id and its content
hash; another text or venue gives another marker; UTF-8 text in several scripts."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from notice_helpers import NOTICE_ID, notice

from camaudit.notices.command import notice_cmd
from camaudit.notices.marker import marker_payload, notice_hash, parse_payload
from camaudit.notices.reader import MarkerReader
from camaudit.notices.sign import SignError, render_sign, save_sign


def decode_png(path: Path) -> list[str]:
    img = cv2.imread(str(path))
    assert img is not None
    return MarkerReader().read(img)


def pdf_page_image(path: Path) -> tuple[np.ndarray, list[float]]:
    """The page image and MediaBox of a one-page PDF written by Pillow (no PDF tool needed)."""
    data = path.read_bytes()
    assert data.startswith(b"%PDF-")
    box = [float(v) for v in re.search(rb"/MediaBox \[ ?([\d. ]+)\]", data).group(1).split()]
    m = re.search(rb"/Filter /(\w+).*?stream\r?\n", data, re.S)
    assert m is not None
    start = m.end()
    end = data.index(b"endstream", start)
    stream = data[start:end]
    if m.group(1) == b"FlateDecode":
        stream = zlib.decompress(stream)
        w = int(re.search(rb"/Width (\d+)", data).group(1))
        h = int(re.search(rb"/Height (\d+)", data).group(1))
        img = np.frombuffer(stream, np.uint8)[: w * h * 3].reshape(h, w, 3)[:, :, ::-1]
    else:
        img = cv2.imdecode(np.frombuffer(stream, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return img, box


def test_png_and_pdf_markers_decode_to_id_and_hash(tmp_path):
    n = notice()
    png = save_sign(NOTICE_ID, n, tmp_path / "sign.png", "A4", dpi=150)
    pdf = save_sign(NOTICE_ID, n, tmp_path / "sign.pdf", "A5", dpi=150)
    want = marker_payload(NOTICE_ID, n)
    for texts in (decode_png(png), MarkerReader().read(pdf_page_image(pdf)[0])):
        assert want in [t.upper() for t in texts]
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
    assert marker_payload(NOTICE_ID, n) in [t.upper() for t in MarkerReader().read(img)]


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
