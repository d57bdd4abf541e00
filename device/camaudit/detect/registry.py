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


def _yunet(name: str, landscape: str, portrait: str) -> Factory:
    def build(threads: int, min_score: float) -> Detector:
        from camaudit.detect.yunet_tflite import YuNetTFLite

        return YuNetTFLite(
            name,
            model_path(landscape),
            model_path(portrait),
            threads=threads,
            min_score=min_score,
        )

    return build


register(
    "yunet-int8-640",
    _yunet("yunet-int8-640", "yunet_int8_640x480.tflite", "yunet_int8_480x640.tflite"),
)
register(
    "yunet-int8-320",
    _yunet("yunet-int8-320", "yunet_int8_320x256.tflite", "yunet_int8_256x320.tflite"),
)
register(
    "yunet-fp32-640",
    _yunet("yunet-fp32-640", "yunet_fp32_640x480.tflite", "yunet_fp32_480x640.tflite"),
)
register(
    "yunet-int8-1024",
    _yunet("yunet-int8-1024", "yunet_int8_1024x768.tflite", "yunet_int8_768x1024.tflite"),
)


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
    """Two scales: the frame letterboxed to 640 and to 1024 px, merged by NMS."""
    from camaudit.detect.multiscale import MultiScale

    parts = [_FACTORIES[n](threads, min_score) for n in ("yunet-int8-640", "yunet-int8-1024")]
    return MultiScale("accurate", parts)


register("accurate", _accurate)
