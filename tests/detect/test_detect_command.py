"""`camaudit detect` on real images: printed boxes, --json, annotated PNGs, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from camaudit.detect.command import detect_cmd
from camaudit.errors import CamauditError, SourceError

pytestmark = pytest.mark.integration

IMAGE = "12--Group/12_Group_Group_12_Group_Group_12_10.jpg"


def _image(shared_data: Path) -> Path:
    wider = shared_data / "wider_dev" / "images"
    p = wider / IMAGE
    return p if p.exists() else sorted(wider.rglob("*.jpg"))[0]


def test_detect_prints_json_and_writes_annotated_png(shared_data: Path, tmp_path: Path) -> None:
    import cv2

    image = _image(shared_data)
    out = tmp_path / "out"
    result = CliRunner().invoke(detect_cmd, [str(image), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output.strip().splitlines()[-1])
    assert record["image"] == str(image)
    assert record["faces"], "no face found on a WIDER group photo"
    assert all(f["score"] >= 0.6 for f in record["faces"])
    png = Path(record["annotated"])
    assert png.parent == out and png.suffix == ".png"
    drawn, original = cv2.imread(str(png)), cv2.imread(str(image))
    assert drawn.shape == original.shape
    assert (drawn != original).any()


def test_detect_text_output_and_threshold(shared_data: Path) -> None:
    image = _image(shared_data)
    low = CliRunner().invoke(detect_cmd, [str(image), "--min-score", "0.5"])
    high = CliRunner().invoke(detect_cmd, [str(image), "--min-score", "0.95"])
    assert low.exit_code == 0 and high.exit_code == 0
    n_low = low.output.count("score=")
    assert n_low > high.output.count("score=")
    assert f"{n_low} face(s)" in low.output.splitlines()[0]


def test_detect_missing_or_bad_image_is_a_source_error(tmp_path: Path) -> None:
    bad = tmp_path / "not_an_image.png"
    bad.write_text("hello")
    for path in (tmp_path / "missing.jpg", bad):
        result = CliRunner().invoke(detect_cmd, [str(path)])
        assert isinstance(result.exception, SourceError)
        assert str(path) in str(result.exception)


def test_detect_unknown_model_is_a_camaudit_error(shared_data: Path) -> None:
    result = CliRunner().invoke(detect_cmd, [str(_image(shared_data)), "--model", "nope"])
    assert isinstance(result.exception, CamauditError)
