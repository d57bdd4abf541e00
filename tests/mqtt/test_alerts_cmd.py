"""`camaudit alerts`: readable alert lines from the broker."""

from __future__ import annotations

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
