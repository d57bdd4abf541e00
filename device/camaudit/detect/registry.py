"""Named detectors and where their model files are found.

A new model plugs in with `register(name, factory)`; callers only ever call
`load_detector(name, threads=..., min_score=...)` and use the Detector protocol.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from camaudit.detect.base import Detector
from camaudit.errors import ModelError

DEFAULT_MODEL = "yunet-int8-640"
SYSTEM_MODELS_DIR = Path("/usr/share/camaudit/models")
REPO_MODELS_DIR = Path(__file__).resolve().parents[3] / "models"

Factory = Callable[[int, float], Detector]
_FACTORIES: dict[str, Factory] = {}


def model_dirs() -> list[Path]:
    """Where model files are looked for, in order."""
    dirs: list[Path] = []
    env = os.environ.get("CAMAUDIT_MODELS_DIR")
    if env:
        dirs.append(Path(env))
    dirs += [REPO_MODELS_DIR, SYSTEM_MODELS_DIR]
    return dirs


def model_path(filename: str) -> Path:
    """The first existing `filename` in model_dirs(); ModelError naming every path tried."""
    tried = [d / filename for d in model_dirs()]
    for p in tried:
        if p.is_file():
            return p
    raise ModelError(f"model file {filename} not found; tried: {', '.join(map(str, tried))}")


def register(name: str, factory: Factory) -> None:
    """Make `load_detector(name)` build `factory(threads, min_score)`."""
    _FACTORIES[name] = factory


def available() -> list[str]:
    return sorted(_FACTORIES)


def load_detector(
    model: str = DEFAULT_MODEL, *, threads: int = 1, min_score: float = 0.6
) -> Detector:
    """Build the named detector (its interpreter once); ModelError if it cannot run here."""
    try:
        factory = _FACTORIES[model]
    except KeyError:
        raise ModelError(f"unknown detector model {model!r}; known: {', '.join(available())}") from None
    return factory(threads, min_score)


def _yunet(name: str, filename: str, long_side: int) -> Factory:
    def build(threads: int, min_score: float) -> Detector:
        from camaudit.detect.yunet_tflite import YuNetTFLite

        return YuNetTFLite(
            name, model_path(filename), long_side=long_side, threads=threads, min_score=min_score
        )

    return build


# One size-free graph per precision; the names say the long side each frame is seen at.
YUNET_INT8 = "yunet_int8.tflite"
YUNET_FP32 = "yunet_fp32.tflite"
register("yunet-int8-640", _yunet("yunet-int8-640", YUNET_INT8, 640))
register("yunet-int8-320", _yunet("yunet-int8-320", YUNET_INT8, 320))
register("yunet-fp32-640", _yunet("yunet-fp32-640", YUNET_FP32, 640))
register("yunet-int8-1024", _yunet("yunet-int8-1024", YUNET_INT8, 1024))


def _centerface(threads: int, min_score: float) -> Detector:
    from camaudit.detect.centerface import CenterFaceTFLite

    return CenterFaceTFLite(
        "centerface-int8",
        model_path("centerface_int8_640x480.tflite"),
        model_path("centerface_int8_480x640.tflite"),
        threads=threads,
        min_score=min_score,
    )


register("centerface-int8", _centerface)


def _accurate(threads: int, min_score: float) -> Detector:
    """Two scales: the frame seen at 640 and at 1024 px on its long side, merged by NMS."""
    from camaudit.detect.multiscale import MultiScale

    parts = [_FACTORIES[n](threads, min_score) for n in ("yunet-int8-640", "yunet-int8-1024")]
    return MultiScale("accurate", parts)


register("accurate", _accurate)
