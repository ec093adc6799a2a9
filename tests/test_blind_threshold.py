"""scripts/blind_threshold.py: the weights it scores, a run's or a shipped model's."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.conftest import load_script

MODELS = Path(__file__).resolve().parent.parent / "models"


def test_weights_come_from_the_run_folder_or_a_shipped_onnx_model(tmp_path):
    """`--weights models/blind-unet.onnx` loads the shipped weights (so a stage and the shipped model are scored
    on the same patches, stop 43); any other name is a file in the run folder."""
    from training import architectures

    threshold = load_script("blind_threshold")
    build = architectures.get("blind-unet-chroma").build
    shipped = build()
    threshold.load_weights(shipped, tmp_path, str(MODELS / "blind-unet.onnx"))
    fresh = build()
    assert not all(np.array_equal(a, b) for a, b in zip(shipped.get_weights(), fresh.get_weights(), strict=True))
    shipped.save_weights(tmp_path / "stage.weights.h5")
    threshold.load_weights(fresh, tmp_path, "stage.weights.h5")
    assert all(np.array_equal(a, b) for a, b in zip(shipped.get_weights(), fresh.get_weights(), strict=True))
