"""#22 (device-side work on the hub): a capture's per-track records (`track.end`, with every
criterion's value) and the camera-health periods (`camera.covered` ... `camera.restored`)
travel device -> real mosquitto -> hub ingest -> pages, values unchanged, in the same words
as the report (core/identify.tracks_in_words, report/camera_health.period_text)."""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path

import httpx
import pytest
from brokers import wait_for

from camaudit.core.identify import tracks_in_words
from camaudit.mqtt.publisher import Publisher
from camaudit.report.camera_health import blind_periods, period_text
from camaudit.report.model import Clock
from camaudit.store.journal import Journal

pytestmark = pytest.mark.integration
TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
T = 1795651200000  # 2026-11-26 00:00 UTC


def _track(n: int, px: int, eyes: float, yaw: float, sharp: float, ok: bool, why: list[str]) -> dict:
    return {"capture": "c-000001", "track": n, "first_frame": 10 * n, "last_frame": 10 * n + 40,
            "first_ts": T + n * 1000, "last_ts": T + n * 1000 + 4000, "frame_size": [1920, 1080],
            "boxes": [[10 * n, 100, 200, px, px]], "peak": {"frame": 10 * n, "box": [100, 200, px, px], "score": 0.91},
            "identifiable": ok, "why_not": why, "definition": "camaudit-identifiable-2",
            "criteria": {"face_px": {"value": px, "passed": px >= 32, "min": 32, "unit": "px"},
                         "pose": {"value": {"eyes": eyes, "yaw": yaw}, "passed": "pose" not in why,
                                  "min_eyes": 0.25, "max_yaw": 1.0, "unit": "ratio"},
                         "sharpness": {"value": sharp, "passed": "sharpness" not in why, "min": 0.06,
                                       "unit": "laplacian/contrast"}}}


TRACKS = [
    _track(1, 54, 0.4137, -0.2103, 0.1875, True, []),
    _track(2, 61, 0.3902, 0.5517, 0.0931, True, []),
    _track(3, 47, 0.0412, 2.875, 0.1204, False, ["pose"]),
    _track(4, 21, 0.3311, 0.1, 0.0712, False, ["face_px"]),
    _track(5, 18, 0.2977, 0.3, 0.0655, False, ["face_px"]),
]


@pytest.mark.timeout(120)
def test_track_criteria_and_camera_health_round_trip_to_the_pages(make_hub, tmp_path: Path) -> None:
    hub = make_hub(web=True, token=TOKEN, timezone="Europe/Paris")
    journal = Journal.open(tmp_path / "dev" / "journal.db", "cafe-01", checkpoint_every=1000)
    hub.enroll("cafe-01", journal.public_key.hex())
    pub = Publisher(hub.device_mqtt("cafe-01"), journal, feeds=["counter", "door"])
    pub.start()
    try:
        start = {"capture": "c-000001", "start": T, "end": None, "verdict": "unconsented",
                 "reasons": ["no_notice"], "basis": None, "identifiable_tracks": 2, "distinct_tracks": 5}
        journal.append("capture.start", "counter", start, T)
        for tr in TRACKS:
            journal.append("track.end", "counter", tr, tr["last_ts"])
        journal.append("capture.end", "counter", {**start, "end": T + 60_000}, T + 60_000)
        cov = journal.append("camera.covered", "door", {"condition": "covered", "start": T + 100_000,
                                                        "values": {"mean": 3.2, "std": 1.1}}, T + 160_000)
        journal.append("alert", "door", {"text": "Camera 'door' has been covered for 60 s", "reasons": ["camera_covered"],
                                         "ref_seq": cov.seq}, T + 220_000)
        journal.append("camera.restored", "door", {"condition": "covered", "start": T + 100_000, "end": T + 400_000,
                                                   "duration_ms": 300_000, "values": {"mean": 80.0, "std": 40.0}},
                       T + 410_000)
        pub.notify()
        head = journal.head[0]
        wait_for(lambda: hub.store.count_events("cafe-01") == head, what="all records stored")

        page = httpx.get(hub.web_url + "/capture/cafe-01/c-000001", headers=AUTH).text
        words = html_lib.unescape(page.split('<p id="tracks-words">', 1)[1].split("</p>", 1)[0])
        assert words == tracks_in_words(TRACKS)
        assert words == "2 identifiable: frontal, sharp, 54 and 61 px; 3 not identifiable: 2 too small, 1 turned away"
        for tr in TRACKS:
            row = page.split(f'data-track="{tr["track"]}">', 1)[1].split("</tr>", 1)[0]
            c = tr["criteria"]
            cells = {k: re.search(rf'class="{k}">([^<]*)<', row).group(1) for k in ("face-px", "eyes", "yaw", "sharpness")}
            assert cells == {"face-px": f"{c['face_px']['value']} (32)",
                             "eyes": f"{c['pose']['value']['eyes']} (0.25)",
                             "yaw": f"{c['pose']['value']['yaw']} (1.0)",
                             "sharpness": f"{c['sharpness']['value']} (0.06)"}, row

        dev = httpx.get(hub.web_url + "/device/cafe-01?feed=door", headers=AUTH).text
        (period,) = blind_periods(journal.events(), "door")
        item = html_lib.unescape(dev.split('<ul id="camera-health"', 1)[1].split("</ul>", 1)[0])
        assert period_text(period, Clock("Europe/Paris").both) in item
        assert "covered from 2026-11-26 01:01:40 CET (00:01:40 UTC) to 2026-11-26 01:06:40 CET" in item
        assert "An alert was raised." in item
        other = httpx.get(hub.web_url + "/device/cafe-01?feed=counter", headers=AUTH).text
        assert 'id="camera-health-none"' in other
        assert httpx.get(hub.web_url + "/device/nobody", headers=AUTH).status_code == 404
    finally:
        pub.stop()
        journal.close()
