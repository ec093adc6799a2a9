"""Where an ONNX model spends its time in onnxruntime on this CPU, by operator type.

Why: the model's speed target is met by the convolutions plus the layout changes around them
(Transpose, Concat, DepthToSpace...), and only a profile tells those apart. A figure for this machine,
not a test.

    python scripts/profile_onnx.py models/prefill-unet.onnx --size 512 --runs 6
    python scripts/profile_onnx.py models/prefill-unet.onnx --spinning 1   # onnxruntime's default
    python scripts/profile_onnx.py models/prefill-unet-int8.onnx --nodes 20  # also the slowest nodes
    python scripts/profile_onnx.py models/blind-unet.onnx --parts 20         # also by Keras layer

It also prints the median time of a run, profiling included, so the thread setting the service uses
(`allow_spinning` 0: idle threads sleep) can be compared with onnxruntime's default on one image.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from app.impulse_share import feed


def layer_of(node: str) -> str:
    """The Keras layer a tf2onnx node came from: the node name's second path part without Keras's `_N`
    suffixes ("blind_unet_1/detector_conv2_3/BiasAdd:0_nchwc" -> "detector_conv2"), so the two looks of a
    shared layer, and the nodes onnxruntime added around it, count as one; "(graph)" for a node of no layer."""
    parts = node.split("/")
    return re.sub(r"(_\d+)+$", "", parts[1]) if len(parts) > 2 else "(graph)"


def profile(model: Path, size: int, runs: int, threads: int, spinning: int,
            by: str = "op") -> tuple[collections.Counter, float]:
    """Microseconds per operator type (`by` "op"), per node ("node": "type name") or per Keras layer
    ("layer": `layer_of`) over `runs` calls on a noisy size x size colour image, and the median seconds
    of one call."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", str(spinning))
    options.enable_profiling = True
    options.profile_file_prefix = str(Path(tempfile.mkdtemp()) / "profile")
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((1, size, size, 3), dtype=np.float32)
    x[x < 0.15], x[x > 0.85] = 0.0, 1.0
    inputs = feed([i.name for i in session.get_inputs()], x)
    session.run(None, inputs)  # warm-up
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        session.run(None, inputs)
        seconds.append(time.perf_counter() - started)
    events = json.loads(Path(session.end_profiling()).read_text())
    totals: collections.Counter = collections.Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            op, name = event["args"]["op_name"], event["name"].removesuffix("_kernel_time")
            key = {"op": op, "node": f"{op} {name}", "layer": layer_of(name)}[by]
            totals[key] += event["dur"] / runs
    return totals, float(np.median(seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--spinning", type=int, choices=[0, 1], default=0, help="0 as the service; 1 onnxruntime's default")
    parser.add_argument("--nodes", type=int, default=0, help="also the N slowest nodes, in ms per run")
    parser.add_argument("--parts", type=int, default=0, help="also the N slowest Keras layers (both looks of a "
                        "shared layer together), in ms per run and share")
    args = parser.parse_args()
    totals, median = profile(args.model, args.size, args.runs, args.threads, args.spinning)
    print(f"median run {median * 1000:.1f} ms (allow_spinning={args.spinning})")
    whole = sum(totals.values())
    for op, micros in totals.most_common(12):
        print(f"{op:20s} {micros / whole * 100:5.1f}%")
    if args.nodes:
        nodes, _ = profile(args.model, args.size, args.runs, args.threads, args.spinning, by="node")
        for node, micros in nodes.most_common(args.nodes):
            print(f"{micros / 1000:8.2f} ms  {node[:100]}")
    if args.parts:
        layers, _ = profile(args.model, args.size, args.runs, args.threads, args.spinning, by="layer")
        whole = sum(layers.values())
        for layer, micros in layers.most_common(args.parts):
            print(f"{micros / 1000:8.2f} ms {micros / whole * 100:5.1f}%  {layer}")


if __name__ == "__main__":
    main()
