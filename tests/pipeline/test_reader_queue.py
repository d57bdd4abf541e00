"""The reader queue of a feed: one frame for a lossless source (an unpaced file, which must
not drop and waits for room), two for a live or paced one (the oldest dropped). A queue of
one holds one frame less (6 MB at 1080p, docs/tracks.md "Peak memory of one feed") and an
unpaced run still processes every frame the file has."""

from __future__ import annotations

from pathlib import Path

import cv2

from camaudit.config.model import Config
from camaudit.pipeline.runner import reader_queue_size, run
from camaudit.sources import open_source
from camaudit.sources.opencv_stream import OpenCVStreamSource


def test_queue_is_one_frame_for_an_unpaced_file_and_two_for_live_or_paced(shared_data: Path):
    clip = str(shared_data / "videos" / "NOFACE_opencv_tree.avi")
    unpaced, paced = open_source(clip, pace=False), open_source(clip, pace=True)
    try:
        assert reader_queue_size(unpaced) == 1
        assert reader_queue_size(paced) == 2
    finally:
        unpaced.close()
        paced.close()
    assert reader_queue_size(OpenCVStreamSource("rtsp://127.0.0.1:9/none")) == 2


def test_unpaced_run_with_a_one_frame_queue_processes_every_frame(shared_data: Path, tmp_path: Path):
    clip = shared_data / "videos" / "intel_head-pose-face-detection-female-and-male.gif"
    cap = cv2.VideoCapture(str(clip))
    decoded = 0
    while cap.grab():
        decoded += 1
    cap.release()
    cfg = Config.model_validate({
        "device": {"id": "queue-01", "data_dir": str(tmp_path)},
        "feeds": {"cam": {"source": str(clip), "pace": False}},
    })
    summary = run(cfg, db=tmp_path / "j.db", install_signals=False)
    assert decoded > 40
    assert summary.feeds["cam"].frames == decoded
