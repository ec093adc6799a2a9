"""training.onnx_passes: tf2onnx's dilated-conv emulation folded into one Conv, with the same outputs."""

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from tests.conftest import ROOT
from training.onnx_passes import fold_dilated_convs


def ops(model: onnx.ModelProto) -> list[str]:
    return [node.op_type for node in model.graph.node]


@pytest.fixture(scope="module")
def dilated_keras():
    """A Keras model with a "same" 3x3 conv dilated by 2 between two plain ones, as blind-unet's detector has."""
    import keras

    keras.utils.set_random_seed(0)
    image = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(8, 3, padding="same")(image)
    x = keras.layers.LeakyReLU(0.1)(x)
    x = keras.layers.Conv2D(8, 3, padding="same", dilation_rate=2)(x)
    x = keras.layers.LeakyReLU(0.1)(x)
    return keras.Model(image, keras.layers.Conv2D(3, 3, padding="same")(x))


def test_export_folds_the_dilated_conv_and_keeps_the_outputs(dilated_keras, tmp_path):
    import tf2onnx

    from training.export import to_onnx

    exported = to_onnx(dilated_keras)
    assert "SpaceToDepth" not in ops(exported) and "DepthToSpace" not in ops(exported)
    dilated = [n for n in exported.graph.node if n.op_type == "Conv"
               and any(a.name == "dilations" and list(a.ints) == [2, 2] for a in n.attribute)]
    assert len(dilated) == 1
    onnx.checker.check_model(exported)
    # tf2onnx alone writes the emulation the pass knows (so the pass is what removed it)
    import tensorflow as tf

    spec = tf.TensorSpec((None, None, None, 3), tf.float32, name="image")
    raw, _ = tf2onnx.convert.from_function(tf.function(lambda x: dilated_keras(x, training=False)),
                                           input_signature=[spec], opset=17)
    assert "DepthToSpace" in ops(raw) and fold_dilated_convs(raw) == 1 and "DepthToSpace" not in ops(raw)

    path = tmp_path / "folded.onnx"
    onnx.save(exported, str(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for shape in ((1, 32, 64, 3), (2, 40, 24, 3), (1, 37, 53, 3)):  # odd sizes too: the Conv pads itself
        x = rng.random(shape, dtype=np.float32)
        expected = dilated_keras(x, training=False).numpy()
        got = session.run(None, {session.get_inputs()[0].name: x})[0]
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("path", sorted((ROOT / "models").glob("*.onnx")), ids=lambda p: p.stem)
def test_shipped_models_hold_no_emulated_dilation(path: Path):
    """No shipped file holds the emulation (every export folds it; blind-unet was exported again for it)."""
    model = onnx.load(str(path))
    before = len(model.graph.node)
    assert fold_dilated_convs(model) == 0 and len(model.graph.node) == before
