#!/usr/bin/env python
"""The shipped models with another rule for which exact 0/255 values are content: exports them, unchanged but
for that rule, for `training evaluate` and `scripts/blind_targets.py` to score (stop 36; not shipped yet).

  python scripts/clipped_rule_probe.py --out /tmp/adaptive          # both models, about 20 s
  python scripts/blind_targets.py --model /tmp/adaptive/blind-unet.onnx --sets CBSD68 BSD68   # ~15 min
  python -m training evaluate --data ../shared/data/CBSD68 --densities 0 0.1 0.3 0.5 0.7 0.9 \
      --models /tmp/adaptive/prefill-unet.onnx --out /tmp/adaptive-CBSD68    # and any other table's command

Today `_isolated` (training/architectures/prefill_unet.py) keeps an exact extreme only inside a solid 5x5
block of it (and the 2 pixels around one): a one-in-25 rule that noise never meets by chance, even at
density 0.9. But noise breaks real clipped regions up just as well (a sky blown to 255 with random-valued
impulses 0.2 keeps a solid 5x5 block in 0.8^25 = 0.4% of its windows), and thin highlights never make one,
so both models fill them in: a clean photo made x1.6 brighter comes back at 38.8 dB, and `blind-unet` is no
better than ROAD switching on such a photo with random-valued noise (docs/model-design.md, stop 36).

The rule tried here ("adaptive"): an extreme is also content when its 5x5 window holds at least k of that
extreme, k the least count that the photo's own noise reaches by chance with probability under 1e-7. The
noise's share p is the share of values the solid rule flags (per image and channel), and k follows the
binomial tail over the 24 neighbours (`STEPS`: where k rises, from 4 at p < 0.0005 to 25 at p 0.3885; at
p >= 0.44275 nothing more is kept). So dense salt-and-pepper keeps the solid rule alone, and a photo with few
flagged values keeps its highlights. A fixed share (80% of the window, `--share 0.8`) was tried first: it
kept enough false salt at density 0.9 to cost 1.9 dB on CBSD68 per channel (its values smear through the fill).

Weights come from the shipped ONNX files (`training.init_weights`, checked against onnxruntime with the
shipped rule first); the exported file is the same graph with the rule changed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("prefill-unet", "blind-unet")
# p (the share of values the solid rule flags) at which k, the count that keeps an extreme, rises by one, from
# 4: the least k with P(Bin(24, p) >= k - 1) <= TAIL (`steps()` recomputes them; tests/test_clipped_rule_probe.py).
STEPS = (0.0005, 0.002, 0.005, 0.01, 0.017, 0.026, 0.037, 0.05, 0.06525, 0.08225, 0.1015, 0.1225, 0.146, 0.1715,
         0.1995, 0.23, 0.26375, 0.30075, 0.34175, 0.3885, 0.44275)
TAIL = 1e-7


def steps(tail: float = TAIL, neighbours: int = 24) -> list[float]:
    """Recompute STEPS on a grid of p (step 0.00025): where the least k with P(Bin(neighbours, p) >= k - 1)
    <= tail rises, from k = 4 up."""
    import numpy as np
    from scipy.stats import binom

    found, k = [], 4
    for p in np.arange(0, 0.5, 0.00025):
        while k <= neighbours + 1 and binom.sf(k - 2, neighbours, p) > tail:
            k += 1
            found.append(round(float(p), 5))
    return found


def adaptive_rule(extreme):
    """`_isolated` with the adaptive rule: the extremes flagged as impulses, 1 where one is.

    One 5x5 mean serves both counts: a solid block is a window whose mean is 1 (the erosion the shipped rule
    takes with a max pooling of the negative), and k is compared with the same mean. So the rule adds no
    pooling at full resolution to the shipped one."""
    from keras import ops

    mean = ops.average_pool(extreme, 5, 1, padding="same")  # over the window's values inside the image
    solid = ops.cast(mean >= 1.0 - 1e-6, extreme.dtype)
    kept = ops.max_pool(solid, 5, 1, padding="same")
    share = ops.mean(extreme * (1.0 - kept), axis=(1, 2), keepdims=True)
    k = 4.0 + sum(ops.cast(share >= step, extreme.dtype) for step in STEPS)
    return extreme * (1.0 - ops.maximum(kept, ops.cast(mean * 25.0 >= k - 0.5, extreme.dtype)))


def share_rule(fraction: float):
    """`_isolated` keeping also every extreme whose 5x5 window is at least `fraction` of it (the first try)."""
    from keras import ops

    def rule(extreme):
        solid = -ops.max_pool(-extreme, 5, 1, padding="same")
        kept = ops.max_pool(solid, 5, 1, padding="same")
        mostly = ops.cast(ops.average_pool(extreme, 5, 1, padding="same") >= fraction - 1e-6, extreme.dtype)
        return extreme * (1.0 - ops.maximum(kept, mostly))

    return rule


def export_with(rule, out: Path) -> None:
    """Each shipped model rebuilt with `rule` in place of `_isolated`, its shipped weights, to out/<name>.onnx."""
    import onnx

    from training import architectures
    from training.architectures import blind_unet, prefill_unet
    from training.export import parity, to_onnx
    from training.init_weights import load_initial_weights, run_architecture

    shipped = prefill_unet._isolated
    out.mkdir(parents=True, exist_ok=True)
    try:
        for name in MODELS:
            source = ROOT / "models" / f"{name}.onnx"
            arch = run_architecture(source)
            module = architectures.get(arch)
            prefill_unet._isolated = blind_unet._isolated = shipped
            model = module.build()
            load_initial_weights(model, source)
            gap = parity(model, source, module.RECIPE.pad_multiple)
            prefill_unet._isolated = blind_unet._isolated = rule
            changed = module.build()
            changed.set_weights(model.get_weights())
            graph = to_onnx(changed)
            for key, value in {"pad_multiple": str(module.RECIPE.pad_multiple), "architecture": arch,
                               "name": name}.items():
                prop = graph.metadata_props.add()
                prop.key, prop.value = key, value
            onnx.save(graph, str(out / f"{name}.onnx"))
            print(f"{out / (name + '.onnx')}: the shipped weights (Keras against the shipped file: {gap:.1e})")
    finally:
        prefill_unet._isolated = blind_unet._isolated = shipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--share", type=float, help="the fixed-share rule instead (e.g. 0.8)")
    args = parser.parse_args()
    export_with(adaptive_rule if args.share is None else share_rule(args.share), args.out)


if __name__ == "__main__":
    main()
