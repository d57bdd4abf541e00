"""Issue 20 (Low): no user enumeration by CONNECT timing on the hub's mosquitto.

mosquitto's password_file check runs one PBKDF2-SHA512 for a known user name and none for an
unknown one. The hub's plugin (plugin/camaudit_subscribe_acl.c, option passwd_file) runs one
dummy PBKDF2-SHA512 for a name not in the password file, then leaves the answer to the
password_file. These tests assert the behaviour (same answer; the dummy work runs for unknown
names only, counted in the plugin's debug log line; a user added while the broker runs is known
after SIGHUP), not a timing: bench/connect_timing.py measures the times."""

from __future__ import annotations

import base64
import hashlib
import re
import socket
import time
from pathlib import Path

import pytest
from brokers import wait_for
from test_hub_isolation import Client, _password, connect_packet

from camaudit.hub.broker.files import ensure_user_secret
from camaudit.hub.broker.mosquitto import ManagedMosquitto

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

DUMMY = re.compile(rb"camaudit_subscribe_acl: dummy password check (\d+) \(a name not in the password file, (\d+) iterations\)")
NOT_AUTHORIZED = 5  # MQTT 3.1.1 CONNACK return code


class DebugLogMosquitto(ManagedMosquitto):
    """The hub's generated config with mosquitto's debug log on (where the plugin counts)."""

    def config_text(self) -> str:
        return super().config_text().replace("log_type error\n", "log_type error\nlog_type debug\n", 1)


def timed_connack(port: int, user: str, password: str) -> tuple[int, float]:
    """CONNACK return code, and seconds from CONNECT sent to CONNACK received."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        packet = connect_packet(user, password, client_id=user)
        t0 = time.perf_counter()
        s.sendall(packet)
        data = b""
        while len(data) < 4:
            chunk = s.recv(4 - len(data))
            assert chunk, f"closed before CONNACK ({user})"
            data += chunk
        dt = time.perf_counter() - t0
    assert data[:2] == b"\x20\x02", data
    return data[3], dt


def connack(port: int, user: str, password: str) -> int:
    return timed_connack(port, user, password)[0]


def dummy_lines(b: ManagedMosquitto) -> list[tuple[int, int]]:
    """(running count, PBKDF2 iterations) of each dummy check the plugin logged."""
    return [(int(n), int(it)) for n, it in DUMMY.findall((b.dir / "mosquitto.log").read_bytes())]


def dummy_checks(b: ManagedMosquitto) -> int:
    return max((n for n, _ in dummy_lines(b)), default=0)


@pytest.fixture
def broker(tmp_path: Path):
    b = DebugLogMosquitto(tmp_path / "hub", "127.0.0.1", 0)
    b.write_config()
    assert f"plugin_opt_passwd_file {b.passwd_file}" in b.conf_file.read_text()
    ensure_user_secret(tmp_path / "hub", b.passwd_file, "dev1")
    b.start()
    yield b
    b.stop()


def test_known_and_unknown_names_get_the_same_refusal_and_the_right_password_logs_in(make_hub) -> None:
    hub = make_hub(broker_users=["dev1"])  # the real hub: through its HAProxy front, as devices connect
    for url in (hub.broker_url, hub.embedded_broker.private_url):
        answers = {}
        for user in ("dev1", "nobody-here"):
            c = Client(url, user, "wrong-password")
            answers[user] = c.rc
            c.close()
        assert answers["dev1"] == answers["nobody-here"] == 135  # paho: "Not authorized" (CONNACK 5), both
        c = Client(url, "dev1", _password(hub, "dev1"))
        assert c.rc == 0
        c.close()


def test_the_dummy_check_runs_for_unknown_names_only(broker: ManagedMosquitto) -> None:
    secret = (broker.data_dir / "secrets" / "dev1.pass").read_text().strip()
    assert dummy_checks(broker) == 0
    for n in range(1, 4):
        assert connack(broker.port, "nobody-here", "wrong") == NOT_AUTHORIZED
        wait_for(lambda n=n: dummy_checks(broker) == n, timeout=5, what=f"dummy check {n}")
    # a known name, wrong or right password: the real check only
    assert connack(broker.port, "dev1", "wrong") == NOT_AUTHORIZED
    assert connack(broker.port, "dev1", secret) == 0
    # no password at all: mosquitto refuses a known name without hashing, so no dummy either
    with socket.create_connection(("127.0.0.1", broker.port), timeout=10) as s:
        var = (4).to_bytes(2, "big") + b"MQTT" + bytes([4, 0x82]) + (30).to_bytes(2, "big")
        payload = (1).to_bytes(2, "big") + b"x" + (3).to_bytes(2, "big") + b"abc"
        s.sendall(bytes([0x10, len(var) + len(payload)]) + var + payload)
        assert s.recv(4)[3] == NOT_AUTHORIZED
    assert connack(broker.port, "nobody-else", "wrong") == NOT_AUTHORIZED  # a marker after them
    wait_for(lambda: dummy_checks(broker) == 4, timeout=5, what="dummy check 4")
    time.sleep(0.3)
    assert dummy_checks(broker) == 4


def test_a_user_added_while_the_broker_runs_is_known_after_sighup(broker: ManagedMosquitto) -> None:
    assert connack(broker.port, "dev2", "wrong") == NOT_AUTHORIZED
    wait_for(lambda: dummy_checks(broker) == 1, timeout=5, what="dummy check for dev2 before enrolment")
    # what `camaudit hub enroll` does while the hub runs (HubHandle.add_mqtt_user): add, SIGHUP
    secret = ensure_user_secret(broker.data_dir, broker.passwd_file, "dev2").read_text().strip()
    broker.reload()
    wait_for(lambda: connack(broker.port, "dev2", secret) == 0, timeout=5, what="dev2 logs in after SIGHUP")
    assert connack(broker.port, "dev2", "wrong") == NOT_AUTHORIZED
    assert connack(broker.port, "stranger", "wrong") == NOT_AUTHORIZED  # a marker after it
    wait_for(lambda: dummy_checks(broker) == 2, timeout=5, what="the stranger's dummy check")
    assert dummy_checks(broker) == 2  # dev2's wrong password took the known path


def test_a_device_enrolled_while_the_hub_runs_logs_in_and_is_refused_like_any_known_user(make_hub) -> None:
    hub = make_hub(broker_users=["dev1"])
    hub.enroll("dev9", "ab" * 32)  # the real enrolment: the hub adds the MQTT user and sends SIGHUP
    rcs = {}
    for user, password in (("dev9", _password(hub, "dev9")), ("dev9", "wrong"), ("dev99", "wrong")):
        c = Client(hub.broker_url, user, password)
        rcs[user, password == "wrong"] = c.rc
        c.close()
    assert rcs["dev9", False] == 0
    assert rcs["dev9", True] == rcs["dev99", True] == 135


def test_a_missing_password_file_costs_every_name_the_dummy_check(tmp_path: Path) -> None:
    b = DebugLogMosquitto(tmp_path / "hub", "127.0.0.1", 0)
    b.write_config()
    ensure_user_secret(tmp_path / "hub", b.passwd_file, "dev1")
    conf = b.conf_file.read_text().replace(f"plugin_opt_passwd_file {b.passwd_file}",
                                           f"plugin_opt_passwd_file {tmp_path / 'no-such-file'}")
    b.config_text = lambda: conf  # type: ignore[method-assign]
    b.start()
    try:
        assert connack(b.port, "dev1", "wrong") == NOT_AUTHORIZED  # still the password_file's answer
        assert connack(b.port, "nobody", "wrong") == NOT_AUTHORIZED
        wait_for(lambda: dummy_checks(b) == 2, timeout=5, what="a dummy check for each")
        assert connack(b.port, "dev1", (tmp_path / "hub" / "secrets" / "dev1.pass").read_text().strip()) == 0
    finally:
        b.stop()


def test_the_names_kept_are_bounded_in_count_and_line_length(tmp_path: Path) -> None:
    b = DebugLogMosquitto(tmp_path / "hub", "127.0.0.1", 0)
    b.write_config()
    ensure_user_secret(tmp_path / "hub", b.passwd_file, "dev1")
    real = b.passwd_file.read_text().strip().split(":", 1)[1]  # one real PBKDF2 entry, reused
    long_name = "d" * 1100
    lines = [f"dev{n}:{real}" for n in range(2, 100_003)] + [f"{long_name}:{real}", f"dev1:{real}"]
    b.passwd_file.write_text("\n".join(lines) + "\n")  # 100,003 names: the last ones past the cap
    b.start()
    try:
        assert connack(b.port, "dev5", "wrong") == NOT_AUTHORIZED  # kept: known
        assert connack(b.port, "dev100001", "wrong") == NOT_AUTHORIZED  # the 100,000th: kept
        assert connack(b.port, "stranger", "wrong") == NOT_AUTHORIZED
        wait_for(lambda: dummy_checks(b) == 1, timeout=10, what="the stranger's dummy check")
        assert connack(b.port, "dev100002", "wrong") == NOT_AUTHORIZED  # past the cap: pays the dummy
        wait_for(lambda: dummy_checks(b) == 2, timeout=10, what="dummy check past the cap")
        assert connack(b.port, long_name, "wrong") == NOT_AUTHORIZED  # line too long: not kept
        wait_for(lambda: dummy_checks(b) == 3, timeout=10, what="dummy check for the long name")
        secret = (tmp_path / "hub" / "secrets" / "dev1.pass").read_text().strip()
        assert connack(b.port, "dev1", secret) == 0  # past the cap, still logs in (the password_file decides)
    finally:
        b.stop()


def test_the_dummy_check_uses_the_password_files_iteration_count(tmp_path: Path) -> None:
    b = DebugLogMosquitto(tmp_path / "hub", "127.0.0.1", 0)
    b.write_config()
    ensure_user_secret(tmp_path / "hub", b.passwd_file, "dev1")  # mosquitto_passwd: 101 iterations
    assert b.passwd_file.read_text().startswith("dev1:$7$101$")
    b.start()
    try:
        assert connack(b.port, "stranger", "wrong") == NOT_AUTHORIZED
        wait_for(lambda: dummy_lines(b) == [(1, 101)], timeout=5, what="a dummy check of 101 iterations")
        # a file whose entries use 5,000 (mosquitto reads the count from each line; so does the plugin)
        salt, password = b"0123456789ab", "s3cret-pw"
        digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 5000, 64)
        b.passwd_file.write_text(f"dev7:$7$5000${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}\n")
        b.reload()
        wait_for(lambda: connack(b.port, "dev7", password) == 0, timeout=5, what="dev7 logs in after SIGHUP")
        assert connack(b.port, "stranger", "wrong") == NOT_AUTHORIZED
        wait_for(lambda: dummy_lines(b)[-1:] == [(2, 5000)], timeout=5, what="a dummy check of 5000 iterations")
    finally:
        b.stop()
