"""YuNet run by the TFLite runtime: letterbox, invoke, decode, NMS, map back to frame pixels."""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path

import numpy as np

from camaudit.core.types import Detection
from camaudit.detect import yunet
from camaudit.detect.nms import nms
from camaudit.detect.runtime import TFLiteModel
from camaudit.errors import ModelError

log = logging.getLogger(__name__)

NMS_IOU = 0.3
TOP_K = 5000


def _head_names(model: TFLiteModel) -> list[str]:
    """Map each output tensor to its YuNet head name (cls_8, obj_16, bbox_32, kps_8, ...).

    onnx2tf keeps the ONNX output names in the signature of a float model; its full-int8
    models name them output_<i>, i being the position in the ONNX graph's output list.
    """
    names: list[str] = []
    for raw in model.output_names:
        base = raw.split(":")[0]
        if base in yunet.ONNX_OUTPUTS:
            names.append(base)
            continue
        m = re.fullmatch(r"output_(\d+)", base)
        if m is None or int(m.group(1)) >= len(yunet.ONNX_OUTPUTS):
            raise ModelError(f"{model.path}: output {raw!r} is not a YuNet head")
        names.append(yunet.ONNX_OUTPUTS[int(m.group(1))])
    missing = {f"{k}_{s}" for k in ("cls", "obj", "bbox") for s in yunet.STRIDES} - set(names)
    if missing:
        raise ModelError(f"{model.path}: missing YuNet outputs {sorted(missing)}")
    return names


def canvas_size(frame_w: int, frame_h: int, long_side: int) -> tuple[int, int]:
    """The model input for a frame: its long side scaled to `long_side`, each side rounded
    up to a multiple of 32 (the padding goes right and bottom), aspect kept.

    As OpenCV's FaceDetectorYN pads its input; a 16:9 feed at 640 runs at 640x384, a
    portrait 3:4 one at 480x640.
    """
    if frame_w < 1 or frame_h < 1 or long_side < 32:
        raise ValueError(f"bad frame {frame_w}x{frame_h} or long side {long_side}")
    scale = long_side / max(frame_w, frame_h)
    return (
        max(32, math.ceil(frame_w * scale / 32 - 1e-9) * 32),
        max(32, math.ceil(frame_h * scale / 32 - 1e-9) * 32),
    )


class YuNetTFLite:
    """The Detector for YuNet .tflite models.

    A size-free model (what models/ ships) sees each frame at `long_side` px on its long
    side, letterboxed to multiples of 32, so portrait and wide frames are neither squashed
    nor padded more than 31 px. A fixed-size model letterboxes every frame into its input.
    """

    def __init__(
        self,
        name: str,
        path: Path,
        *,
        long_side: int = 640,
        threads: int = 1,
        min_score: float = 0.6,
        nms_iou: float = NMS_IOU,
    ) -> None:
        if not 0.0 < min_score <= 1.0:
            raise ModelError(f"min_score must be in (0, 1], got {min_score}")
        if long_side < 32 or long_side % 32:
            raise ModelError(f"long_side must be a multiple of 32, got {long_side}")
        self.name = name
        self.min_score = min_score
        self.nms_iou = nms_iou
        self.long_side = long_side
        self._model = TFLiteModel(path, threads=threads)
        self._heads = _head_names(self._model)
        # the landmark heads are read only if the model has all three (pose: core.identify)
        kps = [i for i, h in enumerate(self._heads) if h.startswith("kps_")]
        self._used = [i for i, h in enumerate(self._heads) if not h.startswith("kps_")]
        if len(kps) == len(yunet.STRIDES):
            self._used += kps

    def _canvas_for(self, frame_w: int, frame_h: int) -> tuple[int, int]:
        if self._model.size_free:
            return canvas_size(frame_w, frame_h, self.long_side)
        return self._model.width, self._model.height

    def detect(self, frame: np.ndarray) -> list[Detection]:
        if frame.ndim == 2:
            frame = np.repeat(frame[:, :, np.newaxis], 3, axis=2)
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"expected a BGR H x W x 3 frame, got shape {frame.shape}")
        width, height = self._canvas_for(frame.shape[1], frame.shape[0])
        heads, used = self._heads, self._used
        outputs, box = self._model.run_letterboxed(frame, width, height, only=used)
        boxes, scores, kps = yunet.decode_with_landmarks(
            {heads[i]: o for i, o in zip(used, outputs, strict=True)}, width, height, self.min_score
        )
        if len(scores) > TOP_K:
            top = np.argsort(-scores)[:TOP_K]
            boxes, scores = boxes[top], scores[top]
            kps = None if kps is None else kps[top]
        keep = nms(boxes, scores, self.nms_iou)
        return box.detections(boxes[keep], scores[keep], None if kps is None else kps[keep])
