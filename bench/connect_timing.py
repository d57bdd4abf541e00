"""CONNECT-timing bench of the hub's mosquitto: can a stranger tell a known user name by the time
its refusal takes? (issue 20, docs/hub-security.md "User enumeration by CONNECT timing").

Starts a real hub (its HAProxy front and mosquitto with the camaudit plugin on 127.0.0.1), then
sends `--tries` CONNECTs with a wrong password for a known device user and as many for an
unknown name, interleaved, each on a new TCP connection, and times CONNECT sent -> CONNACK
received: through the front (as devices connect) and directly to mosquitto's private port.
Prints the median and p90 of each, and unknown/known median ratio (1.0: nothing to tell).
Mode `before`: the same hub with the plugin's login callback off (no `plugin_opt_passwd_file`,
i.e. the previous build's behaviour); `after`: as the hub runs. Both run in the same process,
one after the other.

    .venv/bin/python bench/connect_timing.py [--tries 300] [--modes before,after] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KNOWN, UNKNOWN = "cam-1", "cam-nobody"


def _connack_s(port: int, packet: bytes) -> float:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t0 = time.perf_counter()
        s.sendall(packet)
        data = b""
        while len(data) < 4:
            chunk = s.recv(4 - len(data))
            if not chunk:
                raise RuntimeError("closed before CONNACK")
            data += chunk
        dt = time.perf_counter() - t0
    if data[3] != 5:  # "not authorized", for both
        raise RuntimeError(f"CONNACK {data.hex()}")
    return dt


def _stats(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    return {"median_ms": round(statistics.median(xs) * 1000, 4),
            "p90_ms": round(xs[int(0.9 * (len(xs) - 1))] * 1000, 4)}


def run(mode: str, tries: int) -> dict[str, object]:
    from connflood import connect_packet

    from camaudit.config.hub import HubConfig
    from camaudit.hub.broker.mosquitto import ManagedMosquitto
    from camaudit.hub.run import start_hub

    original = ManagedMosquitto.config_text
    if mode == "before":  # the plugin's login callback off: mosquitto's own check alone
        def without(self: ManagedMosquitto) -> str:
            return "".join(ln for ln in original(self).splitlines(keepends=True)
                           if not ln.startswith("plugin_opt_passwd_file "))
        ManagedMosquitto.config_text = without  # type: ignore[method-assign]
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f"camaudit-connect-timing-{mode}-"))
        hub = start_hub(HubConfig.model_validate({"data_dir": tmp / "hub", "broker_listen": "127.0.0.1:0",
                                                  "web": False, "broker_users": [KNOWN]}))
    finally:
        ManagedMosquitto.config_text = original  # type: ignore[method-assign]
    b = hub.embedded_broker
    assert b is not None and b.front is not None
    on = "plugin_opt_passwd_file" in b.conf_file.read_text()
    assert on == (mode == "after"), mode
    out: dict[str, object] = {"mode": mode, "tries": tries}
    try:
        ports = {"front": b.port, "direct": b.backend_port}
        packets = {u: connect_packet(u, "wrong-password-" + "x" * 16) for u in (KNOWN, UNKNOWN)}
        for where, port in ports.items():
            times: dict[str, list[float]] = {KNOWN: [], UNKNOWN: []}
            for u in (KNOWN, UNKNOWN):  # warm-up
                _connack_s(port, packets[u])
            for i in range(tries):
                order = (KNOWN, UNKNOWN) if i % 2 else (UNKNOWN, KNOWN)
                for u in order:
                    times[u].append(_connack_s(port, packets[u]))
            ks, us = _stats(times[KNOWN]), _stats(times[UNKNOWN])
            out[where] = {"known": ks, "unknown": us,
                          "ratio_unknown_known_median": round(us["median_ms"] / ks["median_ms"], 3)}
    finally:
        hub.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tries", type=int, default=300)
    ap.add_argument("--modes", default="before,after")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    sys.path[:0] = [str(ROOT / "tests" / "hub"), str(ROOT / "tests" / "mqtt")]
    results = [run(m, args.tries) for m in args.modes.split(",")]
    if args.json:
        print(json.dumps(results))
        return
    for r in results:
        for where in ("front", "direct"):
            d = r[where]
            assert isinstance(d, dict)
            print(f"{r['mode']:6} {where:6} known median {d['known']['median_ms']:.3f} ms p90 "
                  f"{d['known']['p90_ms']:.3f} | unknown median {d['unknown']['median_ms']:.3f} ms p90 "
                  f"{d['unknown']['p90_ms']:.3f} | unknown/known {d['ratio_unknown_known_median']:.2f}")


if __name__ == "__main__":
    main()
