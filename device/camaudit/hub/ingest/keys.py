"""The enrolled devices' public keys, as the collector reads them from the hub store."""

from __future__ import annotations

import time
from collections.abc import Iterator

from camaudit.hub.store.hub_store import HubStore

RELOAD_S = 2.0  # an unknown device: look again in the store at most this often


class DeviceKeys:
    """device -> raw Ed25519 public key; a device enrolled while the hub runs is found
    within RELOAD_S (`camaudit hub enroll` writes the store, not this process)."""

    def __init__(self, store: HubStore) -> None:
        self.store = store
        self._keys: dict[str, bytes] = {}
        self._loaded = 0.0
        self.reload()

    def reload(self) -> None:
        self._keys = self.store.keys()
        self._loaded = time.monotonic()

    def key_of(self, device: str) -> bytes | None:
        key = self._keys.get(device)
        if key is None and time.monotonic() - self._loaded > RELOAD_S:
            self.reload()
            key = self._keys.get(device)
        return key

    def get(self, device: str) -> bytes | None:
        return self._keys.get(device)

    def __getitem__(self, device: str) -> bytes:
        return self._keys[device]

    def __contains__(self, device: object) -> bool:
        return device in self._keys

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)
