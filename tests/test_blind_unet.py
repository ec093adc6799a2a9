"""The blind model (issue 15): prefill-unet plus a learned detector behind a dead zone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from app.impulse_share import feed
from training.architectures import blind_unet
from training.data import make_patch_pair
from training.init_weights import load_initial_weights

MODELS = Path(__file__).resolve().parents[1] / "models"


def test_median3_is_the_3x3_median_with_reflected_borders():
    x = np.random.default_rng(0).random((2, 13, 17, 3)).astype(np.float32)
    expected = ndimage.median_filter(x, size=(1, 3, 3, 1), mode="mirror")  # numpy's "reflect"
    np.testing.assert_array_equal(np.asarray(blind_unet.median3(x)), expected)


@pytest.fixture(scope="module")
def from_default():
    """A blind model started from the shipped default (the loader proves it reproduces prefill-unet). Its
    fresh detector layers are seeded: unseeded, their draw depended on what ran before in the process."""
    import keras

    keras.utils.set_random_seed(0)
    model = blind_unet.build()
    load_initial_weights(model, MODELS / "prefill-unet.onnx", blind_unet.FRESH_LAYERS)
    return model


def _set_logit(model, value: float) -> None:
    layer = model.get_layer(f"{blind_unet.FRESH_LAYERS}_logits")
    kernel, bias = layer.get_weights()
    layer.set_weights([np.zeros_like(kernel), np.full_like(bias, value / blind_unet.LOGIT_GAIN)])


def test_below_the_dead_zone_only_exact_impulses_change(from_default, astronaut):
    x = astronaut[:64, :96].astype(np.float32) / 255.0
    noisy = x.copy()
    rng = np.random.default_rng(1)
    noisy[rng.random(x.shape) < 0.1] = 0.0
    noisy[rng.random(x.shape) < 0.05] = 0.6  # a non-extreme impulse: unseen below the dead zone
    below = blind_unet.DEAD_ZONE[0] - 0.02
    _set_logit(from_default, np.log(below / (1 - below)))  # p below the dead zone everywhere
    out = np.asarray(from_default(noisy[None]))[0]
    keep = (noisy > 0.0) & (noisy < 1.0)
    np.testing.assert_array_equal(out[keep], noisy[keep])
    assert np.abs(out[~keep] - x[~keep]).mean() < 0.05  # the exact ones are restored as prefill-unet does

    _set_logit(from_default, 6.0)  # p ~ 1 everywhere: every value is filled
    everything = np.asarray(from_default(noisy[None]))[0]
    assert (np.abs(everything - noisy)[keep] > 1e-3).mean() > 0.5
    _set_logit(from_default, blind_unet.START_LOGIT)


def test_the_blind_loss_targets_the_input_where_the_noise_did_not_move_it():
    from training.fit import packed_loss

    loss = packed_loss("blind", 0.08)
    clean = np.full((1, 8, 8, 3), 0.5, np.float32)
    noisy = clean + 0.01  # a JPEG-like small error everywhere, under the threshold ...
    noisy[0, 2, 3, 1] = 1.0  # ... and one impulse
    corrupted = (np.abs(noisy - clean) > 0.08).astype(np.float32)
    packed = np.concatenate([clean, noisy], axis=-1)
    sure = np.where(corrupted > 0, 0.999999, 1e-6).astype(np.float32)

    def value(restored):
        return float(loss(packed, np.concatenate([restored, sure], axis=-1)))

    fixed = np.where(corrupted > 0, clean, noisy)
    assert value(fixed) < 1e-4  # small errors left alone cost nothing
    assert value(clean) > value(fixed) + 0.1  # "fixing" them costs: the target there is the input
    assert value(noisy) > value(fixed) + 0.1  # the missed impulse costs


def test_the_error_floor_weighs_a_clean_patch_as_a_sparse_noisy_one_and_leaves_dense_ones():
    from training.fit import blind_terms, packed_loss

    rng = np.random.default_rng(0)
    clean = rng.random((2, 10, 10, 3)).astype(np.float32)  # 300 values a patch
    noisy = clean.copy()
    noisy[1][rng.random((10, 10, 3)) < 0.5] = 1.0  # patch 1 dense (about 150 corrupted), patch 0 clean
    restored = clean.copy()
    restored[0, :2] = 1.0  # the model changes 60 values of the clean patch (clipped highlights filled) ...
    moved_mask = np.abs(noisy[1] - clean[1]) > 0.08
    restored[1] = np.where(moved_mask, clean[1] + 0.1, noisy[1])  # ... and misses each impulse by 0.1
    packed = np.concatenate([clean, noisy], axis=-1)
    predicted = np.concatenate([restored, np.full_like(restored, 0.5)], axis=-1)
    changed_sum = float(np.abs(restored[0] - clean[0]).sum())
    moved = int(moved_mask.sum())

    error, _ = (np.asarray(t) for t in blind_terms(packed, predicted, 0.08))
    np.testing.assert_allclose(error, [changed_sum / 1.0, 0.1 * moved / (moved + 1)], rtol=1e-4)
    floored, _ = (np.asarray(t) for t in blind_terms(packed, predicted, 0.08, error_floor=0.1))
    np.testing.assert_allclose(floored, [changed_sum / 30.0, error[1]], rtol=1e-4)  # 0.1 x 300 < 150 + 1
    # the loss is the mean of the terms, the cross-entropy weighed as before
    by_loss = float(packed_loss("blind", 0.08, 0.1)(packed, predicted))
    assert by_loss == pytest.approx(floored.mean() + 0.2 * np.log(2.0), rel=1e-4)


def test_the_squared_error_prices_one_large_miss_above_many_small_errors(tmp_path):
    from training.fit import FitConfig, Run

    clean = np.full((2, 10, 10, 3), 0.5, np.float32)
    noisy = clean.copy()
    noisy[:, 0, :5, 0] = 1.0  # five impulses a patch
    restored = clean.copy()
    restored[0, 0, 0, 0] = 1.0  # patch 0: one impulse missed outright (an error of 0.5) ...
    restored[1, 0, :5, 0] = 0.4  # ... patch 1: all five restored, each 0.1 off
    y_true = np.concatenate([clean, noisy], axis=-1)
    y_pred = np.concatenate([restored, np.zeros_like(restored)], axis=-1)
    terms = {}
    for squared in ("false", "true"):
        cfg = FitConfig(arch="blind-unet", data=[], out=str(tmp_path / squared), loss="blind",
                        recipe={"label_threshold": "0.08", "squared_error": squared})
        loss = Run(cfg.resolved(), log=lambda _: None).loss()
        terms[squared] = [float(loss(y_true[k:k + 1], y_pred[k:k + 1])) for k in range(2)]
    # divided by 5 + 1 corrupted values; the cross-entropy of p ~ 0 on 5 of 300 values is the same for both
    assert terms["false"][0] - terms["false"][1] == pytest.approx(0.0, abs=1e-4)  # L1: 0.5 = 5 x 0.1
    assert terms["true"][0] - terms["true"][1] == pytest.approx((0.25 - 5 * 0.01) / 6, abs=1e-4)


def test_a_run_trains_on_its_recipes_error_floor(tmp_path):
    from training.fit import FitConfig, Run

    clean = np.full((1, 10, 10, 3), 0.5, np.float32)
    restored = clean.copy()
    restored[0, 0] = 1.0  # a clean patch, 30 of its 300 values changed by 0.5: a sum of 15
    y_true, y_pred = np.concatenate([clean, clean], axis=-1), np.concatenate([restored, restored * 0], axis=-1)
    for floor, error in (("0", 15.0), ("0.5", 0.1)):  # 15 / 1, then 15 / (0.5 x 300)
        cfg = FitConfig(arch="blind-unet", data=[], out=str(tmp_path / floor), loss="blind",
                        recipe={"error_floor": floor, "label_threshold": "0.08"})
        loss = Run(cfg.resolved(), log=lambda _: None).loss()  # what both samplers' steps train on
        assert float(loss(y_true, y_pred)) == pytest.approx(error, abs=1e-3)  # cross-entropy of p ~ 0: ~1e-6


def test_patches_saved_as_jpeg_get_their_own_label_threshold(astronaut, tmp_path):
    from app.noise import NoiseSpec, add_noise
    from training.fit import FitConfig, Run, corrupted_label

    crop = np.ascontiguousarray(astronaut[100:196, 150:246])
    rng = np.random.default_rng(0)
    kinds = [NoiseSpec("random-valued", 0.3, per_channel=True), NoiseSpec("impulse-range", 0.3, spread=30.0),
             NoiseSpec("random-valued", 0.3, per_channel=True, jpeg_quality=90),
             NoiseSpec("salt-pepper", 0.1, per_channel=True, jpeg_quality=75)]
    noisy = np.stack([add_noise(crop, spec, rng=rng) for spec in kinds]).astype(np.float32) / 255.0
    clean = np.stack([crop] * len(kinds)).astype(np.float32) / 255.0
    moved = np.abs(noisy - clean)
    assert ((moved > 0.04) != (moved > 0.08)).any(axis=(1, 2, 3)).all()  # the two labels differ on every patch

    label = np.asarray(corrupted_label(clean, noisy, 0.04, reencoded_threshold=0.08))
    np.testing.assert_array_equal(label[:2], moved[:2] > 0.04)  # noise alone: the 10-level label
    np.testing.assert_array_equal(label[2:], moved[2:] > 0.08)  # saved as JPEG after it: the 20-level one
    np.testing.assert_array_equal(np.asarray(corrupted_label(clean, noisy, 0.04)), moved > 0.04)  # off: one label

    # the run's loss takes it from the recipe: a detector that says exactly the 20-level label everywhere
    # is perfect on the JPEG patches only
    y_true = np.concatenate([clean, noisy], axis=-1)
    y_pred = np.concatenate([noisy, (moved > 0.08).astype(np.float32)], axis=-1)
    losses = {}
    for reencoded in ("0", "0.08"):
        cfg = FitConfig(arch="blind-unet", data=[], out=str(tmp_path / reencoded), loss="blind-detect",
                        recipe={"label_threshold": "0.04", "reencoded_label_threshold": reencoded})
        losses[reencoded] = float(Run(cfg.resolved(), log=lambda _: None).loss()(y_true, y_pred))
    assert losses["0.08"] < 0.5 * losses["0"]


def test_the_recipe_draws_every_kind_and_a_clean_jpeg_is_its_own_target(astronaut):
    rng = np.random.default_rng(0)
    recipe = blind_unet.RECIPE
    pairs = [make_patch_pair(astronaut, recipe, 48, rng) for _ in range(300)]
    extremes = [np.isin(n, (0, 255)).mean() for n, _ in pairs]
    own_target = [np.array_equal(n, c) for n, c in pairs]
    changed = [(n != c).mean() for n, c in pairs]
    assert sum(own_target) >= 10  # clean patches (0.1 of them) are left as they are, JPEG or not
    assert sum(e > 0.2 for e in extremes) >= 30  # dense exact salt-and-pepper
    # near-extreme or random-valued impulses: many changed values, few of them 0 or 255
    assert sum(c > 0.1 and e < 0.02 for c, e in zip(changed, extremes)) >= 20


def test_road_is_app_noise_road_with_the_exact_impulses_known(astronaut):
    from app.noise import road

    channel = astronaut[:40, :50, 1].copy()
    channel[np.random.default_rng(2).random(channel.shape) < 0.2] = 255
    known = channel == 255
    ours = np.asarray(blind_unet.road(channel[None, ..., None].astype(np.float32) / 255.0,
                                      known[None, ..., None].astype(np.float32)))[0, ..., 0]
    np.testing.assert_allclose(ours * 255.0, road(channel, known), atol=1e-3)


def _probability(model, x: np.ndarray) -> np.ndarray:
    import keras

    return np.asarray(keras.Model(model.input, blind_unet.detector_probability(model))(x[None]))[0]


def test_the_detector_hears_the_whole_window_through_its_noise_context(from_default, astronaut):
    """A value's probability depends on noise far outside its 5x5 neighbourhood once the context has
    weights, and on nothing beyond that neighbourhood while they are zero (a fresh model)."""
    layer = from_default.get_layer(f"{blind_unet.FRESH_LAYERS}_context").mix
    kernel, bias = layer.get_weights()
    x = astronaut[:64, :64].astype(np.float32) / 255.0
    far = x.copy()
    far[40:, 40:] = np.random.default_rng(3).random(far[40:, 40:].shape)  # random-valued noise, far away
    _set_logit(from_default, 0.0)
    probe = from_default.get_layer(f"{blind_unet.FRESH_LAYERS}_logits")
    probe.set_weights([np.full_like(probe.get_weights()[0], 0.01), probe.get_weights()[1]])
    try:
        near = _probability(from_default, x)[:8, :8]
        np.testing.assert_array_equal(near, _probability(from_default, far)[:8, :8])
        layer.set_weights([np.full_like(kernel, 0.5), bias])
        moved = np.abs(_probability(from_default, x)[:8, :8] - _probability(from_default, far)[:8, :8])
        # every value moves; by how much depends on the fresh layers' draw (one CI run saw 3.4e-5 at the
        # least, with 1e-4 asked), so the bound is a hundred float32 steps at p = 0.5, not a size
        assert moved.min() > 100 * np.finfo(np.float32).eps
    finally:
        layer.set_weights([kernel, bias])
        _set_logit(from_default, blind_unet.START_LOGIT)


def test_the_detection_stage_trains_on_the_detector_alone(from_default, astronaut):
    """"blind-detect" needs only the probabilities: its training model leaves out the U-Net (the cost of
    a step) and gives the same probabilities as the full one."""
    full = blind_unet.training_model(from_default, "blind")
    detect = blind_unet.training_model(from_default, "blind-detect")
    unet = {layer.name for layer in from_default.layers if layer.name.startswith("conv2d")}
    assert unet and unet <= {layer.name for layer in full.layers}
    assert not unet & {layer.name for layer in detect.layers}
    x = astronaut[None, :32, :32].astype(np.float32) / 255.0
    np.testing.assert_allclose(np.asarray(detect(x))[..., 3:], np.asarray(full(x))[..., 3:], atol=1e-6)
    np.testing.assert_array_equal(np.asarray(detect(x))[..., :3], x)


@pytest.mark.parametrize("both", [True, False])
def test_the_detector_finds_dark_impulses_as_it_finds_bright_ones(astronaut, both):
    """With any weights, the photo and its negative get the same probabilities (the detector before,
    with one polarity, does not)."""
    import keras

    keras.utils.set_random_seed(5)
    model = blind_unet.build(both_polarities=both)
    layer = model.get_layer(f"{blind_unet.FRESH_LAYERS}_logits")
    kernel, bias = layer.get_weights()
    layer.set_weights([np.random.default_rng(6).normal(0.0, 0.05, kernel.shape).astype(np.float32), bias])
    x = astronaut[None, :64, :64].astype(np.float32) / 255.0
    x[0, 10:20, 10:20, 1] = 0.9  # a bright impulse block
    gap = np.abs(_probability(model, x[0]) - _probability(model, 1.0 - x[0])).max()
    assert (gap < 1e-4) if both else (gap > 1e-3)


def test_a_blind_model_started_from_the_default_has_the_defaults_fingerprint(from_default):
    """So `export` finds the stage it started from (prefill-unet's card) and `reproduce` can remake both."""
    import json

    from training.export import weights_sha256

    card = json.loads((MODELS / "prefill-unet.json").read_text())
    assert weights_sha256(from_default, blind_unet.FRESH_LAYERS) == card["weights_sha256"]
    assert weights_sha256(from_default) != card["weights_sha256"]  # the detector's weights are its own


def _shifted(logits: np.ndarray, exact: np.ndarray | None = None, prior: float = 0.22, steps: int = 10) -> np.ndarray:
    exact = np.zeros_like(logits) if exact is None else exact
    evidence = np.concatenate([exact, np.zeros_like(logits)], axis=-1)  # [exact impulses, ROAD]
    return np.asarray(blind_unet.PriorShift(prior, steps)(logits, evidence))


def test_the_prior_shift_lowers_the_decisions_of_a_window_with_few_corrupted_values():
    # 5% impulses the detector is sure of, the rest clean values it gives p = 0.047: a clean photo's edges
    rng = np.random.default_rng(0)
    impulses = rng.random((1, 32, 32, 3)) < 0.05
    logits = np.where(impulses, 6.0, -3.0).astype(np.float32)
    decided = 1.0 / (1.0 + np.exp(-_shifted(logits)))
    assert decided[impulses].min() > 0.95  # the impulses stay far above any dead zone
    assert decided[~impulses].max() < 0.047 / 3  # the clean values' share falls toward the window's own
    # more rounds move it further (EM converges toward the window's share from the prior)
    assert (_shifted(logits, steps=10) <= _shifted(logits, steps=1) + 1e-6).all()


def test_the_prior_shift_never_raises_a_decision():
    # a window with more corrupted values than the prior: the decisions stay as trained (raising them ran
    # away on dense noise saved as JPEG)
    logits = np.random.default_rng(1).normal(0.0, 3.0, (1, 16, 16, 3)).astype(np.float32)  # mean p ~ 0.5
    np.testing.assert_allclose(_shifted(logits), logits, atol=1e-6)
    # unless told it may (`ceiling`, for scripts/blind_threshold.py --ceiling): then up to the ceiling's logit
    evidence = np.zeros((1, 16, 16, 6), np.float32)
    raised = np.asarray(blind_unet.PriorShift(0.22, 10, ceiling=0.3)(logits, evidence))
    lift = np.log(0.3 / 0.7) - np.log(0.22 / 0.78)
    np.testing.assert_allclose(raised - logits, lift, atol=1e-5)


def test_the_prior_shift_leaves_the_exact_impulses_out_of_the_window_share():
    # beside exact salt-and-pepper the other values are clean: half the window exact (sure logits) must
    # not make the rest look corrupted
    rng = np.random.default_rng(2)
    exact = (rng.random((1, 32, 32, 3)) < 0.5).astype(np.float32)
    free_logits = np.where(rng.random((1, 32, 32, 3)) < 0.05, 6.0, -3.0).astype(np.float32)
    logits = np.where(exact > 0, 8.0, free_logits).astype(np.float32)
    alone = _shifted(free_logits)
    with_exact = _shifted(logits, exact)
    # the same shift as the free values would get if they filled the window (up to the count's +1)
    np.testing.assert_allclose((with_exact - logits)[exact == 0].mean(), (alone - free_logits).mean(), atol=0.1)
    assert (with_exact - logits)[exact == 0].max() < -0.5


def test_the_built_model_decides_after_the_prior_shift(astronaut):
    # a detector that gives every value of a clean photo p = 0.1, below the training share: with the shift
    # the window's share falls and nothing is filled; without it (prior None) a low dead zone fills it all
    x = astronaut[:64, :64].astype(np.float32)[None] / 255.0
    outputs = {}
    for prior in (blind_unet.PRIOR, None):
        model = blind_unet.build(prior=prior)
        load_initial_weights(model, MODELS / "prefill-unet.onnx", blind_unet.FRESH_LAYERS)
        model.get_layer("prefill").dead_zone = (0.02, 0.08)  # after the loader's check that it is prefill-unet
        _set_logit(model, float(np.log(0.1 / 0.9)))
        outputs[prior] = np.asarray(model(x))
    keep = (x > 0.0) & (x < 1.0)  # the photo's own exact 0s go prefill-unet's way in both
    np.testing.assert_array_equal(outputs[blind_unet.PRIOR][keep], x[keep])
    assert (np.abs(outputs[None] - x)[keep] > 1e-3).mean() > 0.3


@pytest.fixture(scope="module")
def trained_looking_blind():
    """A blind-unet whose detector has weights of its own (random, so it flags something): what a run has."""
    model = blind_unet.build()
    load_initial_weights(model, MODELS / "prefill-unet.onnx", blind_unet.FRESH_LAYERS)
    rng = np.random.default_rng(3)
    for layer in model.layers:
        if layer.name.startswith(blind_unet.FRESH_LAYERS) and layer.weights:
            layer.set_weights([rng.normal(0.0, 0.3, w.shape).astype(np.float32) for w in layer.get_weights()])
    return model


def test_blind_unet_deep_grows_from_a_blind_unet_run_and_starts_as_its_model(trained_looking_blind, astronaut, tmp_path):
    import json

    from training import architectures
    from training.architectures import blind_unet_deep
    from training.init_weights import grow, run_architecture

    x = astronaut[:64, :64].astype(np.float32)[None] / 255.0
    x[0, ::7, ::5, 1] = 0.9  # impulses for the detector to find
    deep = blind_unet_deep.build()
    grow(deep, trained_looking_blind, blind_unet_deep.GROWN_LAYERS)
    np.testing.assert_allclose(np.asarray(deep(x)), np.asarray(trained_looking_blind(x)), atol=1e-5)
    added = [layer for layer in deep.layers if layer.name.startswith(blind_unet_deep.GROWN_LAYERS)]
    assert len(added) == 2 * blind_unet_deep.BLOCKS
    assert deep.count_params() > trained_looking_blind.count_params()
    # `fit --init <run>` knows a blind-unet run by its state.json, and only that architecture grows
    (tmp_path / "state.json").write_text(json.dumps({"config": {"arch": "blind-unet"}}))
    assert run_architecture(tmp_path) == run_architecture(tmp_path / "best.weights.h5") == blind_unet_deep.GROWS_FROM
    assert architectures.get("blind-unet-deep") is blind_unet_deep


def test_blind_unet_deeper_adds_one_block_dilated_twice_as_far():
    from training.architectures import blind_unet_deep, blind_unet_deeper

    deeper = blind_unet_deeper.build()
    added = [layer for layer in deeper.layers if layer.name.startswith(blind_unet_deeper.GROWN_LAYERS)]
    assert [layer.name for layer in added] == ["detector_deep1a", "detector_deep1b"]
    assert added[0].dilation_rate == (4, 4)
    assert deeper.get_layer("detector_deep0a").dilation_rate == (2, 2)  # the grown-from block unchanged
    assert not any(np.asarray(w).any() for w in added[1].get_weights())  # starts as the identity
    assert blind_unet_deeper.GROWS_FROM == "blind-unet-deep"
    assert deeper.count_params() - blind_unet_deep.build().count_params() == sum(
        int(np.prod(w.shape)) for layer in added for w in layer.weights)


def test_growing_refuses_another_architecture_and_a_block_that_does_not_start_as_the_identity(trained_looking_blind):
    from training.architectures import blind_unet_deep, prefill_unet
    from training.init_weights import grow

    with pytest.raises(ValueError, match="is not"):
        grow(blind_unet_deep.build(), prefill_unet.build(), blind_unet_deep.GROWN_LAYERS)
    deep = blind_unet_deep.build()
    grown_back = deep.get_layer(f"{blind_unet_deep.GROWN_LAYERS}0b")
    grown_back.set_weights([np.full_like(w, 0.01) for w in grown_back.get_weights()])  # not the identity
    with pytest.raises(ValueError, match="does not reproduce"):
        grow(deep, trained_looking_blind, blind_unet_deep.GROWN_LAYERS)


def test_chroma_evidence_is_luma_against_its_median_and_chroma_against_a_pyramid_of_medians():
    x = np.random.default_rng(4).random((2, 32, 48, 3)).astype(np.float32)
    got = np.asarray(blind_unet.ChromaEvidence()(x))
    ycc = x @ blind_unet._YCBCR

    def med(a):
        return ndimage.median_filter(a, size=(1, 3, 3, 1), mode="mirror")

    wide = med(med(med(ycc[..., 1:])[:, ::2, ::2])[:, ::2, ::2]).repeat(4, axis=1).repeat(4, axis=2)
    np.testing.assert_allclose(got[..., :1], ycc[..., :1] - med(ycc[..., :1]), atol=1e-6)
    np.testing.assert_allclose(got[..., 1:], ycc[..., 1:] - wide, atol=1e-6)
    # the photo's negative gives the negative features (the detector looks at both with the same weights)
    np.testing.assert_allclose(np.asarray(blind_unet.ChromaEvidence()(1.0 - x)), -got, atol=1e-6)
    grey = np.repeat(x[..., :1], 3, axis=-1)
    np.testing.assert_allclose(np.asarray(blind_unet.ChromaEvidence()(grey))[..., 1:], 0.0, atol=1e-6)


def test_chroma_evidence_separates_jpeg_smeared_impulses_better_than_the_rgb_median(astronaut):
    from app.noise import NoiseSpec, add_noise

    noisy = add_noise(astronaut, NoiseSpec(density=0.1, jpeg_quality=90), seed=5)
    x = noisy[None].astype(np.float32) / 255.0
    features = np.asarray(blind_unet.ChromaEvidence()(x))[0]
    moved = np.abs(noisy.astype(int) - astronaut).max(axis=-1) > 40  # what the noise and the JPEG did

    def separation(evidence):
        return np.median(evidence[moved]) / np.median(evidence[~moved])

    rgb = separation(np.abs(x - np.asarray(blind_unet.median3(x)))[0].max(axis=-1))  # the detector's evidence before
    # measured: luma 14.8, chroma 1.9, RGB 6.4 (the smeared chroma is weak evidence per value, but new)
    assert separation(np.abs(features[..., 0])) > 1.5 * rgb
    assert separation(np.abs(features[..., 1:]).max(axis=-1)) > 1.5


@pytest.fixture(scope="module")
def trained_looking_deep(trained_looking_blind):
    """A blind-unet-deep run's model: grown from a blind-unet run, its block then trained away from zero."""
    from training.architectures import blind_unet_deep
    from training.init_weights import grow

    deep = blind_unet_deep.build()
    grow(deep, trained_looking_blind, blind_unet_deep.GROWN_LAYERS)
    rng = np.random.default_rng(6)
    for layer in deep.layers:
        if layer.name.startswith(blind_unet_deep.GROWN_LAYERS):
            layer.set_weights([rng.normal(0.0, 0.1, w.shape).astype(np.float32) for w in layer.get_weights()])
    return deep


def test_blind_unet_chroma_grows_from_a_deep_run_and_starts_as_its_model(trained_looking_deep, astronaut, tmp_path):
    import json

    from training import architectures
    from training.architectures import blind_unet_chroma
    from training.init_weights import grow, run_architecture

    x = astronaut[:64, :64].astype(np.float32)[None] / 255.0
    x[0, ::7, ::5, 1] = 0.9
    chroma = blind_unet_chroma.build()
    grow(chroma, trained_looking_deep, blind_unet_chroma.GROWN_LAYERS)
    np.testing.assert_allclose(np.asarray(chroma(x)), np.asarray(trained_looking_deep(x)), atol=1e-5)
    added = [layer.name for layer in chroma.layers if layer.name.startswith(blind_unet_chroma.GROWN_LAYERS)]
    assert added == [f"{blind_unet_chroma.GROWN_LAYERS}_conv"]
    # the branch is live: away from zero it changes the decisions
    conv = chroma.get_layer(added[0])
    conv.set_weights([np.full_like(w, 0.5) for w in conv.get_weights()])
    assert np.abs(np.asarray(chroma(x)) - np.asarray(trained_looking_deep(x))).max() > 1e-3
    with pytest.raises(ValueError, match="does not reproduce"):
        grow(chroma, trained_looking_deep, blind_unet_chroma.GROWN_LAYERS)
    (tmp_path / "state.json").write_text(json.dumps({"config": {"arch": "blind-unet-deep"}}))
    assert run_architecture(tmp_path) == blind_unet_chroma.GROWS_FROM
    assert architectures.get("blind-unet-chroma") is blind_unet_chroma


def test_a_fresh_clone_starts_the_next_stage_from_the_shipped_blind_model(astronaut):
    """No run folder is shipped, only models/blind-unet.onnx (since stop 33 a blind-unet-chroma export; a
    blind-unet-deep one before): `fit --init` of that file must give blind-unet-chroma every weight (the
    chroma conv and the detector too), computing what the ONNX model computes; the architectures it does not
    hold refuse it; from prefill-unet's ONNX, a blind model takes the U-Net."""
    import json

    import onnxruntime as ort

    from training.architectures import blind_unet_chroma, blind_unet_deep, blind_unet_deeper
    from training.init_weights import run_architecture, start_weights

    shipped = MODELS / "blind-unet.onnx"
    assert run_architecture(shipped) == "blind-unet-chroma"
    card = json.loads((MODELS / "blind-unet.json").read_text())
    x = astronaut[:64, :64].astype(np.float32)[None] / 255.0
    x[0, ::7, ::5, 1] = 0.9
    x[0, 3::9, ::4, 0] = 0.05
    session = ort.InferenceSession(str(shipped), providers=["CPUExecutionProvider"])
    expected = session.run(None, feed([i.name for i in session.get_inputs()], x))[0]
    model = blind_unet_chroma.build()
    assert start_weights(model, "blind-unet-chroma", shipped) == card["weights_sha256"]
    np.testing.assert_allclose(np.asarray(model(x)), expected, atol=1e-4)
    for name, module in (("blind-unet-deep", blind_unet_deep), ("blind-unet-deeper", blind_unet_deeper)):
        with pytest.raises(ValueError, match="another architecture"):
            start_weights(module.build(), name, shipped)
    blind = blind_unet.build()
    start_weights(blind, "blind-unet", MODELS / "prefill-unet.onnx")  # the U-Net; the detector as built
    assert np.abs(np.asarray(blind(x)) - expected).max() > 0.05


def _prefill_training_pass(astronaut, probability: float, **settings):
    """`BlindPrefill` in training on a 32x32 crop, every probability at `probability`: its output before and
    after `settings` are set on the layer, how much of the output's gradient reaches the probabilities, and
    the layer's output at inference (a callable)."""
    import tensorflow as tf

    x = tf.constant(astronaut[:32, :32][None].astype(np.float32) / 255.0)
    median = tf.constant(ndimage.median_filter(astronaut[:32, :32], size=(3, 3, 1))[None].astype(np.float32) / 255.0)
    inputs = [x, median, tf.Variable(np.full((1, 32, 32, 3), probability, np.float32))]
    layer = blind_unet.BlindPrefill()
    before = layer(inputs, training=True)[0].numpy()
    for name, value in settings.items():
        setattr(layer, name, value)
    with tf.GradientTape() as tape:
        out = layer(inputs, training=True)[0]
        total = tf.reduce_sum(out)
    gradient = tape.gradient(total, inputs[2])
    reached = 0.0 if gradient is None else float(tf.reduce_sum(tf.abs(gradient)))
    return before, out.numpy(), reached, lambda: layer(inputs, training=False)[0].numpy()


def _fit_prefill(tmp_path, field: str, value):
    """The pre-fill of the model `fit` builds with `--recipe field=value`."""
    from training.fit import FitConfig, Run

    cfg = FitConfig(arch="blind-unet", data=[], out=str(tmp_path), recipe={field: str(value)})
    return Run(cfg.resolved(), log=lambda _: None).model.get_layer("prefill")


@pytest.mark.parametrize("margin", [0.0, 0.2])
def test_the_straight_through_margin_changes_the_gradient_not_the_decision(margin, astronaut, tmp_path):
    """Training with `straight_through_margin`: the pre-fill's output is the same bit for bit, and the
    restoration error reaches probabilities below the dead zone only with the margin; at inference
    (`training=False`) the margin does nothing."""
    hard, out, reached, inference = _prefill_training_pass(astronaut, 0.15, straight_through_margin=margin)  # below the zone
    np.testing.assert_array_equal(out, hard)
    assert (reached > 0) == (margin > 0)
    np.testing.assert_array_equal(inference(), hard)
    # fit sets the margin from the recipe (`--recipe straight_through_margin=...`) on the model's pre-fill
    assert _fit_prefill(tmp_path, "straight_through_margin", margin).straight_through_margin == margin


@pytest.mark.parametrize("reaches", [True, False])
def test_restoration_to_detector_false_stops_the_gradient_at_the_decision(reaches, astronaut, tmp_path):
    """`--recipe restoration_to_detector=false`: the pre-fill's output is the same bit for bit, but nothing
    of the restoration error flows back into the detector's probabilities (a value inside the dead zone,
    where the gradient is otherwise largest); fit sets it on the model's pre-fill."""
    middle = sum(blind_unet.DEAD_ZONE) / 2  # in the zone
    as_before, out, reached, _ = _prefill_training_pass(astronaut, middle, restoration_to_detector=reaches)
    np.testing.assert_array_equal(out, as_before)
    assert (reached > 0) == reaches
    assert _fit_prefill(tmp_path, "restoration_to_detector", reaches).restoration_to_detector is reaches
