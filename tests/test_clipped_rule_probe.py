"""scripts/clipped_rule_probe.py: the rules for clipped regions that do not ship, for measuring against the one
that does (`_isolated`, stop 37)."""

from __future__ import annotations

import numpy as np

from tests.conftest import load_script


def test_the_solid_rule_flags_a_broken_clipped_region_that_the_shipped_rule_keeps():
    from training.architectures.prefill_unet import _isolated

    probe = load_script("clipped_rule_probe")
    rng = np.random.default_rng(0)
    clipped = np.zeros((1, 128, 128, 1), np.float32)
    clipped[:, 40:80, 40:80] = 1.0
    solid = clipped.copy()
    clipped *= rng.random(clipped.shape) >= 0.2
    assert np.asarray(probe.solid_rule(clipped)).sum() > 0.9 * clipped.sum()
    assert np.asarray(_isolated(clipped)).sum() < 0.2 * clipped.sum()
    assert np.asarray(probe.solid_rule(solid)).sum() == 0  # an unbroken region is content under every rule


def test_the_share_rule_keeps_what_fills_its_share_of_the_window():
    probe = load_script("clipped_rule_probe")
    x = np.zeros((1, 32, 32, 1), np.float32)
    x[:, 10:14, 10:15] = 1.0  # 20 of a window's 25 at its centre: kept at 0.8, not at 0.9
    x[:, 25, 25] = 1.0  # a lone salt value: flagged by both
    kept_08 = np.asarray(probe.share_rule(0.8)(x))
    kept_09 = np.asarray(probe.share_rule(0.9)(x))
    assert kept_08[0, 12, 12, 0] == 0 and kept_09[0, 12, 12, 0] == 1
    assert kept_08[0, 25, 25, 0] == kept_09[0, 25, 25, 0] == 1
