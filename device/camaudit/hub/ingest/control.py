"""Messages that are no chain record: a device's status, its announced key, evidence frames."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from camaudit.hub.ingest.keys import DeviceKeys
from camaudit.hub.store.hub_store import HubStore
from camaudit.mqtt import topics

log = logging.getLogger(__name__)


class SideChannel:
    """Status (online/offline of an enrolled device), key (trust on first use, or a mismatch
    counted as a reject) and evidence frames (handed to hub/evidence/inbox.py)."""

    def __init__(self, store: HubStore, keys: DeviceKeys, prefix: str, *, tofu: bool,
                 not_device: Callable[[str], bool] = lambda _name: False) -> None:
        self.store = store
        self.keys = keys
        self.p = prefix
        self.tofu = tofu
        self.not_device = not_device  # the hub's own MQTT users (hub, alerts, workers): never enrolled
        self.evidence: Any = None  # hub.evidence.inbox.EvidenceInbox, when the hub takes frames

    def handle(self, topic: str, payload: bytes, received: int) -> bool:
        """Handle a side-channel message; True if it was one."""
        if topic.endswith("/status") or topic.endswith("/key"):
            self._control(topic, payload, received)
            return True
        if self.evidence is not None and "/evidence/" in topic:  # blurred frames: hub/evidence/inbox.py
            self.evidence.submit(topic, payload, received)
            return True
        return False

    def _control(self, topic: str, payload: bytes, received: int) -> None:
        where = topics.split(self.p, topic)
        if where is None or len(payload) > 256:
            return
        dev, kind = where
        if kind == "status":
            if dev in self.keys:
                self.store.set_online(dev, payload == topics.ONLINE, received)
        elif kind == "key":
            try:
                raw = bytes.fromhex(payload.decode("ascii").strip())
            except (UnicodeDecodeError, ValueError):
                return
            known = self.keys.get(dev)
            if known is None and self.tofu and len(raw) == 32 and self.not_device(dev):
                self.store.write_batch([], {}, {}, {"enroll_refused": (1, dev)}, [])
                log.warning("%s announced a key: not a device user, not enrolled", dev)
            elif known is None and self.tofu and len(raw) == 32:
                self.store.enroll(dev, raw.hex(), how="tofu")
                self.keys.reload()
                log.warning("device %s enrolled on first use (key %s...)", dev, raw.hex()[:16])
            elif known is not None and known != raw:
                self.store.write_batch([], {}, {}, {"key_mismatch": (1, dev)}, [])
