"""Replay requests: ask a device to re-send from a seq (`<p>/<device>/cmd/replay`).

Sent for a gap (an event arrived before its predecessor), at most once per device per
REPLAY_EVERY_S (shared linking: claimed in the store, so once across all workers), and to
every enrolled device when the hub (re)subscribes: what devices sent while it was not
subscribed is gone from the broker."""

from __future__ import annotations

import logging
from collections.abc import Callable

from camaudit.mqtt import topics

log = logging.getLogger(__name__)

REPLAY_EVERY_S = 1.0

Publish = Callable[..., None]


class Replays:
    def __init__(self, publish: Publish, prefix: str, stats: dict[str, int]) -> None:
        self._publish = publish
        self.p = prefix
        self.stats = stats

    def ask(self, dev: str, frm: int, *, quiet: bool = False, count: bool = True) -> None:
        if count:
            self.stats["replays"] += 1
        if not quiet:
            log.info("asking %s to replay from seq %d", dev, frm)
        self._publish(topics.replay(self.p, dev), str(frm).encode())
