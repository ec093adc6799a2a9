"""Convolution cost of an ONNX model, in GFLOP per megapixel, in total and by node-name group.

Why: the speed target compares models on one machine, and a profile (scripts/profile_onnx.py) says where
the time goes; this says where the arithmetic is, which no runtime can remove: a part whose convolutions
cost as much as the whole default model cannot be made as fast as it by any layout or thread setting.
Counts 2 x multiply-adds of every Conv (and ConvTranspose), with the shapes of one run on a square input.

    python scripts/conv_flops.py models/prefill-unet.onnx models/blind-unet.onnx --group detector
"""

from __future__ import annotations

import argparse

import numpy as np


def conv_gflops(path: str, size: int = 512) -> dict[str, float]:
    """GFLOP per megapixel of each Conv node (by name) for one size x size RGB image. The shapes come from
    running the model once with every convolution's output exposed (onnx's shape inference gives up inside
    the blind models' graphs)."""
    import onnx
    import onnxruntime as ort

    from app.impulse_share import feed
    from onnx import numpy_helper

    model = onnx.load(path)
    weights = {w.name: numpy_helper.to_array(w).shape for w in model.graph.initializer}
    convs = [n for n in model.graph.node if n.op_type in ("Conv", "ConvTranspose")]
    model.graph.output.extend(onnx.ValueInfoProto(name=n.output[0]) for n in convs)
    model.graph.output.extend(onnx.ValueInfoProto(name=n.input[0]) for n in convs if n.op_type == "ConvTranspose")
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    first = session.get_inputs()[0]
    shape = (1, size, size, 3) if first.shape[-1] == 3 else (1, 3, size, size)
    names = [o.name for o in session.get_outputs()]
    inputs = feed([i.name for i in session.get_inputs()], np.random.default_rng(0).random(shape, dtype=np.float32))
    values = dict(zip(names, session.run(None, inputs)))
    out = {}
    for node in convs:
        per_output = float(np.prod(weights[node.input[1]][1:]))  # in/group x kh x kw multiply-adds
        counted = values[node.input[0] if node.op_type == "ConvTranspose" else node.output[0]].size
        out[node.name] = 2 * counted * per_output / 1e9 / (size * size / 1e6)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--group", nargs="*", default=[], help="name parts to total apart (e.g. detector)")
    args = parser.parse_args()
    for path in args.models:
        costs = conv_gflops(path, args.size)
        parts = [f"{name}: {sum(v for k, v in costs.items() if name in k):.1f}" for name in args.group]
        print(f"{path}: {sum(costs.values()):.1f} GFLOP per megapixel in {len(costs)} convolutions"
              + (f" ({', '.join(parts)})" if parts else ""))


if __name__ == "__main__":
    main()
