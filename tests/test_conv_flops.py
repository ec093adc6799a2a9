"""scripts/conv_flops.py: the convolutions' arithmetic that the speed notes rest on."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import ROOT, load_script


def _script():
    return load_script("conv_flops")


def test_a_known_convolution_is_counted_exactly(tmp_path):
    """NHWC in, a 3x3 conv of 3 -> 8 channels at full size, then one at stride 2: 2 x 8 x 27 FLOP per
    pixel, plus a quarter of 2 x 4 x 72."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Transpose", ["image"], ["nchw"], perm=[0, 3, 1, 2]),
             helper.make_node("Conv", ["nchw", "w1"], ["a"], name="full", pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["a", "w2"], ["b"], name="half", pads=[1, 1, 1, 1], strides=[2, 2])]
    inits = [numpy_helper.from_array(rng.random((8, 3, 3, 3), dtype=np.float32), "w1"),
             numpy_helper.from_array(rng.random((4, 8, 3, 3), dtype=np.float32), "w2")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, None, None, 3])],
                              [helper.make_tensor_value_info("b", TensorProto.FLOAT, None)], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "m.onnx")
    costs = _script().conv_gflops(str(tmp_path / "m.onnx"), size=64)
    assert costs["full"] == pytest.approx(2 * 8 * 27 / 1e3)  # GFLOP per megapixel
    assert costs["half"] == pytest.approx(2 * 4 * 72 / 4 / 1e3)


def test_the_default_models_cost_is_the_one_the_docs_quote():
    """56 GFLOP per megapixel (README, docs/benchmarks.md)."""
    costs = _script().conv_gflops(str(ROOT / "models" / "prefill-unet.onnx"), size=64)
    assert sum(costs.values()) == pytest.approx(56.2, abs=0.2)
