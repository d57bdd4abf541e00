"""A device that registers a notice and records captures, alerts and camera faults over the
last days, through the real MQTT path, for the public page's tests."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from brokers import wait_for

from camaudit.config.notices import NoticeConfig
from camaudit.hub.run import HubHandle
from camaudit.mqtt.publisher import Publisher
from camaudit.notices.registration import registration_body
from camaudit.store.journal import Journal

ZONE = "Europe/Berlin"
NOTICE = NoticeConfig.model_validate({
    "controller": "Example Cafe Ltd, 1 Main St", "purposes": ["security of the premises"],
    "rights": "access, erasure, objection: ask the contact below", "contact": "dpo@example.org",
    "full_notice": "https://example.org/cctv", "covers": ["counter", "door"],
    "hours": {"mon-fri": "07:00-19:00"}, "retention_days": 30, "watch": {"feed": "door"}})
SECRET_ALERT = "face of a man in a red coat at 14:02:33"


def local_ms(days_ago: int, hh: int, mm: int) -> int:
    """UTC ms of hh:mm local time `days_ago` days before today (venue zone)."""
    tz = ZoneInfo(ZONE)
    day = datetime.now(tz).date() - timedelta(days=days_ago)
    return int(datetime(day.year, day.month, day.day, hh, mm, tzinfo=tz).timestamp() * 1000)


def fill_public(hub: HubHandle, tmp_path: Path, device: str = "dev1") -> tuple[Journal, Publisher, dict[str, dict[str, int]]]:
    """Returns journal, publisher and the expected counts per local day."""
    journal = Journal.open(tmp_path / device / "journal.db", device, checkpoint_every=1000)
    hub.enroll(device, journal.public_key.hex())
    pub = Publisher(hub.device_mqtt(device), journal, feeds=["counter", "door", "back"])
    pub.start()
    first = local_ms(3, 6, 0)
    journal.append("notice.registered", None, registration_body("entrance", NOTICE, ZONE), first)
    for feed in ("counter", "door", "back"):
        journal.append("feed.up", feed, {"source": "file"}, first + 1000)
    # day 2 ago 00:30 local is still the previous day in UTC: counted on its local day
    caps = [(2, 0, 30, "counter", "unconsented"), (2, 13, 0, "counter", "consented"),
            (1, 14, 2, "door", "unconsented"), (0, 0, 5, "counter", "consented"),
            (1, 9, 0, "back", "unconsented")]  # 'back' is not covered by the notice
    for i, (ago, hh, mm, feed, verdict) in enumerate(caps):
        ts = local_ms(ago, hh, mm)
        ts = min(ts, int(time.time() * 1000) - 1000)
        body = {"capture": f"c-secret-{i}", "start": ts - 30_000, "end": ts, "max_faces": 2,
                "identifiable_tracks": 1, "verdict": verdict,
                "reasons": ["notice_missing"] if verdict == "unconsented" else [],
                "basis": None if verdict == "unconsented" else "notice:entrance",
                "evidence": ["sha256:" + "ab" * 32], "face_px": {"min": 40, "median": 41, "max": 96}}
        cap = journal.append("capture.end", feed, body, ts)
        if verdict == "unconsented":
            journal.append("alert", feed, {"text": SECRET_ALERT, "capture": f"c-secret-{i}",
                                           "reasons": ["notice_missing"], "ref_seq": cap.seq}, ts)
    cov = local_ms(1, 16, 0)
    journal.append("camera.covered", "door", {"condition": "covered", "start": cov - 10_000,
                                              "values": {"mean": 2.5, "std": 0.2}}, cov)
    pub.notify()
    head = journal.head[0]
    wait_for(lambda: hub.store.count_events(device) == head, what="public data stored")
    tz = ZoneInfo(ZONE)
    today = datetime.now(tz).date()
    want = {}
    for ago in range(3):
        want[(today - timedelta(days=ago)).isoformat()] = {"captures": 0, "unconsented": 0, "alerts": 0,
                                                            "camera_health": 0}
    for ago, _, _, feed, verdict in caps:
        if feed == "back":
            continue
        d = want[(today - timedelta(days=ago)).isoformat()]
        d["captures"] += 1
        if verdict == "unconsented":
            d["unconsented"] += 1
            d["alerts"] += 1
    want[(today - timedelta(days=1)).isoformat()]["camera_health"] += 1
    return journal, pub, want
