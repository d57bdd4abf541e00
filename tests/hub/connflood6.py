"""Run by tests/hub/test_hub_connlimit.py inside a fresh network namespace (`unshare -n`):
IPv6 addresses on lo, the hub's front (HAProxy + mosquitto) on [::]:1883, silent sockets
from two addresses of one /64 and from another /64; prints, as one JSON line, what stayed open."""

from __future__ import annotations

import json
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from connflood import still_open

from camaudit.hub.broker.front import FrontLimits
from camaudit.hub.broker.mosquitto import ManagedMosquitto

SOURCES = ("2001:db8:0:1::1", "2001:db8:0:1::2", "2001:db8:0:2::1")


def open_from6(source: str, n: int) -> list[socket.socket]:
    out = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET6)
        s.settimeout(2)
        s.bind((source, 0))
        try:
            s.connect(("::1", 1883))
            out.append(s)
        except OSError:
            s.close()
    return out


def main() -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    for a in SOURCES:
        subprocess.run(["ip", "-6", "addr", "add", f"{a}/64", "dev", "lo", "nodad"], check=True)
    b = ManagedMosquitto(Path(tempfile.mkdtemp()), "::", 1883, front=FrontLimits())
    b.start()
    try:
        socks = {a: open_from6(a, 20) for a in SOURCES}
        v4 = [socket.create_connection(("127.0.0.1", 1883), 2) for _ in range(20)]
        time.sleep(1.0)
        held = {a: still_open(s) for a, s in socks.items()}
        held["127.0.0.1"] = still_open(v4)
        print(json.dumps(held))
    finally:
        b.stop()


if __name__ == "__main__":
    main()
