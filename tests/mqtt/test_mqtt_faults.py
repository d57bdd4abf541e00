"""Fault tests: each ends with the hub holding every seq of the device exactly once.

- broker SIGKILLed mid-stream and restarted (mosquitto, persistence on)
- hub down for a while and back (external mosquitto; and the hub's own mosquitto going
  down with its hub)
- device process SIGKILLed mid-stream and restarted
- broker unreachable when the device starts
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from brokers import Mosquitto, free_port, require_mosquitto, wait_for
from devicesim import append_captures

from camaudit.config.mqtt import MqttConfig
from camaudit.hub.run import HubHandle
from camaudit.mqtt.publisher import Publisher
from camaudit.store.journal import Journal

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

HERE = Path(__file__).parent


def assert_exactly_once(hub: HubHandle, device: str, head: int) -> None:
    wait_for(lambda: hub.store.count_events(device) >= head, timeout=40,
             what=f"hub to hold {head} events of {device}")
    seqs = hub.store.seqs(device)
    assert seqs == list(range(1, head + 1))
    assert hub.store.count_events(device) == head
    assert hub.store.rejects() == {}


def assert_delivered(hub: HubHandle, journal: Journal) -> None:
    """The hub holds every seq of the journal exactly once, and the device's outbox drained."""
    assert_exactly_once(hub, journal.device, journal.head[0])
    wait_for(lambda: journal.outbox_size() == 0, what="outbox drained")


def _stream(journal: Journal, pub: Publisher, upto: int, rate: float) -> threading.Thread:
    t = threading.Thread(target=append_captures, args=(journal, upto, rate, pub), daemon=True)
    t.start()
    return t


@pytest.mark.parametrize("which", ["mosquitto", "hub-managed"])
def test_broker_sigkill_mid_stream(which: str, tmp_path: Path, make_hub) -> None:
    broker: Mosquitto | None = None
    if which == "mosquitto":
        require_mosquitto()
        broker = Mosquitto(tmp_path / "mosquitto").start()
        hub = make_hub(broker=broker.url)
    else:  # the hub's own mosquitto, a supervised child process of the hub
        hub = make_hub()
        assert hub.embedded_broker is not None
    journal = Journal.open(tmp_path / "dev" / "journal.db", "dev1", checkpoint_every=100)
    hub.enroll("dev1", journal.public_key.hex())
    pub = Publisher(hub.device_mqtt("dev1").model_copy(update={"ack_timeout_s": 2.0}), journal,
                    feeds=["counter"])
    pub.start()
    try:
        t = _stream(journal, pub, 1500, 400)
        wait_for(lambda: hub.store.count_events("dev1") >= 300, what="first events stored")
        if broker is not None:
            broker.kill()
            time.sleep(1.0)  # the device keeps appending meanwhile
            broker.start()
        else:  # SIGKILL: the hub's supervisor starts mosquitto again on the same port
            hub.embedded_broker.kill()
            wait_for(lambda: hub.embedded_broker.restarts == 1, timeout=15, what="mosquitto restarted")
        t.join(30)
        assert not t.is_alive()
        assert_delivered(hub, journal)
    finally:
        pub.stop()
        journal.close()
        if broker is not None:
            broker.stop()


@pytest.mark.parametrize("which", ["mosquitto", "hub-managed"])
def test_hub_down_and_back(which: str, tmp_path: Path, make_hub) -> None:
    if which == "mosquitto":
        require_mosquitto()
        broker: Mosquitto | None = Mosquitto(tmp_path / "mosquitto").start()
        kw: dict[str, object] = {"broker": broker.url}
    else:  # the hub's mosquitto lives and dies with the hub
        broker = None
        kw = {"broker_listen": f"127.0.0.1:{free_port()}"}
    journal = Journal.open(tmp_path / "dev" / "journal.db", "dev1", checkpoint_every=100)
    hub = make_hub(**kw)
    hub.enroll("dev1", journal.public_key.hex())
    pub = Publisher(hub.device_mqtt("dev1").model_copy(update={"ack_timeout_s": 2.0}), journal)
    pub.start()
    try:
        t = _stream(journal, pub, 1200, 300)
        wait_for(lambda: hub.store.count_events("dev1") >= 200, what="first events stored")
        hub.stop()
        stored_before = journal.head[0] - journal.outbox_size()
        time.sleep(3.0)  # hub away; the device keeps capturing
        assert journal.outbox_size() > 0
        hub = make_hub(**kw)
        t.join(30)
        assert_exactly_once(hub, "dev1", journal.head[0])
        assert stored_before < journal.head[0]
        wait_for(lambda: journal.outbox_size() == 0, what="outbox drained")
    finally:
        pub.stop()
        journal.close()
        if broker is not None:
            broker.stop()


def _device_proc(journal: Path, cfg: MqttConfig, count: int, rate: float) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(HERE) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    creds = [cfg.username, cfg.password_file] if cfg.username and cfg.password_file else []
    return subprocess.Popen(
        [sys.executable, str(HERE / "devicesim.py"), str(journal), "dev1", cfg.url, str(count),
         str(rate), "2.0", *creds],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )


def _read_until(proc: subprocess.Popen[str], pred, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            pytest.fail(f"device process ended early (rc {proc.poll()})")
        if pred(line.strip()):
            return line.strip()
    pytest.fail("device process did not report in time")


@pytest.mark.parametrize("which", ["mosquitto", "hub-managed"])
def test_device_sigkill_mid_stream(which: str, tmp_path: Path, make_hub) -> None:
    path = tmp_path / "dev" / "journal.db"
    # enroll the device key before it starts: open the journal once to create its key
    with Journal.open(path, "dev1") as j:
        key = j.public_key.hex()
    broker: Mosquitto | None = None
    if which == "mosquitto":
        require_mosquitto()
        broker = Mosquitto(tmp_path / "mosquitto").start()
        hub = make_hub(broker=broker.url)
    else:
        hub = make_hub()
    hub.enroll("dev1", key)
    url = hub.device_mqtt("dev1")
    proc = _device_proc(path, url, 1500, 300)
    try:
        _read_until(proc, lambda s: s.startswith("appended") and int(s.split()[1]) >= 400)
        wait_for(lambda: hub.store.count_events("dev1") >= 100, what="first events stored")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        # the last will tells the hub the device is gone
        wait_for(lambda: not hub.store.devices()[0].online, timeout=20, what="LWT offline")
        proc = _device_proc(path, url, 1500, 300)
        _read_until(proc, lambda s: s == "done", timeout=60)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if broker is not None:
            broker.stop()
    with Journal.open(path, "dev1") as j:
        head = j.head[0]
        assert j.outbox_size() == 0
    assert head >= 1500
    assert_exactly_once(hub, "dev1", head)


@pytest.mark.parametrize("which", ["mosquitto", "hub-managed"])
def test_broker_unreachable_at_device_start(which: str, tmp_path: Path, make_hub) -> None:
    port = free_port()
    url = f"mqtt://127.0.0.1:{port}"
    journal = Journal.open(tmp_path / "dev" / "journal.db", "dev1", checkpoint_every=100)
    cfg = MqttConfig(url=url, ack_timeout_s=2.0)
    if which == "hub-managed":  # the device's credentials exist before the hub first starts
        from camaudit.hub.broker.files import broker_dir, ensure_user_secret

        secret = ensure_user_secret(tmp_path / "hub", broker_dir(tmp_path / "hub") / "passwd", "dev1")
        cfg = cfg.model_copy(update={"username": "dev1", "password_file": str(secret)})
    pub = Publisher(cfg, journal)
    broker: Mosquitto | None = None
    try:
        pub.start()  # nothing listens on the port: must not block or raise
        append_captures(journal, 300, 0, pub)  # capture goes on while offline
        assert not pub.connected
        assert journal.outbox_size() == journal.head[0]
        if which == "mosquitto":
            require_mosquitto()
            broker = Mosquitto(tmp_path / "mosquitto", port).start()
            hub = make_hub(broker=url)
        else:
            hub = make_hub(broker_listen=f"127.0.0.1:{port}")
        hub.enroll("dev1", journal.public_key.hex())
        append_captures(journal, 400, 0, pub)
        assert_delivered(hub, journal)
    finally:
        pub.stop()
        journal.close()
        if broker is not None:
            broker.stop()
