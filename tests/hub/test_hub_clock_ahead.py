"""Issue 20 item 5: one device key dating its alerts a day ahead must not hide every other
device's alerts from the dashboard. Alerts are listed newest received first, captures are
ordered and windowed by the device time capped at receipt, and a device time more than
10 minutes after receipt is flagged "device clock ahead" (real hub, mosquitto, both stores)."""

from __future__ import annotations

import time

import httpx
import pytest
from devicesend import publish_as, settles

from camaudit.core.record import GENESIS_PREV, Event, seal
from camaudit.store.keys import DeviceKey

pytestmark = pytest.mark.integration
DAY = 86_400_000


def _chain(device: str, key: DeviceKey, items: list[tuple[str, int, dict]]) -> list[Event]:
    out, prev = [], GENESIS_PREV
    for i, (typ, ts, body) in enumerate(items, 1):
        ev = seal(device=device, seq=i, ts=ts, type=typ, feed="counter", body=body, prev=prev, sign=key.sign)
        out.append(ev)
        prev = ev.hash
    return out


def _cap(cid: str, ts: int) -> tuple[str, int, dict]:
    return ("capture.end", ts, {"capture": cid, "start": ts - 30_000, "end": ts, "max_faces": 1,
                                "identifiable_tracks": 1, "verdict": "unconsented", "reasons": ["no_notice"]})


def _send(hub, device: str, items: list[tuple[str, int, dict]]) -> None:
    key = DeviceKey.generate()
    hub.enroll(device, key.public_hex)
    evs = _chain(device, key, items)
    password = hub.password_file(device).read_text().strip()
    for _ in range(10):  # re-sent until stored (the broker reloads its users on enroll)
        publish_as(hub.broker_url, device, password, [e.to_json().decode() for e in evs])
        if settles(lambda: hub.store.count_events(device) == len(evs), 3):
            return
    raise AssertionError(f"{device}: records never stored")


@pytest.mark.timeout(120)
def test_alerts_dated_ahead_cannot_bury_other_devices(make_hub, hub_db: str) -> None:
    hub = make_hub(web=True, db=hub_db)
    now = int(time.time() * 1000)
    ahead = now + DAY
    # the hostile device: a capture and 60 alerts, all dated a day ahead
    _send(hub, "d-ahead", [_cap("c-x", ahead)] + [
        ("alert", ahead + i, {"text": f"noise {i}", "capture": "c-x", "reasons": ["no_notice"]}) for i in range(60)])
    # then an honest device, its clock right
    good_ts = int(time.time() * 1000)
    _send(hub, "d-good", [_cap("c-1", good_ts),
                          ("alert", good_ts, {"text": "real alert", "capture": "c-1", "reasons": ["no_notice"]})])
    alerts = hub.store.alerts(50)
    assert alerts[0]["device"] == "d-good" and alerts[0]["text"] == "real alert"
    assert alerts[0]["clock_ahead"] is False
    noise = [a for a in alerts if a["device"] == "d-ahead"]
    assert len(noise) == 49 and all(a["clock_ahead"] and a["received"] < a["ts"] - 600_000 for a in noise)
    # captures: newest first by the time capped at receipt; a window after now holds nothing
    caps = hub.store.captures(limit=1)
    assert caps[0]["device"] == "d-good" and caps[0]["clock_ahead"] is False
    assert hub.store.captures(since_ms=now + 3_600_000) == []
    flagged = hub.store.captures(device="d-ahead")
    assert len(flagged) == 1 and flagged[0]["clock_ahead"] is True
    # what the operator's page shows: the honest alert, the others flagged
    auth = {"Authorization": f"Bearer {hub.token}"}
    page = httpx.get(hub.web_url + "/", headers=auth, timeout=30).text
    assert "real alert" in page and page.index("real alert") < page.index("noise")
    assert page.count("device clock ahead") == 49
    caps_page = httpx.get(hub.web_url + "/captures", headers=auth, timeout=30).text
    assert caps_page.count("device clock ahead") == 1


@pytest.mark.timeout(120)
def test_times_running_backwards_are_kept_and_flagged(make_hub, hub_db: str) -> None:
    """A record dated more than `verify`'s clock tolerance (5 min) before the one it follows
    is stored (nothing a device sent is lost) and flagged in the store with by how much."""
    hub = make_hub(db=hub_db)
    now = int(time.time() * 1000)
    alert = {"text": "a", "capture": "c-1", "reasons": ["no_notice"]}
    _send(hub, "d-back", [
        _cap("c-1", now),
        ("alert", now - 3_600_000, alert),   # an hour before its predecessor: flagged
        ("alert", now + 2_000, alert),
        ("alert", now - 58_000, alert),      # a minute back: inside the tolerance
    ])
    assert hub.store.seqs("d-back") == [1, 2, 3, 4]
    assert hub.store.clock_backwards() == [{"device": "d-back", "seq": 2, "ts": now - 3_600_000,
                                            "back_ms": 3_600_000}]
    assert hub.store.clock_backwards("other") == []
