"""scripts/clipped_rule_probe.py: the adaptive rule for clipped regions, measured in stop 36, not shipped."""

from __future__ import annotations

import numpy as np

from tests.conftest import load_script


def test_the_steps_are_the_binomial_tails_they_claim():
    probe = load_script("clipped_rule_probe")
    assert tuple(probe.steps()) == probe.STEPS


def test_a_broken_clipped_region_is_kept_and_dense_salt_is_not():
    """A white region (a tenth of the photo) with a fifth of its values hit by other values: the solid rule
    flags nearly all of its whites, the adaptive one few (its edges). Salt-and-pepper 0.9: both flag the same
    values. (Where such a region is most of the photo, its flagged whites raise p and so k: the rule keeps less.)"""
    from training.architectures.prefill_unet import _isolated

    probe = load_script("clipped_rule_probe")
    rng = np.random.default_rng(0)
    clipped = np.zeros((1, 128, 128, 1), np.float32)
    clipped[:, 40:80, 40:80] = 1.0
    clipped *= rng.random(clipped.shape) >= 0.2  # the noise breaks the region up
    whites = clipped.sum()
    assert np.asarray(_isolated(clipped)).sum() > 0.9 * whites
    assert np.asarray(probe.adaptive_rule(clipped)).sum() < 0.2 * whites
    salt = (rng.random((1, 64, 64, 1)) < 0.45).astype(np.float32)
    assert np.array_equal(np.asarray(probe.adaptive_rule(salt)), np.asarray(_isolated(salt)))
