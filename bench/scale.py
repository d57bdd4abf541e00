"""Scale bench: 500 simulated devices through mosquitto into 1, 2 and 4 hub workers on PostgreSQL.

Set-up (all on 127.0.0.1, all real): Debian's PostgreSQL started in a temp folder
(tests/pgserver.PgServer), the hub's own mosquitto (ManagedMosquitto: its generated
config, ACL and per-user passwords) with `max_connections` raised past the fleet, one MQTT
user per simulated device and per worker, and bench/simulate.py's devices (own keys, own
users, real signed records) driven from two processes.

For each worker count N (`--workers 1,2,4`), on a fresh database with the fleet enrolled:
- realistic: every device sends a few records a minute (`--rate`, default 500 devices x 4
  a minute = 33 records/s) for `--seconds`;
- burst: `--burst` records/s for `--burst-seconds` (default 1,000/s for 6 s: about 12
  records a device at once), to find the ceiling: ingest events/s = records stored / time
  from the first to the last one stored;
then drain (until every device has its ack) and check from the store: every record stored
exactly once: lost = records the simulator made - distinct (device, seq) stored;
duplicates_stored = rows - distinct (device, seq), counted by a query, not assumed.
A last run SIGKILLs one of `--kill-workers` workers (and its receiver process) once half of
a burst is stored: lost must be 0.
CPU seconds per process group (broker, workers, PostgreSQL, simulator; psutil) over each
burst say which part is saturated.

    .venv/bin/python bench/scale.py [--devices 500] [--workers 1,2,4] [--json]

`--json` prints {"workers": {N: {"eps", "lost", "duplicates_stored", ...}}, "kill": {...},
"simulator_alone": {...}}.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for sub in ("device", "bench", "tests"):
    if str(ROOT / sub) not in sys.path:
        sys.path.insert(0, str(ROOT / sub))

import psutil  # noqa: E402
import simulate  # noqa: E402

from camaudit.hub.broker.files import HUB_USER, ensure_user_secret  # noqa: E402
from camaudit.hub.broker.mosquitto import BrokerLimits, ManagedMosquitto, free_port  # noqa: E402

log = logging.getLogger("bench.scale")
CAMAUDIT = str(Path(sys.executable).parent / "camaudit")


# ---- the parts ------------------------------------------------------------------------------
class SiteBroker:
    """The hub's mosquitto config (ACL, passwords, limits) with room for the whole fleet."""

    def __init__(self, work: Path, fleet: list[simulate.SimDevice], workers: list[str]) -> None:
        self.dir = work / "broker-site"
        self.m = ManagedMosquitto(self.dir, "127.0.0.1", free_port(),
                                  limits=BrokerLimits(max_connections=len(fleet) + 64))
        self.m.write_config()
        t0 = time.monotonic()
        from camaudit.hub.broker.files import add_worker

        for user in workers:
            if user == HUB_USER:
                ensure_user_secret(self.dir, self.m.passwd_file, user)
            else:  # `camaudit hub add-worker`: its own user, the workers' ACL lines
                add_worker(self.dir, user, "camaudit")
        self.m.write_config()
        for user in (d.id for d in fleet):
            ensure_user_secret(self.dir, self.m.passwd_file, user)
        log.info("%d MQTT users created in %.1f s", len(fleet) + len(workers), time.monotonic() - t0)
        self.m.start()
        self.fleet = simulate.with_users(fleet, lambda u: self.dir / "secrets" / f"{u}.pass")

    def secret(self, user: str) -> Path:
        return self.dir / "secrets" / f"{user}.pass"

    def stop(self) -> None:
        self.m.stop()


def _store_count(db: str) -> int:
    from camaudit.hub.store.sql import open_sql

    sql = open_sql(db)
    try:
        return int(sql.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    finally:
        sql.close()


def enroll(db: str, fleet: list[simulate.SimDevice]) -> None:
    from camaudit.hub.store.hub_store import HubStore

    store = HubStore(db)
    try:
        for d in fleet:
            store.enroll(d.id, d.public_hex)
    finally:
        store.close()


@dataclass
class Workers:
    """`n` hub processes (`camaudit hub --worker` when available) on one store and broker."""

    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @classmethod
    def start(cls, n: int, db: str, broker: SiteBroker, work: Path, worker_mode: bool) -> Workers:
        from camaudit.store.keys import load_or_create_key

        key = work / "hub.key"
        load_or_create_key(key)  # one hub key for every worker (they witness as one hub)
        w = cls()
        for i in range(n):
            user = f"worker{i + 1}" if worker_mode else HUB_USER
            d = work / f"hub-{user}"
            d.mkdir(parents=True, exist_ok=True)
            shutil.copy2(key, d / "hub.key")
            cfg = d / "hub.yaml"
            cfg.write_text(json.dumps({
                "data_dir": str(d), "web": False,
                "mqtt": {"url": broker.m.url, "username": user, "password_file": str(broker.secret(user)),
                         "homeassistant": False},
            }))
            cmd = [CAMAUDIT, "hub", "--config", str(cfg), "--broker", broker.m.url, "--db", db]
            if worker_mode:
                # its MQTT user and password file come from the config's mqtt section (the
                # --password-file flag hands MqttConfig a Path, refused: see the report)
                cmd += ["--worker", user]
            log_file = open(d / "hub.log", "wb")  # noqa: SIM115 - the child keeps it
            w.procs.append(subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL))
            log_file.close()
        time.sleep(3.0)  # started and subscribed (the hub asks devices to re-send on subscribe anyway)
        for i, p in enumerate(w.procs):
            if p.poll() is not None:
                user = f"worker{i + 1}" if worker_mode else HUB_USER
                tail = (work / f"hub-{user}" / "hub.log").read_text(errors="replace")[-1500:]
                w.stop()
                raise RuntimeError(f"hub worker {user} exited at start (code {p.returncode}): {tail}")
        return w

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)


class CpuMeter:
    """CPU seconds per group of processes (each with its children) between start() and stop()."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self.t0: dict[int, float] = {}
        self.wall0 = 0.0
        self.busy0 = 0.0

    @staticmethod
    def _cpu_of(pid: int) -> dict[int, float]:
        out: dict[int, float] = {}
        try:
            p = psutil.Process(pid)
            for q in [p, *p.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    t = q.cpu_times()
                    out[q.pid] = t.user + t.system
        except psutil.Error:
            pass
        return out

    def _all(self) -> dict[str, dict[int, float]]:
        return {g: {k: v for pid in pids for k, v in self._cpu_of(pid).items()} for g, pids in self.groups.items()}

    @staticmethod
    def _busy() -> float:
        t = psutil.cpu_times()
        return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))

    def start(self) -> None:
        self.t0 = {k: v for d in self._all().values() for k, v in d.items()}
        self.busy0 = self._busy()
        self.wall0 = time.monotonic()

    def stop(self) -> tuple[float, dict[str, float]]:
        """(wall s, CPU s per group, plus `machine`: every process on the machine, ours and others')."""
        now = self._all()
        wall = time.monotonic() - self.wall0
        out = {g: round(sum(v - self.t0.get(k, 0.0) for k, v in d.items()), 1) for g, d in now.items()}
        out["machine"] = round(self._busy() - self.busy0, 1)
        return wall, out


class Poller(threading.Thread):
    """Counts the stored records every 0.25 s: when the first and the last were stored."""

    def __init__(self, db: str) -> None:
        super().__init__(daemon=True)
        self.db = db
        self.samples: list[tuple[float, int]] = []
        self.halt = threading.Event()
        self.first = threading.Event()

    def run(self) -> None:
        from camaudit.hub.store.sql import open_sql

        sql = open_sql(self.db)
        try:
            while not self.halt.is_set():
                n = int(sql.execute("SELECT COUNT(*) FROM events").fetchone()[0])
                self.samples.append((time.monotonic(), n))
                if n:
                    self.first.set()
                self.halt.wait(0.25)
        finally:
            sql.close()

    def eps(self, base: int = 0) -> tuple[float, float]:
        """(records/s from the first stored to the last, that window in s)."""
        final = self.samples[-1][1]
        t_first = next((t for t, n in self.samples if n > base), None)
        t_last = next((t for t, n in self.samples if n >= final), None)
        if t_first is None or t_last is None or t_last <= t_first:
            return 0.0, 0.0
        return (final - base) / (t_last - t_first), t_last - t_first


def check_store(db: str, heads: dict[str, int]) -> dict[str, int]:
    """lost and duplicates_stored, by query."""
    from camaudit.hub.store.sql import open_sql

    sql = open_sql(db)
    try:
        rows = int(sql.execute("SELECT COUNT(*) FROM events").fetchone()[0])
        distinct = dict(sql.execute(
            "SELECT device, COUNT(DISTINCT seq) FROM events GROUP BY device").fetchall())
        rejects = dict(sql.execute("SELECT reason, count FROM rejects").fetchall())
    finally:
        sql.close()
    lost = sum(max(0, h - distinct.get(dev, 0)) for dev, h in heads.items())  # the simulator makes seqs 1..head
    dups = rows - sum(distinct.values())
    return {"stored": rows, "lost": lost, "duplicates_stored": dups, "generated": sum(heads.values()),
            "rejects": sum(rejects.values()), "reject_reasons": rejects}


# ---- one run -----------------------------------------------------------------------------------
def run_case(*, n: int, rate: float, seconds: float, broker: SiteBroker, db: str, work: Path,
             worker_mode: bool, pg_pid: int | None, kill: bool = False,
             ack_timeout_s: float = 10.0) -> dict[str, Any]:
    enroll(db, broker.fleet)
    workers = Workers.start(n, db, broker, work, worker_mode)
    poller = Poller(db)
    groups = {"broker": [broker.m.pid or 0], "workers": [p.pid for p in workers.procs]}
    if pg_pid:
        groups["postgresql"] = [pg_pid]
    meter = CpuMeter(groups)
    killed: list[int] = []

    def killer() -> None:
        """SIGKILL worker 1 (and its receiver process) once half of the records are stored."""
        half = int(rate * seconds / 2)
        deadline = time.monotonic() + seconds + 600
        while time.monotonic() < deadline and not poller.halt.is_set():
            if poller.samples and poller.samples[-1][1] >= half:
                break
            time.sleep(0.1)
        else:
            return
        victim = workers.procs[0]
        with contextlib.suppress(psutil.Error):
            for c in psutil.Process(victim.pid).children(recursive=True):
                c.kill()
        victim.kill()
        killed.append(poller.samples[-1][1])
        log.warning("SIGKILLed worker pid %d at %d records stored", victim.pid, killed[-1])

    try:
        poller.start()
        meter.start()
        if kill:
            threading.Thread(target=killer, daemon=True).start()
        la = os.getloadavg()[0]
        s = simulate.run(broker.fleet, simulate.SimConfig(
            url=broker.m.url, rate=rate, seconds=seconds, procs=2, disconnect_per_min=0.5,
            ack_timeout_s=ack_timeout_s, drain_s=600, seed=n))
        time.sleep(0.5)
        wall, cpu = meter.stop()
    finally:
        poller.halt.set()
        poller.join(5)
        workers.stop()
    eps, window = poller.eps()
    res = check_store(db, s.heads)
    cpu["simulator"] = round(s.cpu_s, 1)
    res.update(
        workers=n, rate_asked=rate, seconds=seconds, eps=round(eps, 1), window_s=round(window, 1),
        sim_rate=round(s.rate, 1), drained_s=round(s.drain_s, 1), unacked=s.unacked, resent=s.resent,
        replays_answered=s.replays_answered, acks_received=s.acks_received, disconnects=s.disconnects, cpu_s=cpu,
        cores={k: round(v / wall, 2) for k, v in cpu.items()}, wall_s=round(wall, 1),
        load_avg_start=round(la, 2), load_avg_end=round(os.getloadavg()[0], 2),
        killed_at_stored=killed[0] if killed else None)
    log.warning("workers=%d rate=%.0f: %s", n, rate, {k: res[k] for k in (
        "eps", "generated", "stored", "lost", "duplicates_stored", "drained_s", "cores")})
    return res


# ---- the whole bench -----------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--devices", type=int, default=500)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--rate", type=float, default=None, help="realistic records/s (default devices x 4 / 60)")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--burst", type=float, default=1000.0, help="burst records/s offered")
    ap.add_argument("--burst-seconds", type=float, default=6.0)
    ap.add_argument("--kill-workers", type=int, default=2, help="workers in the kill run (0: no kill run)")
    ap.add_argument("--sqlite", action="store_true",
                    help="one `camaudit hub` on SQLite instead of workers on PostgreSQL")
    ap.add_argument("--single", action="store_true",
                    help="one `camaudit hub` (its in-memory linking) on PostgreSQL instead of workers")
    ap.add_argument("--no-peer", action="store_true", help="skip the simulator-alone run")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--json-out", type=Path, help="also write the JSON result here")
    ap.add_argument("-v", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO if args.v else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s: %(message)s")
    rate = args.rate or args.devices * 4 / 60
    counts = [int(x) for x in args.workers.split(",") if x]
    worker_mode = not (args.sqlite or args.single)
    if args.sqlite or args.single:
        counts = [1]
    work = Path(tempfile.mkdtemp(prefix="camaudit-scale-"))
    work.chmod(0o711)  # PostgreSQL runs as `postgres` when we are root: it must reach work/pg
    out: dict[str, Any] = {"devices": args.devices, "cores": os.cpu_count(),
                           "load_avg_start": [round(x, 2) for x in os.getloadavg()], "workers": {}}
    pg = None
    broker = None
    try:
        if not args.no_peer:
            out["simulator_alone"] = simulate.bare_ceiling(args.devices, args.burst * 2, args.burst_seconds / 2)
        fleet = simulate.make_fleet(args.devices)
        names = [f"worker{i}" for i in range(1, max([*counts, args.kill_workers]) + 1)] if worker_mode else [HUB_USER]
        broker = SiteBroker(work, fleet, names)
        pg_pid = None
        if not args.sqlite:
            from pgserver import PgServer

            (work / "pg").mkdir()
            (work / "pg").chmod(0o755)
            pg = PgServer(work / "pg")
            pg_pid = int((pg.data / "postmaster.pid").read_text().split()[0])

        def new_db(tag: str) -> str:
            if pg is not None:
                return pg.new_database()
            return str(work / f"hub-{tag}.db")

        common = {"broker": broker, "work": work, "worker_mode": worker_mode, "pg_pid": pg_pid}
        for n in counts:
            real = run_case(n=n, rate=rate, seconds=args.seconds, db=new_db(f"{n}r"), **common)
            burst = run_case(n=n, rate=args.burst, seconds=args.burst_seconds, db=new_db(f"{n}b"), **common)
            out["workers"][n] = {"eps": burst["eps"], "lost": real["lost"] + burst["lost"],
                                 "duplicates_stored": real["duplicates_stored"] + burst["duplicates_stored"],
                                 "realistic": real, "burst": burst}
        if args.kill_workers and worker_mode:
            k = run_case(n=args.kill_workers, rate=args.burst, seconds=args.burst_seconds, db=new_db("kill"),
                         kill=True, **common)
            out["kill"] = {"workers": args.kill_workers, "eps": k["eps"], "lost": k["lost"],
                           "duplicates_stored": k["duplicates_stored"], "run": k}
    finally:
        if broker is not None:
            broker.stop()
        if pg is not None:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    out["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    if args.json_out:
        args.json_out.write_text(json.dumps(out, indent=1))
    if args.json:
        print(json.dumps(out))
    else:
        print_table(out, rate, args)
    return 0


def print_table(out: dict[str, Any], rate: float, args: argparse.Namespace) -> None:
    print(f"scale bench: {out['devices']} devices, {out['cores']} cores, load average {out['load_avg_start'][0]} "
          f"at start, {out['load_avg_end'][0]} at end")
    if "simulator_alone" in out:
        p = out["simulator_alone"]
        print(f"simulator alone (bare mosquitto + counting subscriber): {p['eps']:.0f} records/s "
              f"(received {p['received']} of {p['generated']})")
    print(f"{'workers':>7} {'ingest ev/s':>11} {'vs 1':>6} {'lost':>5} {'dups':>5} | realistic "
          f"{rate:.0f}/s: {'stored':>7} {'lost':>5} | burst cores: broker workers pg sim")
    base = None
    for n, r in out["workers"].items():
        base = base or r["eps"]
        b, real = r["burst"], r["realistic"]
        c = b["cores"]
        print(f"{n:>7} {r['eps']:>11.0f} {r['eps'] / base if base else 0:>5.2f}x {r['lost']:>5} "
              f"{r['duplicates_stored']:>5} | {real['stored']:>17} {real['lost']:>5} | "
              f"{c.get('broker', 0):.2f} {c.get('workers', 0):.2f} {c.get('postgresql', 0):.2f} "
              f"{c.get('simulator', 0):.2f} (offered {b['rate_asked']:.0f}/s, made {b['sim_rate']:.0f}/s)")
    if "kill" in out:
        k = out["kill"]
        print(f"kill run: {k['workers']} workers, one SIGKILLed half-way: {k['eps']:.0f} ev/s, "
              f"lost {k['lost']}, duplicates_stored {k['duplicates_stored']}, drained {k['run']['drained_s']} s")


if __name__ == "__main__":
    sys.exit(main())
