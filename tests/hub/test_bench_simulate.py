"""bench/simulate.py against the real hub: its signed streams verify, every record is stored
exactly once through drops, lost first sends, replays and ack timeouts (small and bounded)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import simulate  # noqa: E402


def test_simulated_devices_are_verified_and_stored_exactly_once(make_hub) -> None:
    hub = make_hub()
    fleet = simulate.make_fleet(5, "simt")
    for dev in fleet:
        hub.enroll(dev.id, dev.public_hex)  # its key, and its own MQTT user on the hub's mosquitto
    fleet = simulate.with_users(fleet, hub.password_file)
    assert hub.wait_connected()
    cfg = simulate.SimConfig(url=hub.broker_url, rate=30, seconds=3, procs=2, disconnect_per_min=30,
                             loss=0.1, ack_timeout_s=1.0, checkpoint_every=10, drain_s=30, seed=7)
    s = simulate.run(fleet, cfg)

    assert s.refused == 0 and s.connects >= 5
    assert s.generated == sum(s.heads.values()) >= 60
    assert s.unacked == 0, s.line()  # the hub acked every record: drained
    # the faults happened and were recovered from: drops, lost first sends, replays
    assert s.disconnects > 0 and s.lost_first_send > 0, s.line()
    assert s.replays_answered > 0 and s.resent > 0, s.line()
    conn = hub.store.sql
    for dev, head in s.heads.items():
        seqs = [r[0] for r in conn.execute("SELECT seq FROM events WHERE device = ? ORDER BY seq", (dev,))]
        assert seqs == list(range(1, head + 1)), dev  # all of them, each once
    types = {r[0] for r in conn.execute("SELECT DISTINCT type FROM events")}
    assert {"device.online", "capture.start", "capture.end", "checkpoint"} <= types
    assert hub.store.rejects() == {}  # nothing failed the schema, hash, signature or chain checks
    assert hub.store.forks() == []
    assert sum(len(hub.store.witnesses(d.id)) for d in fleet) > 0  # checkpoints countersigned


def test_bare_ceiling_counts_every_record_at_the_subscriber() -> None:
    out = simulate.bare_ceiling(3, rate=200, seconds=1.5, procs=1)
    assert out["generated"] >= 200
    assert out["received"] == out["generated"]  # nothing lost on the way; PUBACK acked all
    assert out["unacked"] == 0


def test_scale_bench_runs_and_counts_from_the_store(tmp_path) -> None:
    """bench/scale.py end to end, tiny: one hub on SQLite, 10 devices; its JSON keys stay."""
    import json
    import subprocess

    res = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scale.py"), "--sqlite", "--devices", "10", "--workers", "1",
         "--seconds", "2", "--burst", "100", "--burst-seconds", "2", "--no-peer", "--json"],
        capture_output=True, text=True, timeout=240, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout)
    one = out["workers"]["1"]
    assert one["lost"] == 0 and one["duplicates_stored"] == 0
    assert one["eps"] > 0
    burst = one["burst"]
    assert burst["stored"] == burst["generated"] >= 150 and burst["rejects"] == 0
    assert set(burst["cpu_s"]) >= {"broker", "workers", "simulator", "machine"}


def test_scale_bench_workers_on_postgresql_and_a_kill_lose_nothing() -> None:
    """bench/scale.py's worker mode, tiny: 2 `camaudit hub --worker` on a real PostgreSQL,
    then the kill run (a worker SIGKILLed mid-burst): every record stored once in both."""
    import json
    import os
    import subprocess

    import pytest
    from pgserver import PG_BINS

    if not PG_BINS and os.environ.get("CI") != "true":
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    res = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scale.py"), "--devices", "10", "--workers", "2",
         "--seconds", "2", "--burst", "100", "--burst-seconds", "2", "--kill-workers", "2", "--no-peer",
         "--json"],
        capture_output=True, text=True, timeout=280, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout)
    two = out["workers"]["2"]
    assert two["lost"] == 0 and two["duplicates_stored"] == 0
    assert two["burst"]["stored"] == two["burst"]["generated"] > 0
    kill = out["kill"]
    assert kill["run"]["killed_at_stored"] is not None  # a worker really was killed mid-burst
    assert kill["run"]["killed_at_stored"] < kill["run"]["generated"]
    assert kill["lost"] == 0 and kill["duplicates_stored"] == 0
    assert kill["run"]["stored"] == kill["run"]["generated"]
