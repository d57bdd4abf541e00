"""Issue 20, item 4: the hub's MQTT connections are bounded.

The hub's broker front (HAProxy, hub/broker/front.py) on the public port, against the real hub
and its real mosquitto on 127.0.0.1: a socket that sends no complete, valid CONNECT within the
delay (5 s) is closed, connections are bounded per source address (16) and in total
(`broker_max_connections`), each tested with more sockets than the limit, while devices, the
hub's collector and TLS keep working. Behind it, defence in depth: mosquitto's own
`max_connections`, and the kernel rule firmware/camaudit-hub.nft the unit loads (tested in a
network namespace against the managed mosquitto). The unit's file limit is above the fleet."""

from __future__ import annotations

import configparser
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
from brokers import make_certs, wait_for
from connflood import connect_packet, open_from, still_open
from devicesim import append_captures

from camaudit.hub.broker import front
from camaudit.hub.broker.files import add_user
from camaudit.hub.broker.front import FrontLimits, check_config, front_config_text, need_haproxy
from camaudit.hub.broker.mosquitto import BrokerLimits, ManagedMosquitto
from camaudit.hub.store.hub_store import HubError
from camaudit.mqtt.publisher import Publisher
from camaudit.store.journal import Journal

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
ROOT = Path(__file__).resolve().parents[2]
NFT = ROOT / "firmware" / "camaudit-hub.nft"
UNIT = ROOT / "firmware" / "camaudit-hub.service"
DELAY = 5.0  # HubConfig.broker_connect_timeout_s default
needs_haproxy = pytest.mark.skipif(front.haproxy_binary() is None, reason="haproxy not installed")


def _all_closed(socks: list[socket.socket], timeout: float) -> float | None:
    """Seconds until every socket in `socks` is closed by the peer, or None past `timeout`."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if still_open(socks) == 0:
            return time.monotonic() - t0
        time.sleep(0.1)
    return None


def _held(socks: list[socket.socket], expect: int, timeout: float = 3.0) -> int:
    """How many of `socks` stay open, once the front closed the ones past a limit: waits up to
    `timeout` (a loaded machine) for `expect`, and returns what it counted last."""
    deadline = time.monotonic() + timeout
    while (n := still_open(socks)) != expect and time.monotonic() < deadline:
        time.sleep(0.1)
    return n


def _haproxy_log(hub) -> str:
    return (hub.embedded_broker.dir / "haproxy.log").read_text(errors="replace")


def _device(hub, name: str, tmp_path: Path) -> tuple[Journal, Publisher]:
    journal = Journal.open(tmp_path / name / "journal.db", name)
    hub.enroll(name, journal.public_key.hex())
    return journal, Publisher(hub.device_mqtt(name), journal)


def _login(port: int, user: str, password: str, source: str = "127.0.0.1") -> socket.socket | None:
    """A raw MQTT client that sent CONNECT; the socket if mosquitto answered CONNACK accepted."""
    s = socket.socket()
    s.settimeout(3)
    s.bind((source, 0))
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(connect_packet(user, password))
        if s.recv(4) == bytes.fromhex("20020000"):
            return s
    except OSError:
        pass
    s.close()
    return None


@needs_haproxy
def test_silent_sockets_past_both_limits_are_closed_at_the_delay_while_a_device_publishes(
        make_hub, tmp_path: Path) -> None:
    """90 sockets that never send CONNECT, 30 from each of 3 addresses, against 16 per address
    and 64 in all: the front holds 16 of each, a device connects and is acked meanwhile, and
    every silent socket is closed within the delay + 2 s; haproxy.log names the addresses."""
    hub = make_hub(broker_max_connections=64)
    assert hub.wait_connected()
    journal, pub = _device(hub, "cam-1", tmp_path)
    port = hub.embedded_broker.port
    t0 = time.monotonic()
    floods = {src: open_from(src, port, 30) for src in ("127.0.0.2", "127.0.0.3", "127.0.0.4")}
    silent = [s for socks in floods.values() for s in socks]
    try:
        held = {src: _held(socks, 16) for src, socks in floods.items()}
        assert all(n == 16 for n in held.values()), held
        pub.start()
        append_captures(journal, 10, 0, pub)
        wait_for(lambda: journal.outbox_size() == 0, timeout=10, what="device acked through the front")
        acked_at = time.monotonic() - t0
        assert still_open(silent) == 48, "the device was acked while the silent sockets were held"
        assert acked_at < DELAY
        closed = _all_closed(silent, DELAY + 3)
        assert closed is not None and time.monotonic() - t0 <= DELAY + 2, closed
        assert hub.store.seqs("cam-1") == list(range(1, 11))
        assert hub.collector.connected.is_set()
        logged = _haproxy_log(hub)
        assert all(f"{src}:" in logged for src in floods), logged[-2000:]
    finally:
        pub.stop()
        journal.close()
        for s in silent:
            s.close()


@needs_haproxy
def test_a_connect_trickled_one_byte_a_second_is_dropped_at_the_delay(make_hub) -> None:
    hub = make_hub(broker_users=["cam-1"])
    packet = connect_packet("cam-1", hub.password_file("cam-1").read_text().strip())
    s = socket.create_connection(("127.0.0.1", hub.embedded_broker.port), 3, source_address=("127.0.0.5", 0))
    t0 = time.monotonic()
    closed_at = None
    for byte in packet[:-1]:  # never the whole packet
        try:
            s.sendall(bytes([byte]))
            s.settimeout(1.0)
            if s.recv(1) == b"":
                closed_at = time.monotonic() - t0
                break
        except TimeoutError:
            continue
        except OSError:
            closed_at = time.monotonic() - t0
            break
    s.close()
    assert closed_at is not None and DELAY - 0.5 <= closed_at <= DELAY + 1.5, closed_at
    wait_for(lambda: "127.0.0.5:" in _haproxy_log(hub), timeout=5, what="the dropped address logged")


@needs_haproxy
def test_one_source_address_holds_at_most_16_connections_at_the_front(make_hub) -> None:
    """100 sockets from 127.0.0.1 hold 16 (the rest closed at once, each logged); another
    address still connects and a device logs in."""
    hub = make_hub(broker_users=["cam-1"])
    port = hub.embedded_broker.port
    attacker = open_from("127.0.0.1", port, 100)
    other: list[socket.socket] = []
    try:
        assert _held(attacker, 16) == 16
        other = open_from("127.0.0.2", port, 4)
        time.sleep(0.2)
        assert still_open(other) == 4
        dev = _login(port, "cam-1", hub.password_file("cam-1").read_text().strip(), source="127.0.0.3")
        assert dev is not None, "a device from another address logs in"
        dev.close()
        # every refused socket is on record; HAProxy's log reaches the file through the hub's
        # log pump, so wait for it (bounded) rather than read it once
        deadline = time.monotonic() + 10
        while _haproxy_log(hub).count("127.0.0.1:") < 84 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _haproxy_log(hub).count("127.0.0.1:") >= 84
    finally:
        for s in attacker + other:
            s.close()


@needs_haproxy
@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"),
                    reason="needs root, unshare and ip for a network namespace")
def test_one_ipv6_slash_64_counts_as_one_address() -> None:
    """In a fresh network namespace, the front on [::]:1883: 20 silent sockets from each of two
    addresses of one /64 hold 16 between them (a host has a whole /64 to choose from), another
    /64 gets its own 16, and IPv4 127.0.0.1 its own 16."""
    res = subprocess.run(["unshare", "-n", sys.executable, str(Path(__file__).with_name("connflood6.py"))],
                         capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    held = json.loads(res.stdout.strip().splitlines()[-1])
    assert held["2001:db8:0:1::1"] + held["2001:db8:0:1::2"] == 16, held
    assert held["2001:db8:0:2::1"] == 16 and held["127.0.0.1"] == 16, held


@needs_haproxy
def test_more_connections_than_the_total_are_not_held_silent_or_logged_in(make_hub) -> None:
    """broker_max_connections 20 with 100 per address: of 60 silent sockets at most 20 stay;
    of 30 users that log in, 20 get in and the others are closed; the hub's own collector
    (mosquitto's private listener) stays connected throughout."""
    users = [f"u{i}" for i in range(30)]
    hub = make_hub(broker_max_connections=20, broker_max_per_address=100, broker_users=users)
    assert hub.wait_connected()
    port = hub.embedded_broker.port
    silent = open_from("127.0.0.1", port, 60)
    held = _held(silent, 20)
    assert held == 20, held
    assert _all_closed(silent, DELAY + 3) is not None
    for s in silent:
        s.close()
    logged_in = [_login(port, u, hub.password_file(u).read_text().strip()) for u in users]
    inside = [s for s in logged_in if s is not None]
    try:
        time.sleep(DELAY + 1)  # past the delay: logged-in clients are not dropped with it
        assert len(inside) == 20 and still_open(inside) == 20, (len(inside), still_open(inside))
        assert hub.collector.connected.is_set()
    finally:
        for s in inside:
            s.close()


@needs_haproxy
def test_a_connected_client_idle_past_the_connect_delay_is_kept(make_hub) -> None:
    """Once its CONNECT passed, the front is a tunnel: a client quiet for longer than the delay
    (1 s here) stays connected and is answered (its keepalive, up to 3600 s, is mosquitto's)."""
    hub = make_hub(broker_users=["cam-1"], broker_connect_timeout_s=1.0)
    s = _login(hub.embedded_broker.port, "cam-1", hub.password_file("cam-1").read_text().strip())
    assert s is not None
    try:
        time.sleep(3.0)
        s.sendall(b"\xc0\x00")  # PINGREQ
        assert s.recv(2) == b"\xd0\x00"  # PINGRESP
    finally:
        s.close()


@needs_haproxy
def test_the_tls_front_drops_sockets_that_never_handshake_or_never_connect(make_hub, tmp_path: Path) -> None:
    """On the TLS port HAProxy terminates TLS: a socket that never sends a ClientHello, and one
    that completes the handshake but sends no CONNECT, are both closed at the delay; a device
    that sends CONNECT over TLS gets in (test_mqtt_tls.py::test_hub_mosquitto_tls publishes)."""
    d = tmp_path / "tls"
    d.mkdir()
    ca, cert, key = make_certs(d)
    hub = make_hub(broker_certfile=cert, broker_keyfile=key, broker_users=["cam-1"])
    port = hub.embedded_broker.port
    assert (hub.embedded_broker.front_pem.stat().st_mode & 0o777) == 0o600
    ctx = ssl.create_default_context(cafile=str(ca))
    raw = open_from("127.0.0.6", port, 5)
    shaken = [ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), 3), server_hostname="127.0.0.1")
              for _ in range(3)]
    t0 = time.monotonic()
    try:
        assert _all_closed(raw, DELAY + 2) is not None
        for s in shaken:
            s.settimeout(DELAY + 2)
            assert s.recv(1) == b""  # closed by the front, not timed out here
        assert time.monotonic() - t0 <= DELAY + 2
        dev = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), 3), server_hostname="127.0.0.1")
        dev.sendall(connect_packet("cam-1", hub.password_file("cam-1").read_text().strip()))
        assert dev.recv(4) == bytes.fromhex("20020000")
        dev.close()
    finally:
        for s in raw + shaken:
            s.close()


@needs_haproxy
def test_haproxy_is_supervised_like_mosquitto(make_hub) -> None:
    """Killed, the front is started again on the same port; stopping the hub stops it."""
    hub = make_hub(broker_users=["cam-1"])
    b = hub.embedded_broker
    first = b.front_pid
    b.kill_front()
    wait_for(lambda: b.front_restarts == 1, timeout=15, what="haproxy restarted")
    assert b.front_pid != first
    s = _login(b.port, "cam-1", hub.password_file("cam-1").read_text().strip())
    assert s is not None
    s.close()
    pid = b.front_pid
    hub.stop()
    assert pid is not None and not Path(f"/proc/{pid}").exists()


@needs_haproxy
def test_the_front_log_is_bounded_on_disk(tmp_path: Path) -> None:
    """A flood logs a line a refused socket (~90 bytes), so the hub keeps haproxy.log under its
    bound (8 MiB; 20 kB here), moving the full file to haproxy.log.1: at most twice the bound."""
    b = ManagedMosquitto(tmp_path, "127.0.0.1", 0, front=FrontLimits())
    b.front_log_bytes = 20_000
    b.start()
    socks: list[socket.socket] = []
    try:
        for _ in range(3):
            socks += open_from("127.0.0.1", b.port, 200)
            time.sleep(0.3)
        log, old = b.dir / "haproxy.log", b.dir / "haproxy.log.1"
        wait_for(old.exists, timeout=10, what="the log rotated")
        time.sleep(0.5)
        assert 0 < log.stat().st_size <= 20_000 and 15_000 < old.stat().st_size <= 20_000
        assert log.stat().st_mode & 0o777 == old.stat().st_mode & 0o777 == 0o600
        assert "127.0.0.1:" in log.read_text()
    finally:
        for s in socks:
            s.close()
        b.stop()


SECCOMP = """
import errno, os, sys, seccomp
f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
for name in sys.argv[1].split(","):
    f.add_rule(seccomp.ERRNO(errno.EPERM), name)
f.load()
os.execv(sys.argv[2], sys.argv[2:])
"""


def _system_python_has_seccomp() -> bool:
    return Path("/usr/bin/python3").exists() and subprocess.run(
        ["/usr/bin/python3", "-c", "import seccomp"], capture_output=True, timeout=30).returncode == 0


@needs_haproxy
@pytest.mark.skipif(not _system_python_has_seccomp(), reason="needs Debian's python3-seccomp")
def test_the_front_runs_under_the_hub_units_system_call_filter(tmp_path: Path) -> None:
    """The unit denies the @resources system calls with EPERM (SystemCallFilter=~@privileged
    @resources); with setrlimit/prlimit64 denied so (libseccomp, as systemd does) the generated
    HAProxy still starts and forwards a CONNECT (HAProxy's default strict-limits exits)."""
    unit = UNIT.read_text()
    assert "SystemCallFilter=~@privileged @resources" in unit and "SystemCallErrorNumber=EPERM" in unit
    b = ManagedMosquitto(tmp_path, "127.0.0.1", 0, front=FrontLimits())
    b.write_config()
    secret = b.dir / "cam-1.pass"
    secret.write_text(add_user(b.passwd_file, "cam-1"))
    b.start()
    b._stopping.set()  # the supervisor restarts nothing from here on
    b.kill_front()  # and this test runs its own HAProxy on the same port, under the filter
    wrapper = tmp_path / "seccomp_exec.py"
    wrapper.write_text(SECCOMP)
    proc = subprocess.Popen(["/usr/bin/python3", str(wrapper), "setrlimit,prlimit64", need_haproxy(), "-db",
                             "-f", str(b.front_conf_file)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        dev = None
        deadline = time.monotonic() + 10
        while dev is None and proc.poll() is None and time.monotonic() < deadline:
            dev = _login(b.port, "cam-1", secret.read_text())
            time.sleep(0.1)
        assert proc.poll() is None and dev is not None, proc.stdout.read().decode() if proc.stdout else ""
        dev.close()
    finally:
        proc.terminate()
        out = proc.communicate(timeout=10)[0].decode()
        b.stop()
    assert "Cannot raise FD limit" in out  # the filter was in force


def test_without_haproxy_the_managed_broker_refuses_to_start_in_one_line(
        make_hub, mosquitto, monkeypatch: pytest.MonkeyPatch) -> None:
    """No haproxy on this machine: the hub's own broker refuses with what to install; a hub
    on a site's broker (--broker URL) does not need it."""
    monkeypatch.setattr(front, "haproxy_binary", lambda: None)
    with pytest.raises(HubError) as err:
        make_hub()
    msg = str(err.value)
    assert "\n" not in msg and "apt-get install haproxy" in msg and "--broker URL" in msg
    hub = make_hub(broker=mosquitto.url)
    assert hub.wait_connected()


@needs_haproxy
@pytest.mark.parametrize("kw", [
    {},
    {"host": "::1"},
    {"pem": "tls"},
    {"account": (os.getuid(), os.getgid())},
])
def test_every_generated_front_config_is_valid_haproxy(tmp_path: Path, kw: dict) -> None:
    if kw.get("pem") == "tls":
        _, cert, key = make_certs(tmp_path)
        pem = tmp_path / "front.pem"
        pem.write_text(front.front_pem_text(cert, key))
        kw = {"pem": pem}
    conf = tmp_path / "haproxy.cfg"
    conf.write_text(front_config_text(**{"host": "127.0.0.1", "port": 1883, "backend_port": 18830,
                                         "limits": FrontLimits(), **kw}))
    check_config(need_haproxy(), conf)
    bad = tmp_path / "bad.cfg"
    bad.write_text(conf.read_text().replace("mqtt_is_valid", "mqtt_is_valid_not"))
    with pytest.raises(HubError, match="haproxy refuses"):
        check_config(need_haproxy(), bad)


def test_more_sockets_than_max_connections_are_not_held(tmp_path: Path) -> None:
    """60 sockets that never send CONNECT against max_connections 20: mosquitto keeps at most
    the limit (+1, measured: mosquitto 2.0.11 counts after accepting) and closes the rest."""
    limit, flood = 20, 60
    b = ManagedMosquitto(tmp_path, "127.0.0.1", 0, limits=BrokerLimits(max_connections=limit))
    b.start()
    socks: list[socket.socket] = []
    try:
        for _ in range(flood):
            socks.append(socket.create_connection(("127.0.0.1", b.port), 2))
        time.sleep(1.0)
        held = still_open(socks)
        assert limit - 2 <= held <= limit + 1, held
        fds = len(os.listdir(f"/proc/{b.pid}/fd"))
        assert fds < limit + 40, fds  # the closed ones hold no descriptor
    finally:
        for s in socks:
            s.close()
        b.stop()


def test_the_managed_mosquitto_gets_a_file_limit_above_its_connections(tmp_path: Path) -> None:
    b = ManagedMosquitto(tmp_path, "127.0.0.1", 0, limits=BrokerLimits(max_connections=300))
    b.start()
    try:
        soft = next(int(ln.split()[3]) for ln in Path(f"/proc/{b.pid}/limits").read_text().splitlines()
                    if ln.startswith("Max open files"))
        assert soft >= 2 * 300 + 64
    finally:
        b.stop()


def test_the_hub_unit_raises_its_file_limit_and_loads_the_connection_rule() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read_string(UNIT.read_text())
    assert int(unit["Service"]["LimitNOFILE"]) >= 16384
    assert unit["Service"]["ExecStartPre"] == "-+/usr/sbin/nft -f /etc/camaudit/hub-limits.nft"
    deploy = (ROOT / "deploy.sh").read_text()
    assert 'firmware/camaudit-hub.nft" "$R$etc/hub-limits.nft"' in deploy


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("unshare"),
                    reason="needs root, nft and unshare for a network namespace")
def test_one_source_address_holds_at_most_16_connections() -> None:
    """In a fresh network namespace: the shipped rule file, the hub's mosquitto on 1883
    (max_connections 64); 100 sockets from 127.0.0.1 get 16, another address and a device
    still connect."""
    res = subprocess.run(["unshare", "-n", sys.executable, str(Path(__file__).with_name("connflood.py")),
                          str(NFT), "100"], capture_output=True, text=True, timeout=90, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["attacker_accepted"] == 16 and got["attacker_open"] == 16, got
    assert got["other_open"] == 4, got
    assert got["device_connack"] == "20020000", got  # CONNACK accepted
