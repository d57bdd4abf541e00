"""The Pi camera source against a fake picamera2 module with the same calls, injected via
sys.modules: frames flow, an unplugged camera gives feed.down then retries, and off a Pi
the error says how to install picamera2."""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from camaudit.errors import SourceError
from camaudit.sources import FeedStatus, Frame, open_source
from camaudit.sources.picamera import PiCameraSource


class FakeCameraGone(RuntimeError):
    pass


class FakeWorld:
    """State shared by every Picamera2() the source creates (it reopens after a failure)."""

    def __init__(self) -> None:
        self.unplug_after: int | None = None  # capture_array raises after this many frames
        self.fail_opens = 0  # while unplugged, this many Picamera2() calls raise
        self.unplugged = False
        self.captured = 0
        self.instances: list[FakePicamera2] = []
        self.configs: list[dict[str, Any]] = []


def make_module(world: FakeWorld) -> types.ModuleType:
    mod = types.ModuleType("picamera2")

    class Picamera2(FakePicamera2):
        def __init__(self) -> None:
            super().__init__(world)

    mod.Picamera2 = Picamera2  # type: ignore[attr-defined]
    return mod


class FakePicamera2:
    def __init__(self, world: FakeWorld) -> None:
        if world.unplugged:
            if world.fail_opens > 0:
                world.fail_opens -= 1
                raise FakeCameraGone("no cameras available")
            world.unplugged = False  # plugged back in
        self.world = world
        self.started = False
        self.closed = False
        self.size: tuple[int, int] = (0, 0)
        world.instances.append(self)

    def create_video_configuration(self, main: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        assert main["format"] == "RGB888"
        cfg = {"main": dict(main), **kwargs}
        self.world.configs.append(cfg)
        return cfg

    def configure(self, cfg: dict[str, Any]) -> None:
        self.size = tuple(cfg["main"]["size"])  # type: ignore[assignment]

    def start(self) -> None:
        self.started = True

    def capture_array(self, name: str = "main") -> np.ndarray:
        assert name == "main" and self.started and not self.closed
        w = self.world
        if w.unplug_after is not None and w.captured == w.unplug_after:
            w.unplug_after = None
            w.unplugged = True
        if w.unplugged:
            raise FakeCameraGone("camera unplugged")
        width, height = self.size
        w.captured += 1
        return np.full((height, width, 3), w.captured % 256, np.uint8)

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake_picamera2(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeWorld]:
    world = FakeWorld()
    monkeypatch.setitem(sys.modules, "picamera2", make_module(world))
    yield world


def take(src: PiCameraSource, n: int, stop: threading.Event) -> list[Frame | FeedStatus]:
    got: list[Frame | FeedStatus] = []
    for item in src.items():
        got.append(item)
        if sum(isinstance(i, Frame) for i in got) >= n:
            stop.set()
    return got


def test_frames_flow_with_the_configured_size(fake_picamera2: FakeWorld) -> None:
    stop = threading.Event()
    src = open_source("picamera2", fps=5, stop=stop, clock=lambda: 50.0)
    assert isinstance(src, PiCameraSource)
    got = take(src, 3, stop)
    assert all(isinstance(i, Frame) for i in got)
    assert [f.index for f in got] == [0, 1, 2]  # type: ignore[union-attr]
    assert got[0].image.shape == (480, 640, 3)  # type: ignore[union-attr]
    assert got[0].ts_ms == 50_000
    assert fake_picamera2.configs[0]["controls"] == {"FrameRate": 5.0}
    cam = fake_picamera2.instances[0]
    assert cam.closed and not cam.started  # stop closes the camera


def test_unplugged_camera_goes_down_and_comes_back(fake_picamera2: FakeWorld) -> None:
    fake_picamera2.unplug_after = 2  # two frames, then unplugged for two reopen attempts
    fake_picamera2.fail_opens = 2
    stop = threading.Event()
    src = PiCameraSource(size=(32, 24), stop=stop, reconnect_first_s=0.01, reconnect_max_s=0.02)
    got = take(src, 4, stop)
    kinds = [i.kind if isinstance(i, FeedStatus) else "frame" for i in got]
    assert kinds == ["frame", "frame", "feed.down", "feed.up", "frame", "frame"]
    assert "camera unplugged" in got[2].detail  # type: ignore[union-attr]
    assert src.reconnects == 3  # two failed reopen attempts, then one that works
    assert fake_picamera2.instances[0].closed  # the failed camera was released
    assert len(fake_picamera2.instances) == 2


def test_off_a_pi_the_error_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import picamera2 -> ImportError
    with pytest.raises(SourceError) as err:
        open_source("picamera2")
    msg = str(err.value)
    assert "sudo apt install python3-picamera2" in msg
    assert "--system-site-packages" in msg


@pytest.mark.parametrize("body, kind", [
    # what Raspberry Pi OS's simplejpeg raises under a pip numpy 2 (picamera2's tracker)
    ('raise ValueError("numpy.dtype size changed, may indicate binary incompatibility.\\n'
     'Expected 96 from C header, got 88 from PyObject")', "ValueError"),
    ("import simplejpeg_not_here", "ModuleNotFoundError"),
    ("import numpy\nnumpy.no_such_attribute_in_numpy", "AttributeError"),
    ('raise OSError("libcamera.so.0.1: cannot open shared object file")', "OSError"),
])
def test_any_import_failure_is_one_line_saying_what_to_install(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, body: str, kind: str
) -> None:
    pkg = tmp_path / "picamera2"  # a real package on sys.path whose import fails
    pkg.mkdir()
    (pkg / "__init__.py").write_text(body + "\n")
    monkeypatch.delitem(sys.modules, "picamera2", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(SourceError) as err:
        open_source("picamera2")
    msg = str(err.value)
    assert "\n" not in msg and len(msg) < 700
    assert "python3-picamera2" in msg and "python3-numpy" in msg and f"({kind}: " in msg
