"""Blind impulse U-Net: `prefill-unet` plus a learned detector, for impulses that are not exactly 0/255.

A photo whose impulses were saved as JPEG, or whose impulses are near-extreme (hot and dead sensor
pixels) or random-valued, has no exact 0/255 values for `prefill-unet`'s pre-fill to find: the
switching output then passes everything through and the photo comes back unchanged (issue 15).

This model keeps everything `prefill-unet` does and adds one thing in front of its pre-fill:
- A weight-free 3x3 median per channel (a sorting network in keras.ops), the feature no small conv
  computes well: an impulse is a value far from the median of its window (ROAD and the switching
  median filters rest on the same evidence).
- A small full-resolution detector (two 3x3 convs of 16 features over [x, median, x - median, the exact
  impulses, ROAD], the window's mean features added to the second (`NoiseContext`: which kind of noise
  the photo carries), a 1x1 conv to one logit per value) gives each value a probability of being corrupted,
  trained first with binary cross-entropy alone against the values that the noise moved
  (`label_threshold` of the recipe; loss "blind-detect"), later beside the restoration error ("blind").
- The probability is shifted from the share of corrupted values the detector was trained on to the
  window's own when that is lower (`PriorShift`): the edges and texture of a clean photo that the
  detector calls corrupted fall back below the dead zone.
- Then a dead zone (`DEAD_ZONE`, 0 below 0.22, 1 above 0.30): below it a value is untouched bit for bit,
  so a clean photo is returned as it came, the promise `prefill-unet`'s switching output keeps.
- Exact 0/255 values are found as `prefill-unet` finds them (with its `impulse_share` input, which the
  service fills with the whole photo's share; the window statistics above stay the tile's own, so this
  model's tiles are not bit-identical to the whole photo); the learned weights only add impulses
  where there were none. A soft impulse is salt when the value is above its median, pepper below,
  and feeds the same masked-mean fill, cross-channel estimate and U-Net (`fill_features`,
  `unet_residual`); the output blends `fill + residual` with the input by the soft mask.
The detector's last conv starts at zero weights and a probability of 0.12, below the dead zone: a fresh
model is `prefill-unet` exactly, so `fit --init models/prefill-unet.onnx` starts from the shipped default
(the loader's parity check proves it) and the U-Net's weights are fine-tuned, not learned anew.
"""

from __future__ import annotations

from dataclasses import replace

import keras
import numpy as np
from keras import layers, ops

from app.noise import sum_of_four_smallest
from training.architectures import prefill_unet
from training.architectures.ops import phase_dilated_conv2d
from training.architectures.prefill_unet import (
    PYRAMID_LEVELS,
    SwitchingOutput,
    exact_impulses,
    fill_features,
    share_input,
    split_inputs,
    unet_residual,
)
from training.baselines import JFIF_YCBCR

# Detector probability -> soft mask: 0 below the first, 1 above the second. The first stage trains the
# detector by cross-entropy alone, so this is a decision threshold chosen apart from the training, on
# held-out patches (`python scripts/blind_threshold.py --run runs/blind-unet-symmetric-stage1 --zones
# 0.15,0.25 0.2,0.3 0.25,0.35 0.35,0.45 0.45,0.55`; mean of the 8 validation cases and a clean photo).
# With the prior shift (stop 22) the mean is flat from 0.2-0.3 to 0.25-0.35 (35.46 / 35.45 dB), 35.31 at
# 0.35-0.45 and 35.10 at stop 21's 0.45-0.55: the shift keeps a clean photo's values below the zone,
# so a lower zone finds more of the real-world impulses (random-valued 0.2: 26.23 against 25.18).
# Picked again for stop 33's GPU stage (the shipped weights; stop 34: `python scripts/blind_threshold.py
# --run runs/s33-gpu-blind --zones 0.15,0.25 0.18,0.26 0.2,0.3 0.22,0.3 0.25,0.35 0.3,0.4 0.35,0.45`): mean
# 36.05 / 36.10 / 36.09 / 36.10 / 36.04 / 35.96 / 35.86; 0.22-0.30 against 0.25-0.35 gains 0.21 dB on
# random-valued 0.2 and near-extreme 0.3, 0.11 at sp 0.1 then JPEG 75, and loses none of the 9 cases by
# more than 0.02 (a clean JPEG 57.10 against 57.12, a clean photo 58.86 against 58.87, exact sp unchanged).
DEAD_ZONE = (0.22, 0.30)
# The detector starts at p = sigmoid(-2) = 0.12 everywhere, below the dead zone. Its logits are its last
# conv's output times 8: Adam moves a weight by about the learning rate per step, and with logits started
# at -6 and no gain, one epoch (250 steps at 2e-4) left every probability where it began.
START_LOGIT, LOGIT_GAIN = -2.0, 8.0
# The share of corrupted values (moved more than `label_threshold`) among the values that are not exact
# impulses, in the blind recipe's training patches: 0.221, and the stage-1 detector's mean probability
# there 0.214 (`python scripts/blind_threshold.py --run runs/blind-unet-symmetric-stage1 --measure-prior`).
# `PriorShift` moves the decisions from it to a window's own share, in PRIOR_STEPS rounds: on the
# validation patches 10 rounds gave a clean photo 58.86 dB, 20 rounds 58.95, the other cases within 0.07
# (`... blind_threshold.py ... --zones 0.25,0.35 --prior-steps 10 20`; docs/model-design.md).
PRIOR, PRIOR_STEPS = 0.22, 10
FRESH_LAYERS = "detector"  # name prefix of the layers prefill-unet lacks: `fit --init` from its ONNX leaves them as built
# `blind-unet-deep` (training/architectures/blind_unet_deep.py) adds residual blocks to the detector,
# layers named with this prefix; "blind-unet" has none.
GROWN_LAYERS = f"{FRESH_LAYERS}_deep"
# `blind-unet-chroma` (training/architectures/blind_unet_chroma.py) adds the luma/chroma branch (`ChromaEvidence`).
CHROMA_LAYERS = f"{FRESH_LAYERS}_chroma"
# JFIF's RGB -> YCbCr for a row of RGB values (columns Y, Cb, Cr; no offsets: only differences are used).
_YCBCR = JFIF_YCBCR.T.astype(np.float32)

# prefill-unet's recipe (its shipped stage's grey settings), plus the real-world noise and the detector's stage.
RECIPE = replace(
    prefill_unet.RECIPE,
    loss="blind-detect",  # stage 1: the detector's cross-entropy (training/fit.py); a later stage: "blind"
    learning_rate=2e-3,  # a small classifier on fixed features: 5e-4 had barely moved it after 500 steps
    grey_share=0.1,
    grey_photos_per_pixel=True,
    impulse_range_share=0.2,
    random_valued_share=0.2,
    clean_share=0.1,
    jpeg_share=0.4,
    real_world_density_max=0.5,
    label_threshold=0.08,
    # Stage 1 trains the detector alone on prefill-unet's U-Net: training everything at once cost 1-2 dB on
    # exact salt-and-pepper in the first epoch while the detector had not yet learned anything (its gradient
    # through the dead zone is zero until it is past the zone). A later stage can fine-tune all layers
    # (--recipe train_only= with --init from this one).
    train_only=FRESH_LAYERS,
)
TAKES_SHARE = prefill_unet.TAKES_SHARE  # its exact path is prefill-unet's, with the same `impulse_share` input

def _windows(x) -> list:
    """The nine 3x3-window neighbours of every value, reflect-padded at the borders: shifted copies of `x`,
    row by row (index 4 is `x` itself). Slices by offset that work for a symbolic height and width."""
    padded = ops.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="reflect")
    ends = {0: -2, 1: -1, 2: None}
    return [padded[:, dy : ends[dy], dx : ends[dx], :] for dy in range(3) for dx in range(3)]


def _median_of_3(a, b, c):
    return ops.maximum(ops.minimum(a, b), ops.minimum(ops.maximum(a, b), c))


def median3(x):
    """Per-channel 3x3 median, reflect-padded (min/max only: exported as ONNX Min/Max nodes, no TopK or sort).

    Each column of three is sorted once (3 compare-exchanges on the padded image) and shared by the three
    windows that hold it; the median of the window is then the median of (the largest column minimum, the
    median of the column medians, the smallest column maximum), exact for any values, ties included.
    18 Min/Max per value where Devillard's median-of-9 network gave 30 once the exporter had pruned the
    exchanges the median does not need. Min/max only pick values, so the models' outputs stay the same bit
    for bit (stop 34 exported blind-unet and jpeg-unet again from the same weights: `python
    scripts/onnx_same_outputs.py <the file before> <the file after>` says "identical outputs" for both). A
    small gain: in turn with the files before, 1.03x for blind-unet (25 pairs, 0.73-1.36: within this
    host's noise) and 1.07x for jpeg-unet (0.91-1.20) at 512x512 (`python -m training bench --models-dir
    DIR --models --pair blind-unet-before blind-unet --pair jpeg-unet-before jpeg-unet --repeats 25
    --no-classical`, DIR holding both); the median layers went from 10.8 + 22.5 to 10.2 + 21.0 ms of
    blind-unet's profile (`python scripts/profile_onnx.py models/blind-unet.onnx --parts 40`)."""
    padded = ops.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="reflect")
    up, centre, down = padded[:, :-2], padded[:, 1:-1], padded[:, 2:]
    low, high = ops.minimum(up, centre), ops.maximum(up, centre)
    middle, high = ops.minimum(high, down), ops.maximum(high, down)
    low, middle = ops.minimum(low, middle), ops.maximum(low, middle)
    left, here, right = (slice(0, -2), slice(1, -1), slice(2, None))
    lows = ops.maximum(ops.maximum(low[:, :, left], low[:, :, here]), low[:, :, right])
    highs = ops.minimum(ops.minimum(high[:, :, left], high[:, :, here]), high[:, :, right])
    middles = _median_of_3(middle[:, :, left], middle[:, :, here], middle[:, :, right])
    return _median_of_3(lows, middles, highs)


def road(x, known):
    """`app.noise.road` in keras.ops, per channel on [0, 1] values: the sum of each value's 4 smallest absolute
    differences to its 8 neighbours (Garnett et al. 2005), differences to `known` impulses counting 0.
    Large for an impulse of any value, small in smooth and textured regions and along edges: the evidence
    the classical detector of random-valued impulses uses, which |x - median| alone gives badly at edges."""
    d = [ops.abs(value - x) * (1.0 - impulse)
         for k, (value, impulse) in enumerate(zip(_windows(x), _windows(known))) if k != 4]
    return sum_of_four_smallest(d, ops.minimum, ops.maximum)


class Median3(layers.Layer):
    def call(self, x):
        return median3(x)

    def compute_output_shape(self, shape):
        return shape


def _decimate(x):
    """Every other row and column (the caller's sizes are multiples of 4: `PAD_MULTIPLE`, training patches)."""
    return x[:, ::2, ::2, :]


class ChromaEvidence(layers.Layer):
    """[Y - its 3x3 median, Cb and Cr - a wide median of them] (JFIF's Y, Cb, Cr of the [0, 1] photo).

    Why: salt-and-pepper per RGB channel saved as a JPEG is mostly a chroma error, and JPEG's 4:2:0 keeps
    chroma at half resolution in 8x8 blocks: each impulse's chroma is smeared over a 2x2 to 16x16 patch of
    pixels, far past the 3x3 median the detector compared values with. A median on Y with a larger one on
    Cb/Cr beat the tables' RGB medians by 1.2-2.0 dB on such photos (`python scripts/chroma_median_probe.py
    --photos 16 --crop 256`: Y 3x3 + CbCr 9x9 26.98 against 24.98 at sp 0.1 + JPEG 90), and a perfect
    detector in front of the unchanged U-Net reached 25.85 dB at sp 0.3 + JPEG 90 where the detector
    reached 19.04 (`python scripts/blind_oracle.py --run runs/blind-unet-deep-stage1 --colour`).
    The wide chroma estimate is a pyramid of medians: 3x3 at full, half and quarter resolution (each level
    the previous one's every other value), the last repeated back to full size, so each value is compared
    with a robust estimate over about 12x12 pixels at the cost of a few 3x3 sorting networks.
    On the negative of a photo every feature is the negative of the photo's, as the detector's other inputs."""

    def call(self, x):
        ycc = ops.matmul(x, ops.convert_to_tensor(_YCBCR, dtype=x.dtype))
        luma, chroma = ycc[..., :1], ycc[..., 1:]
        wide = median3(_decimate(median3(_decimate(median3(chroma)))))
        wide = ops.repeat(ops.repeat(wide, 4, axis=1), 4, axis=2)
        return ops.concatenate([luma - median3(luma), chroma - wide], axis=-1)

    def compute_output_shape(self, shape):
        return shape


class BlindPrefill(layers.Layer):
    """Exact and learned impulses -> `fill_features` (see the module docstring). Inputs: the image, its
    median, the detector's probabilities. Outputs as `ImpulsePrefill`'s."""

    def __init__(self, levels: int = PYRAMID_LEVELS, context_levels: tuple[int, ...] = (2, 4),
                 dead_zone: tuple[float, float] = DEAD_ZONE, **kwargs):
        super().__init__(**kwargs)
        self.levels = levels
        self.context_levels = tuple(context_levels)
        self.dead_zone = tuple(dead_zone)
        # Set by `fit` from the recipe's `straight_through_margin` and `restoration_to_detector`; not in the
        # config: training only.
        self.straight_through_margin = 0.0
        self.restoration_to_detector = True

    def call(self, inputs, training=None):
        """`inputs`: [image, median, probability] and, as exported, the `impulse_share` input last."""
        x, median, probability, *share = inputs
        exact_salt, exact_pepper = exact_impulses(x, share[0] if share else None)
        low, high = self.dead_zone
        decision = ops.clip((probability - low) / (high - low), 0.0, 1.0)
        if training and self.straight_through_margin > 0:
            # Forward: the decision as it is. Backward: a wider ramp's gradient, so the restoration error
            # reaches probabilities outside the zone (without it, a detector trained through the frozen
            # U-Net on `--loss blind` drifted with the cross-entropy alone: docs/model-design.md).
            wide_low = max(0.0, low - self.straight_through_margin)
            wide_high = min(1.0, high + self.straight_through_margin)
            wide = ops.clip((probability - wide_low) / (wide_high - wide_low), 0.0, 1.0)
            decision = wide + ops.stop_gradient(decision - wide)
        if training and not self.restoration_to_detector:
            # The detector then learns from its cross-entropy alone (Recipe.restoration_to_detector).
            decision = ops.stop_gradient(decision)
        learned = decision * (1.0 - exact_salt - exact_pepper)
        up = ops.cast(x > median, x.dtype)
        return fill_features(x, exact_salt + learned * up, exact_pepper + learned * (1.0 - up), self.levels,
                             self.context_levels)

    def compute_output_spec(self, inputs):
        b, h, w, _ = inputs[0].shape
        half = (None if h is None else h // 2, None if w is None else w // 2)
        return (keras.KerasTensor((b, h, w, 12), dtype=inputs[0].dtype),
                keras.KerasTensor((b, *half, 6 * len(self.context_levels)), dtype=inputs[0].dtype))

    def get_config(self):
        return {**super().get_config(), "levels": self.levels, "context_levels": self.context_levels,
                "dead_zone": self.dead_zone}


class ImpulseEvidence(layers.Layer):
    """[exact impulses (1 where `prefill-unet` sees one: an exact 0 or 1 that `_isolated` does not keep as content),
    ROAD with the exact ones as known], 3 channels each."""

    def call(self, inputs):
        """`inputs`: the image, or [image, impulse_share] (`exact_impulses`)."""
        x, share = split_inputs(inputs)
        exact = sum(exact_impulses(x, share))
        return ops.concatenate([exact, road(x, exact)], axis=-1)

    def compute_output_shape(self, shape):
        shape = shape[0] if isinstance(shape, (list, tuple)) and isinstance(shape[0], (list, tuple)) else shape
        return (*shape[:-1], 2 * shape[-1])


class NoiseContext(layers.Layer):
    """Adds what the whole window says about its noise to every value's features: the image mean of
    `evidence` (B, 1, 1, C), through a 1x1 conv started at zero, broadcast onto `features`.

    Why: a value's 5x5 neighbourhood cannot tell which kind of noise the photo carries, and the kinds
    want opposite answers. Beside exact salt-and-pepper every non-0/255 value is clean; beside the same
    impulses saved as JPEG its neighbours are damaged too. After 1,000 steps, with it against without
    (stop 19's stage): exact sp 0.1 39.95 against 38.40 dB, a clean JPEG 52.46 against 47.20 on the
    validation patches (docs/model-design.md). The photo's noise is the same everywhere, so its mean evidence names the kind;
    the mean is over the window the model sees (a training patch, a service tile of 1024 plus margins)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.mix = None

    def build(self, features_shape, evidence_shape=None):
        evidence_shape = evidence_shape or features_shape
        self.mix = layers.Conv2D(features_shape[-1], 1, kernel_initializer="zeros", name="mix")
        self.mix.build((None, 1, 1, evidence_shape[-1]))

    def call(self, features, evidence):
        return features + self.mix(ops.mean(evidence, axis=(1, 2), keepdims=True))

    def compute_output_shape(self, features_shape, evidence_shape=None):
        return features_shape


class PriorShift(layers.Layer):
    """The detector's logits moved from the share of corrupted values it was trained on (`prior`) to the
    window's own, when the window's is lower: logit + logit(rho) - logit(prior), rho estimated by `steps`
    rounds of EM, each the mean shifted probability over the values that are not exact impulses (Saerens,
    Latinne and Decaestecker 2002, "Adjusting the outputs of a classifier to new a priori probabilities").

    Why: a detector trained where a fifth of the values are corrupted calls some of a clean photo's sharp
    edges and fine texture corrupted (it has learned that a fifth of values are), and every flagged value
    is filled. A clean photo, or the clean values beside exact salt-and-pepper, has a far lower share,
    and the shift tells the detector so.
    On the held-out patches, stage-1 weights, dead zone 0.45-0.55: a clean photo 49.36 -> 58.95 dB, exact
    salt-and-pepper 0.1 41.08 -> 43.48 (`prefill-unet` 43.50), the real-world kinds 0-1 dB lower (`python
    scripts/blind_threshold.py --run runs/blind-unet-symmetric-stage1 --zones 0.45,0.55 --prior 0 0.22`).
    Only downward (rho at most `prior`): in a development probe, letting it rise too ran away on dense
    noise saved as JPEG, where the JPEG-damaged neighbours of impulses pushed rho up and more of them
    were filled (sp 0.3 + JPEG 90 lost several dB). Again with the shipped weights (stop 34, dense held-out
    patches: `python scripts/blind_threshold.py --run runs/s33-gpu-blind --zones 0.22,0.3 --ceiling 0.22
    0.26 0.3 0.35 --cases dense`): a ceiling of 0.26 gained random-valued 0.3 / 0.4 0.14 / 0.17 dB and cost
    sp 0.5 + JPEG 90 0.30, 0.35 cost it 1.71; so `ceiling` stays at the prior. The exact impulses are left
    out of rho: `prefill-unet`'s path restores them, and beside them the other values are clean."""

    def __init__(self, prior: float, steps: int, ceiling: float | None = None, **kwargs):
        super().__init__(**kwargs)
        self.prior, self.steps = float(prior), int(steps)
        # The highest share the window's estimate may reach: `prior` (only downward) unless set higher.
        self.ceiling = self.prior if ceiling is None else float(ceiling)

    def call(self, logits, evidence):
        free = 1.0 - evidence[..., :3]  # evidence: [exact impulses, ROAD] (`ImpulseEvidence`)
        count = ops.sum(free, axis=(1, 2, 3), keepdims=True) + 1.0
        base = float(np.log(self.prior / (1.0 - self.prior)))
        shifted = logits
        for _ in range(self.steps):
            rho = ops.clip(ops.sum(ops.sigmoid(shifted) * free, axis=(1, 2, 3), keepdims=True) / count,
                           1e-4, self.ceiling)
            shifted = logits + ops.log(rho / (1.0 - rho)) - base
        return shifted

    def compute_output_shape(self, logits_shape, evidence_shape=None):
        return logits_shape

    def get_config(self):
        return {**super().get_config(), "prior": self.prior, "steps": self.steps, "ceiling": self.ceiling}


def _detector(image, median, features: int = 16, both_polarities: bool = True, prior: float | None = PRIOR,
              prior_steps: int = PRIOR_STEPS, blocks: int = 0, chroma: bool = False, prior_ceiling: float | None = None,
              shares=None):
    """Per-value probability of corruption (B, H, W, 3), from [x, median, x - median, exact impulses, ROAD],
    as decided: shifted to the window's share of corrupted values (`PriorShift`, unless `prior` is None).
    The probability as trained, which the cross-entropy sees, is `detector_probability`.

    The exact impulses are an input because dense exact salt-and-pepper misled a detector without them:
    where most neighbours are 0 or 255 the median is too, and the clean values stood out as the odd ones
    (after one epoch, -9.9 dB at density 0.5, which `prefill-unet` alone restores well). ROAD because
    without it, after 1,000 steps, the detector still gave random-valued impulses a median probability of
    0.2 and a tenth of the clean values more than 0.5 (20.2 dB on the validation patches at density 0.2,
    where the ROAD switching filter reaches 27.9 on CBSD68).

    It looks at the photo and at its negative with the same weights and keeps the larger logit, so a
    dark impulse is judged exactly as a bright one is: impulse noise has no sign, photos do (they hold
    more small dark details than bright ones). With the photo alone, after 3,000 steps, it flagged 97% of
    the random-valued impulses that made a value more than 120 levels brighter and 85% of those that
    made one as much darker (`python scripts/blind_oracle.py --run runs/blind-unet-context-stage1
    --one-polarity`, held-out training photos; ROAD > 80: 99% and 88%)."""
    # exact impulses and ROAD: the same for the photo and its negative
    evidence = ImpulseEvidence()(image if shares is None else [image, shares])
    conv1 = layers.Conv2D(features, 3, padding="same", name=f"{FRESH_LAYERS}_conv1")
    conv2 = layers.Conv2D(features, 3, padding="same", name=f"{FRESH_LAYERS}_conv2")
    context = NoiseContext(name=f"{FRESH_LAYERS}_context")
    to_logits = layers.Conv2D(3, 1, kernel_initializer="zeros",
                              bias_initializer=keras.initializers.Constant(START_LOGIT / LOGIT_GAIN),
                              name=f"{FRESH_LAYERS}_logits")
    # `chroma`: `ChromaEvidence` through a 3x3 conv that starts at zero, added to the second conv's output
    chroma_conv = (layers.Conv2D(features, 3, padding="same", kernel_initializer="zeros", name=f"{CHROMA_LAYERS}_conv")
                   if chroma else None)
    # block i dilated by 2^(i+1): each block widens what a decision sees by twice the one before
    deep = [(phase_dilated_conv2d(features, 3, padding="same", dilation_rate=2 ** (i + 1), name=f"{GROWN_LAYERS}{i}a"),
             layers.Conv2D(features, 3, padding="same", kernel_initializer="zeros", name=f"{GROWN_LAYERS}{i}b"))
            for i in range(blocks)]
    negative = layers.Rescaling(-1.0, 1.0, name="negative")  # 1 - v
    difference = layers.Subtract()([image, median])
    # computed once: the negative's chroma features are the photo's, negated (`ChromaEvidence`)
    colour = ChromaEvidence(name="chroma_evidence")(image) if chroma else None
    views = [(image, median, difference, colour)]
    if both_polarities:  # off: the detector before it (for comparisons: scripts/blind_oracle.py --one-polarity)
        views.append((negative(image), negative(median), layers.Rescaling(-1.0, name="negative_difference")(difference),
                      None if colour is None else layers.Rescaling(-1.0, name="negative_chroma")(colour)))
    looks = []
    for x, m, d, c in views:
        first = layers.LeakyReLU(negative_slope=0.1)(conv1(layers.Concatenate()([x, m, d, evidence])))
        second = conv2(first)
        if c is not None:
            second = layers.Add()([second, chroma_conv(c)])
        h = layers.LeakyReLU(negative_slope=0.1)(context(second, first))
        for widen, back in deep:
            h = layers.Add()([h, back(layers.LeakyReLU(negative_slope=0.1)(widen(h)))])
        looks.append(to_logits(h))
    logits = layers.Rescaling(LOGIT_GAIN, name=f"{FRESH_LAYERS}_gain")(layers.Maximum()(looks) if len(looks) > 1 else looks[0])
    if prior is not None:  # None: the decision before stop 22 (for comparisons: scripts/blind_threshold.py --prior 0)
        logits = PriorShift(prior, prior_steps, prior_ceiling, name="prior_shift")(logits, evidence)
    return layers.Activation("sigmoid", name="decision")(logits)


def detector_probability(model: keras.Model):
    """The detector's probabilities as trained, before `PriorShift` (a tensor of `model`'s graph): what
    the cross-entropy sees, and what the scripts that study the detector read."""
    return layers.Activation("sigmoid", name="probability")(model.get_layer(f"{FRESH_LAYERS}_gain").output)


def build(widths: tuple[int, int, int] = (32, 64, 128), head: int = 8,
          dead_zone: tuple[float, float] = DEAD_ZONE, both_polarities: bool = True, prior: float | None = PRIOR,
          prior_steps: int = PRIOR_STEPS, detector_blocks: int = 0, chroma: bool = False,
          prior_ceiling: float | None = None, detector_features: int = 16, share: bool = False) -> keras.Model:
    """Median and detector, the blind pre-fill, `prefill-unet`'s U-Net, the soft switching output.
    (`widths` and `detector_features` other than the shipped ones: shapes timed before any training,
    scripts/blind_shapes_speed.py.) `share`: with the `impulse_share` input, as exported (`prefill_unet.build`).

    The U-Net's convs are built after the detector's but numbered as `prefill-unet`'s (the detector's
    have their own names), so `fit --init models/prefill-unet.onnx` maps them one to one."""
    image = keras.Input(shape=(None, None, 3), name="image")
    shares = share_input() if share else None
    median = Median3(name="median")(image)
    decision = _detector(image, median, features=detector_features, both_polarities=both_polarities, prior=prior,
                         prior_steps=prior_steps, prior_ceiling=prior_ceiling, blocks=detector_blocks, chroma=chroma,
                         shares=shares)
    prefilled, context = BlindPrefill(dead_zone=dead_zone, name="prefill")(
        [image, median, decision] + ([] if shares is None else [shares]))
    residual = unet_residual(prefilled, context, widths, head)
    restored = SwitchingOutput(name="restored")([image, prefilled, residual])
    return keras.Model(image if shares is None else [image, shares], restored, name="blind_unet")


def training_model(model: keras.Model, loss: str = "blind") -> keras.Model:
    """The same layers with the detector's probabilities as three more output channels, for the loss
    (`blind` in training/fit.py); `model` itself, the one exported, outputs the image only.

    For "blind-detect" (the cross-entropy alone) the restored image is not needed: the input stands in
    for it and the step runs the detector's subgraph only, without the pre-fill and U-Net: an epoch of
    1,000 steps of 16 patches of 96x96 took 391 s, validation included, where stop 19's whole-model steps
    took 265 s for 250 (2 cores, TensorFlow; the runs' train.log)."""
    probability = detector_probability(model)
    restored = model.input if loss == "blind-detect" else model.output
    outputs = layers.Concatenate(name="restored_and_probability")([restored, probability])
    return keras.Model(model.input, outputs, name=f"{model.name}_training")
