"""`camaudit hub` commands: enroll, adduser, and running the hub as a process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from brokers import free_port, wait_for, wait_port
from click.testing import CliRunner

from camaudit.hub.commands.cli import hub_cmd
from camaudit.hub.store.hub_store import HubError, HubStore
from camaudit.store.keys import DeviceKey


def test_enroll_stores_key_and_refuses_bad_ones(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    key = DeviceKey.generate()
    r = CliRunner().invoke(hub_cmd, ["--db", str(db), "enroll", "cafe-01", key.public_hex.upper()])
    assert r.exit_code == 0, r.output
    assert "enrolled cafe-01" in r.output
    store = HubStore(db)
    assert store.public_key("cafe-01") == key.public_bytes
    store.close()
    for args, msg in (
        (["cafe-02", "abcd"], "32 bytes"),
        (["cafe-02", "zz" * 32], "not hex"),
        (["cafe-01", DeviceKey.generate().public_hex], "another key"),
        (["bad/id", key.public_hex], "device id"),
    ):
        r = CliRunner().invoke(hub_cmd, ["--db", str(db), "enroll", *args])
        assert r.exit_code != 0
        assert isinstance(r.exception, HubError) and msg in str(r.exception)


def test_adduser_writes_private_password_file(tmp_path: Path) -> None:
    r = CliRunner().invoke(hub_cmd, ["--data-dir", str(tmp_path / "hub"), "adduser", "cafe-01"])
    assert r.exit_code == 0, r.output
    secret = tmp_path / "hub" / "secrets" / "cafe-01.pass"
    assert secret.stat().st_mode & 0o777 == 0o600
    passwd_file = tmp_path / "hub" / "broker" / "passwd"
    assert passwd_file.stat().st_mode & 0o777 == 0o600
    passwd = passwd_file.read_text()
    assert passwd.startswith("cafe-01:$7$")  # mosquitto_passwd's PBKDF2-SHA512
    assert secret.read_text().strip() not in passwd
    r = CliRunner().invoke(hub_cmd, ["--data-dir", str(tmp_path / "hub"), "adduser", "hub"])
    assert isinstance(r.exception, HubError) and "the hub's own MQTT user" in str(r.exception)
    r = CliRunner().invoke(hub_cmd, ["--data-dir", str(tmp_path / "hub"), "enroll", "alerts", "ab" * 32])
    assert isinstance(r.exception, HubError) and "reserved" in str(r.exception)


@pytest.mark.integration
def test_hub_process_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    web, mq = free_port(), free_port()
    env = dict(os.environ)
    proc = subprocess.Popen(
        [sys.executable, "-c", "from camaudit.hub.commands.cli import hub_cmd; hub_cmd()",
         "--data-dir", str(tmp_path / "hub"), "--listen", f"127.0.0.1:{web}",
         "--broker-listen", f"127.0.0.1:{mq}", "--token", "cli-token-0123456789abcdef", "--user", "cafe-01"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(4)]
        assert lines[0].strip() == f"broker  mqtt://127.0.0.1:{mq}"
        assert "cafe-01.pass" in lines[1]
        assert lines[2].startswith(f"web     http://127.0.0.1:{web}")
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{web}/healthz").status_code == 200,
                 timeout=10, what="web page")
        r = httpx.get(f"http://127.0.0.1:{web}/api/devices",
                      headers={"Authorization": "Bearer cli-token-0123456789abcdef"})
        assert r.status_code == 200 and r.json() == []
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        wait_port(mq, 10, up=False)  # its mosquitto stopped with it
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


@pytest.mark.integration
def test_mosquitto_does_not_outlive_a_killed_hub_and_enroll_reloads_it(tmp_path: Path) -> None:
    web, mq = free_port(), free_port()
    data = tmp_path / "hub"
    proc = subprocess.Popen(
        [sys.executable, "-c", "from camaudit.hub.commands.cli import hub_cmd; hub_cmd()",
         "--data-dir", str(data), "--listen", f"127.0.0.1:{web}", "--broker-listen", f"127.0.0.1:{mq}"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(4)]
        assert lines[3].startswith(f"alerts  camaudit alerts --broker mqtt://127.0.0.1:{mq} --username alerts")
        # `hub enroll` in another process: the device's MQTT user works at once (SIGHUP, no restart)
        key = DeviceKey.generate().public_hex
        r = CliRunner().invoke(hub_cmd, ["--data-dir", str(data), "enroll", "cafe-01", key])
        assert r.exit_code == 0, r.output
        assert "cafe-01: MQTT user cafe-01, password in" in r.output
        pid = int((data / "broker" / "mosquitto.pid").read_text())
        import paho.mqtt.client as mqtt

        rcs: list[int] = []
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="x")
        c.username_pw_set("cafe-01", (data / "secrets" / "cafe-01.pass").read_text().strip())
        c.on_connect = lambda cl, ud, fl, rc, pr: rcs.append(rc.value)
        c.connect("127.0.0.1", mq)
        c.loop_start()
        wait_for(lambda: rcs, timeout=10, what="CONNACK")
        c.disconnect()
        c.loop_stop()
        assert rcs == [0]
        assert int((data / "broker" / "mosquitto.pid").read_text()) == pid  # not restarted
        proc.kill()  # SIGKILL: no clean shutdown; mosquitto must not keep the port
        proc.wait(10)
        wait_port(mq, 10, up=False)
        wait_for(lambda: not Path(f"/proc/{pid}").exists(), timeout=10, what="mosquitto gone")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
