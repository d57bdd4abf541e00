"""Make a fixed-size YuNet .tflite run at any input size (build time only; needs TF's schema).

onnx2tf bakes the calibration size into three places of the graph: the input shape, the
constant `size` of the two 2x nearest-neighbour upsamplings of the feature pyramid, and the
constant shapes of the twelve output reshapes ([1, H/s * W/s, C]). This rewrites them so
the interpreter can be resized to any W x H that is a multiple of 32:

- RESIZE_NEAREST_NEIGHBOR(x, size=2*hw)  ->  DEPTH_TO_SPACE(CONCATENATION([x, x, x, x]), 2).
  Concatenating x four times along channels and moving each group of 4*C channels to a
  2 x 2 block puts x[c] at every one of the four output pixels: exactly nearest 2x
  upsampling (for an exact 2x resize, half-pixel centres or not give the same pixels),
  with the same int8 quantization, and no size constant.
- RESHAPE new_shape [1, N, C] -> [1, -1, C].
- input shape_signature [1, -1, -1, 3].

It also drops the outputs named in `drop` (the landmark heads: camaudit never computes
facial landmarks) and every op that only fed them. At the calibration size the rewritten
model gives bit-identical outputs on the heads it keeps (build.py checks).
"""

from __future__ import annotations

import copy
from pathlib import Path


def make_size_free(src: Path, dst: Path, drop: frozenset[str] = frozenset()) -> dict[str, int]:
    """Rewrite `src` into `dst`; returns how many ops of each kind were rewritten or dropped.

    `drop`: signature output names (or tensor names) whose outputs are removed.
    """
    import flatbuffers
    import numpy as np
    from tensorflow.lite.python import schema_py_generated as s

    model = s.ModelT.InitFromObj(s.Model.GetRootAs(src.read_bytes(), 0))
    if len(model.subgraphs) != 1:
        raise SystemExit(f"{src}: expected one subgraph, got {len(model.subgraphs)}")
    (sg,) = model.subgraphs

    def code_of(op: s.OperatorT) -> int:
        oc = model.operatorCodes[op.opcodeIndex]
        return max(oc.builtinCode, oc.deprecatedBuiltinCode)

    def opcode(code: int) -> int:
        for i, oc in enumerate(model.operatorCodes):
            if max(oc.builtinCode, oc.deprecatedBuiltinCode) == code:
                return i
        oc = s.OperatorCodeT()
        oc.builtinCode = oc.deprecatedBuiltinCode = code
        oc.version = 1
        model.operatorCodes.append(oc)
        return len(model.operatorCodes) - 1

    concat, depth_to_space = (
        opcode(s.BuiltinOperator.CONCATENATION),
        opcode(s.BuiltinOperator.DEPTH_TO_SPACE),
    )
    counts = {"upsample": 0, "reshape": 0}
    ops: list[s.OperatorT] = []
    for op in sg.operators:
        code = code_of(op)
        if code == s.BuiltinOperator.RESIZE_NEAREST_NEIGHBOR:
            x, out = op.inputs[0], op.outputs[0]
            tx, to = sg.tensors[x], sg.tensors[out]
            if list(to.shape[1:3]) != [2 * tx.shape[1], 2 * tx.shape[2]]:
                raise SystemExit(f"{src}: {to.name!r} is not a 2x upsampling")
            tiled = copy.deepcopy(tx)
            tiled.name = tx.name + b"/tile4"
            tiled.shape = np.array([*tx.shape[:3], 4 * tx.shape[3]], np.int32)
            tiled.shapeSignature = None
            tiled.quantization = copy.deepcopy(to.quantization)
            sg.tensors.append(tiled)
            t = len(sg.tensors) - 1
            cat = s.OperatorT()
            cat.opcodeIndex, cat.inputs, cat.outputs = concat, [x] * 4, [t]
            cat.builtinOptionsType = s.BuiltinOptions.ConcatenationOptions
            cat.builtinOptions = s.ConcatenationOptionsT()
            cat.builtinOptions.axis = 3
            up = s.OperatorT()
            up.opcodeIndex, up.inputs, up.outputs = depth_to_space, [t], [out]
            up.builtinOptionsType = s.BuiltinOptions.DepthToSpaceOptions
            up.builtinOptions = s.DepthToSpaceOptionsT()
            up.builtinOptions.blockSize = 2
            ops += [cat, up]
            counts["upsample"] += 1
            continue
        if code == s.BuiltinOperator.RESHAPE:
            shape_t = sg.tensors[op.inputs[1]]
            old = np.frombuffer(bytes(model.buffers[shape_t.buffer].data), np.int32)
            if len(old) != 3:
                raise SystemExit(f"{src}: reshape to {old.tolist()} is not [1, N, C]")
            new = np.array([old[0], -1, old[2]], np.int32)
            model.buffers[shape_t.buffer].data = np.frombuffer(new.tobytes(), np.uint8)
            if op.builtinOptions is not None:
                op.builtinOptions.newShape = new
            counts["reshape"] += 1
        elif code in (s.BuiltinOperator.RESIZE_BILINEAR, s.BuiltinOperator.TRANSPOSE_CONV):
            raise SystemExit(f"{src}: op {code} has a size constant this rewrite does not handle")
        ops.append(op)
    sg.operators = ops
    counts.update(_drop_outputs(model, sg, drop))
    sg.tensors[sg.inputs[0]].shapeSignature = np.array([1, -1, -1, 3], np.int32)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    dst.write_bytes(builder.Output())
    return counts


def _drop_outputs(model, sg, drop: frozenset[str]) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Remove the named outputs, then every op none of whose outputs is used any more."""
    import numpy as np

    if not drop:
        return {"dropped_outputs": 0, "dropped_ops": 0}
    names: dict[int, str] = {int(t): sg.tensors[t].name.decode() for t in sg.outputs}
    for sig in model.signatureDefs or []:
        for tm in sig.outputs or []:
            names[int(tm.tensorIndex)] = tm.name.decode()
    gone = {t for t, n in names.items() if n in drop}
    sg.outputs = np.array([t for t in sg.outputs if int(t) not in gone], np.int32)
    for sig in model.signatureDefs or []:
        sig.outputs = [tm for tm in sig.outputs if int(tm.tensorIndex) not in gone]
    before = len(sg.operators)
    while True:
        used = {int(t) for op in sg.operators for t in op.inputs if t >= 0} | {int(t) for t in sg.outputs}
        kept = [op for op in sg.operators if any(int(t) in used for t in op.outputs)]
        if len(kept) == len(sg.operators):
            break
        sg.operators = kept
    return {"dropped_outputs": len(gone), "dropped_ops": before - len(sg.operators)}
