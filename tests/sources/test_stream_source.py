"""Live feeds through OpenCV, tested for real: an MJPEG camera served over HTTP on 127.0.0.1
is read by OpenCV's FFmpeg backend, goes away mid-stream (feed.down), comes back on the same
port (feed.up) and frames resume."""

from __future__ import annotations

import socket
import threading

import pytest
from mjpeg_testserver import MjpegServer

from camaudit.errors import SourceError
from camaudit.sources import FeedStatus, Frame, open_source
from camaudit.sources.opencv_stream import OpenCVStreamSource, redact

DEADLINE_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server() -> MjpegServer:
    srv = MjpegServer(fps=25)
    srv.start()
    yield srv
    srv.stop()


def test_mjpeg_feed_goes_down_and_comes_back(server: MjpegServer) -> None:
    stop = threading.Event()
    watchdog = threading.Timer(DEADLINE_S, stop.set)  # the test ends by itself
    watchdog.start()
    src = open_source(server.url, stop=stop, reconnect_max_s=1.0)
    assert isinstance(src, OpenCVStreamSource)
    assert not src.lossless
    log: list[str] = []
    frames: list[Frame] = []
    after_up = 0
    try:
        for item in src.items():
            if isinstance(item, FeedStatus):
                log.append(item.kind)
                if item.kind == "feed.down":
                    server.start()  # the camera is back, on the same port
                continue
            frames.append(item)
            if not log:
                log.append("frame")
            if len(frames) == 5 and log == ["frame"]:
                server.stop()  # the camera goes away mid-stream
            if log[-1] == "feed.up":
                after_up += 1
                if after_up == 5:
                    stop.set()
    finally:
        watchdog.cancel()
    assert log == ["frame", "feed.down", "feed.up"], (
        "stopped by the watchdog" if len(log) < 3 else ""
    )
    assert after_up == 5
    assert frames[0].image.shape == (120, 160, 3)
    assert src.backend == "FFMPEG"
    assert [f.index for f in frames] == list(range(len(frames)))
    assert all(b.ts_ms >= a.ts_ms for a, b in zip(frames, frames[1:], strict=False))
    assert src.reconnects >= 1


def test_unreachable_at_start_reports_down_once_and_keeps_trying() -> None:
    stop = threading.Event()
    url = f"http://127.0.0.1:{free_port()}/stream"  # nothing listens there
    src = open_source(url, stop=stop, reconnect_max_s=0.2)
    it = src.items()
    first = next(it)
    assert isinstance(first, FeedStatus) and first.kind == "feed.down"
    assert "cannot open" in first.detail
    watchdog = threading.Timer(1.5, stop.set)
    watchdog.start()
    rest = list(it)  # retries quietly (no second feed.down) until stop
    watchdog.cancel()
    assert rest == []
    assert src.reconnects >= 2  # backoff capped at reconnect_max_s: several attempts


def test_fps_throttles_a_fast_camera(server: MjpegServer) -> None:
    """At most ~fps frames per second come out of a 25 fps camera when fps=5."""
    stop = threading.Event()
    watchdog = threading.Timer(DEADLINE_S, stop.set)
    watchdog.start()
    src = open_source(server.url, fps=5, stop=stop)
    frames: list[Frame] = []
    for item in src.items():
        assert isinstance(item, Frame)
        frames.append(item)
        if len(frames) == 4:
            stop.set()
    watchdog.cancel()
    gaps = [b.ts_ms - a.ts_ms for a, b in zip(frames, frames[1:], strict=False)]
    assert min(gaps) >= 0.95 * 200 - 1  # frames in between were read and dropped


def test_source_strings_map_to_streams() -> None:
    assert isinstance(open_source("0"), OpenCVStreamSource)
    cam = open_source("rtsp://admin:hunter2@cam.local:554/stream1")
    assert isinstance(cam, OpenCVStreamSource)
    assert "hunter2" not in cam.description
    assert redact("rtsp://u:p@h/x") == "rtsp://***@h/x"
    assert redact("http://h/x") == "http://h/x"
    with pytest.raises(SourceError, match="/dev/video99"):
        open_source("/dev/video99")


def test_frozen_camera_times_out_to_feed_down_then_recovers(server: MjpegServer) -> None:
    """The camera keeps the connection open but sends nothing: the read times out."""
    stop = threading.Event()
    watchdog = threading.Timer(DEADLINE_S, stop.set)
    watchdog.start()
    src = OpenCVStreamSource(server.url, stop=stop, read_timeout_s=1.0, reconnect_max_s=1.0)
    log: list[str] = []
    try:
        for item in src.items():
            if isinstance(item, FeedStatus):
                log.append(item.kind)
                if item.kind == "feed.down":
                    server.frozen.clear()
                continue
            if not log:
                log.append("frame")
                server.frozen.set()
            elif log[-1] == "feed.up":
                log.append("frame")
                stop.set()
    finally:
        watchdog.cancel()
    assert log == ["frame", "feed.down", "feed.up", "frame"]


def test_stream_is_decoded_on_one_thread(server: MjpegServer) -> None:
    """A live feed's FFmpeg capture is opened with one decode thread (docs/tracks.md "Peak
    memory of one feed"), and it still delivers frames."""
    import cv2

    src = OpenCVStreamSource(server.url, open_timeout_s=5.0, read_timeout_s=5.0)
    cap = src._open()
    assert cap is not None, "the local MJPEG camera did not open"
    try:
        assert src.backend == "FFMPEG"
        assert int(cap.get(cv2.CAP_PROP_N_THREADS)) == 1
        ok, image = cap.read()
        assert ok and image is not None and image.ndim == 3
    finally:
        cap.release()
