#!/usr/bin/env python
"""The shipped models with another rule for which exact 0/255 values are content, exported with their own
weights for `training evaluate` and `scripts/blind_targets.py` to score: how the rule that ships was chosen
(stops 36-37), and how to measure it against the others again.

  python scripts/clipped_rule_probe.py --rule solid --out /tmp/solid    # both models, about 20 s
  python scripts/blind_targets.py --model /tmp/solid/blind-unet.onnx --sets CBSD68 BSD68 --work /tmp/solid-targets
  python -m training evaluate --data ../shared/data/CBSD68 --densities 0 0.1 0.3 0.5 0.7 0.9 \
      --models /tmp/solid/prefill-unet.onnx --out /tmp/solid-CBSD68    # and any other table's command

The shipped rule (`_isolated` in training/architectures/prefill_unet.py, since stop 37) keeps an extreme as
content inside a solid 5x5 block of it, or where its 5x5 window holds at least k of it, k from the photo's
own share of flagged values. The others:
- `solid`: the solid block alone, shipped until stop 36. A clean photo made x1.6 brighter came back at
  38.8 dB, and `blind-unet` was no better than ROAD switching on such a photo with random-valued noise.
- `share`: also every extreme whose window is at least `--share` of it (0.8 was tried first, in stop 36: it
  kept enough false salt at density 0.9 to cost 1.9 dB on CBSD68 per channel).

Each file is `training rebuild`'s output under the other rule (the same weights, checked against the card).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("prefill-unet", "blind-unet")


def solid_rule(extreme, share=None):
    """The rule shipped until stop 36: drop the extremes that belong to a solid 5x5 block of that extreme (a
    morphological opening). It has no use for p (`share`, the `impulse_share` input since stop 38)."""
    from keras import ops

    solid = -ops.max_pool(-extreme, 5, 1, padding="same")  # 5x5 erosion
    return extreme * (1.0 - ops.max_pool(solid, 5, 1, padding="same"))  # minus the 5x5 dilation of it


def share_rule(fraction: float):
    """`_isolated` keeping also every extreme whose 5x5 window is at least `fraction` of it (the first try)."""
    from keras import ops

    def rule(extreme, share=None):
        mostly = ops.cast(ops.average_pool(extreme, 5, 1, padding="same") >= fraction - 1e-6, extreme.dtype)
        return solid_rule(extreme) * (1.0 - mostly)

    return rule


def export_with(rule, out: Path) -> None:
    """Each shipped model rebuilt with `rule` in place of `_isolated` and its own weights, to out/<name>.onnx
    (and its card, whose scores are dropped: they are the shipped file's)."""
    from training.architectures import prefill_unet
    from training.export import rebuild

    shipped = prefill_unet._isolated  # blind-unet's exact path calls it too (`exact_impulses`)
    prefill_unet._isolated = rule
    try:
        for name in MODELS:
            card = rebuild(ROOT / "models" / f"{name}.onnx", out, why="another rule for clipped regions",
                           command=shlex.join(["python", *sys.argv]))
            print(f"{out / (name + '.onnx')}: the shipped weights, onnxruntime vs Keras {card['onnx_parity_max_abs_error']:.1e}")
    finally:
        prefill_unet._isolated = shipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    rules = parser.add_mutually_exclusive_group(required=True)
    rules.add_argument("--rule", choices=["solid"], help="the rule shipped until stop 36")
    rules.add_argument("--share", type=float, help="the fixed-share rule (e.g. 0.8)")
    args = parser.parse_args()
    export_with(solid_rule if args.share is None else share_rule(args.share), args.out)


if __name__ == "__main__":
    main()
