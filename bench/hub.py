"""Hub bench: sustained verified ingest and device-to-hub latency on loopback.

For each broker (Debian's mosquitto started here as a site's own broker, `mosquitto`; and
the mosquitto the hub starts and supervises itself with its ACL, passwords and limits,
`embedded`: the key keeps its old name):
- ingest: a device process holds N signed events in its journal and publishes them all at
  once (hub-ack window 1,000); events/s = N / time until the hub has verified (hash,
  Ed25519 signature, chain link) and stored the last one.
- latency: the device appends 100 events/s for `--seconds`; latency = time the hub stored
  the event - the event's own ts (set at append), p50 / p99.
- lost = events missing at the hub; duplicates_stored = rows stored twice (UNIQUE(device,
  seq) makes it 0 unless the store is broken).
Also printed, as the peer in the same run: the hub pipeline alone (same messages fed
without a broker), so the broker's share of the cost is visible.

    .venv/bin/python bench/hub.py [--events 10000] [--seconds 10] [--rounds 3] [--json]
                                  [--db postgresql://user@host/db | --db temp]

The hub store is SQLite (the default). `--db URL` runs every broker again with the hub's
store on that PostgreSQL server, in the same run (each run in a fresh database created
there and dropped after: the URL's user needs CREATEDB); `--db temp` starts Debian's
postgresql in a temp folder for it, as the tests do.

`--json` prints {"mosquitto": {...}, "embedded": {...}} with keys ingest_eps, p50_ms,
p99_ms, lost, duplicates_stored (read by checks outside the project: keep stable); with
`--db`, also "mosquitto+postgresql" and "embedded+postgresql", and "pipeline_alone":
{"sqlite": ev/s, "postgresql": ev/s}.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "device"))

from camaudit.config.hub import HubConfig  # noqa: E402
from camaudit.config.mqtt import MqttConfig  # noqa: E402
from camaudit.core.record import Event  # noqa: E402
from camaudit.hub.ingest.collector import Collector  # noqa: E402
from camaudit.hub.run import start_hub  # noqa: E402
from camaudit.hub.store.hub_store import HubStore  # noqa: E402
from camaudit.store.keys import DeviceKey  # noqa: E402

DEVICE = "bench-01"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _body(i: int) -> dict[str, object]:
    return {"capture": f"c-{i:06d}", "start": i, "end": i + 900, "frames": 12, "max_faces": 2,
            "distinct_tracks": 2, "identifiable_tracks": 1,
            "face_px": {"min": 20, "median": 40, "max": 80},
            "verdict": "unconsented" if i % 3 == 0 else "consented",
            "reasons": ["notice_missing"] if i % 3 == 0 else [], "basis": None, "evidence": []}


# ---- the device side (a separate process, like a real device) ---------------------------
def device_main(args: argparse.Namespace) -> int:
    from camaudit.mqtt.publisher import Publisher
    from camaudit.store.journal import Journal

    journal = Journal.open(Path(args.journal), DEVICE, checkpoint_every=100)
    print(journal.public_key.hex(), flush=True)
    if args.mode == "ingest":
        while journal.head[0] < args.events:
            journal.append("capture.end", "counter", _body(journal.head[0] + 1), int(time.time() * 1000))
        print("ready", journal.head[0], flush=True)
        sys.stdin.readline()  # go
    cfg = MqttConfig(url=args.url, max_inflight=1000, ack_timeout_s=5.0, homeassistant=False,
                     username=args.username, password_file=args.password_file)
    pub = Publisher(cfg, journal, feeds=["counter"])
    pub.start()
    if args.mode == "latency":
        sys.stdin.readline()  # go (hub connected)
        t0 = time.monotonic()
        n = int(args.seconds * args.rate)
        for i in range(n):
            journal.append("capture.end", "counter", _body(i), int(time.time() * 1000))
            pub.notify()
            delay = t0 + (i + 1) / args.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        print("ready", journal.head[0], flush=True)
    deadline = time.monotonic() + 120
    while journal.outbox_size() and time.monotonic() < deadline:
        time.sleep(0.05)
    print("done", journal.outbox_size(), flush=True)
    pub.stop()
    journal.close()
    return 0


# ---- the hub side ------------------------------------------------------------------------
class Mosquitto:
    def __init__(self, workdir: Path) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.port = _free_port()
        conf = workdir / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\nuser root\n"
                        "max_queued_messages 0\nmax_inflight_messages 0\n"
                        f"log_dest file {workdir}/mosquitto.log\n")
        self.proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        self.url = f"mqtt://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def _device(workdir: Path, mqtt: MqttConfig, mode: str, args: argparse.Namespace) -> subprocess.Popen[str]:
    cmd = [sys.executable, __file__, "--device", "--journal", str(workdir / f"{mode}.db"),
           "--url", mqtt.url, "--mode", mode, "--events", str(args.events),
           "--seconds", str(args.seconds), "--rate", str(args.rate)]
    if mqtt.username and mqtt.password_file:
        cmd += ["--username", mqtt.username, "--password-file", mqtt.password_file]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "device"))
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)


class FreshDatabases:
    """A new, empty PostgreSQL database per run on the server of `url` (dropped at close)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._made: list[str] = []

    def _at(self, name: str) -> str:
        from urllib.parse import urlsplit, urlunsplit

        return urlunsplit(urlsplit(self.url)._replace(path="/" + name))

    def new(self) -> str:
        import psycopg

        name = f"camaudit_bench_{os.getpid()}_{len(self._made)}"
        with psycopg.connect(self.url, autocommit=True) as c:
            c.execute(f"CREATE DATABASE {name}")
        self._made.append(name)
        return self._at(name)

    def close(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as c:
            for name in self._made:
                c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def run_broker(which: str, args: argparse.Namespace, log: logging.Logger,
               dbs: FreshDatabases | None = None) -> dict[str, float | int]:
    work = Path(tempfile.mkdtemp(prefix=f"camaudit-bench-{which}-"))
    mosq = Mosquitto(work) if which == "mosquitto" else None
    result: dict[str, float | int] = {}
    lost = dups = 0
    try:
        for mode in ("ingest", "latency"):
            hub_dir = work / f"hub-{mode}"
            cfg = HubConfig(data_dir=hub_dir, web=False, broker=mosq.url if mosq else None,
                            broker_listen=f"127.0.0.1:{_free_port()}", db=dbs.new() if dbs else None)
            stored_at: dict[int, float] = {}
            hub = start_hub(cfg)
            hub.collector.on_stored = functools.partial(_note, stored_at)
            dev = _device(work, hub.device_mqtt(DEVICE if mosq is None else None), mode, args)
            try:
                assert dev.stdout is not None and dev.stdin is not None
                hub.enroll(DEVICE, dev.stdout.readline().strip())
                hub.wait_connected()
                if mode == "ingest":
                    head = int(dev.stdout.readline().split()[1])
                    t0 = time.perf_counter()
                    dev.stdin.write("go\n")
                    dev.stdin.flush()
                    _wait(lambda s=stored_at, h=head: len(s) >= h, 300)
                    t1 = max(stored_at.values())
                    result["ingest_eps"] = round(head / (t1 - t0_wall(t0)), 1)
                else:
                    dev.stdin.write("go\n")
                    dev.stdin.flush()
                    head = int(dev.stdout.readline().split()[1])
                    _wait(lambda s=stored_at, h=head: len(s) >= h, 120)
                    events = [Event.from_json(t) for (t,) in hub.store.sql.execute(
                        "SELECT json FROM events WHERE device = ? AND type = 'capture.end'", (DEVICE,)
                    ).fetchall()]
                    lat = sorted((stored_at[e.seq] * 1000 - e.ts) for e in events)
                    result["p50_ms"] = round(lat[len(lat) // 2], 1)
                    result["p99_ms"] = round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 1)
                    result["latency_events"] = len(lat)
                dev.stdout.readline()  # done
                dev.wait(30)
                n = hub.store.count_events(DEVICE)
                distinct = hub.store.sql.execute(
                    "SELECT COUNT(DISTINCT seq) FROM events WHERE device = ?", (DEVICE,)).fetchone()[0]
                lost += head - distinct
                dups += n - distinct
                log.info("%s %s: %d events, stored %d", which, mode, head, n)
            finally:
                if dev.poll() is None:
                    dev.kill()
                hub.stop()
    finally:
        if mosq is not None:
            mosq.stop()
        shutil.rmtree(work, ignore_errors=True)
    result["lost"] = lost
    result["duplicates_stored"] = dups
    return result


_WALL_OFFSET = time.time() - time.perf_counter()


def t0_wall(t0_perf: float) -> float:
    return t0_perf + _WALL_OFFSET


def _note(stored_at: dict[int, float], evs: list[Event]) -> None:
    now = time.time()
    for e in evs:
        stored_at.setdefault(e.seq, now)


def _wait(pred, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError("bench: the hub did not store every event in time")
        time.sleep(0.01)


def pipeline_alone(n: int, dbs: FreshDatabases | None = None) -> float:
    """Peer: the hub's verify+store pipeline fed directly (no broker, no network); its
    store SQLite, or a fresh PostgreSQL database from `dbs`."""
    from camaudit.core.record import GENESIS_PREV, seal

    key, wkey = DeviceKey.generate(), DeviceKey.generate()
    msgs, prev = [], GENESIS_PREV
    now = int(time.time() * 1000)
    for i in range(1, n + 1):
        ev = seal(device=DEVICE, seq=i, ts=now - n + i, type="capture.end", feed="counter", body=_body(i),
                  prev=prev, sign=key.sign)
        prev = ev.hash
        msgs.append(ev.to_json())
    with tempfile.TemporaryDirectory() as d:
        store = HubStore(dbs.new() if dbs else Path(d) / "hub.db")
        store.enroll(DEVICE, key.public_hex)
        done = threading.Event()
        count = [0]

        def stored(evs: list[Event]) -> None:
            count[0] += len(evs)
            if count[0] >= n:
                done.set()

        col = Collector(store, MqttConfig(url="mqtt://127.0.0.1:1"), wkey, on_stored=stored)
        col._thread = threading.Thread(target=col._run, daemon=True)
        t0 = time.perf_counter()
        for m in msgs:
            col.submit(f"camaudit/{DEVICE}/events", m)
        col._thread.start()
        done.wait(300)
        t = time.perf_counter() - t0
        col._stop.set()
        col._thread.join(5)
        store.close()
    return n / t


def _median_round(rs: list[dict[str, float | int]]) -> dict[str, float | int]:
    """The round with the median ingest rate; lost / duplicates_stored summed over all rounds."""
    r = dict(sorted(rs, key=lambda x: x["ingest_eps"])[len(rs) // 2])
    r["lost"] = sum(int(x["lost"]) for x in rs)
    r["duplicates_stored"] = sum(int(x["duplicates_stored"]) for x in rs)
    return r


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=10000, help="events for the ingest run")
    ap.add_argument("--seconds", type=float, default=10.0, help="length of the 100 ev/s latency run")
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--brokers", default="mosquitto,embedded")
    ap.add_argument("--rounds", type=int, default=1,
                    help="interleaved rounds per broker; the median round is reported, all are printed")
    ap.add_argument("--db", help="also run on PostgreSQL: a postgresql:// URL (its user may CREATE "
                    "DATABASE) or 'temp' (start Debian's postgresql in a temp folder)")
    ap.add_argument("--device", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--journal", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--mode", help=argparse.SUPPRESS)
    ap.add_argument("--username", help=argparse.SUPPRESS)
    ap.add_argument("--password-file", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.device:
        return device_main(args)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    log = logging.getLogger("bench.hub")
    brokers = args.brokers.split(",")
    server: Any = None
    dbs: FreshDatabases | None = None
    if args.db == "temp":
        sys.path.insert(0, str(ROOT / "tests"))
        from pgserver import PgServer

        server = PgServer(Path(tempfile.mkdtemp(prefix="camaudit-bench-pg-")))
        dbs = FreshDatabases(server.url())
    elif args.db:
        dbs = FreshDatabases(args.db)
    runs = [(b, None) for b in brokers] + ([(f"{b}+postgresql", dbs) for b in brokers] if dbs else [])
    rounds: dict[str, list[dict[str, float | int]]] = {name: [] for name, _ in runs}
    try:
        for _ in range(max(1, args.rounds)):
            for name, db in runs:
                rounds[name].append(run_broker(name.split("+")[0], args, log, db))
        out = {b: _median_round(rs) for b, rs in rounds.items()}
        alone = pipeline_alone(args.events)
        alone_pg = pipeline_alone(args.events, dbs) if dbs else None
    finally:
        if dbs is not None:
            dbs.close()
        if server is not None:
            server.stop()
            shutil.rmtree(server.root, ignore_errors=True)
    if args.json:
        doc: dict[str, Any] = {b: {k: r[k] for k in ("ingest_eps", "p50_ms", "p99_ms", "lost",
                                                     "duplicates_stored")} for b, r in out.items()}
        if alone_pg is not None:
            doc["pipeline_alone"] = {"sqlite": round(alone, 1), "postgresql": round(alone_pg, 1)}
        print(json.dumps(doc))
        return 0
    print(f"hub bench: {args.events} events ingest, {args.rate:.0f} ev/s for {args.seconds:.0f} s latency, "
          f"loopback, {os.cpu_count()} cores, load avg {os.getloadavg()[0]:.2f}; hub store SQLite"
          + (" and PostgreSQL (+postgresql)" if dbs else ""))
    label = {"mosquitto": "site mosquitto", "embedded": "hub's mosquitto"}
    print(f"{'broker':<22} {'ingest ev/s':>12} {'vs target 2000':>15} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'vs target 250':>14} {'lost':>5} {'dups':>5}")
    if args.rounds > 1:
        for b, rs in rounds.items():
            print(f"{b} rounds: ingest ev/s " + " ".join(f"{r['ingest_eps']:.0f}" for r in rs)
                  + "; p99 ms " + " ".join(f"{r['p99_ms']:.1f}" for r in rs) + " (median round below)")
    for b, r in out.items():
        print(f"{label.get(b, b):<22} {r['ingest_eps']:>12.0f} {r['ingest_eps'] / 2000:>14.2f}x {r['p50_ms']:>8.1f} "
              f"{r['p99_ms']:>8.1f} {r['p99_ms'] / 250:>13.2f}x {r['lost']:>5} {r['duplicates_stored']:>5}")
    print(f"peer: hub pipeline alone (verify + store, no broker): {alone:.0f} ev/s on SQLite"
          + (f", {alone_pg:.0f} ev/s on PostgreSQL" if alone_pg is not None else "") + "; "
          + ", ".join(f"{b} end-to-end = {r['ingest_eps'] / (alone_pg if '+' in b and alone_pg else alone):.2f}x "
                      "of it" for b, r in out.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
