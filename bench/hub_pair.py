"""bench/hub.py on two source trees in one run: ingest through the hub's own broker, rounds
interleaved (which tree goes first alternates), medians and the ratio new / old.

    .venv/bin/python bench/hub_pair.py OLD_TREE [NEW_TREE] [--rounds 6] [--events 10000] [--json]

Each run is `bench/hub.py --brokers embedded` of that tree in a child process of this venv's
Python with PYTHONPATH=TREE/device, so the hub, its broker set-up and the device publisher are
that tree's code; the libraries are this venv's (an older tree must import with them).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_once(tree: Path, events: int, seconds: float) -> dict:  # type: ignore[type-arg]
    env = dict(os.environ, PYTHONPATH=str(tree / "device"))
    done = subprocess.run(
        [sys.executable, str(tree / "bench" / "hub.py"), "--brokers", "embedded", "--events", str(events),
         "--seconds", str(seconds), "--json"],
        env=env, cwd=tree, capture_output=True, text=True, timeout=900,
    )
    if done.returncode != 0 or "{" not in done.stdout:
        raise SystemExit(f"bench/hub.py in {tree} failed: {done.stderr.strip()[-400:]}")
    return json.loads(done.stdout[done.stdout.index("{"):])["embedded"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path, nargs="?", default=ROOT)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--events", type=int, default=10000)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    trees = {"old": a.old.resolve(), "new": a.new.resolve()}
    runs: dict[str, list[dict]] = {"old": [], "new": []}  # type: ignore[type-arg]
    for r in range(a.rounds):
        for name in ("old", "new") if r % 2 == 0 else ("new", "old"):
            res = run_once(trees[name], a.events, a.seconds)
            runs[name].append(res)
            if not a.json:
                print(f"round {r}: {name} {res['ingest_eps']:.0f} events/s, p50 {res['p50_ms']} ms, "
                      f"p99 {res['p99_ms']} ms, lost {res['lost']}, load {os.getloadavg()[0]:.1f}", flush=True)
    med = {k: {m: statistics.median(x[m] for x in v) for m in ("ingest_eps", "p50_ms", "p99_ms")}
           for k, v in runs.items()}
    out = {"trees": {k: str(v) for k, v in trees.items()}, "median": med,
           "ingest_ratio_new_over_old": med["new"]["ingest_eps"] / med["old"]["ingest_eps"],
           "lost": sum(x["lost"] for v in runs.values() for x in v), "runs": runs}
    if a.json:
        print(json.dumps(out, indent=1))
    else:
        print(f"median ingest: old {med['old']['ingest_eps']:.0f}, new {med['new']['ingest_eps']:.0f} events/s "
              f"(new / old {out['ingest_ratio_new_over_old']:.3f}); p50 {med['old']['p50_ms']} vs "
              f"{med['new']['p50_ms']} ms; p99 {med['old']['p99_ms']} vs {med['new']['p99_ms']} ms; lost {out['lost']}")


if __name__ == "__main__":
    main()
