"""The hub's systemd watchdog (health/hub_watchdog.py) on a real hub (its own mosquitto, web
page, SQLite store): READY=1 and pings while collector, broker supervisor and web server are
alive; a hung collector (stuck writing its heartbeat while another process holds the store's
write lock) stops the pings, which come back once it turns again; a dead broker supervisor
or web server stops them too."""

from __future__ import annotations

import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mqtt"))

from brokers import require_mosquitto  # noqa: E402
from conftest_hub import hub_config  # noqa: E402
from notify_helpers import lines, notify_listener  # noqa: E402

from camaudit.health.hub_watchdog import HubWatchdog, hub_checks  # noqa: E402
from camaudit.health.sd_notify import Notifier  # noqa: E402
from camaudit.hub.run import HubHandle, start_hub  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

WATCHDOG_S = 2.0  # pings every 1 s
STALL_S = 1.5


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubHandle]:
    require_mosquitto()
    h = start_hub(hub_config(tmp_path, web=True))
    try:
        yield h
    finally:
        h.stop()


def ticking(dog: HubWatchdog, stop: threading.Event) -> threading.Thread:
    def run() -> None:
        while not stop.wait(0.1):
            dog.tick()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_a_hung_collector_stops_the_pings(hub: HubHandle):
    with notify_listener() as sd:
        env = {"NOTIFY_SOCKET": str(sd.path), "WATCHDOG_USEC": str(int(WATCHDOG_S * 1e6))}
        dog = HubWatchdog(hub_checks(hub, stall_s=STALL_S), Notifier(env))
        assert set(dog.checks) == {"collector", "broker supervisor", "web server"}
        stop = threading.Event()
        ticking(dog, stop)
        try:
            sd.wait_for("READY=1", 10)
            assert len(lines(sd.collect(3.0), "WATCHDOG=1")) >= 2  # alive: pinged every second

            # hang the collector: another process holds the store's write lock, so its next
            # heartbeat write waits (busy timeout 10 s) and its loop stops turning
            db = sqlite3.connect(str(hub.data_dir / "hub.db"), isolation_level=None, timeout=5)
            db.execute("BEGIN EXCLUSIVE")
            held = time.monotonic()
            try:
                msgs = sd.collect(6.0)
            finally:
                db.execute("ROLLBACK")
                db.close()
            late = [t for t in lines(msgs, "WATCHDOG=1") if t > held + STALL_S + 1.5]
            assert late == [], "pinged while the collector was stuck"
            assert any("STATUS=not alive: collector" in m for _, m in msgs)
            assert dog.failing() == [] or dog.failing() == ["collector"]

            # it turns again: the pings come back
            sd.wait_for("WATCHDOG=1", 15)
            assert dog.failing() == []
        finally:
            stop.set()


def test_dead_supervisor_or_web_server_stops_the_pings(hub: HubHandle):
    dog = HubWatchdog(hub_checks(hub, stall_s=STALL_S), Notifier({}))
    assert dog.tick() == [] and dog.ready
    hub.embedded_broker.stop()  # the supervisor thread ends with it
    assert "broker supervisor" in dog.tick()
    server, thread = hub._web, hub._web_thread
    server.should_exit = True
    thread.join(10)
    assert dog.tick() == ["broker supervisor", "web server"]


def test_the_hub_command_notifies_systemd_and_never_prints_its_token(tmp_path: Path):
    import os
    import signal
    import subprocess

    require_mosquitto()
    data = tmp_path / "hub"
    with notify_listener() as sd:
        env = {**os.environ, "NOTIFY_SOCKET": str(sd.path), "WATCHDOG_USEC": "4000000"}
        cli = Path(sys.executable).with_name("camaudit")
        proc = subprocess.Popen([str(cli), "hub", "--data-dir", str(data), "--broker-listen", "127.0.0.1:0",
                                 "--listen", "127.0.0.1:0"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        try:
            sd.wait_for("READY=1", 30)
            assert len(lines(sd.collect(2.5), "WATCHDOG=1")) >= 1  # every 2 s
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    token_file = data / "web.token"
    token = token_file.read_text().strip()
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert f"login token in {token_file}" in out
    assert token not in out
