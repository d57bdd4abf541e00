"""Marker bench: how small may the posted sign be in the frame and still be read?

The sign is rendered by the same code as `camaudit notice print`, warped into frames of the
real clips in ../shared/data/videos at a range of sizes (sign width in pixels, as it would
be seen head-on), angles (yaw +-50 deg, tilt +-15 deg, perspective), defocus blur, lighting
(dim / normal / over-exposed), sensor noise and JPEG compression, and read from a watch
region drawn around it (the sign's box grown by half its size each side), as the watcher does.

Prints the detection rate per sign width and blur level for the shipped reader (OpenCV
QRCodeDetector + QRCodeDetectorAruco over upscaled, sharpened crops) against the naive
baseline measured on the same trials (QRCodeDetector on the crop as is), then the smallest
width at which >= 99% of trials are read. `--peers` adds each OpenCV detector alone.

    .venv/bin/python bench/markers.py [--trials 60] [--seed 7] [--peers]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "device"))

from camaudit.config.notices import NoticeConfig  # noqa: E402
from camaudit.notices.composite import composite_sign, perspective_quad  # noqa: E402
from camaudit.notices.marker import marker_payload, qr_text  # noqa: E402
from camaudit.notices.reader import MarkerReader  # noqa: E402
from camaudit.notices.sign import QR_BORDER, QR_WIDTH, qr_matrix, render_sign  # noqa: E402

VIDEOS = (ROOT / ".." / "shared" / "data" / "videos").resolve()
SIZES = (120, 140, 160, 180, 200, 220, 240, 260)
BLURRED_SIZES = (200, 240, 280, 320)
SHARP = (0.0, 0.8)
LIGHT = {"dim": (0.45, 0.0), "normal": (1.0, 0.0), "bright": (1.35, 35.0)}
BLUR = (0.0, 0.8, 1.6)

NOTICE_ID = "entrance-sign"
NOTICE = NoticeConfig(
    controller="Café Zürich GmbH, Bahnhofstraße 1, 8001 Zürich",
    purposes=["Sicherheit der Räumlichkeiten", "Schutz vor Diebstahl"],
    rights="Auskunft, Löschung, Widerspruch: wenden Sie sich an den Kontakt unten",
    contact="datenschutz@cafe.example",
    full_notice="https://cafe.example/video",
    covers=["counter"],
    languages=["de", "en"],
    hours={"mon-fri": "07:00-19:00", "sat": "09:00-17:00"},
    retention_days=30,
)


@dataclass(frozen=True)
class Trial:
    frame: int
    fx: float  # sign centre, relative
    fy: float
    yaw: float
    tilt: float
    blur: float
    light: str
    jpeg: int


def load_frames(per_clip: int) -> list[tuple[str, np.ndarray]]:
    frames: list[tuple[str, np.ndarray]] = []
    for clip in sorted(VIDEOS.iterdir()):
        cap = cv2.VideoCapture(str(clip))
        got: list[np.ndarray] = []
        while True:
            ok, f = cap.read()
            if not ok:
                break
            got.append(f)
        cap.release()
        if not got:
            continue
        idx = np.linspace(0, len(got) - 1, per_clip + 2)[1:-1].round().astype(int)
        frames += [(clip.name, got[i]) for i in idx]
    return frames


def make_trials(n: int, n_frames: int, seed: int) -> list[Trial]:
    rng = random.Random(seed)
    return [
        Trial(
            frame=i % n_frames,
            fx=rng.uniform(0.25, 0.75),
            fy=rng.uniform(0.3, 0.7),
            yaw=rng.uniform(-50, 50),
            tilt=rng.uniform(-15, 15),
            blur=BLUR[rng.randrange(len(BLUR))],
            light=rng.choice(list(LIGHT)),
            jpeg=rng.choice((60, 80, 95)),
        )
        for i in range(n)
    ]


def scene(frame: np.ndarray, sign: np.ndarray, t: Trial, width: int) -> np.ndarray:
    """The watch region crop of a frame with the sign in it."""
    q = np.asarray(perspective_quad(0, 0, width, yaw_deg=t.yaw, tilt_deg=t.tilt))
    lo, hi = q.min(axis=0), q.max(axis=0)
    fh, fw = frame.shape[:2]
    need_w, need_h = int((hi[0] - lo[0]) * 2) + 4, int((hi[1] - lo[1]) * 2) + 4
    if need_w > fw or need_h > fh:
        # a small frame: extend it by mirroring its own pixels so the sign and its watch
        # region fit (the background stays real camera content)
        px, py = max(0, need_w - fw), max(0, need_h - fh)
        frame = cv2.copyMakeBorder(frame, py // 2, py - py // 2, px // 2, px - px // 2, cv2.BORDER_REFLECT)
        fh, fw = frame.shape[:2]
    # place the centre at (fx, fy), shifted so the whole sign is in the frame
    cx = min(max(t.fx * fw, 1 - lo[0]), fw - 1 - hi[0])
    cy = min(max(t.fy * fh, 1 - lo[1]), fh - 1 - hi[1])
    quad = [(x + cx, y + cy) for x, y in q]
    x0, y0 = lo[0] + cx, lo[1] + cy
    x1, y1 = hi[0] + cx, hi[1] + cy
    mx, my = (x1 - x0) * 0.5, (y1 - y0) * 0.5
    a, b = max(0, int(x0 - mx)), max(0, int(y0 - my))
    c, d = min(fw, int(x1 + mx) + 1), min(fh, int(y1 + my) + 1)
    patch = composite_sign(frame[b:d, a:c], sign, [(x - a, y - b) for x, y in quad])
    if t.blur:
        patch = cv2.GaussianBlur(patch, (0, 0), t.blur)
    gain, off = LIGHT[t.light]
    noise = np.random.default_rng(t.frame * 1000 + width).normal(0, 2.5, patch.shape)
    patch = np.clip(patch.astype(np.float32) * gain + off + noise, 0, 255).astype(np.uint8)
    ok, enc = cv2.imencode(".jpg", patch, [cv2.IMWRITE_JPEG_QUALITY, t.jpeg])
    return cv2.imdecode(enc, cv2.IMREAD_COLOR) if ok else patch


def rate_table(
    frames: list[tuple[str, np.ndarray]],
    sign: np.ndarray,
    payload: str,
    trials: list[Trial],
    readers: dict[str, MarkerReader],
    sizes: tuple[int, ...],
    blurs: tuple[float, ...],
) -> dict[tuple[str, float, int], tuple[int, int, float]]:
    """(reader, blur, width) -> (read, trials, seconds spent)."""
    out: dict[tuple[str, float, int], tuple[int, int, float]] = {}
    want = payload.strip()

    def is_ours(x: str) -> bool:  # as the watcher: the printed text exactly (the bare marker in any case)
        return x.strip() == want or (want.startswith("CA1:") and x.strip().upper() == want.upper())
    for blur in blurs:
        for width in sizes:
            counts = {k: [0, 0, 0.0] for k in readers}
            for t in trials:
                if len(blurs) > 1 and blurs.index(blur) != trials.index(t) % len(blurs):
                    continue  # several blur levels: each trial gets one of them
                crop = scene(frames[t.frame][1], sign, replace(t, blur=blur), width)
                for name, r in readers.items():
                    s = time.perf_counter()
                    texts = r.read(crop, accept=is_ours)
                    c = counts[name]
                    c[2] += time.perf_counter() - s
                    c[1] += 1
                    c[0] += any(is_ours(x) for x in texts)
            for name, (ok, n, sec) in counts.items():
                out[(name, blur, width)] = (int(ok), int(n), float(sec))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=100, help="trials per sign width (sharp/soft)")
    ap.add_argument("--blurred-trials", type=int, default=20, help="trials per width, defocused")
    ap.add_argument("--per-clip", type=int, default=3, help="frames taken from each clip")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--peers", action="store_true", help="also each OpenCV detector alone")
    ap.add_argument("--payload", choices=("url", "marker"), default="url",
                    help="what the QR holds: the full notice's address with the marker as its "
                    "fragment (what `notice print` prints), or the bare marker (older prints)")
    default_sizes = ",".join(map(str, SIZES))
    ap.add_argument("--sizes", help=f"comma-separated sign widths in px (default {default_sizes})")
    args = ap.parse_args()

    t0 = time.perf_counter()
    # a full notice that is not a web address makes the sign print the bare marker
    notice = NOTICE if args.payload == "url" else NOTICE.model_copy(update={"full_notice": "see the counter"})
    payload = qr_text(NOTICE_ID, notice)
    assert (payload == marker_payload(NOTICE_ID, notice)) == (args.payload == "marker")
    sizes = tuple(int(v) for v in args.sizes.split(",")) if args.sizes else SIZES
    n_modules = qr_matrix(payload).shape[0] - 2 * QR_BORDER
    sign = render_sign(NOTICE_ID, notice, 1400)
    frames = load_frames(args.per_clip)
    trials = make_trials(args.trials, len(frames), args.seed)
    print(
        f"marker {payload!r}: QR version {(n_modules - 17) // 4}, {n_modules} modules; "
        f"QR incl. {QR_BORDER}-module quiet zone = {QR_WIDTH:.2f} of the sign width"
    )
    print(
        f"{len(frames)} frames from {len({c for c, _ in frames})} clips in {VIDEOS}; per trial at "
        f"random: frame, place, yaw +-50 deg, tilt +-15 deg, light {'/'.join(LIGHT)}, JPEG 60-95, "
        f"noise; blur sigma 0 or 0.8 px ('sharp'), 1.6 px ('defocused')"
    )
    readers = {"shipped": MarkerReader("both"), "naive": MarkerReader("opencv", scales=(1.0,))}
    table = rate_table(frames, sign, payload, trials, readers, sizes, SHARP)
    blurred = rate_table(
        frames, sign, payload, trials[: args.blurred_trials], readers, BLURRED_SIZES, (1.6,)
    )
    print()
    print("detection rate by sign width (px, as seen head-on) -- shipped reader vs naive peer")
    print(f"{'sign px':>7} {'module px':>9} {'trials':>6} {'shipped':>8} {'naive':>8} {'ratio':>6} {'ms/read':>7}   | defocused: trials shipped naive")
    sharp: dict[int, float] = {}
    naive_rates: dict[int, float] = {}
    for width in sorted(set(sizes) | set(BLURRED_SIZES)):
        line = f"{width:>7} {width * QR_WIDTH / (n_modules + 2 * QR_BORDER):>9.2f} "
        if width in sizes:
            ok = sum(table[("shipped", b, width)][0] for b in SHARP)
            nok = sum(table[("naive", b, width)][0] for b in SHARP)
            n = sum(table[("shipped", b, width)][1] for b in SHARP)
            sec = sum(table[("shipped", b, width)][2] for b in SHARP)
            sharp[width], naive_rates[width] = ok / n, nok / n
            ratio = f"{ok / nok:.2f}" if nok else "inf"
            line += f"{n:>6} {ok / n:>8.1%} {nok / n:>8.1%} {ratio:>6} {sec / n * 1000:>7.0f}"
        else:
            line += " " * 46
        if width in BLURRED_SIZES:
            ok, n, _ = blurred[("shipped", 1.6, width)]
            nok, _, _ = blurred[("naive", 1.6, width)]
            line += f"   |            {n:>6} {ok / n:>7.1%} {nok / n:>5.1%}"
        print(line)
    print()
    w = first_reliable(sharp)
    wn = first_reliable(naive_rates)
    print(
        f"minimum sign width read in >= 99% of sharp/soft trials (and at every larger width): "
        f"{w if w else 'not reached'} px (QR {w * QR_WIDTH if w else 0:.0f} px wide incl. quiet zone); "
        f"naive peer: {wn if wn else 'not reached'} px"
    )
    if args.peers:
        peer_sizes = tuple(v for v in SIZES if 80 <= v <= 140)
        peers = {
            "both (shipped)": MarkerReader("both"),
            "QRCodeDetector": MarkerReader("opencv"),
            "QRCodeDetectorAruco": MarkerReader("aruco"),
            "both, no sharpening": MarkerReader("both", sharpen=False),
            "both, Aruco at all scales": MarkerReader("both", aruco_scales=(1.0, 2.0, 3.0, 4.0)),
        }
        pt = rate_table(frames, sign, payload, trials[:40], peers, peer_sizes, (0.8,))
        print()
        print("detector choice (40 trials, blur 0.8, same upscaling): rate, ms per read")
        for name in peers:
            cells = []
            for v in peer_sizes:
                ok, n, sec = pt[(name, 0.8, v)]
                cells.append(f"{v}px {ok / n:>6.1%} {sec / n * 1000:>4.0f}ms")
            print(f"{name:>26}  " + "  ".join(cells))
    print(f"bench time {time.perf_counter() - t0:.0f} s")
    return 0


def first_reliable(rates: dict[int, float]) -> int | None:
    good = [w for w in sorted(rates) if all(rates[v] >= 0.99 for v in rates if v >= w)]
    return good[0] if good else None


if __name__ == "__main__":
    raise SystemExit(main())
