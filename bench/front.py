"""Connection-flood bench of the hub broker's front (HAProxy, hub/broker/front.py).

Starts a real hub (its HAProxy and mosquitto on 127.0.0.1, default limits: 256 in all, 16
per address, 5 s to CONNECT), then opens `--sockets` sockets that never send CONNECT from
`--addresses` source addresses (127.0.0.2 upward) and prints: how many the front held,
when the held ones were closed (seconds after the last opened), HAProxy's RSS and
descriptors idle and flooded, the seconds until a CONNECT trickled one byte a second is
closed, and the log bytes a refused socket costs.

    .venv/bin/python bench/front.py [--sockets 2000] [--addresses 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sockets", type=int, default=2000)
    ap.add_argument("--addresses", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    sys.path[:0] = [str(ROOT / "tests" / "hub"), str(ROOT / "tests" / "mqtt")]
    from connflood import connect_packet, open_from, still_open

    from camaudit.config.hub import HubConfig
    from camaudit.hub.run import start_hub

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, args.sockets + 512)), hard))
    tmp = Path(tempfile.mkdtemp(prefix="camaudit-front-bench-"))
    hub = start_hub(HubConfig.model_validate({"data_dir": tmp / "hub", "broker_listen": "127.0.0.1:0",
                                              "web": False, "broker_users": ["cam-1"]}))
    b = hub.embedded_broker
    assert b is not None and b.front_pid is not None
    out: dict[str, object] = {"rss_kb_idle": _rss_kb(b.front_pid)}
    try:
        per = max(1, args.sockets // args.addresses)
        socks = [s for i in range(args.addresses) for s in open_from(f"127.0.0.{i + 2}", b.port, per)]
        t0 = time.monotonic()
        time.sleep(0.3)
        out.update(opened=len(socks), held=still_open(socks), rss_kb_flooded=_rss_kb(b.front_pid),
                   fds_flooded=len(list(Path(f"/proc/{b.front_pid}/fd").iterdir())))
        closes: dict[int, float] = {}
        while len(closes) < len(socks) and time.monotonic() - t0 < 15:
            for i, s in enumerate(socks):
                if i in closes:
                    continue
                s.setblocking(False)
                try:
                    if s.recv(1) == b"":
                        closes[i] = time.monotonic() - t0
                except BlockingIOError:
                    pass
                except OSError:
                    closes[i] = time.monotonic() - t0
            time.sleep(0.05)
        held_closes = sorted(v for v in closes.values() if v > 1.0)
        out.update(closed=len(closes), held_closed_first_s=round(held_closes[0], 2) if held_closes else None,
                   held_closed_last_s=round(held_closes[-1], 2) if held_closes else None)
        for s in socks:
            s.close()
        packet = connect_packet("cam-1", hub.password_file("cam-1").read_text().strip())
        tr = socket.create_connection(("127.0.0.1", b.port), 3, source_address=("127.0.0.250", 0))
        t1 = time.monotonic()
        for byte in packet:
            try:
                tr.sendall(bytes([byte]))
                tr.settimeout(1.0)
                if tr.recv(1) == b"":
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        out["trickle_closed_s"] = round(time.monotonic() - t1, 2)
        tr.close()
        time.sleep(0.5)
        logf = b.dir / "haproxy.log"
        lines = logf.read_text().splitlines()
        out["log_bytes_per_line"] = round(logf.stat().st_size / max(1, len(lines)))
    finally:
        hub.stop()
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:22} {v}")


if __name__ == "__main__":
    main()
