"""Peak memory and time of `verify_pack` (issue 12): an honest pack of N records, and zip
bombs refused before reading. Each verify runs in its own child process; peak RSS is the
child's VmHWM (ru_maxrss would include the parent's, inherited across exec).

    .venv/bin/python bench/pack_memory.py [--records 100000] [--frames 1,18,21]

--frames (issue 20): device exports whose capture references N noise JPEGs of 3.4 MiB each;
up to 64 MiB of frames the reports show them inline (verify holds them to regenerate
report.html / report.pdf), past it they link them (verify streams them).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

CHILD = """
import sys, time
from camaudit.errors import VerifyError
from camaudit.store.pack_verify import verify_pack
t = time.perf_counter()
try:
    r = verify_pack(sys.argv[1])
    msg = f"verified {r.events} records"
except VerifyError as exc:
    msg = str(exc).split("FAILED: ")[-1]
print(msg)
hwm = [ln for ln in open("/proc/self/status") if ln.startswith("VmHWM:")][0].split()[1]
print(int(hwm) // 1024, round(time.perf_counter() - t, 2))
"""

IDLE = """
import camaudit.store.pack_verify  # noqa: F401
hwm = [ln for ln in open("/proc/self/status") if ln.startswith("VmHWM:")][0].split()[1]
print(int(hwm) // 1024)
"""


def child(pack: Path) -> tuple[str, int, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(pack)], capture_output=True, text=True, check=True)
    msg, nums = out.stdout.strip().splitlines()
    mib, secs = nums.split()
    return msg, int(mib), float(secs)


def honest_pack(out: Path, n: int) -> int:
    from camaudit.core.record import GENESIS_PREV, seal
    from camaudit.store.keys import DeviceKey
    from camaudit.store.pack import build_pack

    key = DeviceKey.generate()
    prev, lines, t0 = GENESIS_PREV, [], 1_795_651_200_000
    for seq in range(1, n + 1):
        body = {"capture": f"c-{seq // 10:06d}", "start": t0, "end": None, "frames": seq % 50,
                "max_faces": 2, "distinct_tracks": 3, "identifiable_tracks": 1,
                "face_px": {"min": 18, "median": 41, "max": 96}, "verdict": "unconsented",
                "reasons": ["no_notice"], "basis": None, "evidence": []}
        ev = seal(device="bench-01", seq=seq, ts=t0 + seq * 1000, type="capture.update", feed="door",
                  body=body, prev=prev, sign=key.sign)
        lines.append(ev.to_json().decode())
        prev = ev.hash
    build_pack(out, device="bench-01", public_key=key.public_hex, lines=lines, signer=key, signed_by="device",
               evidence_dir=None, feed=None, since_ms=None, until_ms=None, now_ms=t0)
    with zipfile.ZipFile(out) as z:
        return z.getinfo("events.jsonl").file_size


def frames_pack(d: Path, n: int) -> tuple[Path, int]:
    import hashlib

    import cv2
    import numpy as np

    from camaudit.store.journal import Journal
    from camaudit.store.pack import export_pack

    (d / "evidence").mkdir(parents=True)
    refs, total = [], 0
    for i in range(n):
        img = np.random.default_rng(i).integers(0, 256, (1500, 2000, 3), np.uint8)
        data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
        digest = hashlib.sha256(data).hexdigest()
        (d / "evidence" / f"{digest}.jpg").write_bytes(data)
        refs.append(f"sha256:{digest}")
        total += len(data)
    t0 = 1_795_651_200_000
    body = {"capture": "c-000001", "start": t0, "end": t0 + 60_000, "frames": 40, "max_faces": 2,
            "distinct_tracks": 3, "identifiable_tracks": 1, "face_px": {"min": 18, "median": 41, "max": 96},
            "verdict": "unconsented", "reasons": ["no_notice"], "basis": None, "evidence": refs}
    with Journal.open(d / "journal.db", "bench-01") as j:
        j.append("capture.end", "door", body, t0 + 60_000)
    return export_pack(d / "journal.db", d / "pack.zip", now_ms=t0).path, total


def bomb(out: Path, mib: int) -> None:
    zero = bytes(1 << 20)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        info = zipfile.ZipInfo("events.jsonl")
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w", force_zip64=True) as f:
            for _ in range(mib):
                f.write(zero)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--frames", default="", help="comma-separated frame counts (3.4 MiB each)")
    a = ap.parse_args()
    idle = int(subprocess.run([sys.executable, "-c", IDLE], capture_output=True, text=True, check=True).stdout)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        honest = Path(tmp) / "honest.zip"
        size = honest_pack(honest, a.records)
        print(f"made a {a.records}-record pack ({size / 2**20:.1f} MiB of records) in {time.perf_counter() - t:.0f} s",
              file=sys.stderr)
        rows.append(("honest pack", honest.stat().st_size, *child(honest)))
        for n in [int(x) for x in a.frames.split(",") if x]:
            pack, total = frames_pack(Path(tmp) / f"frames{n}", n)
            rows.append((f"{n} frame(s), {total / 2**20:.1f} MiB", pack.stat().st_size, *child(pack)))
        for mib in (800, 60):
            p = Path(tmp) / f"bomb{mib}.zip"
            bomb(p, mib)
            rows.append((f"zip bomb, {mib} MiB inflated", p.stat().st_size, *child(p)))
    print(f"python + camaudit.store.pack_verify imported: peak RSS {idle} MiB")
    print("| pack | bytes on disk | result | peak RSS MiB | s |")
    print("|---|---|---|---|---|")
    for name, size, msg, mib, secs in rows:
        print(f"| {name} | {size} | {msg} | {mib} | {secs} |")
    print(json.dumps({"idle_mib": idle, "rows": rows}), file=sys.stderr)


if __name__ == "__main__":
    main()
