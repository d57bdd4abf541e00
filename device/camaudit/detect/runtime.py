"""The TFLite runtime adapter: LiteRT (ai-edge-litert) first, tflite-runtime as a fallback.

The runtime is imported lazily so `import camaudit` works on machines without it. One
interpreter is built per model instance and reused for every frame.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from camaudit.errors import ModelError

log = logging.getLogger(__name__)


def _interpreter_class() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter

        return Interpreter
    except ImportError:
        raise ModelError(
            "no TFLite runtime installed: pip install ai-edge-litert "
            "(or tflite-runtime where LiteRT has no wheel)"
        ) from None


def _quantize(x: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    dtype = detail["dtype"]
    if dtype == np.float32:
        return x.astype(np.float32, copy=False)
    scale, zero = detail["quantization"]
    info = np.iinfo(dtype)
    if scale == 0:
        return np.clip(x, info.min, info.max).astype(dtype)
    q = np.round(x.astype(np.float32) / scale + zero)
    return np.clip(q, info.min, info.max).astype(dtype)


def _dequantize(q: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    if q.dtype == np.float32:
        return q
    scale, zero = detail["quantization"]
    if scale == 0:
        return q.astype(np.float32)
    return (q.astype(np.float32) - zero) * np.float32(scale)


class TFLiteModel:
    """One loaded .tflite model with a single NHWC input; outputs returned by name, as float."""

    def __init__(self, path: Path, *, threads: int = 1) -> None:
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        if threads < 1:
            raise ModelError(f"threads must be >= 1, got {threads}")
        interpreter_class = _interpreter_class()
        try:
            self._interp = interpreter_class(model_path=str(path), num_threads=threads)
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"cannot load model {path}: {exc}") from exc
        inputs = self._interp.get_input_details()
        if len(inputs) != 1 or len(inputs[0]["shape"]) != 4:
            raise ModelError(f"{path}: expected one NHWC image input, got {len(inputs)} inputs")
        self._input = inputs[0]
        self._outputs = self._interp.get_output_details()
        self.path = path
        _, self.height, self.width, self.channels = (int(v) for v in self._input["shape"])
        self.input_dtype = np.dtype(self._input["dtype"])
        log.info(
            "loaded %s (%dx%d, input %s, %d threads, %s)",
            path.name,
            self.width,
            self.height,
            self.input_dtype,
            threads,
            interpreter_class.__module__,
        )

    @property
    def output_names(self) -> list[str]:
        return [str(d["name"]) for d in self._outputs]

    def output_shapes(self) -> list[tuple[int, ...]]:
        return [tuple(int(v) for v in d["shape"]) for d in self._outputs]

    def run(self, image: np.ndarray) -> list[np.ndarray]:
        """Run on one H x W x C float-valued image (model input scale); outputs as float32."""
        x = _quantize(image[np.newaxis], self._input)
        self._interp.set_tensor(self._input["index"], x)
        self._interp.invoke()
        return [_dequantize(self._interp.get_tensor(d["index"]), d) for d in self._outputs]
