"""TLS (mqtts:// with a CA file) and username/password files, device and hub, on mosquitto."""

from __future__ import annotations

import datetime as dt
import ipaddress
import subprocess
from pathlib import Path

import pytest
from brokers import Mosquitto, free_port, require_mosquitto, wait_for
from camaudit.config.mqtt import MqttConfig
from camaudit.mqtt.publisher import Publisher
from camaudit.store.journal import Journal
from devicesim import append_captures

pytestmark = pytest.mark.integration


def _certs(d: Path) -> tuple[Path, Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("test ca")).issuer_name(name("test ca"))
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(now)
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name("127.0.0.1")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(2).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (d / "ca.pem").write_bytes(ca.public_bytes(pem))
    (d / "server.pem").write_bytes(cert.public_bytes(pem))
    (d / "server.key").write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
    (d / "server.key").chmod(0o600)
    return d / "ca.pem", d / "server.pem", d / "server.key"


def test_tls_and_passwords_end_to_end(tmp_path: Path, make_hub) -> None:
    require_mosquitto()
    d = tmp_path / "tls"
    d.mkdir()
    ca, cert, key = _certs(d)
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
