"""The shipped .tflite files: what MODEL.md says they are, full int8, and findable."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from camaudit.detect import load_detector, model_path
from camaudit.detect.registry import REPO_MODELS_DIR, available
from camaudit.errors import ModelError

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"
SHIPPED = sorted(MODELS.glob("*.tflite"))
INT8 = [p for p in SHIPPED if "int8" in p.name]


def _listed() -> dict[str, str]:
    text = (MODELS / "MODEL.md").read_text()
    return dict(re.findall(r"^\| (\S+\.tflite) \| \d+ \| `([0-9a-f]{64})` \|$", text, re.M))


def test_every_shipped_file_has_the_sha256_model_md_states() -> None:
    listed = _listed()
    assert SHIPPED, "no .tflite shipped in models/"
    assert sorted(listed) == [p.name for p in SHIPPED]
    for p in SHIPPED:
        assert hashlib.sha256(p.read_bytes()).hexdigest() == listed[p.name], p.name


def test_registry_models_are_all_shipped() -> None:
    for name in ("yunet-int8-640", "yunet-int8-320", "yunet-fp32-640", "accurate"):
        assert name in available()
    assert (MODELS / "yunet_int8.tflite").is_file()
    assert (MODELS / "yunet_fp32.tflite").is_file()
    assert REPO_MODELS_DIR == MODELS


@pytest.mark.parametrize("name", ["yunet_int8.tflite", "yunet_fp32.tflite"])
def test_shipped_yunet_runs_at_any_multiple_of_32_without_landmarks(name: str) -> None:
    """Size-free: one graph serves 320, 640 and 1024 and every aspect; the landmark heads
    are gone (camaudit never computes facial landmarks)."""
    from camaudit.detect.runtime import TFLiteModel

    model = TFLiteModel(MODELS / name)
    assert model.size_free
    assert not [n for n in model.output_names if n.startswith("kps") or n in {"output_9", "output_10", "output_11"}]
    assert len(model.output_names) == 9  # cls, obj, bbox at strides 8, 16, 32
    for w, h in ((640, 480), (640, 384), (480, 640), (320, 256), (1024, 576)):
        outputs = model.run(np.zeros((h, w, 3), np.uint8))
        cells = sum((w // s) * (h // s) for s in (8, 16, 32))
        assert sum(o.shape[1] for o in outputs) == 3 * cells, (w, h)
    assert len(model._sized) <= model.MAX_SIZES


def test_int8_yunet_takes_pixel_pairs_and_refuses_odd_widths() -> None:
    """The int8 graph reads an H x W x 3 image as H x W/2 x 6 (models/pixel_pairs.py); the
    adapter hides that, and an image it cannot pair is a clear error, not a crash."""
    from camaudit.detect.runtime import TFLiteModel

    model = TFLiteModel(MODELS / "yunet_int8.tflite")
    assert model.pixel_pairs and model.channels == 3 and model.width % 2 == 0
    assert not TFLiteModel(MODELS / "yunet_fp32.tflite").pixel_pairs
    with pytest.raises(ModelError, match="even width"):
        model.run(np.zeros((64, 63, 3), np.uint8))


def test_pixel_pairs_keep_left_and_right_apart() -> None:
    """A pairing that mixed up the two pixels of a pair, or a pair with its neighbour, would
    make the int8 model see a slightly different image. On a real frame its heads must
    track the fp32 model's more closely than they do when the int8 model is fed that frame
    with each pair's pixels swapped, or shifted by one pixel."""
    import cv2

    from camaudit.detect.runtime import TFLiteModel
    from camaudit.detect.yunet_tflite import _head_names

    int8, fp32 = TFLiteModel(MODELS / "yunet_int8.tflite"), TFLiteModel(MODELS / "yunet_fp32.tflite")
    gif = ROOT / "device" / "camaudit" / "data" / "demo_headpose.gif"
    cap = cv2.VideoCapture(str(gif))
    ok, frame = cap.read()
    cap.release()
    assert ok, gif
    frame = cv2.resize(frame, (320, 192))
    swapped = frame.reshape(192, 160, 2, 3)[:, :, ::-1].reshape(192, 320, 3).copy()
    shifted = np.roll(frame, 1, axis=1)
    ref = dict(zip(_head_names(fp32), fp32.run(frame), strict=True))

    def gap(image: np.ndarray) -> float:
        got = dict(zip(_head_names(int8), int8.run(image), strict=True))
        return float(np.mean([np.abs(got[k] - ref[k]).mean() for k in ref]))

    assert gap(frame) < 0.02
    assert gap(frame) < 0.9 * min(gap(swapped), gap(shifted))


@pytest.mark.parametrize("path", INT8, ids=[p.name for p in INT8])
def test_int8_models_are_full_int8(path: Path) -> None:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    assert [np.dtype(d["dtype"]) for d in it.get_input_details()] == [np.dtype(np.int8)]
    assert {np.dtype(d["dtype"]) for d in it.get_output_details()} == {np.dtype(np.int8)}
    tensors = it.get_tensor_details()
    dtypes = {np.dtype(d["dtype"]).name for d in tensors}
    assert dtypes <= {"int8", "int32"}, dtypes  # int32: biases and shapes only
    filters = [d for d in tensors if len(d["shape"]) == 4 and d["quantization_parameters"]["scales"].size > 1]
    assert filters, "no per-channel quantized conv filters found"
    assert all(np.dtype(d["dtype"]) == np.int8 for d in filters)


def test_model_path_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = "yunet_int8.tflite"
    monkeypatch.delenv("CAMAUDIT_MODELS_DIR", raising=False)
    assert model_path(name) == MODELS / name
    (tmp_path / name).write_bytes((MODELS / name).read_bytes())
    monkeypatch.setenv("CAMAUDIT_MODELS_DIR", str(tmp_path))
    assert model_path(name) == tmp_path / name
    with pytest.raises(ModelError) as err:
        model_path("no_such_model.tflite")
    msg = str(err.value)
    assert str(tmp_path / "no_such_model.tflite") in msg
    assert "/usr/share/camaudit/models/no_such_model.tflite" in msg


def test_corrupt_model_is_a_model_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = (MODELS / "yunet_int8.tflite").read_bytes()
    (tmp_path / "yunet_int8.tflite").write_bytes(data[: len(data) // 3])
    monkeypatch.setenv("CAMAUDIT_MODELS_DIR", str(tmp_path))
    with pytest.raises(ModelError, match="yunet_int8"):
        load_detector("yunet-int8-640")


def test_unknown_model_and_bad_threads_are_model_errors() -> None:
    with pytest.raises(ModelError, match="unknown detector model"):
        load_detector("yolo-9000")
    with pytest.raises(ModelError, match="threads"):
        load_detector("yunet-int8-640", threads=0)


def test_no_runtime_installed_is_a_model_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    # a machine with neither LiteRT nor tflite-runtime: imports fail
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    monkeypatch.setitem(sys.modules, "tflite_runtime", None)
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", None)
    with pytest.raises(ModelError, match="no TFLite runtime"):
        load_detector("yunet-int8-640")


def test_landmark_model_has_the_sha256_model_md_states() -> None:
    """The ONNX the pose criterion reads landmarks with is the upstream file MODEL.md names."""
    text = (MODELS / "MODEL.md").read_text()
    rows = re.findall(r"^\| (\S+\.onnx) \| (\d+) \| `([0-9a-f]{64})` \|$", text, re.M)
    shipped = sorted(p.name for p in MODELS.glob("*.onnx"))
    assert sorted(r[0] for r in rows) == shipped == ["yunet_landmarks_int8bq.onnx"]
    for name, size, sha in rows:
        data = (MODELS / name).read_bytes()
        assert len(data) == int(size) and hashlib.sha256(data).hexdigest() == sha, name


def _head_pose_frame(shared_data: Path, cv2: Any) -> np.ndarray:
    """The first frame of the shared head-pose clip: two people facing the camera."""
    cap = cv2.VideoCapture(str(shared_data / "videos" / "intel_head-pose-face-detection-female-and-male.gif"))
    ok, frame = cap.read()
    cap.release()
    assert ok
    return frame


def test_landmark_model_finds_five_landmarks_on_a_real_face(shared_data: Path) -> None:
    import cv2

    from camaudit.detect.landmarks import Landmarker

    frame = _head_pose_frame(shared_data, cv2)
    dets = [d for d in load_detector("yunet-int8-640").detect(frame) if d.h >= 32]
    assert len(dets) == 2  # two people facing the camera
    looked = Landmarker().add(frame, dets, 16)
    for d in looked:
        assert d.landmarks is not None and len(d.landmarks) == 10
        xs, ys = d.landmarks[0::2], d.landmarks[1::2]
        assert all(d.x <= x <= d.x + d.w for x in xs) and all(d.y <= y <= d.y + d.h for y in ys)
        assert xs[0] < xs[1]  # the two eyes side by side, left of the image first


def test_landmarks_are_not_read_again_for_a_settled_face(shared_data: Path) -> None:
    """A box on an already identifiable track's place (IoU >= 0.5) is not looked at again;
    the other face still is."""
    import cv2

    from camaudit.detect.landmarks import Landmarker

    frame = _head_pose_frame(shared_data, cv2)
    a, b = sorted((d for d in load_detector("yunet-int8-640").detect(frame) if d.h >= 32), key=lambda d: d.x)
    lm = Landmarker()
    out = lm.add(frame, [a, b], 16, settled=[a])
    assert lm.looked == 1
    assert out[0].landmarks is None and out[1].landmarks is not None
