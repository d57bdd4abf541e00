"""Real brokers for tests: Debian's mosquitto run by the test (a site's own broker, anonymous).

Shared by tests/mqtt and tests/hub (tests/hub/conftest.py puts this folder on sys.path).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0, up: bool = True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                if up:
                    return
        except OSError:
            if not up:
                return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} did not go {'up' if up else 'down'} in {timeout} s")


def wait_for(pred, timeout: float = 45.0, interval: float = 0.1, what: str = "condition"):
    """Poll `pred` until truthy (returns its value) or fail the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        val = pred()
        if val:
            return val
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class Mosquitto:
    """A mosquitto broker on 127.0.0.1:<port> with persistence in `workdir`."""

    def __init__(self, workdir: Path, port: int | None = None, *, extra: str = "") -> None:
        if MOSQUITTO is None:
            raise RuntimeError("mosquitto is not installed (apt-get install mosquitto)")
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _write_config(self) -> Path:
        conf = self.dir / "mosquitto.conf"
        has_listener = "listener" in self.extra
        conf.write_text(
            "\n".join([
                "" if has_listener else f"listener {self.port} 127.0.0.1",
                "" if "allow_anonymous" in self.extra else "allow_anonymous true",
                "user root",
                "persistence true",
                f"persistence_location {self.dir}/",
                "autosave_interval 1",
                "max_queued_messages 0",
                "max_inflight_messages 0",
                f"log_dest file {self.dir}/mosquitto.log",
                "log_type error",
                "log_type warning",
                "log_type notice",
                self.extra,
                "",
            ])
        )
        return conf

    def start(self) -> Mosquitto:
        conf = self._write_config()
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            wait_port(self.port, 10)
        except TimeoutError:
            self.proc.kill()
            err = self.proc.stderr.read().decode() if self.proc.stderr else ""
            log = (self.dir / "mosquitto.log").read_text() if (self.dir / "mosquitto.log").exists() else ""
            raise RuntimeError(f"mosquitto did not start: {err} {log}") from None
        return self

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no final persistence save."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc = None


def require_mosquitto() -> None:
    if MOSQUITTO is None:
        if os.environ.get("CI") == "true":
            pytest.fail("mosquitto missing on CI (apt-get install mosquitto)")
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")


class Watcher:
    """A plain paho subscriber that records (topic, payload, retain) of what it receives."""

    def __init__(self, url: str, *filters: str, username: str | None = None,
                 password: str | None = None, tls_ca: str | None = None) -> None:
        import threading
        from urllib.parse import urlsplit

        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self.ready = threading.Event()
        parts = urlsplit(url)
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"watcher-{free_port()}")
        if username:
            c.username_pw_set(username, password)
        if tls_ca:
            c.tls_set(ca_certs=tls_ca)
            c.tls_insecure_set(True)

        def on_connect(client, userdata, flags, rc, props):
            client.subscribe([(f, 1) for f in filters])

        def on_subscribe(client, userdata, mid, rcs, props):
            self.ready.set()

        def on_message(client, userdata, msg):
            with self._lock:
                self.messages.append((msg.topic, msg.payload, bool(msg.retain)))

        c.on_connect, c.on_subscribe, c.on_message = on_connect, on_subscribe, on_message
        c.connect(parts.hostname, parts.port)
        c.loop_start()
        self.client = c
        if not self.ready.wait(10):
            raise TimeoutError(f"watcher could not subscribe on {url}")

    def on(self, topic_suffix: str) -> list[bytes]:
        with self._lock:
            return [p for t, p, _ in self.messages if t.endswith(topic_suffix)]

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def make_certs(d: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server cert for 127.0.0.1: (ca.pem, server.pem, server.key) in `d`."""
    import datetime as dt
    import ipaddress

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
