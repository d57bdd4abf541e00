"""Video files and GIFs: every real clip plays, damaged frames are skipped and counted,
timestamps follow media time, fps subsamples, loop and pace work."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from camaudit.errors import SourceError
from camaudit.sources import FeedStatus, Frame, open_source
from camaudit.sources.file import VideoFileSource

CLIPS = [
    "NOFACE_intel_bottle-detection.mp4",
    "NOFACE_opencv_tree.avi",
    "face_recognition_short_hamilton_clip.mp4",
    "facenet-pytorch_video.mp4",
    "intel_face-demographics-walking.gif",
    "intel_head-pose-face-detection-female-and-male.gif",
]


class FakeClock:
    def __init__(self, t: float = 1_795_651_200.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def frames_of(src: object) -> list[Frame]:
    items = list(src.items())  # type: ignore[attr-defined]
    assert all(isinstance(i, Frame) for i in items), "a file never reports feed.down/up"
    return items  # type: ignore[return-value]


def declared_count(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    return n


def write_clip(path: Path, n: int, fps: float = 10.0, size: tuple[int, int] = (64, 48)) -> None:
    """A small MJPG AVI whose frame i shows brightness 10*i (to recognise frames)."""
    w, h = size
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert out.isOpened()
    for i in range(n):
        out.write(np.full((h, w, 3), 10 * i, np.uint8))
    out.release()


@pytest.mark.parametrize("name", CLIPS)
def test_every_real_clip_plays(shared_data: Path, name: str) -> None:
    path = shared_data / "videos" / name
    src = open_source(str(path))
    frames = frames_of(src)
    assert frames, name
    declared = declared_count(path)
    # every frame the file declares is either yielded or counted as skipped
    assert len(frames) + src.skipped_frames == declared
    first = frames[0].image
    assert first.dtype == np.uint8 and first.ndim == 3 and first.shape[2] == 3
    indexes = [f.index for f in frames]
    assert indexes == sorted(set(indexes))
    print(f"{name}: {len(frames)} decoded, {src.skipped_frames} skipped of {declared}")


def test_gif_frame_counts_match_the_data_readme(shared_data: Path) -> None:
    videos = shared_data / "videos"
    assert len(frames_of(open_source(str(videos / "intel_face-demographics-walking.gif")))) == 35
    assert (
        len(
            frames_of(
                open_source(str(videos / "intel_head-pose-face-detection-female-and-male.gif"))
            )
        )
        == 56
    )


@pytest.mark.parametrize(
    "name",
    ["intel_face-demographics-walking.gif", "intel_head-pose-face-detection-female-and-male.gif"],
)
def test_pillow_gif_reader_matches_opencv(shared_data: Path, name: str) -> None:
    path = shared_data / "videos" / name
    via_cv = frames_of(VideoFileSource(path, decoder="opencv"))
    pil_src = VideoFileSource(path, decoder="pillow")
    via_pil = frames_of(pil_src)
    assert pil_src.native_fps == pytest.approx(12.5)
    assert len(via_pil) == len(via_cv)
    for a, b in zip(via_cv, via_pil, strict=True):
        assert a.image.shape == b.image.shape
        assert np.abs(a.image.astype(int) - b.image).mean() < 1.0
        assert a.ts_ms - via_cv[0].ts_ms == pytest.approx(b.ts_ms - via_pil[0].ts_ms, abs=1)


def test_damaged_avi_is_read_past_the_first_failure_and_counted(
    shared_data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """NOFACE_opencv_tree.avi: only 68 of its 444 frames decode with OpenCV (data README)."""
    path = shared_data / "videos" / "NOFACE_opencv_tree.avi"
    src = open_source(str(path))
    with caplog.at_level("INFO"):
        frames = frames_of(src)
    assert len(frames) == 68
    assert src.skipped_frames == 444 - 68
    assert "376 of 444 frames could not be decoded" in caplog.text
    # no decoded frame is a repeat of an earlier one (a bad seek would replay frames)
    digests = {f.image.tobytes().__hash__() for f in frames}
    assert len(digests) == len(frames)


def test_timestamps_are_open_time_plus_media_time(shared_data: Path) -> None:
    clock = FakeClock()
    path = shared_data / "videos" / "intel_head-pose-face-detection-female-and-male.gif"
    frames = frames_of(open_source(str(path), clock=clock))  # 12.5 fps, 56 frames
    t0_ms = round(clock.t * 1000)
    assert [f.ts_ms - t0_ms for f in frames[:3]] == [0, 80, 160]
    assert frames[-1].ts_ms - t0_ms == 55 * 80
    assert [f.index for f in frames] == list(range(56))


def test_lower_fps_keeps_every_kth_frame(shared_data: Path) -> None:
    clock = FakeClock()
    path = shared_data / "videos" / "intel_head-pose-face-detection-female-and-male.gif"
    src = open_source(str(path), fps=2.5, clock=clock)  # 12.5 fps -> 1 frame in 5
    frames = frames_of(src)
    assert src.step == 5
    assert [f.index for f in frames] == list(range(0, 56, 5))
    t0_ms = round(clock.t * 1000)
    assert {b.ts_ms - a.ts_ms for a, b in zip(frames, frames[1:], strict=False)} == {400}
    assert frames[-1].ts_ms - t0_ms == 55 * 80
    assert src.skipped_frames == 0  # subsampled frames are not "undecodable"
    # a rate at or above the file's own changes nothing
    assert len(frames_of(open_source(str(path), fps=30))) == 56


def test_loop_restarts_with_increasing_time(tmp_path: Path) -> None:
    clip = tmp_path / "ten.avi"
    write_clip(clip, 10, fps=10)
    stop = threading.Event()
    src = open_source(str(clip), loop=True, stop=stop, clock=FakeClock())
    got: list[Frame] = []
    for item in src.items():
        assert isinstance(item, Frame)
        got.append(item)
        if len(got) == 25:
            stop.set()
    assert len(got) == 25
    assert [f.index for f in got] == list(range(25))
    assert all(b.ts_ms - a.ts_ms == 100 for a, b in zip(got, got[1:], strict=False))
    brightness = [int(f.image.mean() + 5) // 10 for f in got]
    assert brightness == [i % 10 for i in range(25)]


def test_pace_plays_no_faster_than_media_time(tmp_path: Path) -> None:
    clip = tmp_path / "five.avi"
    write_clip(clip, 5, fps=20)
    src = open_source(str(clip), pace=True)
    assert not src.lossless  # paced playback behaves like a camera
    start = time.monotonic()
    for item in src.items():
        assert isinstance(item, Frame)
        assert time.monotonic() - start >= item.index / 20 - 0.002


def test_pace_wait_is_interrupted_by_stop(tmp_path: Path) -> None:
    clip = tmp_path / "slow.avi"
    write_clip(clip, 3, fps=0.1)  # 10 s between frames
    stop = threading.Event()
    src = open_source(str(clip), pace=True, stop=stop)
    it = src.items()
    assert isinstance(next(it), Frame)
    threading.Timer(0.2, stop.set).start()
    assert list(it) == []  # ends at the stop, not after 10 s


def test_unpaced_file_is_lossless(tmp_path: Path) -> None:
    clip = tmp_path / "c.avi"
    write_clip(clip, 2)
    assert open_source(str(clip)).lossless


def test_missing_path_unknown_scheme_and_non_video_fail_clearly(tmp_path: Path) -> None:
    missing = tmp_path / "nope.mp4"
    with pytest.raises(SourceError, match="nope.mp4"):
        open_source(str(missing))
    with pytest.raises(SourceError, match="unknown source scheme 'gopher'"):
        open_source("gopher://example.org/cam")
    with pytest.raises(SourceError, match="unknown source scheme"):
        open_source("ftp://user:secret@example.org/x.mp4")
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n")
    with pytest.raises(SourceError, match="notes.txt"):
        open_source(str(text))
    with pytest.raises(SourceError, match="fps"):
        open_source(str(text), fps=0)


def test_file_url_opens_the_file(tmp_path: Path) -> None:
    clip = tmp_path / "u.avi"
    write_clip(clip, 3)
    assert len(frames_of(open_source(f"file://{clip}"))) == 3


def test_statuses_never_come_from_files(tmp_path: Path) -> None:
    clip = tmp_path / "s.avi"
    write_clip(clip, 3)
    assert not any(isinstance(i, FeedStatus) for i in open_source(str(clip)).items())


def _threads() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no Threads line in /proc/self/status")


def test_h264_file_is_decoded_on_one_thread_with_the_same_frames(shared_data: Path) -> None:
    """FFmpeg's default is one frame thread per CPU, each holding frames (13.6 MB more peak
    RSS at 1080p with 2 than with 1, docs/tracks.md): a feed's file decodes on the calling
    thread alone, and to the same pixels as OpenCV's threaded default."""
    from camaudit.sources.decoders import OpenCVDecoder

    path = shared_data / "videos" / "facenet-pytorch_video.mp4"  # H.264, 1920x1080
    before = _threads()
    dec = OpenCVDecoder(path)
    ref = cv2.VideoCapture(str(path))
    try:
        for i in range(12):
            image = dec.read()
            ok, expected = ref.read()
            assert ok and isinstance(image, np.ndarray), i
            assert np.array_equal(image, expected), f"frame {i} differs from the threaded decode"
        ref.release()
        assert _threads() == before  # decoding started no thread besides the caller's
        assert dec.threads == 1
    finally:
        dec.close()
        ref.release()
