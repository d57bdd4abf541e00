"""Face detection: the Detector protocol, the TFLite runtime adapter and the named models."""

from camaudit.detect.base import Detector
from camaudit.detect.registry import DEFAULT_MODEL, available, load_detector, model_path, register

__all__ = ["DEFAULT_MODEL", "Detector", "available", "load_detector", "model_path", "register"]
