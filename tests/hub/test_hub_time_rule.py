"""#22.1 on the hub: `camaudit hub export` and the hub's export form read a time without an
offset as the venue's local time (the zone the device journalled; camaudit.core.venue_time),
whatever the machine's zone, and say the window they used with its zone named."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import zipfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from camaudit.hub.store.hub_store import HubStore
from camaudit.hub.web.app import create_app
from camaudit.hub.web.live import LiveAlerts
from camaudit.store.journal import Journal
from camaudit.store.keys import load_or_create_key

TOKEN = "time-rule-token-0123456789"
VENUES = [("Europe/Paris", "2026-03-29", "CEST"), ("America/New_York", "2026-11-01", "EST")]


def _ms(zone: str, day: str, hhmm: str) -> int:
    return int(datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=ZoneInfo(zone)).timestamp() * 1000)


def _hub(tmp: Path, zone: str, day: str) -> tuple[Path, Path]:
    """A hub store holding two captures of cafe-01 on `door`: 14:05 venue time and 14:05 UTC."""
    with Journal.open(tmp / "dev" / "journal.db", "cafe-01") as j:
        j.append("device.online", None, {"timezone": zone, "feeds": ["door"]}, _ms(zone, day, "00:30"))
        for name, start in sorted({"c-local": _ms(zone, day, "14:05"), "c-utc": _ms("UTC", day, "14:05")}.items(),
                                  key=lambda kv: kv[1]):
            body = {"capture": name, "start": start, "end": start + 30_000, "verdict": "unconsented",
                    "reasons": ["no_notice"], "basis": None, "identifiable_tracks": 1}
            j.append("capture.end", "door", body, start + 30_000)
        j.append("device.online", None, {"timezone": zone, "feeds": ["door"]}, _ms(zone, day, "23:00"))
        events, key = j.events(), j.public_key.hex()
    data = tmp / "hub"
    load_or_create_key(data / "hub.key")
    store = HubStore(data / "hub.db")
    store.enroll("cafe-01", key)
    store.write_batch([(ev, ev.to_json().decode(), ev.ts) for ev in events], {}, {}, {}, [])
    store.close()
    return data, data / "hub.db"


def _captures(pack: bytes | Path) -> set[str]:
    with zipfile.ZipFile(io.BytesIO(pack) if isinstance(pack, bytes) else pack) as z:
        return {r["capture"] for r in csv.DictReader(io.StringIO(z.read("captures.csv").decode()))}


@pytest.mark.parametrize(("zone", "day", "abbrev"), VENUES)
def test_hub_export_reads_venue_time_under_a_utc_machine(tmp_path: Path, zone: str, day: str, abbrev: str) -> None:
    data, db = _hub(tmp_path, zone, day)
    pack = tmp_path / "p.zip"
    proc = subprocess.run(
        [sys.executable, "-m", "camaudit.cli", "hub", "--data-dir", str(data), "export", "cafe-01",
         "--out", str(pack), "--db", str(db), "--since", f"{day}T14:00", "--until", f"{day}T14:30"],
        capture_output=True, text=True, timeout=120, env=dict(os.environ, TZ="UTC"), stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert _captures(pack) == {"c-local"}
    assert f"window: {day} 14:00:00 {abbrev} to {day} 14:30:00 {abbrev} ({zone})" in proc.stderr


@pytest.mark.parametrize(("zone", "day", "abbrev"), VENUES)
def test_hub_export_form_reads_venue_time_and_refuses_a_skipped_hour(tmp_path: Path, zone: str, day: str,
                                                                    abbrev: str) -> None:
    data, db = _hub(tmp_path, zone, day)
    store = HubStore(db)
    app = create_app(store, TOKEN, LiveAlerts(), timezone=zone, hub_key=data / "hub.key")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(app) as c:
        r = c.get("/export", params={"device": "cafe-01", "since": f"{day} 14:00", "until": f"{day} 14:30"},
                  headers=auth)
        assert r.status_code == 200, r.text
        assert _captures(r.content) == {"c-local"}
        # the captures page prints its times with the zone named, the form its zone
        page = c.get("/captures", headers=auth).text
        assert f"{day} 14:05:30 {abbrev}" in page and f"From ({zone})" in page
        if zone == "Europe/Paris":  # 02:30 does not exist on the day the clocks jump forward
            bad = c.get("/export", params={"device": "cafe-01", "since": f"{day} 02:30"}, headers=auth)
            assert bad.status_code == 400 and "does not exist in Europe/Paris" in bad.text
    store.close()
