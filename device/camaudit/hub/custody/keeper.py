"""The hub's keeper thread: every `timestamps.every_s` it stamps each device's newest
checkpoint (stamps.py, when authorities are configured), and once an hour it prunes under
the retention profile (prune.py, when one is configured). Neither is on by default."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from camaudit.config.hub import HubConfig
from camaudit.errors import CamauditError
from camaudit.hub.custody.prune import prune_all
from camaudit.hub.custody.stamps import stamp_checkpoints
from camaudit.hub.store.hub_store import HubStore
from camaudit.store.keys import DeviceKey
from camaudit.trust.retention import DAY_MS, HOUR_MS, PRESETS

log = logging.getLogger(__name__)


def retention_of(cfg: HubConfig) -> tuple[str, int] | None:
    """(policy, period ms) the hub prunes under; None: it keeps everything."""
    if cfg.retention is not None:
        return cfg.retention, PRESETS[cfg.retention].period_ms
    if cfg.retention_days is not None:
        return f"retention_days={cfg.retention_days}", cfg.retention_days * DAY_MS
    return None


class Keeper:
    def __init__(self, cfg: HubConfig, key: DeviceKey) -> None:
        self.cfg, self.key = cfg, key
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self._pruned_at = 0.0

    def run_once(self, store: HubStore, *, now_ms: int | None = None) -> dict[str, Any]:
        now = int(time.time() * 1000) if now_ms is None else now_ms
        out: dict[str, Any] = {"stamped": 0, "errors": [], "pruned": []}
        ts = self.cfg.timestamps
        if ts.urls:
            out["stamped"], out["errors"] = stamp_checkpoints(store.sql, ts.urls, timeout_s=ts.timeout_s)
        policy = retention_of(self.cfg)
        if policy is not None and now - self._pruned_at >= HOUR_MS:
            out["pruned"] = prune_all(store.sql, self.key, policy=policy[0], period_ms=policy[1], now_ms=now)
            self._pruned_at = now
        return out

    def _loop(self) -> None:
        store = HubStore(self.cfg.db_target)
        try:
            while not self.stop_event.is_set():
                try:
                    self.run_once(store)
                except CamauditError as exc:
                    log.warning("hub keeper: %s", exc)
                self.stop_event.wait(self.cfg.timestamps.every_s)
        finally:
            store.close()

    def start(self) -> Keeper:
        if self.cfg.timestamps.urls or retention_of(self.cfg) is not None:
            self.thread = threading.Thread(target=self._loop, name="hub-keeper", daemon=True)
            self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(10)
