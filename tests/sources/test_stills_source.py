"""A folder of stills: name order, timestamps at fps (default 1), bad files skipped+named."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from camaudit.errors import SourceError
from camaudit.sources import Frame, open_source
from camaudit.sources.stills import StillsFolderSource


def still(value: int) -> np.ndarray:
    return np.full((48, 64, 3), value, np.uint8)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "stills"
    d.mkdir()
    cv2.imwrite(str(d / "b.png"), still(20))
    cv2.imwrite(str(d / "a.jpg"), still(10))
    cv2.imwrite(str(d / "c.BMP"), still(30))
    (d / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (d / "readme.txt").write_text("ignored\n")
    return d


def test_images_in_name_order_bad_file_skipped_and_named(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    t = 1_795_651_200.0
    src = open_source(str(folder), clock=lambda: t)
    assert isinstance(src, StillsFolderSource)
    with caplog.at_level("WARNING"):
        frames = list(src.items())
    assert all(isinstance(f, Frame) for f in frames)
    values = [int(round(f.image.mean())) for f in frames]  # type: ignore[union-attr]
    assert values == [10, 20, 30]  # a.jpg, b.png, (broken.jpg), c.BMP
    assert src.skipped_frames == 1
    assert "broken.jpg" in caplog.text
    t0 = round(t * 1000)
    # default 1 fps; the broken file keeps its slot in time
    assert [f.ts_ms - t0 for f in frames] == [0, 1000, 3000]  # type: ignore[union-attr]
    assert [f.index for f in frames] == [0, 1, 3]  # type: ignore[union-attr]


def test_fps_sets_spacing_and_loop_repeats(folder: Path) -> None:
    stop = threading.Event()
    src = open_source(str(folder), fps=4, loop=True, stop=stop, clock=lambda: 100.0)
    got = []
    for item in src.items():
        got.append(item)
        if len(got) == 7:
            stop.set()
    assert len(got) == 7
    assert [f.ts_ms - 100_000 for f in got] == [0, 250, 750, 1000, 1250, 1750, 2000]  # type: ignore[union-attr]
    assert src.skipped_frames == 2  # the broken file, once per pass


def test_empty_or_missing_folder(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "x.txt").write_text("no images")
    with pytest.raises(SourceError, match="no .jpg/.png/.bmp images"):
        open_source(str(empty))
    with pytest.raises(SourceError, match="missing"):
        open_source(str(tmp_path / "missing"))
