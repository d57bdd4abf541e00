"""sd_notify datagrams and the watchdog decisions, on a real socket and a hand-moved clock."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from types import SimpleNamespace

import pytest
from notify_helpers import lines, notify_listener

from camaudit.health.sd_notify import Notifier
from camaudit.health.status_file import StatusError, read_status, write_status
from camaudit.health.watchdog import Supervisor


def test_outside_systemd_everything_is_a_no_op():
    n = Notifier({})
    assert not n.enabled and n.watchdog_s is None
    assert n.ready() is False and n.watchdog() is False


def test_messages_reach_the_socket():
    with notify_listener() as sd:
        n = Notifier({"NOTIFY_SOCKET": str(sd.path), "WATCHDOG_USEC": "4000000"})
        assert n.watchdog_s == 4.0
        assert n.ready("cam 5.0 fps\nsecond line") and n.watchdog() and n.stopping()
        msgs = [m for _, m in sd.collect(0.3)]
        n.close()
    assert msgs == ["READY=1\nSTATUS=cam 5.0 fps second line", "WATCHDOG=1", "STOPPING=1"]


def test_abstract_socket_address():
    name = f"camaudit-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(2)
    try:
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).watchdog()
        assert sock.recv(100) == b"WATCHDOG=1"
    finally:
        sock.close()


def test_watchdog_meant_for_another_process_is_ignored():
    env = {"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    assert Notifier(env).watchdog_s is None
    assert Notifier({"WATCHDOG_USEC": "junk"}).watchdog_s is None


def test_gone_socket_fails_quietly_once(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    n = Notifier({"NOTIFY_SOCKET": str(tmp_path / "absent")})
    with caplog.at_level(logging.WARNING):
        assert n.watchdog() is False and n.watchdog() is False
    assert len([r for r in caplog.records if "sd_notify" in r.getMessage()]) == 1


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def supervisor(sd_path: Path, tmp_path: Path, clock: Clock) -> Supervisor:
    env = {"NOTIFY_SOCKET": str(sd_path), "WATCHDOG_USEC": "10000000"}
    return Supervisor(["a", "b"], Notifier(env), data_dir=tmp_path, clock=clock,
                      wall_ms=lambda: int(clock.t * 1000))


FRAME = SimpleNamespace(ts_ms=5)
DOWN = SimpleNamespace(kind="feed.down")


def test_ready_waits_for_every_feed_and_pings_stop_on_a_stall(tmp_path: Path):
    clock = Clock()
    with notify_listener() as sd:
        sup = supervisor(sd.path, tmp_path, clock)
        sup.beat("a", FRAME)
        sup.beat("b")  # b's loop turns but has handled nothing yet
        sup.tick()
        assert not sup.ready and lines(sd.collect(0.2), "READY=1") == []
        sup.beat("b", DOWN)  # a camera that is down still counts: its loop runs
        sup.tick()
        assert sup.ready and sup.pings == 1
        clock.t += 4.0  # within the 5 s stall limit (half of WatchdogSec=10)
        sup.beat("a")
        sup.tick()
        assert sup.pings == 1  # not yet half a period since the last ping
        clock.t += 1.0
        sup.tick()
        assert sup.pings == 2 and sup.stalled() == []
        clock.t += 5.5  # a beat at t=104, b last beat at 100: both silent > 5 s
        sup.beat("a")
        sup.tick()
        assert sup.stalled() == ["b"] and sup.pings == 2
        sup.ended("b")  # an ended feed is not a stalled one
        sup.tick()
        assert sup.pings == 3
        msgs = sd.collect(0.3)
    assert len(lines(msgs, "WATCHDOG=1")) == 3
    doc = read_status(tmp_path)
    assert doc is not None and doc["feeds"]["b"]["state"] in {"stalled", "ended", "down"}


def test_status_file_round_trip_and_hostile_content(tmp_path: Path):
    assert read_status(tmp_path) is None
    write_status(tmp_path, {"v": 1, "feeds": {}})
    assert read_status(tmp_path) == {"v": 1, "feeds": {}}
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]  # no temp file left
    (tmp_path / "status.json").write_bytes(b"{" * (300 * 1024))
    with pytest.raises(StatusError, match="larger than"):
        read_status(tmp_path)
    (tmp_path / "status.json").write_text("[1, 2")
    with pytest.raises(StatusError, match="not valid JSON"):
        read_status(tmp_path)
    (tmp_path / "status.json").write_text('{"v": 7}')
    with pytest.raises(StatusError, match="field 'v'"):
        read_status(tmp_path)
