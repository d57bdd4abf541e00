"""The TFLite runtime adapter: LiteRT (ai-edge-litert) first, tflite-runtime as a fallback.

The runtime is imported lazily so `import camaudit` works on machines without it. One
interpreter is built per model instance and reused for every frame.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from camaudit.detect.letterbox import Letterbox, letterbox, letterbox_into
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
    dtype = np.dtype(detail["dtype"])
    if dtype == np.float32:
        return x.astype(np.float32, copy=False)
    scale, zero = (float(v) for v in detail["quantization"])
    info = np.iinfo(dtype)
    q: np.ndarray = x.astype(np.float32)
    if scale != 0:
        q = np.round(q / np.float32(scale) + np.float32(zero))
    out: np.ndarray = np.clip(q, info.min, info.max).astype(dtype)
    return out


def _dequantize(q: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    if q.dtype == np.float32:
        return q
    scale, zero = (float(v) for v in detail["quantization"])
    out: np.ndarray = q.astype(np.float32)
    if scale != 0:
        out = (out - np.float32(zero)) * np.float32(scale)
    return out


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Silence what native code writes to fd 2 (not Python logging's own handlers' text
    if they are flushed outside this block). Used only around interpreter set-up."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


class TFLiteModel:
    """One loaded .tflite model with a single NHWC input; outputs returned by name, as float.

    A size-free model (input shape_signature [1, -1, -1, C], as models/build.py ships) runs
    at the size of each image it is given: one interpreter per input size, the most recent
    MAX_SIZES kept (a camera feed has one size, so one interpreter).

    A model whose input has 6 channels takes pixel pairs (models/pixel_pairs.py): an
    H x W x 3 image is handed over as H x W/2 x 6, the same bytes. `width`, `height` and
    `channels` are always those of the image.
    """

    MAX_SIZES = 4

    def __init__(self, path: Path, *, threads: int = 1) -> None:
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        if threads < 1:
            raise ModelError(f"threads must be >= 1, got {threads}")
        self.path = path
        self._threads = threads
        self._class = _interpreter_class()
        self._content = path.read_bytes()
        self._interp = self._build(None)
        inputs = self._interp.get_input_details()
        if len(inputs) != 1 or len(inputs[0]["shape"]) != 4:
            raise ModelError(f"{path}: expected one NHWC image input, got {len(inputs)} inputs")
        self._input = inputs[0]
        self._outputs = self._interp.get_output_details()
        self._names = self._signature_names()
        _, self.height, width, channels = (int(v) for v in self._input["shape"])
        self.pixel_pairs = channels == 6
        self.channels = 3 if self.pixel_pairs else channels
        self.width = 2 * width if self.pixel_pairs else width
        signature = [int(v) for v in self._input.get("shape_signature", self._input["shape"])]
        self.size_free = signature[1] == -1 and signature[2] == -1
        self._sized: OrderedDict[tuple[int, int], Any] = OrderedDict(
            {(self.height, self.width): self._interp}
        )
        self.input_dtype = np.dtype(self._input["dtype"])
        log.info(
            "loaded %s (%s, input %s, %d threads, %s)",
            path.name,
            "any size" if self.size_free else f"{self.width}x{self.height}",
            self.input_dtype,
            threads,
            self._class.__module__,
        )

    def _build(self, size: tuple[int, int] | None) -> Any:
        """A new interpreter, allocated at `size` (height, width) or at the file's size."""
        try:
            interp = self._class(model_content=self._content, num_threads=self._threads)
            with _native_stderr_silenced():  # LiteRT prints an INFO line for XNNPACK here
                if size is not None:
                    index = interp.get_input_details()[0]["index"]
                    h, w = size
                    shape = [1, h, w // 2, 6] if self.pixel_pairs else [1, h, w, self.channels]
                    interp.resize_tensor_input(index, shape)
                interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            where = "" if size is None else f" at {size[1]}x{size[0]}"
            raise ModelError(f"cannot load model {self.path}{where}: {exc}") from exc
        return interp

    def _use_size(self, height: int, width: int) -> None:
        key = (height, width)
        interp = self._sized.get(key)
        if interp is None:
            if not self.size_free:
                raise ModelError(
                    f"{self.path.name} takes {self.width}x{self.height} input, got {width}x{height}"
                )
            interp = self._build(key)
            self._sized[key] = interp
            if len(self._sized) > self.MAX_SIZES:
                self._sized.popitem(last=False)
            log.info("%s: input size %dx%d", self.path.name, width, height)
        else:
            self._sized.move_to_end(key)
        self._interp = interp
        self._outputs = interp.get_output_details()
        self.height, self.width = height, width

    def _signature_names(self) -> list[str]:
        """Output names from the model's signature (e.g. "cls_8"), else the tensor names."""
        by_index: dict[int, str] = {}
        try:
            signatures = self._interp._get_full_signature_list()
            if len(signatures) == 1:
                (sig,) = signatures.values()
                by_index = {int(i): str(n) for n, i in sig["outputs"].items()}
        except (AttributeError, KeyError, TypeError, ValueError):
            by_index = {}
        return [by_index.get(int(d["index"]), str(d["name"])) for d in self._outputs]

    @property
    def output_names(self) -> list[str]:
        """One name per output of run(), in the same order."""
        return list(self._names)

    def output_shapes(self) -> list[tuple[int, ...]]:
        return [tuple(int(v) for v in d["shape"]) for d in self._outputs]

    def run_letterboxed(
        self, frame: np.ndarray, width: int, height: int, only: list[int] | None = None
    ) -> tuple[list[np.ndarray], Letterbox]:
        """Letterbox a uint8 H x W x 3 frame to width x height straight into the model's
        input tensor and run; outputs as in run(), and the mapping back to the frame.

        The int8 input (scale 1, zero point -128) is filled in place: letterbox, then
        `v ^ 0x80`. No canvas, no quantized copy, no set_tensor copy per frame, which
        matters for cache and memory bandwidth on a small board.
        """
        if not (frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
                and self._input["dtype"] == np.int8 and self._input["quantization"] == (1.0, -128)):
            canvas, box = letterbox(frame, width, height)
            return self.run(canvas, only), box
        if self.pixel_pairs and width % 2:
            raise ModelError(f"{self.path.name} takes pixel pairs: needs an even width, got {width}")
        if (height, width) != (self.height, self.width):
            self._use_size(height, width)
        tensor = self._interp.tensor(self._input["index"])()  # a view of the input buffer
        canvas = tensor.view(np.uint8).reshape(height, width, 3)
        box = letterbox_into(frame, canvas)
        np.bitwise_xor(canvas, np.uint8(0x80), out=canvas)
        del tensor, canvas  # LiteRT refuses to invoke while views of its buffers are alive
        self._interp.invoke()
        return self._read_outputs(only), box

    def run(self, image: np.ndarray, only: list[int] | None = None) -> list[np.ndarray]:
        """Run on one H x W x C image (uint8 pixels or float values); outputs as float32.

        A size-free model runs at the image's size; a fixed one needs its own size.
        `only`: positions (in output_names) of the outputs wanted; default all.
        """
        h, w = image.shape[:2]
        if self.pixel_pairs and (w % 2 or image.shape[2] != 3):
            raise ModelError(f"{self.path.name} takes pixel pairs: needs an even width and 3 "
                             f"channels, got {w}x{h}x{image.shape[2]}")
        if (h, w) != (self.height, self.width):
            self._use_size(h, w)
        if image.dtype == np.uint8 and self._input["dtype"] == np.int8 and self._input[
            "quantization"
        ] == (1.0, -128):
            x = np.bitwise_xor(image, np.uint8(0x80)).view(np.int8)[np.newaxis]  # v - 128
        else:
            x = _quantize(image[np.newaxis], self._input)
        if self.pixel_pairs:
            x = x.reshape(1, h, w // 2, 6)
        self._interp.set_tensor(self._input["index"], x)
        self._interp.invoke()
        return self._read_outputs(only)

    def _read_outputs(self, only: list[int] | None) -> list[np.ndarray]:
        """The outputs of the last invoke (positions `only`, default all), as float32."""
        wanted = self._outputs if only is None else [self._outputs[i] for i in only]
        return [_dequantize(self._interp.get_tensor(d["index"]), d) for d in wanted]
