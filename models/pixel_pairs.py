"""Feed the int8 YuNet two pixels per input element (build time only; needs TF's schema).

YuNet's first layer is a 3x3, stride-2 convolution of the 3-channel image (after a 1-pixel
zero PAD). XNNPACK's int8 convolution pads each of the 9 taps' 3 channels to 8, so on an
x86 CPU without VNNI that one layer took a quarter of the int8 invoke (4.7 ms of ~19 at
640x480, measured by timing truncated graphs), against 1 ms for the float graph.

Here the input becomes [1, H, W/2, 6]: the same bytes as the H x W x 3 image (a reshape,
no copy), each element holding pixels (2j, 2j+1). Output column x of the stride-2 conv
reads image columns 2x-1, 2x, 2x+1, i.e. the second pixel of pair x-1 and both pixels of
pair x, so the layer becomes a 3x2 convolution with strides (2, 1) over 6 channels, with
the 3x3 weights moved to their places and zeros elsewhere; the PAD adds one row on top
and one pair on the left (the bottom/right padding of the original is never read by a
stride-2 3x3 conv on an even size). 6 taps of 6 (padded to 8) channels instead of 9 of 3:
same products, same int32 sums, so the outputs are bit-identical (build.py checks).
"""

from __future__ import annotations

from pathlib import Path


def pair_pixels(src: Path, dst: Path) -> dict[str, int]:
    """Rewrite `src` (input [1, H, W, 3] -> PAD 1 -> 3x3/2 VALID CONV_2D) into `dst`."""
    import flatbuffers
    import numpy as np
    from tensorflow.lite.python import schema_py_generated as s

    model = s.ModelT.InitFromObj(s.Model.GetRootAs(src.read_bytes(), 0))
    (sg,) = model.subgraphs

    def code_of(op: s.OperatorT) -> int:
        oc = model.operatorCodes[op.opcodeIndex]
        return max(oc.builtinCode, oc.deprecatedBuiltinCode)

    pad, conv = sg.operators[0], sg.operators[1]
    if code_of(pad) != s.BuiltinOperator.PAD or code_of(conv) != s.BuiltinOperator.CONV_2D:
        raise SystemExit(f"{src}: does not start with PAD -> CONV_2D")
    (inp,) = sg.inputs
    if pad.inputs[0] != inp or conv.inputs[0] != pad.outputs[0]:
        raise SystemExit(f"{src}: the first PAD/CONV_2D do not read the input")
    if any(int(t) == int(pad.outputs[0]) for op in sg.operators[2:] for t in op.inputs):
        raise SystemExit(f"{src}: the padded input has other readers")
    t_in, t_pad, t_w = sg.tensors[inp], sg.tensors[pad.outputs[0]], sg.tensors[conv.inputs[1]]
    paddings = np.frombuffer(bytes(model.buffers[sg.tensors[pad.inputs[1]].buffer].data), np.int32)
    opt = conv.builtinOptions
    if (
        paddings.reshape(4, 2).tolist() != [[0, 0], [1, 1], [1, 1], [0, 0]]
        or list(t_w.shape[1:]) != [3, 3, 3]
        or (opt.padding, opt.strideH, opt.strideW) != (s.Padding.VALID, 2, 2)
        or (opt.dilationHFactor, opt.dilationWFactor) != (1, 1)
    ):
        raise SystemExit(f"{src}: first layer is not PAD 1 + 3x3 stride-2 VALID conv of 3 channels")
    dtype = {s.TensorType.INT8: np.int8, s.TensorType.FLOAT32: np.float32}[t_w.type]
    w = np.frombuffer(bytes(model.buffers[t_w.buffer].data), dtype).reshape(t_w.shape)  # O,KH,KW,C
    paired = np.zeros((w.shape[0], 3, 2, 6), dtype)
    paired[:, :, 0, 3:6] = w[:, :, 0, :]  # column 2x-1: second pixel of pair x-1
    paired[:, :, 1, 0:3] = w[:, :, 1, :]  # column 2x: first pixel of pair x
    paired[:, :, 1, 3:6] = w[:, :, 2, :]  # column 2x+1: second pixel of pair x

    def new_buffer(data: bytes) -> int:
        b = s.BufferT()
        b.data = np.frombuffer(data, np.uint8)
        model.buffers.append(b)
        return len(model.buffers) - 1

    t_w.buffer = new_buffer(paired.tobytes())  # new buffers: the old ones may be shared
    t_w.shape = np.array(paired.shape, np.int32)
    opt.strideW = 1
    sg.tensors[pad.inputs[1]].buffer = new_buffer(
        np.array([[0, 0], [1, 0], [1, 0], [0, 0]], np.int32).tobytes()
    )
    _, h, w_px, _ = (int(v) for v in t_in.shape)
    t_in.shape = np.array([1, h, w_px // 2, 6], np.int32)
    t_in.shapeSignature = np.array([1, -1, -1, 6], np.int32)
    t_pad.shape = np.array([1, h + 1, w_px // 2 + 1, 6], np.int32)
    t_pad.shapeSignature = None
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    dst.write_bytes(builder.Output())
    return {"paired_input_convs": 1}
