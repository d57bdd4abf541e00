"""`camaudit alerts`: readable alert lines from the broker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from brokers import Mosquitto
from click.testing import CliRunner

from camaudit.config.mqtt import MqttConfig
from camaudit.errors import CamauditError
from camaudit.mqtt.command import alerts_cmd, format_alert
from camaudit.mqtt.publisher import Publisher
from camaudit.store.journal import Journal


def test_format_alert() -> None:
    line = format_alert("camaudit/cafe-01/alerts", b'{"device":"cafe-01","feed":"counter",'
                        b'"text":"faces captured, notice missing","reasons":["notice_missing"],'
                        b'"seq":42,"ts":1795651200123}')
    assert line == ("2026-11-26 00:00:00 UTC  cafe-01/counter  faces captured, notice missing "
                    "(notice_missing)  [seq 42]")
    assert format_alert("camaudit/x/alerts", b"not json") is None
    assert format_alert("camaudit/x/alerts", b"[1]") is None


@pytest.mark.integration
def test_alerts_command_prints_live_alerts(mosquitto: Mosquitto, tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "journal.db", "cafe-01")
    pub = Publisher(MqttConfig(url=mosquitto.url), journal)
    pub.start()

    def later() -> None:
        time.sleep(1.5)
        journal.append("alert", "counter", {"text": "notice torn down", "capture": "c-1",
                                             "reasons": ["notice_missing"], "ref_seq": 0}, 1795651200000)
        pub.notify()

    t = threading.Thread(target=later)
    t.start()
    try:
        r = CliRunner().invoke(alerts_cmd, ["--broker", mosquitto.url, "--wait", "5"])
    finally:
        t.join()
        pub.stop()
        journal.close()
    assert r.exit_code == 0, r.output
    assert "cafe-01/counter  notice torn down (notice_missing)  [seq 1]" in r.output


def test_alerts_command_reports_unreachable_broker() -> None:
    from brokers import free_port

    r = CliRunner().invoke(alerts_cmd, ["--broker", f"mqtt://127.0.0.1:{free_port()}", "--wait", "1"])
    assert isinstance(r.exception, CamauditError)
    assert str(r.exception).startswith("cannot connect to mqtt://127.0.0.1:")


@pytest.mark.integration
def test_alerts_command_on_the_hub_broker_needs_the_alerts_user(make_hub, tmp_path: Path) -> None:
    hub = make_hub()
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("not-the-password\n")
    for args in ([], ["--username", "alerts", "--password-file", str(wrong)]):
        r = CliRunner().invoke(alerts_cmd, ["--broker", hub.broker_url, "--wait", "3", *args])
        assert isinstance(r.exception, CamauditError), r.output
        assert str(r.exception).startswith(f"refused: not authorized: {hub.broker_url} refused")
    journal = Journal.open(tmp_path / "journal.db", "cafe-01")
    pub = Publisher(hub.device_mqtt("cafe-01"), journal)
    pub.start()

    def later() -> None:
        time.sleep(1.5)
        journal.append("alert", "counter", {"text": "notice torn down", "capture": "c-1",
                                             "reasons": ["notice_missing"], "ref_seq": 0}, 1795651200000)
        pub.notify()

    t = threading.Thread(target=later)
    t.start()
    try:
        r = CliRunner().invoke(alerts_cmd, ["--broker", hub.broker_url, "--username", "alerts",
                                            "--password-file", str(hub.password_file("alerts")),
                                            "--wait", "5"])
    finally:
        t.join()
        pub.stop()
        journal.close()
    assert r.exit_code == 0, r.output
    assert "cafe-01/counter  notice torn down (notice_missing)  [seq 1]" in r.output


# --- issue 22.4 and 20.9: connected/disconnected, fails fast, lists current alerts, safe text


def _alerts_proc(*args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, TZ="UTC", PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "camaudit.cli", "alerts", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, stdin=subprocess.DEVNULL)


def _publish(url: str, topic: str, payload: bytes, retain: bool = False) -> None:
    import paho.mqtt.publish as publish

    host, port = url.removeprefix("mqtt://").split(":")
    publish.single(topic, payload, qos=1, retain=retain, hostname=host, port=int(port))


def _fork(dev: str, i: int) -> dict:
    return {"device": dev, "seq": 10 + i, "ts": 1774785600000 + i * 1000, "feed": None,
            "text": f"FORK: two validly signed versions of {dev}", "reasons": ["fork"], "tz": "Europe/Paris"}


@pytest.mark.parametrize("follow", [[], ["-f"]])
def test_wrong_port_fails_within_seconds_in_one_line(follow: list[str]) -> None:
    from brokers import free_port

    t0 = time.monotonic()
    proc = _alerts_proc("--broker", f"mqtt://127.0.0.1:{free_port()}", *follow)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 10
    assert proc.returncode == 2 and out == ""
    assert err.count("\n") == 1 and "cannot connect to mqtt://127.0.0.1:" in err and "refused" in err


def test_unknown_host_fails_in_one_line() -> None:
    proc = _alerts_proc("--broker", "mqtt://no-such-host.invalid:1883", "-f")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and err.count("\n") == 1 and "not found" in err


@pytest.mark.integration
def test_without_follow_lists_every_open_alert_in_venue_time(mosquitto: Mosquitto) -> None:
    """The hub keeps its open alerts retained on `<p>/hub/alerts`: all five forks are listed
    (not only the last one), times in the zone the alert names, then the command exits."""
    forks = [_fork(f"cafe-0{i}", i) for i in range(5)]
    _publish(mosquitto.url, "camaudit/hub/alerts", json.dumps({"alerts": forks}).encode(), retain=True)
    proc = _alerts_proc("--broker", mosquitto.url, "--wait", "1")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"connected to {mosquitto.url}" in err
    lines = out.splitlines()
    assert len(lines) == 5 and all(f"hub about cafe-0{i}" in lines[i] for i in range(5))
    assert lines[0].startswith("2026-03-29 14:00:00 CEST  hub about cafe-00")
    # the hub's present format (one retained alert) still reads
    _publish(mosquitto.url, "camaudit/hub/alerts", json.dumps(forks[0]).encode(), retain=True)
    out = _alerts_proc("--broker", mosquitto.url, "--wait", "1", "--tz", "America/New_York").communicate(timeout=30)[0]
    assert out.splitlines() == [lines[0].replace("2026-03-29 14:00:00 CEST", "2026-03-29 08:00:00 EDT")]
    _publish(mosquitto.url, "camaudit/hub/alerts", b"", retain=True)
    proc = _alerts_proc("--broker", mosquitto.url, "--wait", "1")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and out == "" and "no current alert" in err


@pytest.mark.integration
def test_follow_names_the_topic_sender_strips_escapes_and_reports_the_connection(tmp_path: Path) -> None:
    from brokers import require_mosquitto

    require_mosquitto()
    broker = Mosquitto(tmp_path / "m").start()
    proc = _alerts_proc("--broker", broker.url, "-f")
    try:
        assert "connected to" in proc.stderr.readline()
        evil = {"device": "trusted-venue", "seq": 7, "ts": 1795651200000, "feed": "door\x1b[2J",
                "text": "all fine\r\x1b[32mOK\x1b[0m\x07\u202egnp.exe", "reasons": ["no_notice\x1b]0;pwn\x07"]}
        _publish(broker.url, "camaudit/cafe-01/alerts", json.dumps(evil).encode())
        line = proc.stdout.readline()
        assert line.startswith("2026-11-26 00:00:00 UTC  cafe-01 (payload claims 'trusted-venue')/door")
        assert not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or c == "\u202e" for c in line.rstrip("\n"))
        broker.stop()  # the hub goes away: said at once, then back
        assert "disconnected from" in proc.stderr.readline()
        broker.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if "connected again" in proc.stderr.readline():
                break
        else:
            pytest.fail("no 'connected again'")
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        broker.stop()
    assert "Traceback" not in err
