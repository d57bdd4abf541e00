"""FeedReader: one thread per feed, a queue of 2 that drops the oldest frame for live feeds,
never drops a FeedStatus, keeps every frame for unpaced files, survives a failing source
and stops cleanly."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from camaudit.sources import FeedStatus, Frame, open_source
from camaudit.sources.reader import FeedReader

IMG = np.zeros((4, 4, 3), np.uint8)


class ScriptedSource:
    """A feed that yields a fixed script of items, then optionally blocks until released.
    (Stands for a camera whose timing the test controls; a FrameSource like any other.)"""

    description = "scripted"

    def __init__(
        self,
        script: list[Frame | FeedStatus | Exception],
        *,
        hold: threading.Event | None = None,
        lossless: bool = False,
    ) -> None:
        self.script = script
        self.hold = hold
        self.lossless = lossless
        self.skipped_frames = 0
        self.closed = False

    def items(self) -> Iterator[Frame | FeedStatus]:
        for item in self.script:
            if isinstance(item, Exception):
                raise item
            yield item
        if self.hold is not None:
            self.hold.wait(30)

    def close(self) -> None:
        self.closed = True


def frame(i: int) -> Frame:
    return Frame(image=IMG, ts_ms=1000 + i, index=i)


def drain(reader: FeedReader, timeout: float = 30.0) -> list[Frame | FeedStatus]:
    out: list[Frame | FeedStatus] = []
    deadline = time.monotonic() + timeout
    while not reader.finished and time.monotonic() < deadline:
        item = reader.get(timeout=0.5)
        if item is not None:
            out.append(item)
    assert reader.finished, "reader did not finish in time"
    return out


def wait_until(cond: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.01)
    assert cond(), "condition not reached in time"  # type: ignore[operator]


def test_live_feed_drops_the_oldest_frames_but_never_a_status() -> None:
    hold = threading.Event()
    status = FeedStatus("feed.down", 1010, "read failed")
    script: list[Frame | FeedStatus | Exception] = [frame(i) for i in range(10)]
    script += [status] + [frame(i) for i in range(10, 15)]
    src = ScriptedSource(script, hold=hold)
    reader = FeedReader(src, name="cam").start()
    try:
        wait_until(lambda: reader.frames_read == 15)  # nobody consumed: the queue overflowed
        assert reader.get(timeout=1) == status
        assert reader.get(timeout=1) == frame(13)
        assert reader.get(timeout=1) == frame(14)
        assert reader.get(timeout=0.05) is None and not reader.finished  # live, just quiet
        assert reader.dropped_frames == 13
    finally:
        hold.set()
        reader.stop()
    assert reader.finished and not reader.alive
    assert src.closed


def test_lossless_reader_blocks_instead_of_dropping() -> None:
    src = ScriptedSource([frame(i) for i in range(50)], lossless=True)
    reader = FeedReader(src, name="file")
    assert reader.lossless  # taken from the source
    reader.start()
    wait_until(lambda: reader.frames_read == 3)
    time.sleep(0.2)
    assert reader.frames_read == 3  # 2 queued, 1 waiting: the reader waits for room
    got = drain(reader)
    assert [f.index for f in got if isinstance(f, Frame)] == list(range(50))
    assert reader.dropped_frames == 0


def test_failing_source_becomes_feed_down_not_a_crash(caplog: pytest.LogCaptureFixture) -> None:
    src = ScriptedSource([frame(0), RuntimeError("sensor on fire")], lossless=True)
    with caplog.at_level("ERROR"):
        reader = FeedReader(src, name="cam", clock=lambda: 77.0).start()
        got = drain(reader)
    assert got[0] == frame(0)
    down = got[1]
    assert isinstance(down, FeedStatus) and down.kind == "feed.down"
    assert down.ts_ms == 77_000 and "sensor on fire" in down.detail
    assert len(got) == 2
    assert reader.error == "RuntimeError: sensor on fire"
    assert "source failed" in caplog.text
    assert reader.get(timeout=0.01) is None
    assert src.closed


def test_stop_ends_a_feed_waiting_to_reconnect() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    stop = threading.Event()
    src = open_source(f"http://127.0.0.1:{port}/x", stop=stop, reconnect_max_s=30)
    reader = FeedReader(src, name="cam", stop=stop).start()
    item = reader.get(timeout=30)
    assert isinstance(item, FeedStatus) and item.kind == "feed.down"
    reader.stop(timeout=10)  # the backoff wait is interrupted
    assert not reader.alive
    assert reader.finished


def test_unpaced_real_file_gives_every_frame(shared_data: Path) -> None:
    src = open_source(str(shared_data / "videos" / "intel_face-demographics-walking.gif"))
    with FeedReader(src, name="gif") as reader:
        got = drain(reader)
    assert len(got) == 35
    assert [f.index for f in got if isinstance(f, Frame)] == list(range(35))
    assert reader.dropped_frames == 0
    assert reader.frames_read == 35


def test_paced_real_file_is_read_like_a_camera(shared_data: Path) -> None:
    stop = threading.Event()
    src = open_source(
        str(shared_data / "videos" / "intel_face-demographics-walking.gif"), pace=True, stop=stop
    )
    reader = FeedReader(src, name="gif", stop=stop)
    assert not reader.lossless
    with reader:
        first = reader.get(timeout=30)
    assert isinstance(first, Frame) and first.index == 0
    assert not reader.alive
