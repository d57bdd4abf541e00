"""A device that fills a hub with varied captures and alerts through the real MQTT path."""

from __future__ import annotations

from pathlib import Path

from brokers import wait_for

from camaudit.hub.app import HubHandle
from camaudit.mqtt.publisher import Publisher
from camaudit.store.journal import Journal

HOUR = 3_600_000
T0 = 1795651200000  # 2026-11-26 00:00 UTC

# (feed, hour offset, verdict, reasons)
CAPTURES = [
    ("counter", 0, "unconsented", ["notice_missing"]),
    ("counter", 0, "consented", []),
    ("counter", 1, "unconsented", ["outside_hours"]),
    ("counter", 3, "unconsented", ["notice_missing", "privacy_zone"]),
    ("door", 0, "consented", []),
    ("door", 2, "unconsented", ["no_notice"]),
    ("door", 2, "consented", []),
]


def fill(hub: HubHandle, tmp_path: Path, device: str = "dev1") -> tuple[Journal, Publisher]:
    """Enroll a device, send CAPTURES (+ one alert each unconsented) and wait until stored."""
    journal = Journal.open(tmp_path / device / "journal.db", device, checkpoint_every=1000)
    hub.enroll(device, journal.public_key.hex())
    pub = Publisher(hub.device_mqtt(device), journal, feeds=["counter", "door"])
    pub.start()
    for i, (feed, hour, verdict, reasons) in enumerate(CAPTURES):
        ts = T0 + hour * HOUR + i * 60_000
        body = {"capture": f"c-{i}", "start": ts - 30_000, "end": ts, "max_faces": 2,
                "identifiable_tracks": 1, "verdict": verdict, "reasons": reasons,
                "basis": None if reasons else "notice:entrance"}
        cap = journal.append("capture.end", feed, body, ts)
        if verdict == "unconsented":
            journal.append("alert", feed, {"text": f"unconsented capture c-{i} ({', '.join(reasons)})",
                                           "capture": f"c-{i}", "reasons": reasons,
                                           "ref_seq": cap.seq}, ts)
    pub.notify()
    head = journal.head[0]
    wait_for(lambda: hub.store.count_events(device) == head, what="captures stored")
    return journal, pub
