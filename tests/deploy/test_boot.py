"""systemd as PID 1 in a container (systemd-nspawn) on a deployed Debian bookworm root, for
the device and the hub, as on a first boot of an SD card: READY (Type=notify), a frozen
process (SIGSTOP) killed by the watchdog and restarted, a reboot that keeps config, key and
journal, the hub's web page answering, its MQTT front (HAProxy) closing a silent socket at
5 s, and its token nowhere in the system journal.

Test-only drop-ins keep it within minutes: WatchdogSec=10 (the units say 60) and
systemd-time-wait-sync bounded at 5 s (a container never synchronises the host's clock;
the shipped bound is 90 s). Cold: the deployed root is built and cached (minutes, network);
warm: boots through an overlay on the cache.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from pathlib import Path

import pytest
from boot_helpers import Booted, deployed_root, need_containers, overlay
from deploy_helpers import debian_root

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

WATCHDOG_S = 10
DROPINS = {
    "camaudit.service.d/test.conf": f"[Service]\nWatchdogSec={WATCHDOG_S}\n",
    "camaudit-hub.service.d/test.conf": f"[Service]\nWatchdogSec={WATCHDOG_S}\n",
    "systemd-time-wait-sync.service.d/test.conf": "[Service]\nTimeoutStartSec=5s\n",
}


def digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def deployed() -> Path:
    need_containers()
    base, _ = debian_root("amd64")
    root = deployed_root(base)
    probe = subprocess.run(["systemd-nspawn", "--quiet", "--keep-unit", "--register=no", "--read-only",
                            "--private-network", "-D", str(root), "/bin/true"],
                           capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        pytest.skip("this machine cannot run containers: systemd-nspawn says: "
                    + (probe.stderr.strip().splitlines() or ["(nothing)"])[-1])
    return root


def frozen_is_restarted(box: Booted, unit: str) -> float:
    """SIGSTOP the service's main process; seconds until systemd runs a new one."""
    before = box.wait_active(unit)
    box.sh(f"kill -STOP {before['MainPID']}")
    t0 = time.monotonic()
    after = box.wait_active(unit, timeout=WATCHDOG_S * 6, other_than_pid=before["MainPID"])
    took = time.monotonic() - t0
    assert int(after["NRestarts"]) == int(before["NRestarts"]) + 1
    log = box.sh(f"journalctl -u {unit} --no-pager", check=False).stdout
    assert "Watchdog timeout" in log, log[-2000:]
    return took


def last_online_clock(box: Booted) -> dict[str, object]:
    """The `clock` the device journalled in its last device.online (under the real unit)."""
    out = box.sh("/opt/camaudit/venv/bin/python -c \"import json, sqlite3; "
                 "c = sqlite3.connect('file:/var/lib/camaudit/journal.db?mode=ro', uri=True); "
                 "r = c.execute('SELECT json FROM events WHERE type = ? ORDER BY seq DESC LIMIT 1', "
                 "('device.online',)).fetchone(); print(json.dumps(json.loads(r[0])['body']['clock']))\"")
    return json.loads(out.stdout)


def device_runs(box: Booted) -> int:
    """device.online records in the device's journal (one per start)."""
    out = box.sh("/opt/camaudit/venv/bin/python -c \"import sqlite3; "
                 "c = sqlite3.connect('file:/var/lib/camaudit/journal.db?mode=ro', uri=True); "
                 "print(c.execute('SELECT count(*) FROM events WHERE type = ?', ('device.online',)).fetchone()[0])\"")
    return int(out.stdout.strip())


def test_boot_device_and_hub(deployed: Path, tmp_path: Path):
    with overlay(deployed, tmp_path / "ov") as root:
        for rel, text in DROPINS.items():
            path = root / "etc/systemd/system" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        box = Booted(root, tmp_path / "nspawn.log")
        try:
            boot_s = box.start()
            dev = box.wait_active("camaudit.service", timeout=120)
            hub = box.wait_active("camaudit-hub.service", timeout=120)
            assert dev["Type"] == hub["Type"] == "notify"  # active means READY=1 arrived
            assert dev["WatchdogUSec"] == hub["WatchdogUSec"] == f"{WATCHDOG_S}s"
            print(f"booted in {boot_s:.1f} s")

            # the first boot made the device key (images carry none)
            key = root / "var/lib/camaudit/device.key"
            assert key.is_file() and key.stat().st_mode & 0o077 == 0
            # the hub's web page answers inside the container
            page = box.sh("python3 -c \"import urllib.request as u; "
                          "print(u.urlopen('http://127.0.0.1:8080/login', timeout=10).status)\"")
            assert page.stdout.strip() == "200"
            # the hub's MQTT port is HAProxy's, under the unit's sandbox (no root, SystemCallFilter):
            # a socket that sends no CONNECT is closed at the 5 s delay, not mosquitto's 90 s
            front = box.sh("python3 -c \"import socket, time; s = socket.create_connection(('127.0.0.1', 1883), 5); "
                           "s.settimeout(30); t = time.monotonic(); d = s.recv(1); "
                           "print(d == b'', round(time.monotonic() - t, 1))\"")
            closed, took = front.stdout.split()
            assert closed == "True" and 4.0 <= float(took) <= 7.0, front.stdout
            assert "PR" in (root / "var/lib/camaudit-hub/broker/haproxy.log").read_text()
            # its token: in a 0600 file, never in the system journal
            tok_file = root / "var/lib/camaudit-hub/web.token"
            token = tok_file.read_text().strip()
            assert tok_file.stat().st_mode & 0o777 == 0o600 and len(token) >= 22
            journal = box.sh("journalctl --no-pager -o cat", check=False).stdout
            assert "login token in /var/lib/camaudit-hub/web.token" in journal
            assert token not in journal

            # a frozen process: the watchdog kills it and systemd starts a new one
            print(f"device restarted {frozen_is_restarted(box, 'camaudit.service'):.1f} s after SIGSTOP")
            print(f"hub restarted {frozen_is_restarted(box, 'camaudit-hub.service'):.1f} s after SIGSTOP")

            cfg, db = root / "etc/camaudit/config.yaml", root / "var/lib/camaudit/journal.db"
            hub_key, hub_db = root / "var/lib/camaudit-hub/hub.key", root / "var/lib/camaudit-hub/hub.db"
            kept = {p: digest(p) for p in (cfg, key, hub_key, tok_file)}
            assert hub_db.is_file()
            runs_before = device_runs(box)
            assert runs_before >= 2  # the first start and the one after the watchdog's restart
            box.poweroff()

            # reboot: the same root (the overlay's upper layer) boots again
            box.start()
            box.wait_active("camaudit.service", timeout=120)
            box.wait_active("camaudit-hub.service", timeout=120)
            assert {p: digest(p) for p in kept} == kept  # configs, keys and the web token as they were
            assert hub_db.is_file()
            assert device_runs(box) == runs_before + 1  # the same journal, one run longer
            clock = last_online_clock(box)  # what the device can tell about the clock, sandboxed
            assert isinstance(clock["synced"], bool) and clock["how"]
            print("device.online clock:", clock)
            verify = box.sh("setpriv --reuid=camaudit --regid=camaudit --init-groups "
                            "camaudit verify /var/lib/camaudit/journal.db", check=False)
            assert verify.returncode == 0, verify.stdout + verify.stderr
            assert db.is_file()
        finally:
            box.poweroff()
