"""A device that fills a hub with varied captures and alerts through the real MQTT path."""

from __future__ import annotations

from pathlib import Path

from brokers import wait_for

from camaudit.hub.run import HubHandle
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


T5 = T0 + 5 * HOUR  # 2026-11-26 05:00 UTC = 06:00 in Europe/Berlin
STORY_ALERT = "2 identifiable faces filmed on 'counter' while the privacy notice was not seen posted."


def add_story(hub: HubHandle, journal: Journal, pub: Publisher) -> int:
    """Capture c-100 on 'counter': the notice 'entrance' is posted when it opens (consented),
    goes missing a minute in (unconsented from then on, one alert), the capture closes two
    minutes after it opened. Returns the seq of its capture.end."""
    covers = ["counter"]
    journal.append("notice.restored", "door", {"notice": "entrance", "state": "VISIBLE", "previous": "UNKNOWN",
                                              "watch_feed": "door", "covers": covers, "why": "seen"},
                   T5 - 600_000)
    start = {"capture": "c-100", "start": T5, "end": None, "frames": 1, "max_faces": 1, "distinct_tracks": 1,
             "identifiable_tracks": 1, "face_px": {"min": 40, "median": 40, "max": 40},
             "verdict": "consented", "reasons": [], "basis": "notice:entrance", "evidence": []}
    journal.append("capture.start", "counter", start, T5)
    journal.append("notice.missing", "door", {"notice": "entrance", "state": "MISSING", "previous": "VISIBLE",
                                             "watch_feed": "door", "covers": covers,
                                             "why": "not seen for 60 s"}, T5 + 60_000)
    end = {**start, "end": T5 + 120_000, "frames": 240, "max_faces": 3, "distinct_tracks": 4,
           "identifiable_tracks": 2, "face_px": {"min": 18, "median": 41, "max": 96},
           "verdict": "unconsented", "reasons": ["notice_missing"], "basis": None,
           "verdict_changes": [
               {"ts": T5, "verdict": "consented", "reasons": [], "basis": "notice:entrance"},
               {"ts": T5 + 61_000, "verdict": "unconsented", "reasons": ["notice_missing"], "basis": None}]}
    cap = journal.append("capture.end", "counter", end, T5 + 120_500)
    journal.append("alert", "counter", {"text": STORY_ALERT, "capture": "c-100",
                                        "reasons": ["notice_missing"], "ref_seq": cap.seq}, T5 + 120_500)
    pub.notify()
    head = journal.head[0]
    wait_for(lambda: hub.store.count_events(journal.device) == head, what="story stored")
    return cap.seq
