"""The hub's own mosquitto against a hostile stranger and a hostile enrolled device, on
127.0.0.1, as the hub runs it (generated config, password file, ACL, limits)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from brokers import wait_for

from camaudit.hub.broker.files import ensure_user_secret, workers_file
from camaudit.hub.broker.mosquitto import BrokerLimits, ManagedMosquitto

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def connect_packet(user: str, password: str, client_id: str = "x") -> bytes:
    def s(v: str) -> bytes:
        return len(v.encode()).to_bytes(2, "big") + v.encode()

    var = s("MQTT") + bytes([4, 0xC2]) + (30).to_bytes(2, "big")  # user+password, clean session
    payload = s(client_id) + s(user) + s(password)
    return bytes([0x10]) + remaining_length(len(var) + len(payload)) + var + payload


def closed_within(sock: socket.socket, seconds: float, junk: bytes = b"") -> bool:
    """True when the peer closes (EOF or reset) within `seconds` while we keep sending junk."""
    sock.settimeout(0.2)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if junk:
                sock.sendall(junk)
            data = sock.recv(65536)
            if data == b"":
                return True
        except TimeoutError:
            continue
        except OSError:  # reset / broken pipe: closed
            return True
    return False


class Client:
    """A paho client that records CONNACK, SUBACK codes, messages and disconnects."""

    def __init__(self, url: str, user: str, password: str, *, client_id: str = "",
                 clean_session: bool = True) -> None:
        host, port = url.rsplit("/", 1)[1].split(":")
        self.rc: int | None = None
        self.session_present: bool | None = None
        self.granted: list[int] = []
        self.messages: list[tuple[str, bytes]] = []
        self.disconnects = 0
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session)
        c.username_pw_set(user, password)
        c.on_connect = self._on_connect
        c.on_subscribe = self._on_subscribe
        c.on_message = lambda cl, ud, m: self.messages.append((m.topic, m.payload))
        c.on_disconnect = self._on_disconnect
        c.reconnect_delay_set(60, 60)  # never silently come back during a test
        self.c = c
        c.connect(host, int(port), keepalive=30)
        c.loop_start()
        wait_for(lambda: self.rc is not None, timeout=10, what=f"CONNACK for {user}")

    def _on_connect(self, c, ud, flags, rc, props) -> None:
        self.rc = rc.value
        self.session_present = bool(flags.session_present)
        if not rc.is_failure:
            self.connected.set()

    def _on_subscribe(self, c, ud, mid, rcs, props) -> None:
        self.granted = [r.value for r in rcs]
        self.subscribed.set()

    def _on_disconnect(self, c, ud, flags, rc, props) -> None:
        self.disconnects += 1

    def subscribe(self, *filters: str) -> list[int]:
        self.subscribed.clear()
        self.c.subscribe([(f, 1) for f in filters])
        assert self.subscribed.wait(10)
        return self.granted

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.c.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def _password(hub, user: str) -> str:
    return hub.password_file(user).read_text().strip()


def test_strangers_are_refused_and_cannot_grow_the_broker(make_hub) -> None:
    hub = make_hub(broker_users=["dev1"])
    b = hub.embedded_broker
    port = b.port
    before = rss_kb(b.pid)
    # 20 half-sent 15 MB CONNECTs, no password: each closed at its length header
    socks = []
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(bytes([0x10]) + remaining_length(15 * 1024 * 1024) + b"\x00\x04MQTT")
        socks.append(s)
    assert all(closed_within(s, 5, b"\0" * 65536) for s in socks)
    for s in socks:
        s.close()
    # a known user with a wrong password, then a byte stream: refused (rc 5) and closed
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(connect_packet("dev1", "wrong"))
    s.settimeout(5)
    assert s.recv(4) == b"\x20\x02\x00\x05"  # CONNACK: not authorized
    assert closed_within(s, 5, b"\x30" + b"\xff" * 65535)
    s.close()
    # no password at all
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(bytes([0x10]) + remaining_length(12) + b"\x00\x04MQTT\x04\x02\x00\x1e\x00\x00")
    s.settimeout(5)
    assert s.recv(4) == b"\x20\x02\x00\x05"
    s.close()
    grown = rss_kb(b.pid) - before
    assert grown < 8 * 1024, f"broker grew by {grown} kB"


def test_known_and_unknown_user_names_get_the_same_answer(make_hub) -> None:
    hub = make_hub(broker_users=["dev1"])
    answers = {}
    for user in ("dev1", "nobody-here"):
        t0 = time.perf_counter()
        c = Client(hub.broker_url, user, "wrong-password")
        answers[user] = (c.rc, time.perf_counter() - t0)
        c.close()
    assert answers["dev1"][0] == answers["nobody-here"][0] == 135  # paho: "Not authorized" (CONNACK 5), both
    assert max(t for _, t in answers.values()) < 2.0  # bounded: no password work queued


def _auditor(hub) -> Client:
    """A test-only user that may read everything: what the broker really delivers/retains
    (listed with the hub's workers, whose subscriptions the broker's plugin leaves to the ACL)."""
    b = hub.embedded_broker
    ensure_user_secret(hub.data_dir, b.passwd_file, "auditor")
    with workers_file(hub.data_dir).open("a") as f:
        f.write("auditor\n")
    b.acl_file.write_text(b.acl_file.read_text() + "\nuser auditor\ntopic read #\n")
    b.reload()
    time.sleep(0.5)
    c = Client(hub.broker_url, "auditor", _password(hub, "auditor"))
    assert c.rc == 0
    c.subscribe("#")
    return c


def test_a_device_is_walled_off_from_every_other_device_and_the_hub(make_hub) -> None:
    hub = make_hub(broker_users=["dev1", "dev2"])
    assert hub.wait_connected()
    audit = _auditor(hub)
    dev1 = Client(hub.broker_url, "dev1", _password(hub, "dev1"), client_id="camaudit-dev1")
    assert dev1.subscribe("camaudit/dev1/ack", "camaudit/dev1/cmd/replay") == [1, 1]
    mallory = Client(hub.broker_url, "dev2", _password(hub, "dev2"), client_id="camaudit-dev2")
    # reading other devices: the broker's plugin refuses every filter off the device's list
    # (SUBACK 0x80); the ACL would anyway deliver nothing of theirs (asserted below)
    assert mallory.subscribe("#", "camaudit/#", "camaudit/dev1/#", "camaudit/+/ack",
                             "camaudit/+/events") == [0x80] * 5
    # writing another device's retained state, discovery, acks and commands; its own acks
    forged = [
        ("camaudit/dev1/status", b"offline", True),
        ("camaudit/dev1/notices/entrance", b"visible", True),
        ("camaudit/dev1/feeds/counter/unconsented_today", b"0", True),
        ("homeassistant/binary_sensor/camaudit_dev1/online/config", b"{}", True),
        ("camaudit/dev1/events", b"{}", False),
        ("camaudit/dev1/ack", b"999", False),
        ("camaudit/dev1/cmd/replay", b"1", False),
        ("camaudit/dev2/ack", b"999", False),
        ("camaudit/dev2/cmd/replay", b"1", False),
        ("camaudit/hub/alerts", b"{}", True),
    ]
    for topic, payload, retain in forged:
        mallory.publish(topic, payload, retain)
    # its own subtree works (the control that shows the auditor sees what is delivered)
    mallory.publish("camaudit/dev2/status", b"online", retain=True)
    mallory.publish("homeassistant/sensor/camaudit_dev2/x/config", b"{}", retain=True)
    dev1.publish("camaudit/dev1/alerts", b'{"text":"private"}')
    wait_for(lambda: {"camaudit/dev2/status", "homeassistant/sensor/camaudit_dev2/x/config",
                      "camaudit/dev1/alerts"} <= {t for t, _ in audit.messages}, what="controls")
    time.sleep(0.5)
    seen = {t for t, _ in audit.messages}
    assert not seen & {t for t, _, _ in forged}
    assert dev1.messages == [] and mallory.messages == []
    # taking another device's or the hub's client id (clean session 0): the broker uses the
    # user name as client id, so the thief gets its own session, kicks no one, inherits nothing
    assert hub.store.rejects() == {}
    for n, cid in enumerate(("camaudit-dev1", "hub", "camaudit-hub"), 1):
        thief = Client(hub.broker_url, "dev2", _password(hub, "dev2"), client_id=cid, clean_session=False)
        assert thief.rc == 0
        assert thief.subscribe("camaudit/+/events") == [0x80]
        dev1.publish("camaudit/dev1/events", b"{}")  # what the hub's session receives
        wait_for(lambda n=n: hub.store.rejects().get("bad_schema") == n, what="the hub got it")
        time.sleep(0.3)
        assert thief.messages == []
        thief.close()
    assert dev1.disconnects == 0 and dev1.c.is_connected()
    assert hub.collector.connected.is_set()
    for c in (dev1, mallory, audit):
        c.close()


@pytest.mark.timeout(150)
def test_a_connect_trickled_byte_by_byte_is_closed(make_hub) -> None:
    hub = make_hub()
    s = socket.create_connection(("127.0.0.1", hub.embedded_broker.port))
    packet = bytes([0x10, 0x7F]) + b"\x00\x04MQTT\x04\x02\x00\x3c" + b"x" * 200
    t0 = time.monotonic()
    closed = False
    for byte in packet:  # one byte every 4 s (mosquitto: closed ~1.5 x 60 s after the last packet)
        try:
            s.sendall(bytes([byte]))
        except OSError:
            closed = True
            break
        if closed_within(s, 4.0):
            closed = True
            break
        if time.monotonic() - t0 > 130:
            break
    s.close()
    assert closed, "a trickled CONNECT stayed open for 130 s"


def test_a_subscriber_that_never_reads_cannot_grow_the_broker(tmp_path: Path) -> None:
    # the hub's generated config with a small queue so the bound shows in a short test
    b = ManagedMosquitto(tmp_path / "hub", "127.0.0.1", 0,
                         limits=BrokerLimits(max_queued_messages=100, max_queued_bytes=1024 * 1024,
                                             max_inflight_messages=20))
    b.write_config()
    secrets = {u: ensure_user_secret(tmp_path / "hub", b.passwd_file, u).read_text().strip()
               for u in ("alerts", "dev1")}
    b.start()
    try:
        s = socket.create_connection(("127.0.0.1", b.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(connect_packet("alerts", secrets["alerts"], "slow"))
        s.settimeout(5)
        assert s.recv(4) == b"\x20\x02\x00\x00"
        topic = b"camaudit/+/alerts"
        sub = b"\x00\x01" + len(topic).to_bytes(2, "big") + topic + b"\x01"
        s.sendall(bytes([0x82]) + remaining_length(len(sub)) + sub)
        time.sleep(0.3)  # and never read again
        before = rss_kb(b.pid)
        dev = Client(b.url, "dev1", secrets["dev1"])
        payload = b"a" * 8192
        for _ in range(3000):  # 24 MB through a subscriber that reads nothing
            dev.c.publish("camaudit/dev1/alerts", payload, qos=1)
        wait_for(lambda: dev.c.want_write() is False and len(dev.c._out_messages) == 0, timeout=60,
                 what="device's publishes acked")
        grown = rss_kb(b.pid) - before
        assert grown < 8 * 1024, f"broker grew by {grown} kB for a reader that never reads"
        dev.close()
        s.close()
    finally:
        b.stop()
