"""TLS (mqtts:// with a CA file) and username/password files, device and hub, on mosquitto."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from brokers import Mosquitto, free_port, make_certs, require_mosquitto, wait_for
from devicesim import append_captures

from camaudit.config.mqtt import MqttConfig
from camaudit.mqtt.publisher import Publisher
from camaudit.store.journal import Journal

pytestmark = pytest.mark.integration


def test_tls_and_passwords_end_to_end(tmp_path: Path, make_hub) -> None:
    require_mosquitto()
    d = tmp_path / "tls"
    d.mkdir()
    ca, cert, key = make_certs(d)
    passwd = d / "passwd"
    for user, pw in (("dev1", "dev-secret"), ("hub", "hub-secret")):
        subprocess.run(["mosquitto_passwd", "-b", *([] if passwd.exists() else ["-c"]), str(passwd), user, pw],
                       check=True, capture_output=True)
    (d / "dev1.pass").write_text("dev-secret\n")
    (d / "hub.pass").write_text("hub-secret\n")
    (d / "bad.pass").write_text("wrong\n")
    port = free_port()
    broker = Mosquitto(tmp_path / "mosquitto", port, extra="\n".join([
        f"listener {port} 127.0.0.1", f"cafile {ca}", f"certfile {cert}", f"keyfile {key}",
        "allow_anonymous false", f"password_file {passwd}"])).start()
    url = f"mqtts://127.0.0.1:{port}"
    journal = Journal.open(tmp_path / "dev" / "journal.db", "dev1")
    hub = make_hub(broker=url, mqtt=MqttConfig(url=url, username="hub", password_file=str(d / "hub.pass"),
                                               ca_file=str(ca), homeassistant=False))
    hub.enroll("dev1", journal.public_key.hex())
    intruder = Publisher(MqttConfig(url=url, username="dev1", password_file=str(d / "bad.pass"),
                                    ca_file=str(ca)), journal)
    pub = Publisher(MqttConfig(url=url, username="dev1", password_file=str(d / "dev1.pass"),
                               ca_file=str(ca)), journal)
    try:
        intruder.start()
        assert hub.wait_connected(10)
        append_captures(journal, 50, 0)
        intruder.notify()
        pub.start()
        pub.notify()
        wait_for(lambda: journal.outbox_size() == 0, what="events acked over TLS")
        assert hub.store.seqs("dev1") == list(range(1, journal.head[0] + 1))
        assert not intruder.connected  # refused: wrong password
    finally:
        intruder.stop(1)
        pub.stop()
        journal.close()
        broker.stop()


def test_config_urls() -> None:
    c = MqttConfig(url="mqtts://hub.example.org")
    assert (c.tls, c.host, c.port) == (True, "hub.example.org", 8883)
    c = MqttConfig(url="mqtt://10.0.0.2:1884")
    assert (c.tls, c.host, c.port) == (False, "10.0.0.2", 1884)
    for bad in ("http://x:1883", "mqtt://", "mqtt://h:99999"):
        with pytest.raises(ValueError):
            MqttConfig(url=bad)


def test_hub_mosquitto_tls(tmp_path: Path, make_hub) -> None:
    d = tmp_path / "tls"
    d.mkdir()
    ca, cert, key = make_certs(d)
    hub = make_hub(broker_certfile=cert, broker_keyfile=key, broker_users=["dev1"])
    assert hub.broker_url.startswith("mqtts://127.0.0.1:")
    journal = Journal.open(tmp_path / "dev" / "journal.db", "dev1")
    hub.enroll("dev1", journal.public_key.hex())
    cfg = hub.device_mqtt("dev1").model_copy(update={"ca_file": str(ca)})
    pub = Publisher(cfg, journal)
    pub.start()
    try:
        append_captures(journal, 30, 0, pub)
        wait_for(lambda: journal.outbox_size() == 0, what="events acked over TLS")
        assert hub.store.seqs("dev1") == list(range(1, journal.head[0] + 1))
    finally:
        pub.stop()
        journal.close()
