"""A bound on what each device keeps retained in the hub's mosquitto.

mosquitto 2.0 has no per-client bound on retained messages (a device allowed to write
`<p>/<dev>/feeds/+/faces` may retain one message under every feed name it invents, each up
to `max_packet_size`). The ACL (files.acl_text) lets a device write retained state only on
its known topics; this guard, a client of its own (user GUARD_USER), watches those topics
and clears (an empty retained message) any retained message over RETAINED_MAX_BYTES and any
past a device's first RETAINED_PER_DEVICE topics. So one device holds at most
RETAINED_PER_DEVICE x RETAINED_MAX_BYTES of the broker's memory, whatever it sends.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from camaudit.config.mqtt import MqttConfig
from camaudit.hub.broker.files import GUARD_USER
from camaudit.mqtt.client import make_client

log = logging.getLogger(__name__)

RETAINED_MAX_BYTES = 4096  # a count, a notice state, a discovery config: all well under 2 KiB
RETAINED_PER_DEVICE = 256  # status, key, and per feed / notice / discovery entity


def guarded_filters(prefix: str, discovery_prefix: str) -> list[str]:
    """Every topic a device may retain on (see files.acl_text)."""
    return [f"{prefix}/+/status", f"{prefix}/+/key", f"{prefix}/+/feeds/+/+", f"{prefix}/+/notices/+",
            f"{discovery_prefix}/+/+/+/config"]


def owner(topic: str, prefix: str, discovery_prefix: str) -> str | None:
    parts = topic.split("/")
    if parts[0] == prefix and len(parts) >= 3:
        return parts[1]
    if parts[0] == discovery_prefix and len(parts) == 5 and parts[2].startswith("camaudit_"):
        return parts[2].removeprefix("camaudit_")
    return None


class RetainedGuard:
    """Clears retained messages past the per-device bounds (see the module's docstring)."""

    def __init__(self, mqtt: MqttConfig, discovery_prefix: str, *,
                 on_cleared: Callable[[str, str], None] | None = None) -> None:
        self.p = mqtt.prefix
        self.dp = discovery_prefix
        self.on_cleared = on_cleared
        self.topics: dict[str, set[str]] = {}  # device -> its retained topics (bounded: see _on_message)
        self.cleared = 0
        self.ready = threading.Event()
        self._lock = threading.Lock()
        self._client: Any = make_client(mqtt, GUARD_USER, v5=True)  # v5: retain-as-published
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *a: self.ready.set()
        self._client.on_message = self._on_message
        self._url = mqtt.url

    def start(self) -> RetainedGuard:
        host, port = self._url.split("://", 1)[1].rsplit(":", 1)
        self._client.connect_async(host, int(port), keepalive=30)
        self._client.loop_start()
        return self

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            log.warning("retained guard: connect refused: %s", rc)
            return
        from paho.mqtt.subscribeoptions import SubscribeOptions

        # retain-as-published: a live retained publish reaches the guard with its retain flag
        client.subscribe([(f, SubscribeOptions(qos=0, retainAsPublished=True))
                          for f in guarded_filters(self.p, self.dp)])

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        if not msg.retain or not msg.payload:
            return  # live traffic, or a clear: nothing is kept
        dev = owner(msg.topic, self.p, self.dp)
        if dev is None:
            return
        with self._lock:
            known = self.topics.setdefault(dev, set())
            if len(msg.payload) > RETAINED_MAX_BYTES:
                why = f"{len(msg.payload)} bytes"
            elif msg.topic in known or len(known) < RETAINED_PER_DEVICE:
                known.add(msg.topic)
                return
            else:
                why = f"past {RETAINED_PER_DEVICE} retained topics"
            self.cleared += 1
        client.publish(msg.topic, b"", qos=1, retain=True)
        log.warning("retained %s of %s cleared (%s)", msg.topic, dev, why)
        if self.on_cleared is not None:
            self.on_cleared(dev, why)

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
