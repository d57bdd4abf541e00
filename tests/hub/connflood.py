"""Run by tests/hub/test_hub_connlimit.py inside a fresh network namespace (`unshare -n`):
loads firmware/camaudit-hub.nft, starts the hub's managed mosquitto on 127.0.0.1:1883 as the
hub runs it, floods it from one address and reports, as one JSON line, what stayed open."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from camaudit.hub.broker.files import ensure_user_secret
from camaudit.hub.broker.mosquitto import BrokerLimits, ManagedMosquitto


def connect_packet(user: str, password: str) -> bytes:
    def s(v: str) -> bytes:
        return len(v.encode()).to_bytes(2, "big") + v.encode()

    var = s("MQTT") + bytes([4, 0xC2]) + (30).to_bytes(2, "big")
    payload = s(user) + s(user) + s(password)
    return bytes([0x10, len(var) + len(payload)]) + var + payload


def open_from(source: str, port: int, n: int) -> list[socket.socket]:
    """Up to `n` sockets from `source`; the ones the kernel refused are not returned."""
    out = []
    for _ in range(n):
        s = socket.socket()
        s.settimeout(2)
        s.bind((source, 0))
        try:
            s.connect(("127.0.0.1", port))
            out.append(s)
        except OSError:
            s.close()
    return out


def still_open(socks: list[socket.socket]) -> int:
    n = 0
    for s in socks:
        s.setblocking(False)
        try:
            if s.recv(1) == b"":
                continue
        except BlockingIOError:
            n += 1
        except OSError:
            continue
    return n


def main() -> None:
    nft_file, flood = sys.argv[1], int(sys.argv[2])
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["nft", "-f", nft_file], check=True)
    data = Path(tempfile.mkdtemp())
    broker = ManagedMosquitto(data, "127.0.0.1", 1883, limits=BrokerLimits(max_connections=64))
    broker.write_config()
    secret = ensure_user_secret(data, broker.passwd_file, "cam-1").read_text().strip()
    broker.start()
    try:
        time.sleep(0.3)
        attacker = open_from("127.0.0.1", 1883, flood)  # never sends CONNECT
        time.sleep(1.0)
        other = open_from("127.0.0.2", 1883, 4)
        dev = socket.create_connection(("127.0.0.1", 1883), 5, source_address=("127.0.0.3", 0))
        dev.sendall(connect_packet("cam-1", secret))
        connack = dev.recv(4)
        print(json.dumps({"attacker_accepted": len(attacker), "attacker_open": still_open(attacker),
                          "other_open": still_open(other), "device_connack": connack.hex()}))
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
