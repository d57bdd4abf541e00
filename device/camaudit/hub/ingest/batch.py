"""What one batch of messages produced, collected while it is handled and acted on after.

A message is (topic, payload, received ms, retain) as the broker delivered it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from camaudit.core.record import Event

Message = tuple[str, bytes, int, bool]


@dataclass
class Batch:
    new: list[tuple[Event, str, int]] = field(default_factory=list)
    seen: dict[str, tuple[int, int]] = field(default_factory=dict)
    dups: dict[str, int] = field(default_factory=dict)
    rejects: dict[str, tuple[int, str]] = field(default_factory=dict)
    witnesses: list[dict[str, Any]] = field(default_factory=list)
    ack: set[str] = field(default_factory=set)
    replay: dict[str, int] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[tuple[Event, str, int, str]] = field(default_factory=list)
    forked: set[str] = field(default_factory=set)
    incoming: dict[str, list[Any]] = field(default_factory=dict)  # shared linking: device -> Incoming

    def reject(self, reason: str, detail: str) -> None:
        n = self.rejects.get(reason, (0, ""))[0]
        self.rejects[reason] = (n + 1, detail)

    def saw(self, ev: Event, received: int) -> None:
        """Device activity: the highest seq seen and when."""
        max_seen, _ = self.seen.get(ev.device, (0, 0))
        self.seen[ev.device] = (max(max_seen, ev.seq), received)
