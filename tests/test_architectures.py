"""The source project's autoencoder, reproduced exactly, and the default model's in-graph pre-fill."""

import keras
import numpy as np
import pytest

from training.architectures import get, prefill_unet, seed_autoencoder


def test_seed_autoencoder_has_the_source_layers_and_parameter_count():
    model = seed_autoencoder.build()
    assert model.count_params() == 53_363
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 53_011
    kinds = [(type(layer).__name__, getattr(layer, "filters", None)) for layer in model.layers]
    expected = [("Conv2D", 64), ("LeakyReLU", None)]
    for filters in (32, 16, 8, 8, 16):
        expected += [("Conv2D", filters), ("BatchNormalization", None), ("LeakyReLU", None)]
    for filters in (32, 64):
        expected += [("Conv2DTranspose", filters), ("BatchNormalization", None), ("LeakyReLU", None)]
    expected += [("Conv2DTranspose", 3)]
    assert kinds == expected
    for layer in model.layers:
        if hasattr(layer, "kernel_size"):
            assert layer.kernel_size == (3, 3) and layer.strides == (1, 1) and layer.padding == "same"
        if isinstance(layer, keras.layers.LeakyReLU):
            assert layer.negative_slope == pytest.approx(0.01)
    assert model.layers[-1].activation.__name__ == "sigmoid"


def test_unknown_architecture_lists_the_known_ones():
    with pytest.raises(ValueError, match="seed-autoencoder"):
        get("nope")


def test_prefill_fills_every_impulse_and_keeps_clean_values():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.05, 0.95, (1, 64, 64, 3)).astype(np.float32)
    hit = rng.random(x.shape) < 0.9
    noisy = np.where(hit, rng.integers(0, 2, x.shape).astype(np.float32), x)
    prefilled, context = prefill_unet.ImpulsePrefill()(noisy)
    filled, sign, guided, delta = (prefilled.numpy()[..., k : k + 3] for k in (0, 3, 6, 9))
    assert np.array_equal(np.abs(sign) == 1, hit)
    assert np.array_equal(filled[~hit], noisy[~hit])
    assert np.all((filled[hit] > 0.0) & (filled[hit] < 1.0))  # no impulse left, even at 90%
    assert np.all(guided <= np.abs(sign)) and np.all(delta[guided == 0] == 0)
    cross = filled + delta  # the cross-channel estimate, where a clean channel exists
    assert np.all((cross[guided == 1] >= 0.0) & (cross[guided == 1] <= 1.0))
    assert context.shape == (1, 32, 32, 12)


def test_solid_clipped_regions_are_content_not_noise():
    x = np.full((1, 64, 64, 3), 0.5, np.float32)
    x[:, 10:40, 10:40, :] = 1.0  # a blown highlight
    x[:, 20, 20, 0] = 0.0  # one pepper inside it
    prefilled, _ = prefill_unet.ImpulsePrefill()(x)
    sign = prefilled.numpy()[..., 3:6]
    assert np.all(sign[:, 12:38, 12:38][sign[:, 12:38, 12:38] != -1] == 0)  # highlight kept
    assert sign[0, 20, 20, 0] == -1  # the pepper is still noise
    assert prefilled.numpy()[0, 20, 20, 0] == pytest.approx(1.0)  # filled from the highlight


def test_keep_steps_are_the_binomial_tails_they_claim():
    assert tuple(prefill_unet.keep_steps()) == prefill_unet.KEEP_STEPS


def test_a_clipped_region_broken_up_by_noise_is_content_and_dense_salt_is_not():
    """A white region (a tenth of the photo) with a fifth of its values hit by other values: no solid 5x5
    block is left, yet `_isolated` keeps nearly all of it. Salt at density 0.45: every value is flagged."""
    rng = np.random.default_rng(0)
    clipped = np.zeros((1, 128, 128, 1), np.float32)
    clipped[:, 40:80, 40:80] = 1.0
    clipped *= rng.random(clipped.shape) >= 0.2  # the noise breaks the region up
    assert np.asarray(prefill_unet._isolated(clipped)).sum() < 0.2 * clipped.sum()
    salt = (rng.random((1, 64, 64, 1)) < 0.45).astype(np.float32)
    assert np.array_equal(np.asarray(prefill_unet._isolated(salt)), salt)


def test_a_thin_highlight_is_content_and_sparse_salt_around_it_is_not():
    """A line 3 pixels wide at 255 (never a solid 5x5 block) on a photo with 1% salt: the line is kept, each
    salt value farther than 2 pixels from it is flagged. (p is about 3.3%, so k = 10 of the 25.)"""
    rng = np.random.default_rng(1)
    salt = (rng.random((1, 128, 128, 1)) < 0.01).astype(np.float32)
    line = np.zeros_like(salt)
    line[:, :, 60:63] = 1.0
    flagged = np.asarray(prefill_unet._isolated(np.maximum(salt, line)))
    assert flagged[:, :, 60:63].sum() == 0
    far = np.ones_like(salt, bool)
    far[:, :, 58:65] = False
    assert np.array_equal(flagged[far], salt[far]) and salt[far].sum() > 100


def test_k_is_the_least_count_the_photos_own_noise_does_not_reach():
    """Seven flagged values in 16384 (p under 0.0005): k = 4. A 2x2 block of white (4 in each of its
    windows) is content; a cluster of 3 is noise."""
    x = np.zeros((1, 128, 128, 1), np.float32)
    x[:, 20:22, 20:22] = 1.0
    x[:, 90, 90:92] = x[:, 91, 90] = 1.0
    flagged = np.asarray(prefill_unet._isolated(x))
    assert flagged[:, 20:22, 20:22].sum() == 0 and flagged[:, 90:92, 90:92].sum() == 3


def _clipped_both_ways() -> np.ndarray:
    """A ramp made x1.6 brighter, clipped at both ends (white and black regions), with 2% salt and 2% pepper."""
    rng = np.random.default_rng(4)
    ramp = np.add.outer(np.linspace(-0.4, 1.0, 96), np.linspace(0.0, 0.4, 128))
    x = np.clip(1.6 * ramp, 0.0, 1.0)[None, :, :, None].repeat(3, axis=3).astype(np.float32)
    x[rng.random(x.shape) < 0.02] = 1.0
    x[rng.random(x.shape) < 0.02] = 0.0
    return x


def _shares(salt: float, pepper: float) -> np.ndarray:
    """An `impulse_share` input: p for salt in channels 0-2, for pepper in 3-5."""
    return np.array([salt] * 3 + [pepper] * 3, np.float32).reshape(1, 1, 1, 6)


def test_a_given_share_sets_k_and_a_negative_one_leaves_p_to_the_graph():
    """`exact_impulses` with the `impulse_share` input: -1 is the graph's own p; p = 0 (k = 4) keeps more of the
    broken-up clipped regions than 0.45 (the solid rule alone); salt's p (channels 0-2) moves only the salt."""
    x = _clipped_both_ways()
    own = [np.asarray(v) for v in prefill_unet.exact_impulses(x)]
    unset = [np.asarray(v) for v in prefill_unet.exact_impulses(x, _shares(-1.0, -1.0))]
    assert all(np.array_equal(a, b) for a, b in zip(own, unset))
    low = [np.asarray(v) for v in prefill_unet.exact_impulses(x, _shares(0.0, 0.0))]
    high = [np.asarray(v) for v in prefill_unet.exact_impulses(x, _shares(0.45, 0.45))]
    assert low[0].sum() < high[0].sum() and low[1].sum() < high[1].sum()
    salt_only = [np.asarray(v) for v in prefill_unet.exact_impulses(x, _shares(0.45, 0.0))]
    assert np.array_equal(salt_only[0], high[0]) and np.array_equal(salt_only[1], low[1])


def test_the_exported_builds_take_the_share_and_training_builds_do_not():
    """Same weights either way (training takes p from each patch; the files take the service's)."""
    from training import architectures

    for name in ("prefill-unet", "blind-unet"):
        module = architectures.get(name)
        trained, exported = module.build(), architectures.build_for_export(module)
        assert len(trained.inputs) == 1 and [t.name for t in exported.inputs] == ["image", "impulse_share"]
        assert [w.shape for w in trained.weights] == [w.shape for w in exported.weights]
        x = _clipped_both_ways()
        exported.set_weights(trained.get_weights())
        np.testing.assert_allclose(np.asarray(exported([x, _shares(-1.0, -1.0)])), np.asarray(trained(x)),
                                   atol=1e-6)


def test_cross_channel_fill_uses_the_clean_channels_of_the_same_pixel():
    """Red = green + 0.1 and blue = green - 0.1 everywhere: red impulses are filled exactly, edges or not."""
    rng = np.random.default_rng(2)
    green = np.kron(rng.uniform(0.2, 0.7, (8, 8)), np.ones((8, 8)))  # sharp-edged blocks
    x = np.stack([green + 0.1, green, green - 0.1], axis=-1)[None].astype(np.float32)
    hit = rng.random(x.shape[:3]) < 0.3
    x[..., 0][hit] = 1.0  # salt in red only
    prefilled, _ = prefill_unet.ImpulsePrefill()(x)
    filled, guided, delta = (prefilled.numpy()[..., k : k + 3] for k in (0, 6, 9))
    assert np.all(guided[..., 0][hit] == 1) and np.all(guided[..., 1:] == 0)
    cross = (filled + delta)[..., 0][hit]
    assert np.abs(cross - (green[None][hit] + 0.1)).max() < 1e-5


def test_cross_channel_fill_is_exact_for_every_channel_and_guide():
    """Noise in all three channels: each ordered (channel, guide) pair, three of them through a
    negated offset, must give the true value wherever the pixel keeps a clean channel."""
    rng = np.random.default_rng(3)
    green = np.kron(rng.uniform(0.25, 0.65, (8, 8)), np.ones((8, 8)))
    truth = np.stack([green + 0.2, green, green - 0.15], axis=-1)[None].astype(np.float32)
    hit = rng.random(truth.shape) < 0.4
    x = np.where(hit, rng.integers(0, 2, truth.shape).astype(np.float32), truth)
    prefilled, _ = prefill_unet.ImpulsePrefill()(x)
    filled, guided, delta = (prefilled.numpy()[..., k : k + 3] for k in (0, 6, 9))
    has_clean = (~hit).any(axis=-1, keepdims=True)
    assert np.array_equal(guided == 1, hit & has_clean)
    for channel in range(3):
        where = guided[..., channel] == 1
        assert where.sum() > 300
        estimate = (filled + delta)[..., channel][where]
        assert np.abs(estimate - truth[..., channel][where]).max() < 1e-5


def test_default_model_output_is_switching():
    """Values that are not 0/1 come back bit for bit, even from a net whose residual is far from zero
    (a fresh net's last conv starts at zero, which would hide a broken switch)."""
    import keras

    model = prefill_unet.build()
    rng = np.random.default_rng(1)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            layer.set_weights([rng.normal(0, 0.2, w.shape).astype(np.float32) for w in layer.get_weights()])
    x = rng.uniform(0.05, 0.95, (2, 32, 64, 3)).astype(np.float32)
    x[rng.random(x.shape) < 0.3] = 0.0
    y = np.asarray(model(x))
    clean = (x > 0) & (x < 1)
    assert np.array_equal(y[clean], x[clean])
    filled = np.asarray(model.get_layer("prefill")(x)[0])[..., :3]
    assert np.abs(y[~clean] - filled[~clean]).mean() > 0.01  # the residual is live where values are impulses


def test_jpeg_unet_starts_as_the_identity_and_sees_the_medians():
    """`jpeg-unet`'s residual starts at zero (a clean JPEG is returned as it came before any training), and
    its weight-free evidence holds the input, its 3x3 median, that median's median and their difference."""
    from training.architectures import blind_unet, jpeg_unet

    x = np.random.default_rng(0).random((2, 64, 96, 3)).astype(np.float32)
    model = jpeg_unet.build()
    assert np.array_equal(np.asarray(model(x)), x)
    full, context = (np.asarray(t) for t in jpeg_unet.SavedEvidence()(x))
    m = np.asarray(blind_unet.median3(x))
    assert full.shape == (2, 64, 96, 12) and context.shape == (2, 32, 48, 12)
    np.testing.assert_array_equal(full[..., :3], x)
    np.testing.assert_array_equal(full[..., 3:6], m)
    np.testing.assert_allclose(full[..., 6:9], np.asarray(blind_unet.median3(m)))
    np.testing.assert_allclose(full[..., 9:], x - m, atol=1e-7)
    # The finer context scale: the mean of |x - m| over 4x4 cells, then its 3x3 mean, repeated back over 2x2.
    cells = np.abs(x - m).reshape(2, 16, 4, 24, 4, 3).mean(axis=(2, 4))
    padded = np.pad(cells, ((0, 0), (1, 1), (1, 1), (0, 0)))
    counts = np.pad(np.ones_like(cells), ((0, 0), (1, 1), (1, 1), (0, 0)))
    window = lambda a: sum(a[:, dy : dy + 16, dx : dx + 24] for dy in range(3) for dx in range(3))
    np.testing.assert_allclose(context[:, ::2, ::2, :3], window(padded) / window(counts), atol=1e-6)
