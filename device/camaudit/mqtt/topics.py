"""Every MQTT topic name camaudit uses, in one place (see DESIGN.md, "MQTT")."""

from __future__ import annotations

ONLINE = b"online"
OFFLINE = b"offline"


def status(p: str, device: str) -> str:
    return f"{p}/{device}/status"


def events(p: str, device: str) -> str:
    return f"{p}/{device}/events"


def checkpoints(p: str, device: str) -> str:
    return f"{p}/{device}/checkpoints"


def alerts(p: str, device: str) -> str:
    return f"{p}/{device}/alerts"


def faces(p: str, device: str, feed: str) -> str:
    return f"{p}/{device}/feeds/{feed}/faces"


def notice(p: str, device: str, notice_id: str) -> str:
    return f"{p}/{device}/notices/{notice_id}"


def key(p: str, device: str) -> str:
    """Retained hex Ed25519 public key of the device (used only for trust-on-first-use)."""
    return f"{p}/{device}/key"


def all_keys(p: str) -> str:
    return f"{p}/+/key"


def ack(p: str, device: str) -> str:
    return f"{p}/{device}/ack"


def replay(p: str, device: str) -> str:
    return f"{p}/{device}/cmd/replay"


def evidence(p: str, device: str, seq: int, sha_hex: str) -> str:
    """One blurred evidence frame (the device's stored JPEG, bytes unchanged), sent only after
    the hub acked event `seq`, which names it (see camaudit.mqtt.evidence_sender)."""
    return f"{p}/{device}/evidence/{seq}/{sha_hex}"


def all_evidence(p: str) -> str:
    return f"{p}/+/evidence/+/+"


def evidence_ack(p: str, device: str) -> str:
    """hub -> device: the sha256 hex of an evidence frame the hub stored."""
    return f"{p}/{device}/cmd/evidence_ack"


def unconsented_today(p: str, device: str, feed: str) -> str:
    """Retained count of today's unconsented captures (for Home Assistant)."""
    return f"{p}/{device}/feeds/{feed}/unconsented_today"


# Wildcard subscriptions used by the hub and by `camaudit alerts`.
def all_events(p: str) -> str:
    return f"{p}/+/events"


def all_checkpoints(p: str) -> str:
    return f"{p}/+/checkpoints"


def all_status(p: str) -> str:
    return f"{p}/+/status"


def all_alerts(p: str) -> str:
    return f"{p}/+/alerts"


def split(p: str, topic: str) -> tuple[str, str] | None:
    """`<p>/<device>/<rest>` -> (device, rest), or None when the topic is not under `p`."""
    head = p + "/"
    if not topic.startswith(head):
        return None
    device, sep, rest = topic[len(head) :].partition("/")
    if not sep or not device or not rest:
        return None
    return device, rest


def ha_config(discovery_prefix: str, component: str, node: str, object_id: str) -> str:
    return f"{discovery_prefix}/{component}/{node}/{object_id}/config"
