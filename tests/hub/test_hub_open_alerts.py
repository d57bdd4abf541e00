"""#22.4 (hub side): the hub keeps EVERY open alert retained on `<p>/hub/alerts` as
{"alerts": [...], "tz": zone}: all open forks (not only the last), the recent device alerts
no operator acknowledged; the real `camaudit alerts` lists them in the hub's zone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from brokers import wait_for

from camaudit.core.record import GENESIS_PREV, Event, seal
from camaudit.store.keys import DeviceKey

pytestmark = pytest.mark.integration
T0 = 1774785600000  # 2026-03-29 12:00:00 UTC = 14:00 CEST


def _send(url: str, user: str, password: str, events: list[Event]) -> None:
    """Publish as the device (retrying while the broker reloads its password file)."""
    host, port = url.rsplit("/", 1)[1].split(":")
    deadline = time.monotonic() + 20
    while True:
        ok = threading.Event()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=user)
        c.username_pw_set(user, password)
        c.on_connect = lambda cl, ud, fl, rc, pr=None, ok=ok: ok.set() if not rc.is_failure else None
        c.connect(host, int(port))
        c.loop_start()
        try:
            if ok.wait(2):
                for ev in events:
                    c.publish(f"camaudit/{user}/events", ev.to_json(), qos=1).wait_for_publish(5)
                return
        finally:
            c.disconnect()
            c.loop_stop()
        assert time.monotonic() < deadline, f"{user} cannot connect"


def _chain(dev: str, key: DeviceKey, bodies: list[tuple[str, dict]], t0: int = T0) -> list[Event]:
    out, prev = [], GENESIS_PREV
    for i, (typ, body) in enumerate(bodies, 1):
        ev = seal(device=dev, seq=i, ts=t0 + i * 60_000, type=typ, feed="counter", body=body, prev=prev,
                  sign=key.sign)
        out.append(ev)
        prev = ev.hash
    return out


def _alerts_cli(hub, *args: str) -> tuple[str, str]:
    env = dict(os.environ, TZ="UTC", PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [sys.executable, "-m", "camaudit.cli", "alerts", "--broker", hub.broker_url, "--username", "alerts",
         "--password-file", str(hub.password_file("alerts")), "--wait", "2", *args],
        capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, proc.stderr


@pytest.mark.timeout(120)
def test_every_open_fork_and_device_alert_is_retained_and_listed(make_hub) -> None:
    hub = make_hub(timezone="Europe/Paris")
    assert hub.wait_connected(20)
    cap = ("capture.end", {"capture": "c-1", "verdict": "consented", "basis": "notice:door"})
    for i in range(5):
        dev, key = f"cafe-0{i}", DeviceKey.generate()
        hub.enroll(dev, key.public_hex)
        pw = hub.password_file(dev).read_text().strip()
        mine = _chain(dev, key, [cap, cap])
        other = _chain(dev, key, [cap, ("capture.end", {"capture": "clone", "verdict": "consented",
                                                         "basis": "notice:door"})], t0=T0 + 1)
        _send(hub.broker_url, dev, pw, mine)
        wait_for(lambda d=dev: hub.store.seqs(d) == [1, 2], what=f"{dev} stored {hub.store.rejects()}")
        _send(hub.broker_url, dev, pw, [other[1]])  # a clone's seq 2
        wait_for(lambda n=i + 1: len(hub.store.forks()) == n, what=f"fork {i + 1}")
    key = DeviceKey.generate()
    hub.enroll("shop-01", key.public_hex)
    alerts = _chain("shop-01", key, [
        ("alert", {"text": "2 identifiable faces filmed while the notice was not seen", "capture": "c-7",
                   "reasons": ["notice_missing"], "ref_seq": 0}),
        ("alert", {"text": "2 identifiable faces filmed outside the recording hours", "capture": "c-8",
                   "reasons": ["outside_hours"], "ref_seq": 0}),
    ])
    _send(hub.broker_url, "shop-01", hub.password_file("shop-01").read_text().strip(), alerts)
    wait_for(lambda: hub.store.seqs("shop-01") == [1, 2], what="device alerts stored")

    def listed() -> list[str]:
        return _alerts_cli(hub)[0].splitlines()

    deadline = time.monotonic() + 20
    lines = listed()
    while len(lines) < 7 and time.monotonic() < deadline:
        time.sleep(0.5)
        lines = listed()
    forks = [ln for ln in lines if "FORK" in ln]
    assert sorted(ln.split("hub about ", 1)[1].split()[0] for ln in forks) == [f"cafe-0{i}" for i in range(5)], lines
    assert any("notice was not seen" in ln and ln.startswith("2026-03-29 14:01:00 CEST") for ln in lines), lines
    assert any("outside the recording hours" in ln and ln.startswith("2026-03-29 14:02:00 CEST") for ln in lines), lines
    assert len(lines) == 7, lines

    # an acknowledged alert leaves the retained list once the hub republishes it
    store = hub.store
    store.acknowledge("event", "shop-01", 1, "Ana (manager)", "sign put back", T0 + 600_000)
    hub.collector.publish_open_alerts()
    wait_for(lambda: len(listed()) == 6, what="acknowledged alert gone from the retained list")
    assert not any("notice was not seen" in ln for ln in listed())


def test_retained_payload_names_the_zone_and_clears_when_none_is_open() -> None:
    from camaudit.hub.store.alert_acks import retained_payload

    assert retained_payload([], "Europe/Paris") == b""
    msg = json.loads(retained_payload([{"device": "d", "seq": 1, "ts": T0, "text": "x", "ack": None}],
                                      "Europe/Paris"))
    assert msg == {"alerts": [{"device": "d", "seq": 1, "ts": T0, "text": "x", "tz": "Europe/Paris"}],
                   "tz": "Europe/Paris"}
