"""Home Assistant MQTT discovery configs (retained, under `homeassistant/`)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator

from camaudit.mqtt import topics


def _node(device: str) -> str:
    return "camaudit_" + re.sub(r"[^A-Za-z0-9_-]", "_", device)


def discovery_messages(
    discovery_prefix: str, p: str, device: str, feeds: Iterable[str], notices: Iterable[str]
) -> Iterator[tuple[str, bytes]]:
    """(topic, payload) of every discovery config for this device, its feeds and notices."""
    node = _node(device)
    dev = {
        "identifiers": [node],
        "name": f"camaudit {device}",
        "manufacturer": "camaudit",
        "model": "capture audit appliance",
    }
    avail = {
        "availability_topic": topics.status(p, device),
        "payload_available": "online",
        "payload_not_available": "offline",
    }

    def msg(component: str, object_id: str, cfg: dict[str, object]) -> tuple[str, bytes]:
        cfg = {"unique_id": f"{node}_{object_id}", "object_id": f"{node}_{object_id}", "device": dev, **cfg}
        body = json.dumps(cfg, sort_keys=True, separators=(",", ":")).encode()
        return topics.ha_config(discovery_prefix, component, node, object_id), body

    yield msg(
        "binary_sensor",
        "online",
        {
            "name": "online",
            "state_topic": topics.status(p, device),
            "payload_on": "online",
            "payload_off": "offline",
            "device_class": "connectivity",
        },
    )
    for feed in feeds:
        fid = re.sub(r"[^A-Za-z0-9_-]", "_", feed)
        yield msg(
            "sensor",
            f"{fid}_faces",
            {
                "name": f"{feed} faces now",
                "state_topic": topics.faces(p, device, feed),
                "unit_of_measurement": "faces",
                "state_class": "measurement",
                "icon": "mdi:face-recognition",
                **avail,
            },
        )
        yield msg(
            "sensor",
            f"{fid}_unconsented_today",
            {
                "name": f"{feed} unconsented captures today",
                "state_topic": topics.unconsented_today(p, device, feed),
                "unit_of_measurement": "captures",
                "state_class": "total",
                "icon": "mdi:cctv-off",
                **avail,
            },
        )
    for nid in notices:
        oid = re.sub(r"[^A-Za-z0-9_-]", "_", nid)
        yield msg(
            "sensor",
            f"notice_{oid}",
            {
                "name": f"notice {nid}",
                "state_topic": topics.notice(p, device, nid),
                "icon": "mdi:sign-text",
                **avail,
            },
        )
