"""People the appliance counts against hand-made ground truth (bench/annotations/people.json).

For each annotated clip, runs the whole appliance unpaced (file source, default config, one
thread, a fresh journal), reads its tracks with `camaudit log --db FILE --tracks --json`,
matches them to the annotated person-shots by time and box overlap
(bench/_common/people_score.py) and prints per clip and overall:
identifiable-person recall and precision ("unsure" people count neither way), tracks per
person-shot, tracks that span a scene cut, identifiable tracks on people seen only from
behind or in full profile, captures on the NOFACE_ clips. Then the pipeline's speed and
peak RSS against OpenCV's FaceDetectorYN loop in the same run, by bench/pipeline.py's method
(its functions: 640x480 clip, one thread, child processes, interleaved rounds, medians).

--src DIR runs another checkout's camaudit (DIR/device) instead of this one; --baseline DIR
adds a second version to the same run (e.g. today's main at /work/main). --min-face-px N
(repeatable) sets the config key detector.min_face_px for every version instead of its default,
one set of runs per value (a sweep of the size threshold; with --no-speed only, the speed
comparison runs default configs). A version whose
`camaudit log` has no --tracks is scored from its tracker's boxes observed in-process (each
confirmed track's box on every frame; identifiable as that version decides it: largest face
>= detector.min_face_px) and labelled "derived".

    .venv/bin/python bench/people.py [--src DIR] [--baseline DIR] [--clip NAME ...]
                                     [--min-face-px N ...] [--rounds 3] [--repeat 2]
                                     [--no-speed] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common.people_annotations import Clip, load  # noqa: E402
from bench._common.people_score import ClipScore, PersonShot, Track, score_clip  # noqa: E402

SRC_ENV = "CAMAUDIT_BENCH_SRC"  # the same variable bench/pipeline.py's children honour
CLI = "import sys; from camaudit.cli import main; sys.argv[0] = 'camaudit'; main()"


# ---------------------------------------------------------------- child processes


def _use_src() -> None:
    src = os.environ.get(SRC_ENV)
    if src:
        sys.path.insert(0, str(Path(src) / "device"))


def child_clip(clip: str, workdir: str, derive: bool, detector: dict[str, Any]) -> dict[str, Any]:
    """Run the appliance on one clip, unpaced; optionally observe its tracker's boxes.
    `detector` overrides keys of the config's detector section (e.g. min_face_px)."""
    import time

    import cv2

    cv2.setNumThreads(1)
    from camaudit.config.model import Config
    from camaudit.pipeline.runner import run

    cfg = Config.model_validate(
        {
            "device": {"id": "bench-01", "data_dir": workdir},
            "detector": {**detector, "threads": 1},
            "feeds": {"cam": {"source": clip}},
        }
    )
    derived: dict[int, dict[str, Any]] = {}
    if derive:
        _observe_tracker(derived, cfg.detector.min_face_px)
    t0 = time.perf_counter()
    summary = run(cfg, db=Path(workdir) / "journal.db", install_signals=False)
    wall = time.perf_counter() - t0
    st = summary.feeds["cam"]
    return {
        "frames": st.frames,
        "wall_s": wall,
        "events": summary.events,
        "derived_tracks": [derived[k] for k in sorted(derived)] if derive else None,
    }


def _observe_tracker(out: dict[int, dict[str, Any]], min_face_px: int) -> None:
    """Record every confirmed track's box per frame, without changing what the tracker does
    (for versions whose journal holds no per-track records)."""
    from camaudit.core import tracking
    from camaudit.pipeline import feed_loop

    now: dict[str, Any] = {"frame": -1, "size": [0, 0]}
    orig_frame = feed_loop.FeedLoop._frame
    orig_update = tracking.Tracker.update

    def _frame(self: Any, fr: Any) -> None:
        now["frame"] = self.stats.frames  # 0-based index of this decoded frame
        h, w = fr.image.shape[:2]
        now["size"] = [w, h]
        orig_frame(self, fr)

    def update(self: Any, detections: Any, ts_ms: int) -> Any:
        upd = orig_update(self, detections, ts_ms)
        f = now["frame"]
        for v in upd.active:
            b = v.box
            t = out.setdefault(
                v.id,
                {"feed": "cam", "capture": "", "track": v.id, "first_frame": f, "first_ts": ts_ms,
                 "frame_size": now["size"], "boxes": [], "peak": None, "max_px": 0},
            )  # fmt: skip
            t["last_frame"], t["last_ts"] = f, ts_ms
            box = [round(b.x), round(b.y), round(b.w), round(b.h)]
            t["boxes"].append([f, *box])
            if b.face_px > t["max_px"]:
                t["max_px"] = b.face_px
                t["peak"] = {"frame": f, "box": box, "score": round(b.score, 3)}
            t["identifiable"] = t["max_px"] >= min_face_px
            t["criteria"] = {"face_px": {"value": t["max_px"], "passed": t["identifiable"], "min": min_face_px}}
        return upd

    feed_loop.FeedLoop._frame = _frame  # type: ignore[method-assign]
    tracking.Tracker.update = update  # type: ignore[method-assign]


def child_speed(kind: str, rest: list[str]) -> dict[str, Any]:
    from bench import pipeline

    if kind == "pipeline":
        return pipeline.child_pipeline(rest[0], rest[1], gate=True)
    return pipeline.child_peer(rest[0], rest[1])


def in_child(args: list[str], src: Path | None) -> dict[str, Any]:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    env.pop(SRC_ENV, None)
    if src is not None:
        env[SRC_ENV] = str(src)
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, env=env, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"child {args[:2]} ({src or 'this checkout'}) failed:\n{out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def camaudit_cli(src: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src / "device"), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True, env=env, check=False)


def has_tracks_option(src: Path | None) -> bool:
    out = camaudit_cli(src, "log", "--help")
    if out.returncode != 0:
        raise SystemExit(f"camaudit log --help ({src or 'this checkout'}) failed:\n{out.stderr[-1000:]}")
    return "--tracks" in out.stdout


def read_json(src: Path | None, *args: str) -> Any:
    out = camaudit_cli(src, *args)
    if out.returncode != 0:
        raise SystemExit(f"camaudit {' '.join(args)} failed:\n{out.stderr[-1000:]}")
    return json.loads(out.stdout)


# ---------------------------------------------------------------- one version


def clip_path(c: Clip) -> Path:
    return (ROOT / c.source).resolve()


def _criteria_of(rec: dict[str, Any]) -> dict[str, Any]:
    """A track record's verdict and criteria values at its peak, for review in --json."""
    c = rec.get("criteria") or {}
    pose = (c.get("pose") or {}).get("value") or {}
    return {
        "face_px": (c.get("face_px") or {}).get("value"),
        "eyes": pose.get("eyes"),
        "yaw": pose.get("yaw"),
        "sharpness": (c.get("sharpness") or {}).get("value"),
        "why_not": rec.get("why_not"),
        "peak_frame": (rec.get("peak") or {}).get("frame"),
        "peak_box": (rec.get("peak") or {}).get("box"),
    }


def run_version(
    label: str, src: Path | None, clips: list[Clip], tmp: Path, min_face_px: int | None = None
) -> dict[str, Any]:
    native = has_tracks_option(src)
    detector = {} if min_face_px is None else {"min_face_px": min_face_px}
    per_clip: dict[str, Any] = {}
    total = ClipScore()
    for c in clips:
        work = tmp / f"{label}-{Path(c.name).stem}"
        work.mkdir(parents=True)
        mode = "derive" if not native else "native"
        res = in_child(["clip", str(clip_path(c)), str(work), mode, json.dumps(detector)], src)
        db = work / "journal.db"
        records = read_json(src, "log", "--db", str(db), "--tracks", "--json") if native else res["derived_tracks"]
        captures = read_json(src, "log", "--db", str(db), "--json")
        tracks = [Track.from_record(r) for r in records]
        people = [PersonShot.of(p) for p in c.people]
        s = score_clip(tracks, people, c.cuts)
        by_id = {t.id: r for t, r in zip(tracks, records, strict=True)}
        for m in s.matches:
            m["criteria"] = _criteria_of(by_id[m["track"]])
        d = s.to_dict() | {
            "frames": res["frames"],
            "frames_annotated": c.frames,
            "captures": len(captures),
            "identifiable_captured": sum(int(r.get("identifiable_tracks") or 0) for r in captures),
            "people": len(c.people),
            "unsure": sum(p.identifiable == "unsure" for p in c.people),
            "wall_s": round(res["wall_s"], 2),
        }
        if res["frames"] != c.frames:
            d["warning"] = f"decoded {res['frames']} frames, annotated {c.frames}"
        per_clip[c.name] = d
        total.add(s)
        print(f"  {label}: {c.name}: {len(tracks)} tracks, {len(captures)} captures", file=sys.stderr)
    noface = [n for n in per_clip if n.startswith("NOFACE_")]
    overall = total.to_dict() | {
        "noface_captures": sum(per_clip[n]["captures"] for n in noface),
        "noface_tracks": sum(per_clip[n]["tracks"] for n in noface),
    }
    return {
        "src": str(src) if src else str(ROOT),
        "min_face_px": min_face_px if min_face_px is not None else "default",
        "tracks_from": "camaudit log --tracks --json" if native else "derived in-process (no --tracks in this version)",
        "clips": per_clip,
        "overall": overall,
    }


def measure_speed(versions: dict[str, Path | None], rounds: int, repeat: int, tmp: Path) -> dict[str, Any]:
    """bench/pipeline.py's method: 640x480 facenet clip, interleaved rounds, medians."""
    from bench import pipeline
    from bench._common.face_detectors import yunet_onnx_files

    clip = tmp / "speed.avi"
    n = pipeline.make_clip(pipeline.DEFAULT_CLIP, clip, repeat)
    peers = dict(zip(("int8bq", "fp32"), yunet_onnx_files(), strict=True))
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in [*versions, *peers]}
    for r in range(rounds):
        for label, src in versions.items():
            runs[label].append(in_child(["pipeline", str(clip), str(tmp / f"s-{label}-{r}")], src))
        for name, onnx in peers.items():
            runs[name].append(in_child(["peer", str(clip), str(onnx)], None))
    med = {k: pipeline.median_run(v) for k, v in runs.items()}
    peer_name = max(peers, key=lambda k: med[k]["fps"])
    out: dict[str, Any] = {
        "clip": f"{pipeline.DEFAULT_CLIP.name} -> 640x480, {n} frames, one thread, motion gate on",
        "rounds": rounds,
        "peer": f"cv2.FaceDetectorYN ({peer_name})",
        "peer_fps": med[peer_name]["fps"],
        "fps_each_round": {k: [round(x["fps"], 1) for x in v] for k, v in runs.items()},
    }
    for label in versions:
        m = med[label]
        out[label] = {"fps": m["fps"], "rss_mb": m["rss_mb"], "ratio_vs_peer": m["fps"] / med[peer_name]["fps"]}
    return out


# ---------------------------------------------------------------- report


def _f(v: float | None, pct: bool = False) -> str:
    if v is None:
        return "-"
    return f"{100 * v:.0f}%" if pct else f"{v:.2f}"


def print_table(label: str, res: dict[str, Any]) -> None:
    print(f"\n{label}: {res['src']} (tracks: {res['tracks_from']}; min_face_px {res['min_face_px']})")
    print(f"{'clip':52s} {'recall':>9s} {'precision':>11s} {'trk/person':>10s} {'cut':>4s} "
          f"{'chains':>6s} {'back/prof':>9s} {'captures':>8s}")  # fmt: skip
    rows = list(res["clips"].items()) + [("overall", res["overall"])]
    for name, d in rows:
        rec = f"{d['found_yes']}/{d['people_yes']} {_f(d['recall'], True)}" if d["people_yes"] else "-"
        n = d["ident_true"] + d["ident_false"]
        prec = f"{d['ident_true']}/{n} {_f(d['precision'], True)}" if n else "-"
        caps = d.get("captures", d.get("noface_captures", ""))
        if name == "overall":
            caps = f"NOFACE {d['noface_captures']}"
        print(f"{name:52s} {rec:>9s} {prec:>11s} {_f(d['tracks_per_person_shot']):>10s} "
              f"{d['tracks_across_cut']:>4d} {d['tracks_chaining_people']:>6d} {d['false_ident_presence_only']:>9d} {caps!s:>8s}")  # fmt: skip
    o = res["overall"]
    if o["false_identifiable"]:
        print(f"false identifiable tracks: {', '.join(o['false_identifiable'])}")
    if o["missed_yes"]:
        print(f"identifiable people missed: {', '.join(o['missed_yes'])}")


def _frac(num: int, den: int) -> str:
    return f"{num}/{den}" if den else "-"


def sweep_rows(result: dict[str, Any], labels: list[str]) -> list[str]:
    """A Markdown table, one row per run of a --min-face-px sweep: per clip with identifiable
    people recall and precision, then overall recall, precision, tracks per person-shot,
    tracks across a cut, back/profile identifiable, identifiable on unsure people, NOFACE captures."""
    first = result[labels[0]]["clips"]
    clips = [n for n, d in first.items() if d["people_yes"]]
    head = ["min_face_px", *(f"{n} R / P" for n in clips), "overall R", "overall P", "trk/person-shot",
            "across cut", "back/profile ident.", "ident. on unsure", "NOFACE captures"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label in labels:
        r = result[label]
        cells = [str(r["min_face_px"])]
        for n in clips:
            d = r["clips"][n]
            cells.append(f"{_frac(d['found_yes'], d['people_yes'])} / {_frac(d['ident_true'], d['ident_true'] + d['ident_false'])}")
        o = r["overall"]
        cells += [
            f"{_frac(o['found_yes'], o['people_yes'])} ({_f(o['recall'])})",
            f"{_frac(o['ident_true'], o['ident_true'] + o['ident_false'])} ({_f(o['precision'])})",
            _f(o["tracks_per_person_shot"]), str(o["tracks_across_cut"]), str(o["false_ident_presence_only"]),
            str(o["ident_unsure"]), str(o["noface_captures"]),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, help="another checkout to run instead of this one")
    ap.add_argument("--baseline", type=Path, help="a second checkout run in the same bench (e.g. /work/main)")
    ap.add_argument("--clip", action="append", help="only these annotated clips (repeatable)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved speed rounds (medians reported)")
    ap.add_argument("--repeat", type=int, default=2, help="passes of the speed clip")
    ap.add_argument("--no-speed", action="store_true", help="skip the speed comparison")
    ap.add_argument("--min-face-px", type=int, action="append", metavar="N",
                    help="run with detector.min_face_px N instead of the default (repeatable: a sweep; "
                    "needs --no-speed)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _use_src()
        kind, *rest = args.child
        if kind == "clip":
            res = child_clip(rest[0], rest[1], rest[2] == "derive", json.loads(rest[3]))
        else:
            res = child_speed(kind, rest)
        print(json.dumps(res))
        return

    annotations = load()
    twins = {n: c.same_as for n, c in annotations.items() if c.same_as}
    clips = [c for n, c in annotations.items() if not c.same_as and (not args.clip or n in args.clip)]
    if args.clip and len(clips) != len(args.clip):
        known = ", ".join(n for n, c in annotations.items() if not c.same_as)
        raise SystemExit(f"--clip: unknown or duplicate clip name (annotated: {known})")
    if args.min_face_px and not args.no_speed:
        raise SystemExit("--min-face-px: the speed comparison runs each version's default config; add --no-speed")
    if args.min_face_px and any(n < 1 for n in args.min_face_px):
        raise SystemExit("--min-face-px: must be at least 1 (px)")
    versions: dict[str, Path | None] = {"version": args.src.resolve() if args.src else None}
    if args.baseline:
        versions["baseline"] = args.baseline.resolve()
    sizes: list[int | None] = list(dict.fromkeys(args.min_face_px)) if args.min_face_px else [None]
    runs = {
        (label if n is None else f"{label}@{n}px"): (src, n) for label, src in versions.items() for n in sizes
    }
    result: dict[str, Any] = {
        "annotations": "bench/annotations/people.json",
        "scored_once": {n: f"byte-identical to {t}" for n, t in twins.items()},
    }
    with tempfile.TemporaryDirectory(prefix="camaudit-people-") as tmp:
        for label, (src, n) in runs.items():
            result[label] = run_version(label, src, clips, Path(tmp), n)
        if not args.no_speed:
            result["speed"] = measure_speed(versions, args.rounds, args.repeat, Path(tmp))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for label in runs:
        print_table(label, result[label])
    if len(sizes) > 1:
        for label in versions:
            print(f"\nsweep of detector.min_face_px ({label}):")
            print("\n".join(sweep_rows(result, [k for k in runs if k.startswith(f"{label}@")])))
    for n, t in twins.items():
        print(f"{n}: byte-identical to {t}, scored once")
    if "speed" in result:
        sp = result["speed"]
        print(f"\nspeed ({sp['clip']}, median of {sp['rounds']} interleaved rounds):")
        print(f"  peer {sp['peer']}: {sp['peer_fps']:.1f} frames/s")
        for label in versions:
            v = sp[label]
            print(f"  {label}: {v['fps']:.1f} frames/s = {v['ratio_vs_peer']:.2f}x the peer, peak RSS {v['rss_mb']:.0f} MB")
        if "baseline" in versions:
            print(f"  version / baseline: {sp['version']['fps'] / sp['baseline']['fps']:.2f}")


if __name__ == "__main__":
    main()
