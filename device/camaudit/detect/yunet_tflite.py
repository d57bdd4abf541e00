"""YuNet run by the TFLite runtime: letterbox, invoke, decode, NMS, map back to frame pixels."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from camaudit.core.types import Detection
from camaudit.detect import yunet
from camaudit.detect.letterbox import letterbox
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


class YuNetTFLite:
    """The Detector for YuNet .tflite models.

    `landscape` is a W x H model with W >= H; `portrait`, if given, its H x W twin, used for
    frames taller than wide so they are letterboxed, never squashed nor shrunk needlessly.
    """

    def __init__(
        self,
        name: str,
        landscape: Path,
        portrait: Path | None = None,
        *,
        threads: int = 1,
        min_score: float = 0.6,
        nms_iou: float = NMS_IOU,
    ) -> None:
        if not 0.0 < min_score <= 1.0:
            raise ModelError(f"min_score must be in (0, 1], got {min_score}")
        self.name = name
        self.min_score = min_score
        self.nms_iou = nms_iou
        self._threads = threads
        self._landscape = TFLiteModel(landscape, threads=threads)
        self._heads = _head_names(self._landscape)
        self._portrait_path = portrait
        self._portrait: TFLiteModel | None = None
        self._portrait_heads: list[str] = []

    @property
    def input_size(self) -> tuple[int, int]:
        """(width, height) of the landscape model input."""
        return self._landscape.width, self._landscape.height

    def _model_for(self, frame_w: int, frame_h: int) -> tuple[TFLiteModel, list[str]]:
        if frame_h > frame_w and self._portrait_path is not None:
            if self._portrait is None:
                self._portrait = TFLiteModel(self._portrait_path, threads=self._threads)
                self._portrait_heads = _head_names(self._portrait)
            return self._portrait, self._portrait_heads
        return self._landscape, self._heads

    def detect(self, frame: np.ndarray) -> list[Detection]:
        if frame.ndim == 2:
            frame = np.repeat(frame[:, :, np.newaxis], 3, axis=2)
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"expected a BGR H x W x 3 frame, got shape {frame.shape}")
        model, heads = self._model_for(frame.shape[1], frame.shape[0])
        canvas, box = letterbox(frame, model.width, model.height)
        used = [i for i, h in enumerate(heads) if not h.startswith("kps_")]  # no landmarks
        outputs = model.run(canvas, only=used)
        boxes, scores = yunet.decode(
            {heads[i]: o for i, o in zip(used, outputs, strict=True)},
            model.width,
            model.height,
            self.min_score,
        )
        if len(scores) > TOP_K:
            top = np.argsort(-scores)[:TOP_K]
            boxes, scores = boxes[top], scores[top]
        keep = nms(boxes, scores, self.nms_iou)
        mapped = box.to_frame(boxes[keep])
        return [
            Detection(float(x), float(y), float(w), float(h), float(s))
            for (x, y, w, h), s in zip(mapped, scores[keep], strict=True)
            if w > 0 and h > 0
        ]
