"""Runs camaudit on x86 (this machine's venv) and on emulated arm64, and compares.

    python scripts/arm64_compare.py --root ROOT --site SITE --images N --clip CLIP

- `camaudit detect --json` on the first N WIDER images (sorted paths): every face box of
  arm64 must match one of x86 within 1 px on each edge, and the counts must be equal;
- `camaudit run` on CLIP, then `camaudit log --json`: the same captures (all fields but
  the wall-clock times; durations equal).
- the model alone, fed x86's input tensors: the same face count and the same boxes as
  camaudit reports them (0.1 px, score 1e-4); float64 bit-identity is not required (a
  1-ulp float64 difference, 5.7e-14, was seen on an AVX-512 host), the raw difference is printed.
Prints the times. Emulated speed is not Raspberry Pi speed. Exit 1 on any difference.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TOL_PX = 1.0


QEMU = "qemu-aarch64-static"


def runner(arch: str, root: Path, site: Path) -> list[str]:
    if arch == "x86":
        return [sys.executable, "-m", "camaudit.cli"]
    return [QEMU, "-L", str(root), str(root / "usr/bin/python3.11"), "-m", "camaudit.cli"]


def env_for(arch: str, site: Path) -> dict[str, str]:
    env = dict(os.environ)
    if arch == "arm64":
        env["PYTHONPATH"] = f"{site}:{REPO / 'device'}"
        env["PYTHONNOUSERSITE"] = "1"
    return env


def call(arch: str, root: Path, site: Path, *args: str, timeout: float = 3600) -> tuple[str, float]:
    t0 = time.monotonic()
    proc = subprocess.run([*runner(arch, root, site), *args], capture_output=True, text=True,
                          timeout=timeout, env=env_for(arch, site), stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        sys.exit(f"check-arm64: error: {arch} camaudit {args[0]} exited {proc.returncode}:\n"
                 f"{proc.stderr[-3000:]}")
    return proc.stdout, time.monotonic() - t0


def edges(f: dict[str, float]) -> tuple[float, float, float, float]:
    return f["x"], f["y"], f["x"] + f["w"], f["y"] + f["h"]


def compare_boxes(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> tuple[bool, float]:
    """Each arm64 box matched to a distinct x86 box within TOL_PX; (ok, worst edge diff)."""
    if len(a) != len(b):
        return False, float("inf")
    left = list(b)
    worst = 0.0
    for fa in a:
        best = min(left, key=lambda fb: max(abs(p - q) for p, q in zip(edges(fa), edges(fb), strict=True)),
                   default=None)
        if best is None:
            return False, float("inf")
        d = max(abs(p - q) for p, q in zip(edges(fa), edges(best), strict=True))
        worst = max(worst, d)
        left.remove(best)
    return worst <= TOL_PX, worst


def capture_view(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        r = dict(r)
        start, end = r.pop("start"), r.pop("end")
        r.pop("ts", None)
        r["duration_ms"] = None if end is None else end - start
        out.append(r)
    return out


def main() -> int:
    global QEMU
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--site", type=Path, required=True)
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--qemu", default="qemu-aarch64-static", help="qemu-aarch64 user-mode emulator")
    ap.add_argument("--wider", type=Path, default=REPO.parent / "shared" / "data" / "wider_dev" / "images")
    ap.add_argument("--clip", type=Path, default=REPO / "device" / "camaudit" / "data" / "demo_headpose.gif")
    args = ap.parse_args()
    args.root, args.site = args.root.resolve(), args.site.resolve()
    QEMU = args.qemu
    images = sorted(args.wider.rglob("*.jpg"))[: args.images]
    if not images:
        sys.exit(f"check-arm64: error: no images under {args.wider}")

    results: dict[str, dict[str, Any]] = {}
    times: dict[str, float] = {}
    for arch in ("x86", "arm64"):
        out, times[f"detect {arch}"] = call(arch, args.root, args.site, "detect", "--json", *map(str, images))
        results[arch] = {Path(d["image"]).name: d for d in map(json.loads, out.splitlines())}
    faces = worst = 0.0
    bad = []
    for img in images:
        x86, arm = results["x86"][img.name]["faces"], results["arm64"][img.name]["faces"]
        ok, w = compare_boxes(arm, x86)
        faces += len(x86)
        worst = max(worst, w)
        if not ok:
            bad.append(f"{img.name}: x86 {len(x86)} faces, arm64 {len(arm)}, worst edge diff {w:.2f} px")
    print(f"detect: {len(images)} WIDER images, {int(faces)} faces; {len(bad)} image(s) differ "
          f"(another face count, or a box edge more than {TOL_PX} px off); "
          f"x86 {times['detect x86']:.1f} s, emulated arm64 {times['detect arm64']:.1f} s")

    # the model alone: arm64 given exactly the input tensors x86 made
    helper = str(REPO / "scripts" / "arm64_same_input.py")
    with tempfile.TemporaryDirectory() as tmp:
        saved = str(Path(tmp) / "inputs.npz")
        x86_py = [sys.executable]
        arm_py = [QEMU, "-L", str(args.root), str(args.root / "usr/bin/python3.11")]
        for cmd, arch in ((x86_py + [helper, "save", saved, *map(str, images)], "x86"),
                          (arm_py + [helper, "check", saved], "arm64")):
            env = env_for(arch, args.site)
            env["PYTHONPATH"] = ":".join(filter(None, [env.get("PYTHONPATH"), str(REPO / "device")]))
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, env=env)
            if proc.returncode != 0:
                sys.exit(f"check-arm64: error: same-input check ({arch}) failed:\n{proc.stderr[-3000:]}")
        same = json.loads(proc.stdout.strip().splitlines()[-1])
    # must be identical: the face count and the boxes as camaudit reports them (0.1 px, score
    # 1e-4); float64 bits need not be (the raw difference is printed, not judged)
    print(f"model alone (arm64 fed x86's input tensors): {same['count_differs']} image(s) with another "
          f"face count, {same['reported_differs']} with another reported box (0.1 px, score 1e-4); "
          f"largest raw float64 difference {same['max_abs_diff']:.2g} (information only)")
    if same["count_differs"] or same["reported_differs"]:
        bad.append(f"the int8 model itself differs on identical inputs: {same}")

    # where differences come from: is OpenCV's resize bit-identical on both builds?
    rs = str(REPO / "scripts" / "arm64_resize.py")
    hashes = {}
    for cmd, arch in (([sys.executable, rs], "x86"), ([*arm_py, rs], "arm64")):
        proc = subprocess.run([*cmd, *map(str, images)], capture_output=True, text=True, timeout=3600,
                              env=env_for(arch, args.site))
        if proc.returncode != 0:
            sys.exit(f"check-arm64: error: resize check ({arch}) failed:\n{proc.stderr[-3000:]}")
        hashes[arch] = [json.loads(line) for line in proc.stdout.splitlines()]
    counts = {m: sum(a[m] == b[m] for a, b in zip(hashes["x86"], hashes["arm64"], strict=True))
              for m in hashes["x86"][0]}
    print("OpenCV resize to 640 bit-identical on x86 and arm64: "
          + ", ".join(f"{m} {n} of {len(images)}" for m, n in counts.items()))

    caps: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for arch in ("x86", "arm64"):
            db = Path(tmp) / f"{arch}.db"
            _, times[f"run {arch}"] = call(arch, args.root, args.site, "run", "--source", str(args.clip),
                                           "--db", str(db), "--quiet")
            out, _ = call(arch, args.root, args.site, "log", "--db", str(db), "--json")
            caps[arch] = capture_view(json.loads(out))
    same = caps["x86"] == caps["arm64"]
    print(f"run: {args.clip.name}: x86 {len(caps['x86'])} capture(s), arm64 {len(caps['arm64'])}, "
          f"{'identical' if same else 'DIFFERENT'} (all fields but wall-clock times); "
          f"x86 {times['run x86']:.1f} s, emulated arm64 {times['run arm64']:.1f} s")
    if not same:
        bad.append(f"captures differ:\nx86   {caps['x86']}\narm64 {caps['arm64']}")
    print("emulated speed (qemu-user on this x86 machine) is not Raspberry Pi speed")
    for line in bad:
        print(f"check-arm64: error: {line}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
