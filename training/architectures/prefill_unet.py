"""Pre-fill + residual U-Net: the service's default model.

Why this shape (see docs/model-design.md):
- Small ReLU nets learn "mean of the clean neighbours" badly, so a weight-free classical fill runs
  inside the graph first: masked means of the non-impulse values on an average-pooling pyramid,
  blended coarse to fine, so every impulse gets a value even at 95% density. A cross-channel
  estimate (the clean channels of the same pixel plus the local channel difference) is an input.
- The network then predicts a residual on that fill, and the output is switching: values that are
  not 0/1 pass through untouched (exact at low density), impulse values get `fill + residual`.
  The network also sees whether each impulse was salt or pepper, so it can learn to keep true
  clipped highlights and black shadows that merely look like impulses.
- Space-to-depth in, strided convs down, 1x1 conv + depth-to-space up, no ConvTranspose
  (slow in onnxruntime on CPU). The last stage sees the pre-fill again beside the U-Net's features.
Input: (B, H, W, 3) floats in [0, 1], H and W multiples of `PAD_MULTIPLE` (the caller pads); as exported,
also `impulse_share` (B or 1, 1, 1, 6): the whole photo's share of isolated 0s and 1s, which the service
gives every tile (`app.impulse_share`), or -1 to take it from the input.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from app.impulse_share import SHARE_INPUT
from training.architectures.ops import depth_to_space, space_to_depth, upsample
from training.recipe import Recipe

PYRAMID_LEVELS = 5
PAD_MULTIPLE = 2**PYRAMID_LEVELS  # also a multiple of the U-Net's stride (8)

RECIPE = Recipe(
    loss="l1-per-impulse",
    learning_rate=5e-4,  # 1e-3 collapsed (loss spikes) in every run; the guard then halved it anyway
    clipnorm=1.0,
    cosine_decay=True,
    batch=16,
    patch=96,
    density_max=0.95,
    per_pixel_share=0.3,
    grey_share=0.2,
    clip_augment_share=0.15,
    salt_ratio_range=(0.3, 0.7),
    pad_multiple=PAD_MULTIPLE,
)
TAKES_SHARE = True  # exported with the `impulse_share` input (`share_input`)


# p (the share of values the solid rule flags) at which k, the count of an extreme in its 5x5 window that makes
# it content, rises by one, from 4: the least k with P(Bin(24, p) >= k - 1) <= KEEP_TAIL, on a grid of p in steps
# of 0.00025 (`keep_steps()` recomputes them; tests/test_architectures.py checks they agree).
KEEP_STEPS = (0.0005, 0.002, 0.005, 0.01, 0.017, 0.026, 0.037, 0.05, 0.06525, 0.08225, 0.1015, 0.1225, 0.146,
              0.1715, 0.1995, 0.23, 0.26375, 0.30075, 0.34175, 0.3885, 0.44275)
KEEP_TAIL = 1e-7


def keep_steps(tail: float = KEEP_TAIL, neighbours: int = 24) -> list[float]:
    """Recompute KEEP_STEPS (needs scipy): where the least k with P(Bin(neighbours, p) >= k - 1) <= tail rises."""
    import numpy as np
    from scipy.stats import binom

    found, k = [], 4
    for p in np.arange(0, 0.5, 0.00025):
        while k <= neighbours + 1 and binom.sf(k - 2, neighbours, p) > tail:
            k += 1
            found.append(round(float(p), 5))
    return found


def _isolated(extreme, share=None):
    """The extreme values (1 where one is, per channel) that are impulses, not content.

    An extreme is content, so kept, when it belongs to a solid 5x5 block of that extreme (or lies within 2
    pixels of one), or when its 5x5 window holds at least k values of it. k is the least count that the
    photo's own noise reaches by chance with probability under KEEP_TAIL (1e-7). That noise's share p is the
    share of values the solid rule alone flags, per image and channel; k rises with it (`KEEP_STEPS`), from 4
    for p under 0.0005 to 25 at p = 0.3885, and from p = 0.44275 up nothing beyond the solid rule is kept.

    Why both (docs/model-design.md, stops 36-37): the solid rule alone (a morphological opening) is one random
    noise never meets, about 2e-9 at density 0.9, but noise breaks a real clipped region up just as well (a sky
    blown to 255 with random-valued impulses 0.2 keeps a solid 5x5 block in 0.8^25 = 0.4% of its windows),
    and thin highlights never make one. With it alone a clean photo made x1.6 brighter came back at 38.8 dB
    and `blind-unet` was no better than ROAD switching on such a photo with random-valued noise. A fixed
    share (80% of the window) kept enough false salt at density 0.9 to cost 1.9 dB there; the adaptive count
    keeps nothing more once the noise is that dense. (A 3x3 solid rule fired on 0.1% of the noise at density
    0.9 and smeared those false values through the fill: -2.3 dB. Letting the net learn clipped regions by
    itself swamped its training.)

    One 5x5 mean serves both counts: a solid block is a window whose mean is 1 (the 5x5 erosion), and k is
    compared with the same mean, taken over the window's values inside the image.

    `share` (B or 1, 1, 1, C), where given and not negative, is p itself: the whole photo's, which the service
    computes (`app.impulse_share`) so that a tile, which sees only its part of the photo, decides as the
    whole photo would (stop 38). Left out (training) or negative, p is the share in what the graph is given.
    """
    mean, kept = _solid_rule(extreme)
    own = own_share(extreme, kept)
    share = own if share is None else ops.where(share < 0.0, own, share)
    k = 4.0 + sum(ops.cast(share >= step, extreme.dtype) for step in KEEP_STEPS)
    return extreme * (1.0 - ops.maximum(kept, ops.cast(mean * 25.0 >= k - 0.5, extreme.dtype)))


def _solid_rule(extreme):
    """(the 5x5 window means of `extreme`, 1 where a value is in or next to a solid 5x5 block of it)."""
    mean = ops.average_pool(extreme, 5, 1, padding="same")
    solid = ops.cast(mean >= 1.0 - 1e-6, extreme.dtype)
    return mean, ops.max_pool(solid, 5, 1, padding="same")  # the 5x5 dilation of the solid blocks


def own_share(extreme, kept=None):
    """p as `_isolated` computes it from what it is given, (B, 1, 1, C): the share of `extreme`'s values that
    are not `kept` by the solid rule. `app.impulse_share` computes the same for a whole photo (tested)."""
    kept = _solid_rule(extreme)[1] if kept is None else kept
    return ops.mean(extreme * (1.0 - kept), axis=(1, 2), keepdims=True)


def exact_impulses(x, share=None):
    """(salt, pepper): the values at exactly 1 and at 0 that `_isolated` finds to be impulses, 1 where one is.
    `share`: the model's `impulse_share` input (B or 1, 1, 1, 6): p for salt in channels 0-2, for pepper in 3-5."""
    salt_share, pepper_share = (None, None) if share is None else (share[..., :3], share[..., 3:])
    return _isolated(ops.cast(x >= 1.0, x.dtype), salt_share), _isolated(ops.cast(x <= 0.0, x.dtype), pepper_share)


def share_input() -> keras.KerasTensor:
    """The `impulse_share` input of an exported model (see `_isolated` and `app.impulse_share`): fed by the
    service, -1 (the graph's own p) by callers that have no whole photo."""
    return keras.Input(shape=(1, 1, 6), name=SHARE_INPUT)


def split_inputs(inputs):
    """(image, share or None) from a layer's inputs: the image alone, or [image, share]."""
    return (inputs[0], inputs[1]) if isinstance(inputs, (list, tuple)) else (inputs, None)


def _pyramid_mean(values, weights, levels: int):
    """Mean of `values` where `weights` is 1, around every place, from the finest scale that has any.

    Masked means in 3x3 windows on an average-pooling pyramid (cells of 1, 2, 4, ... pixels), blended
    coarse to fine by how many valid values each window saw (full trust from 2 upwards).
    """
    values = values * weights
    means, trust = [], []
    for level in range(levels + 1):
        if level:
            values = ops.average_pool(values, 2, 2, padding="valid")
            weights = ops.average_pool(weights, 2, 2, padding="valid")
        s = ops.average_pool(values, 3, 1, padding="same")
        n = ops.average_pool(weights, 3, 1, padding="same")
        means.append(s / ops.maximum(n, 1e-6))
        trust.append(ops.minimum(n * (9.0 * 4.0**level) / 2.0, 1.0))
    fill = means[-1]
    for level in range(levels - 1, -1, -1):
        coarse = upsample(fill, 2)
        fill = trust[level] * means[level] + (1.0 - trust[level]) * coarse
    return fill


PAIRS = [(0, 1), (0, 2), (1, 2)]  # offset(o, c) = -offset(c, o): three pyramids serve all six


def fill_features(x, salt, pepper, levels: int = PYRAMID_LEVELS, context_levels: tuple[int, ...] = (2, 4)):
    """`ImpulsePrefill`'s outputs for given salt and pepper masks (0/1, or soft weights in [0, 1] with
    salt + pepper <= 1: the blind model's learned detection feeds the same fill)."""
    impulse = salt + pepper
    clean = 1.0 - impulse
    # The spatial fill, and the local mean of (channel c - channel o) where both are clean. The
    # latter is antisymmetric (same weights, negated values): three pairs give all six exactly.
    both = ops.stack([clean[..., c] * clean[..., o] for c, o in PAIRS], axis=-1)
    differences = ops.stack([x[..., c] - x[..., o] for c, o in PAIRS], axis=-1)
    means = _pyramid_mean(ops.concatenate([x, differences], axis=-1), ops.concatenate([clean, both], axis=-1),
                          levels)
    spatial, offset = means[..., :3], means[..., 3:]
    sums, counts = [], []
    for c in range(3):
        guesses = []  # (guide channel, mean of channel c minus guide)
        for k, (a, b) in enumerate(PAIRS):
            if c == a:
                guesses.append((b, offset[..., k]))
            elif c == b:
                guesses.append((a, -offset[..., k]))
        sums.append(sum(clean[..., o] * (x[..., o] + d) for o, d in guesses))
        counts.append(sum(clean[..., o] for o, _ in guesses))
    # A true value lies in [0, 1]; a bright guide plus an offset may not.
    cross = ops.clip(ops.stack([s / ops.maximum(n, 1.0) for s, n in zip(sums, counts)], axis=-1), 0.0, 1.0)
    has_guide = ops.cast(ops.stack(counts, axis=-1) > 0.0, x.dtype)

    filled = clean * x + impulse * spatial
    guided = has_guide * impulse

    return (ops.concatenate([filled, salt - pepper, guided, guided * (cross - spatial)], axis=-1),
            coarse_means(ops.concatenate([salt, pepper], axis=-1), context_levels))


def coarse_means(values, levels: tuple[int, ...]):
    """At half resolution, the 3x3 local means of `values` on 2x2-cell average pools of each level in `levels`
    (level k: cells of 2^k pixels), repeated back to 1/2 resolution and concatenated level after level: the
    context beyond the U-Net's reach (`fill_features`' salt and pepper shares; `jpeg-unet`'s evidence)."""
    context = []
    for level in range(1, max(levels) + 1):
        values = ops.average_pool(values, 2, 2, padding="valid")
        if level in levels:
            context.append(upsample(ops.average_pool(values, 3, 1, padding="same"), 2 ** (level - 1)))
    return ops.concatenate(context, axis=-1)


class ImpulsePrefill(layers.Layer):
    """Weight-free fill of the 0/1 values from the others, plus evidence the net cannot compute well.

    Values at 0 or 1 are impulses unless `_isolated` finds them to be content (clipped regions).
    - The fill (the base the net corrects): the local mean of the channel's clean values, from the
      finest scale that has any (`_pyramid_mean`).
    - The cross-channel estimate, for an impulse whose pixel has a clean channel: that channel's value
      plus the local mean difference between the two channels (colour differences vary far more
      slowly than brightness), averaged over the clean channels, clipped to [0, 1]. It is given to
      the net as an input, `guided * (cross - fill)`, not used as the base: with it as the base the
      net stopped learning altogether (docs/model-design.md).
    Returns (full resolution) [fill (3), signed impulse mask (3), guided (3), guided * (cross - fill)
    (3)]: signed = +1 for salt, -1 for pepper, 0 elsewhere; guided = impulse with a clean channel;
    and (1/2 resolution) the fractions of salt and of pepper around each place at two coarse scales
    (12 and 48 pixels). A large clipped highlight is nearly all salt, which random noise never
    makes; without this context that difference lies outside the net's receptive field.
    """

    def __init__(self, levels: int = PYRAMID_LEVELS, context_levels: tuple[int, ...] = (2, 4), **kwargs):
        super().__init__(**kwargs)
        self.levels = levels
        self.context_levels = tuple(context_levels)

    def call(self, inputs):
        """`inputs`: the image, or [image, impulse_share] (`exact_impulses`)."""
        x, share = split_inputs(inputs)
        salt, pepper = exact_impulses(x, share)
        return fill_features(x, salt, pepper, self.levels, self.context_levels)

    def compute_output_spec(self, inputs):
        """Shapes without tracing `call` (JAX cannot prove the pyramid's pool-then-upsample shapes equal
        for a symbolic height and width; they are, for multiples of PAD_MULTIPLE)."""
        x, _ = split_inputs(inputs)
        b, h, w, _ = x.shape
        half = (None if h is None else h // 2, None if w is None else w // 2)
        return (keras.KerasTensor((b, h, w, 12), dtype=x.dtype),
                keras.KerasTensor((b, *half, 6 * len(self.context_levels)), dtype=x.dtype))

    def get_config(self):
        return {**super().get_config(), "levels": self.levels, "context_levels": self.context_levels}


class SpaceToDepth(layers.Layer):
    def __init__(self, block: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.block = block

    def call(self, x):
        return space_to_depth(x, self.block)

    def compute_output_shape(self, shape):
        b, h, w, c = shape
        return (b, None if h is None else h // self.block, None if w is None else w // self.block,
                c * self.block**2)

    def get_config(self):
        return {**super().get_config(), "block": self.block}


class DepthToSpace(SpaceToDepth):
    def call(self, x):
        return depth_to_space(x, self.block)

    def compute_output_shape(self, shape):
        b, h, w, c = shape
        return (b, None if h is None else h * self.block, None if w is None else w * self.block,
                c // self.block**2)


class SwitchingOutput(layers.Layer):
    """Impulse values get fill + residual; every other value is the input, bit for bit.

    No clip here: a clip zeroes the gradient of every impulse whose residual overshoots, and those
    pixels never recover (training stalls). Callers round and clip to the output bit depth.
    """

    def call(self, inputs):
        x, filled_and_sign, residual = inputs
        filled = filled_and_sign[..., :3]
        impulse = ops.abs(filled_and_sign[..., 3:6])
        return impulse * (filled + residual) + (1.0 - impulse) * x


def _conv(x, filters: int, strides: int = 1, kernel: int = 3, activation: bool = True):
    """Conv + LeakyReLU(0.1). With plain ReLU the whole 1/8 level died within minutes of training
    (all units of its last conv at zero), and the net lost its large-context path."""
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same")(x)
    return layers.LeakyReLU(negative_slope=0.1)(x) if activation else x


def build(widths: tuple[int, int, int] = (32, 64, 128), head: int = 8, share: bool = False) -> keras.Model:
    """The pre-fill, the U-Net over it (`unet_residual`) and the switching output. `share`: with the
    `impulse_share` input (`share_input`), as exported; training builds it without (p from each patch)."""
    image = keras.Input(shape=(None, None, 3), name="image")
    shares = share_input() if share else None
    prefilled, context = ImpulsePrefill(name="prefill")(image if shares is None else [image, shares])
    residual = unet_residual(prefilled, context, widths, head)
    restored = SwitchingOutput(name="restored")([image, prefilled, residual])
    return keras.Model(image if shares is None else [image, shares], restored, name="prefill_unet")


def unet_residual(prefilled, context, widths: tuple[int, int, int] = (32, 64, 128), head: int = 8):
    """U-Net at 1/2, 1/4 and 1/8 resolution over the pre-filled image, then a last stage that sees
    the pre-fill again; returns the residual (full resolution, 3 channels).

    The last stage concatenates the U-Net's 1/2-resolution features with the pre-fill itself (space
    to depth: every pixel's exact value and impulse sign) and writes the residual through `head`
    features per full-resolution pixel. Without that skip the exact neighbours reached the output only
    through the whole U-Net: +1.7 dB at density 0.1 after 3 epochs. A true full-resolution head did a
    little better at low density but cost 31% more time in onnxruntime (memory-bound layout changes
    at full resolution); docs/model-design.md.
    """
    w1, w2, w3 = widths
    h1 = layers.Concatenate()([SpaceToDepth(2)(prefilled), context])  # 1/2 resolution, 48 + 12 channels
    h1 = _conv(_conv(h1, w1), w1)
    h2 = _conv(_conv(h1, w2, strides=2), w2)  # 1/4
    h3 = _conv(_conv(_conv(h2, w3, strides=2), w3), w3)  # 1/8
    u2 = DepthToSpace(2)(_conv(h3, w2 * 4, kernel=1, activation=False))
    u2 = _conv(layers.Add()([u2, h2]), w2)
    u1 = DepthToSpace(2)(_conv(u2, w1 * 4, kernel=1, activation=False))
    u1 = _conv(layers.Add()([u1, h1]), w1)
    u0 = _conv(layers.Concatenate()([u1, SpaceToDepth(2)(prefilled)]), head * 4)
    # Zero-initialised: the net starts as the pre-fill itself. A random start gives large residuals
    # whose first gradients killed every ReLU of the layer before (a dead net that never learns).
    return DepthToSpace(2)(layers.Conv2D(12, 3, padding="same", kernel_initializer="zeros")(u0))
