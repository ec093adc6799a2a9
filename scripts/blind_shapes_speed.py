"""How small a blind model must be to take no more time than the default: shapes of `blind-unet`, untrained,
timed in turn with `prefill-unet`, pair by pair (the figure issue 15's speed target compares).

Why: a model's time does not depend on its weights, and the steps that train one are scarce (a lent GPU,
some sessions). So a shape is timed before it is trained: each is built with seeded random weights,
exported as the shipped models are (`training.export.to_onnx`) and run by the service's own `Denoiser`
(`training.bench.measure_pair`). The first row is the shipped file itself, the second the same shape
untrained: the two agree when the method holds. Each later shape removes one more thing from the one
before, so a row's drop is what that thing costs.

    python scripts/blind_shapes_speed.py --repeats 10                       # every shape, 512x512
    python scripts/blind_shapes_speed.py --only "one look" --json /tmp/shapes.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHIPPED = {"detector_blocks": 1, "chroma": True}  # blind-unet-chroma's build, the shipped blind-unet's shape
# (label, `blind_unet.build` options): each row keeps the one before and removes one more thing.
SHAPES: list[tuple[str, dict]] = []
for label, change in (("the shipped shape, untrained", {}),
                      ("detector of 8 features (16)", {"detector_features": 8}),
                      ("no dilated block", {"detector_blocks": 0}),
                      ("one look (the photo, not its negative)", {"both_polarities": False}),
                      ("no chroma evidence", {"chroma": False}),
                      ("2 prior-shift rounds (10)", {"prior_steps": 2}),
                      ("U-Net 24/48/96 (32/64/128)", {"widths": (24, 48, 96)}),
                      ("U-Net 16/32/64", {"widths": (16, 32, 64)})):
    SHAPES.append((label, {**(SHAPES[-1][1] if SHAPES else SHIPPED), **change}))


def export_shape(options: dict, path: Path, seed: int = 0) -> int:
    """`blind_unet.build(**options)` with seeded random weights (small, so no value runs into denormals or
    saturates) written as ONNX to `path`, with the metadata the service reads; returns its parameter count."""
    import onnx

    from training.architectures import blind_unet
    from training.export import to_onnx

    model = blind_unet.build(**options)
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0.0, 0.05, w.shape).astype(np.float32) for w in model.get_weights()])
    onnx_model = to_onnx(model)
    prop = onnx_model.metadata_props.add()
    prop.key, prop.value = "pad_multiple", str(blind_unet.RECIPE.pad_multiple)
    onnx.save(onnx_model, str(path))
    return int(model.count_params())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--default", type=Path, default=ROOT / "models" / "prefill-unet.onnx")
    parser.add_argument("--shipped", type=Path, default=ROOT / "models" / "blind-unet.onnx")
    parser.add_argument("--size", type=int, default=512, help="a size x size photo")
    parser.add_argument("--repeats", type=int, default=10, help="pairs in turn per shape")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--density", type=float, default=0.3, help="exact salt-and-pepper (bench's default)")
    parser.add_argument("--only", help="the shapes whose label holds this text (the shipped file too)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()

    from training.bench import pair_in_subprocess, sgemm_gflops

    sgemm_before = round(sgemm_gflops(), 1)
    print(f"sgemm {sgemm_before:.1f} GFLOP/s; each shape's time over {args.default.stem}'s, "
          f"{args.size}x{args.size}, median of {args.repeats} pairs in turn (min-max)", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        todo = [("the shipped file (" + args.shipped.name + ")", None, args.shipped)]
        todo += [(label, options, Path(folder) / f"shape{i}.onnx") for i, (label, options) in enumerate(SHAPES)
                 if not args.only or args.only in label]
        for label, options, path in todo:
            parameters = export_shape(options, path) if options is not None else None
            pair = pair_in_subprocess(path, args.default, args.size, args.size, args.repeats, args.threads, args.density)
            rows.append({"shape": label, "options": options, "parameters": parameters, **pair})
            print(f"{pair['ratio_median']:5.2f}x ({pair['ratio_min']:.2f}-{pair['ratio_max']:.2f})  {label}"
                  + (f", {parameters:,} parameters" if parameters else ""), flush=True)
    if args.json:
        # sgemm again at the end: a host whose speed moved during the run shows it here
        args.json.write_text(json.dumps({"sgemm_gflops_at_start": sgemm_before, "sgemm_gflops": round(sgemm_gflops(), 1),
                                         "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
