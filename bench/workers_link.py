"""Bench: what shared-store linking (hub workers, hub/ingest/linkstore.py) costs against the single
hub's in-memory linking, on the hub pipeline alone (verify + link + store; no broker).

Signed events of D devices (real journals) are fed in batches of 200 messages, as a broker
would deliver them, to:
- memory:        one collector linking in memory (the single hub);
- shared x1:     one collector linking in the shared store;
- shared x2 rr:  two shared collectors, messages dealt round-robin one by one (as a shared
                 subscription does), their batches run one after the other in this process:
                 half of every device's events reach a worker that never saw the predecessor.
Store: a SQLite file, and with --pg a real PostgreSQL started here (tests/pgserver.py).
events/s = events / wall time; every run checks that each seq was stored exactly once.

    .venv/bin/python bench/workers_link.py [--devices 4] [--events 2500] [--pg] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "device"))
sys.path.insert(0, str(ROOT / "tests"))

from camaudit.config.mqtt import MqttConfig  # noqa: E402
from camaudit.hub.ingest.collector import Collector  # noqa: E402
from camaudit.hub.store.hub_store import HubStore  # noqa: E402
from camaudit.store.journal import Journal  # noqa: E402
from camaudit.store.keys import DeviceKey  # noqa: E402

BATCH = 200


def make_streams(root: Path, devices: int, events: int) -> tuple[dict[str, str], list[tuple[str, bytes]]]:
    keys: dict[str, str] = {}
    per_dev: list[list[tuple[str, bytes]]] = []
    for d in range(devices):
        dev = f"bench-{d:02d}"
        with Journal.open(root / dev / "journal.db", dev, checkpoint_every=100) as j:
            keys[dev] = j.public_key.hex()
            t0 = int(time.time() * 1000)
            while j.head[0] < events:
                seq = j.head[0] + 1
                j.append("capture.end", "counter", {"capture": f"c-{seq}", "verdict": "consented"}, t0 + seq)
            per_dev.append([(f"camaudit/{dev}/events", e.to_json()) for e in j.events()])
    # the devices publish side by side: interleave their streams
    msgs = [m for group in zip(*per_dev, strict=False) for m in group]
    return keys, msgs


def run(target: Path | str, keys: dict[str, str], msgs: list[tuple[str, bytes]], mode: str) -> dict[str, float]:
    store = HubStore(target)
    for dev, k in keys.items():
        store.enroll(dev, k)
    linking = "memory" if mode == "memory" else "shared"
    n_workers = 2 if mode == "shared x2 rr" else 1
    cols = [Collector(HubStore(target), MqttConfig(url="mqtt://127.0.0.1:1"), DeviceKey.generate(),
                      linking=linking) for _ in range(n_workers)]  # type: ignore[arg-type]
    now = int(time.time() * 1000)
    dealt = [[(t, p, now, False) for i, (t, p) in enumerate(msgs) if i % n_workers == w] for w in range(n_workers)]
    t0 = time.perf_counter()
    pos = 0
    while any(pos < len(d) for d in dealt):
        for w, d in enumerate(dealt):
            if pos < len(d):
                cols[w]._process(d[pos:pos + BATCH])
        pos += BATCH
    for c in cols:  # the sweep links whatever still waits (nothing, if linking is right)
        if linking == "shared":
            c.sweep()
    dt = time.perf_counter() - t0
    stored = lost = 0
    for dev in keys:
        seqs = store.seqs(dev)
        stored += len(seqs)
        want = sum(1 for t, _ in msgs if t == f"camaudit/{dev}/events")
        lost += want - len(set(seqs))
        assert seqs == sorted(set(seqs)), "stored twice"
    for c in cols:
        c.store.close()
    store.close()
    return {"eps": round(len(msgs) / dt), "seconds": round(dt, 2), "stored": stored, "lost": lost}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--devices", type=int, default=4)
    ap.add_argument("--events", type=int, default=2500, help="events per device")
    ap.add_argument("--pg", action="store_true", help="also on a real PostgreSQL started here")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    out: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # PostgreSQL runs as its own user (as root: postgres)
        keys, msgs = make_streams(root / "dev", args.devices, args.events)
        stores: list[tuple[str, object]] = [("sqlite", None)]
        server = None
        if args.pg:
            from pgserver import PgServer

            pg_root = root / "pg"
            pg_root.mkdir()
            pg_root.chmod(0o755)
            server = PgServer(pg_root)
            stores.append(("postgresql", server))
        try:
            for name, srv in stores:
                out[name] = {}
                for i, mode in enumerate(("memory", "shared x1", "shared x2 rr")):
                    target = root / f"{name}-{i}.db" if srv is None else srv.new_database()  # type: ignore[attr-defined]
                    out[name][mode] = run(target, keys, msgs, mode)
        finally:
            if server is not None:
                server.stop()
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"hub pipeline alone, {len(msgs)} events of {args.devices} devices, batches of {BATCH}, 2 cores")
    print(f"{'store':<11} {'linking':<13} {'ev/s':>7} {'vs memory':>9} {'lost':>5}")
    for name, modes in out.items():
        base = modes["memory"]["eps"]
        for mode, r in modes.items():
            print(f"{name:<11} {mode:<13} {r['eps']:>7} {r['eps'] / base:>8.2f}x {r['lost']:>5}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
