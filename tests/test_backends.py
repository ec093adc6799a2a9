"""Training under any Keras backend (issue 14): a few steps under JAX on the CPU, the weights loaded and
exported under TensorFlow (the suite's own backend), onnxruntime and both backends agreeing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.impulse_share import feed
from training.export import export

PROBE = """
import sys, numpy as np
from training import architectures
model = architectures.get("prefill-unet").build()
model.load_weights(sys.argv[1])
x = np.load(sys.argv[2])
np.save(sys.argv[3], np.asarray(model.predict_on_batch(x)))
"""


def jax_fit(photos: Path, out: Path) -> dict:
    command = [sys.executable, "-m", "training", "fit", "--arch", "prefill-unet", "--data", str(photos), "--out",
               str(out), "--epochs", "2", "--steps", "2", "--patch", "64", "--batch", "2", "--seed", "3",
               "--threads", "2", "--backend", "jax"]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "KERAS_BACKEND": "jax"})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((out / "state.json").read_text())


@pytest.fixture(scope="module")
def photos(tmp_path_factory, astronaut, camera) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    for i in range(3):
        Image.fromarray(np.roll(astronaut, 40 * i, axis=1)).save(folder / f"a{i}.png")
    Image.fromarray(camera).save(folder / "c.png")
    return folder


def test_jax_trains_deterministically_and_tensorflow_exports_it(photos, tmp_path):
    first, second = jax_fit(photos, tmp_path / "one"), jax_fit(photos, tmp_path / "two")
    assert first["config"]["backend"] == "jax" and first["epochs_done"] == 2
    assert [h["loss"] for h in first["history"]] == [h["loss"] for h in second["history"]]
    assert (tmp_path / "one" / "best.weights.h5").read_bytes() == (tmp_path / "two" / "best.weights.h5").read_bytes()

    card = export(tmp_path / "one", "jaxtiny", tmp_path / "models", command="test")  # TensorFlow, tf2onnx
    assert card["onnx_parity_max_abs_error"] <= 1e-4
    assert "--backend jax" in card["training"]["command"]

    # The same weights under both backends give the same outputs.
    x = np.random.default_rng(0).uniform(0.05, 0.95, (2, 64, 96, 3)).astype(np.float32)
    x[np.random.default_rng(1).random(x.shape) < 0.3] = 0.0
    np.save(tmp_path / "x.npy", x)
    weights = tmp_path / "one" / "best.weights.h5"
    for backend in ("jax", "tensorflow"):
        done = subprocess.run([sys.executable, "-c", PROBE, str(weights), str(tmp_path / "x.npy"),
                               str(tmp_path / f"{backend}.npy")], capture_output=True, text=True,
                              env={**os.environ, "KERAS_BACKEND": backend})
        assert done.returncode == 0, done.stderr[-3000:]
    difference = np.abs(np.load(tmp_path / "jax.npy") - np.load(tmp_path / "tensorflow.npy")).max()
    assert difference <= 1e-5, difference


def test_a_run_refuses_a_backend_keras_is_not_running(photos, tmp_path):
    from training.fit import FitConfig, fit

    config = FitConfig(arch="prefill-unet", data=[str(photos)], out=str(tmp_path), epochs=1, steps=1, patch=64,
                       batch=2, backend="jax")
    with pytest.raises(RuntimeError, match="KERAS_BACKEND=jax"):
        fit(config, log=lambda *_: None)


START_PROBE = """
import sys, numpy as np
from training import architectures
from training.init_weights import start_weights
model = architectures.get("blind-unet-chroma").build()
print(start_weights(model, "blind-unet-chroma", sys.argv[1]))
np.save(sys.argv[3], np.asarray(model.predict_on_batch(np.load(sys.argv[2]))))
"""


def test_a_gpu_trip_starts_from_the_shipped_blind_model_under_jax(tmp_path):
    """The trip (scripts/train_on_gpu.sh) runs Keras on JAX from a clone: `--init models/blind-unet.onnx`
    loads and checks the weights there (the check once called TensorFlow's `.numpy()`), and the model
    computes what the ONNX file does."""
    import onnxruntime as ort

    from tests.conftest import MODELS

    shipped = MODELS / "blind-unet.onnx"
    x = np.random.default_rng(0).uniform(0.05, 0.95, (1, 64, 96, 3)).astype(np.float32)
    x[np.random.default_rng(1).random(x.shape) < 0.2] = 0.97
    np.save(tmp_path / "x.npy", x)
    done = subprocess.run([sys.executable, "-c", START_PROBE, str(shipped), str(tmp_path / "x.npy"),
                           str(tmp_path / "out.npy")], capture_output=True, text=True,
                          env={**os.environ, "KERAS_BACKEND": "jax"})
    assert done.returncode == 0, done.stderr[-3000:]
    card = json.loads((MODELS / "blind-unet.json").read_text())
    assert done.stdout.split()[-1] == card["weights_sha256"]
    session = ort.InferenceSession(str(shipped), providers=["CPUExecutionProvider"])
    expected = session.run(None, feed([i.name for i in session.get_inputs()], x))[0]
    assert np.abs(np.load(tmp_path / "out.npy") - expected).max() <= 1e-4


PHASE_PROBE = """
import json, numpy as np, jax, keras
from training.architectures.ops import phase_dilated_conv2d
rng = np.random.default_rng(0)
out = []
for n, shape in ((2, (2, 32, 48, 5)), (4, (1, 64, 32, 3)), (2, (1, 33, 32, 3))):
    x = jax.numpy.asarray(rng.random(shape, dtype=np.float32))
    ours = phase_dilated_conv2d(7, 3, padding="same", dilation_rate=n)
    plain = keras.layers.Conv2D(7, 3, padding="same", dilation_rate=n)
    ours.build(shape), plain.build(shape)
    plain.set_weights([rng.normal(0, 0.3, (3, 3, shape[-1], 7)).astype(np.float32), rng.normal(0, 0.1, 7).astype(np.float32)])
    ours.set_weights(plain.get_weights())
    kernel = jax.numpy.asarray(plain.get_weights()[0])
    grad = lambda layer: jax.grad(lambda k: jax.numpy.abs(layer.convolution_op(x, k)).sum())
    g_ours, g_plain = np.asarray(grad(ours)(kernel)), np.asarray(grad(plain)(kernel))
    out.append({"forward": float(np.abs(np.asarray(ours(x)) - np.asarray(plain(x))).max()),
                "gradient": float(np.abs(g_ours - g_plain).max() / np.abs(g_plain).max()),
                "dilated_in_gradient": "rhs_dilation=(1, 1)" not in str(jax.make_jaxpr(grad(ours))(kernel))
                                       or f"rhs_dilation=({n}, {n})" in str(jax.make_jaxpr(grad(ours))(kernel))})
print(json.dumps(out))
"""


def test_the_dilated_detector_conv_runs_as_plain_convolutions_under_jax():
    """`phase_dilated_conv2d` (the blind model's dilated block): under JAX the same outputs and filter gradient
    as the dilated Conv2D, from convolutions with no dilation (XLA pads dilated ones out on the GPU; the
    first GPU trip's blind step was 23 times slower per pixel than jpeg-unet's: docs/gpu.md); a side that is
    not a multiple of the dilation keeps the dilated conv."""
    done = subprocess.run([sys.executable, "-c", PHASE_PROBE], capture_output=True, text=True,
                          env={**os.environ, "KERAS_BACKEND": "jax"})
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.splitlines()[-1])
    assert all(r["forward"] <= 1e-6 and r["gradient"] <= 1e-5 for r in results), results
    assert [r["dilated_in_gradient"] for r in results] == [False, False, True]


def test_the_dilated_detector_conv_is_a_plain_dilated_conv_for_export():
    """Under TensorFlow (export, CPU training) the layer is the dilated Conv2D itself: the ONNX graph, and
    the folding of its space-to-batch chain, stay as they were."""
    import keras

    from training.architectures.ops import phase_dilated_conv2d

    x = np.random.default_rng(1).random((1, 32, 32, 4), dtype=np.float32)
    ours, plain = phase_dilated_conv2d(6, 3, padding="same", dilation_rate=2), keras.layers.Conv2D(6, 3, padding="same", dilation_rate=2)
    ours.build(x.shape), plain.build(x.shape)
    ours.set_weights(plain.get_weights())
    assert keras.backend.backend() == "tensorflow" and isinstance(ours, keras.layers.Conv2D)
    np.testing.assert_array_equal(np.asarray(ours(x)), np.asarray(plain(x)))


def test_weights_saved_before_the_phase_conv_still_load(tmp_path, monkeypatch):
    """Keras files each layer's weights under its class name, numbered in order ("conv2d_7"): the phase conv
    must stay a Conv2D, or every Conv2D after it moves and a run saved with the dilated Conv2D (stop 33's
    runs/s33-gpu-blind: the shipped blind-unet, and where the next GPU trip resumes) no longer loads."""
    import h5py
    import keras

    from training import architectures
    from training.architectures import blind_unet

    module = architectures.get("blind-unet-chroma")
    monkeypatch.setattr(blind_unet, "phase_dilated_conv2d", keras.layers.Conv2D)
    before = module.build()
    rng = np.random.default_rng(2)
    before.set_weights([rng.normal(0, 0.1, w.shape).astype(np.float32) for w in before.get_weights()])
    before.save_weights(tmp_path / "before.weights.h5")
    monkeypatch.undo()
    now = module.build()
    now.save_weights(tmp_path / "now.weights.h5")

    def paths(file: Path) -> set[str]:
        found: set[str] = set()
        with h5py.File(file) as h5:
            h5.visit(found.add)
        return found

    assert paths(tmp_path / "now.weights.h5") == paths(tmp_path / "before.weights.h5")
    now.load_weights(tmp_path / "before.weights.h5")
    for a, b in zip(now.get_weights(), before.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
