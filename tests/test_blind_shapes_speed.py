"""scripts/blind_shapes_speed.py: the shapes it times are the shapes it names, and they run as the service runs them."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from tests.conftest import load_script

pytest.importorskip("tensorflow")


def _script():
    return load_script("blind_shapes_speed")


def test_each_shape_keeps_the_one_before_and_removes_one_thing():
    shapes = _script().SHAPES
    assert shapes[0][1] == _script().SHIPPED
    for (_, before), (_, after) in pairwise(shapes):
        changed = {k for k in after if after.get(k) != before.get(k)}
        assert len(changed) == 1, changed
    last = shapes[-1][1]
    assert (last["detector_features"], last["detector_blocks"], last["both_polarities"], last["chroma"]) == (8, 0, False, False)


def _detector_convs(path) -> dict[str, tuple[int, ...]]:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    weights = {w.name: numpy_helper.to_array(w).shape for w in model.graph.initializer}
    return {node.name: weights[node.input[1]] for node in model.graph.node
            if node.op_type == "Conv" and "detector_conv" in node.name}


@pytest.mark.parametrize("looks", [1, 2])
def test_an_exported_shape_has_the_asked_detector_and_runs_in_the_service(tmp_path, looks):
    from app.imaging import DecodedImage
    from app.inference import Denoiser
    from training.architectures import blind_unet

    options = {"detector_features": 4, "detector_blocks": 0, "chroma": False, "both_polarities": looks == 2,
               "widths": (8, 16, 32)}
    path = tmp_path / "shape.onnx"
    parameters = _script().export_shape(options, path)
    assert parameters > 0
    convs = _detector_convs(path)
    # conv1 and conv2, each run once per look (the exporter keeps one node per call)
    assert len(convs) == 2 * looks and all(shape[0] == 4 for shape in convs.values()), convs
    denoiser = Denoiser(path, threads=1)
    assert denoiser.pad_multiple == blind_unet.RECIPE.pad_multiple > 1  # the metadata the service pads by
    pixels = np.random.default_rng(0).integers(0, 256, (30, 22, 3), dtype=np.uint8)
    out = denoiser.denoise(DecodedImage(pixels)).image.pixels
    assert out.shape == pixels.shape and out.dtype == np.uint8
