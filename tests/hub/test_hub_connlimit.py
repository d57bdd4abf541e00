"""Issue 20, item 4: the hub's MQTT connections are bounded in total (mosquitto's
`max_connections`, tested with more sockets than the limit) and per source address (the
kernel rule firmware/camaudit-hub.nft, loaded in a network namespace against the hub's real
mosquitto), and the unit's file limit is above the fleet."""

from __future__ import annotations

import configparser
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from connflood import still_open

from camaudit.hub.broker.mosquitto import BrokerLimits, ManagedMosquitto

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
ROOT = Path(__file__).resolve().parents[2]
NFT = ROOT / "firmware" / "camaudit-hub.nft"
UNIT = ROOT / "firmware" / "camaudit-hub.service"


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
