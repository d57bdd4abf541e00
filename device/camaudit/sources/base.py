"""The feed interface: frames (and feed state changes) in time order."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One decoded BGR uint8 frame; ts_ms is UTC milliseconds of its capture."""

    image: np.ndarray
    ts_ms: int
    index: int


@dataclass(frozen=True)
class FeedStatus:
    """A feed went down or came back up ("feed.down" / "feed.up")."""

    kind: str  # "feed.down" | "feed.up"
    ts_ms: int
    detail: str


class FrameSource(Protocol):
    """A feed. `items()` yields Frames and FeedStatus changes until the feed ends or stop."""

    description: str
    skipped_frames: int  # frames that could not be decoded, skipped and counted

    def items(self) -> Iterator[Frame | FeedStatus]: ...

    def close(self) -> None: ...
