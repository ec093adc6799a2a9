"""Start a fit from existing weights: a run folder's best checkpoint or a shipped ONNX model.

Fine-tuning a shipped model needs its weights back in Keras, and the run folder that trained it is
not shipped (only the ONNX file and its card are). tf2onnx keeps each Conv2D's kernel and bias as
initializers named after the Keras layer (`<model>/<layer>_<k>/convolution/ReadVariableOp:0` and
`.../Squeeze:0`, where `_<k>` is TensorFlow's name-scope suffix), in OIHW order. Keras numbers its
layers per process (`conv2d`, `conv2d_1`, ... or `conv2d_26`, ... when other models were built first),
so layers are matched by their rank in that numbering, which is the build order, not by name. The
loader then proves the result: the Keras model must reproduce the ONNX model's output.

An architecture that extends another (blind-unet adds a detector to prefill-unet) names its new layers
with a prefix (`fresh`): they keep their initial weights, and the proof still holds when those start
the new part switched off (the detector's logits start at -2: no learned impulses).

An architecture can also grow from a run of another (`GROWS_FROM`: blind-unet-deep adds layers to a
blind-unet run's detector): `grow` copies the run's weights layer by layer and leaves the added layers,
named with their own prefix, as built; they start as the identity, so the grown model is the run's.
It grows from that architecture's exported ONNX model the same way (the export records its
architecture), so a fresh clone, which has `models/` but no run folders, can start the next stage of
a shipped model: on a lent GPU, `fit --arch blind-unet-chroma --init models/blind-unet.onnx`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

_INITIALIZER = re.compile(r"^[^/]+/(?P<scope>.+?)/(?P<kind>convolution/ReadVariableOp|Squeeze):0$")
# A conv tf2onnx wrote as the space-to-batch chain (a dilated one) keeps its bias in the Add that follows it,
# a constant named after nothing: found by the Add's node name instead.
_BIAS_ADD = re.compile(r"^[^/]+/(?P<scope>.+?)/BiasAdd$")


def _layer_key(scope: str) -> str:
    """A Keras layer's path from a tf2onnx scope: each part less TensorFlow's name-scope suffix
    ("detector_context_3/mix_1" -> "detector_context/mix"; "conv2d_12_1" -> "conv2d_12")."""
    return "/".join(re.sub(r"_\d+$", "", part) for part in scope.split("/"))


def _convs(model, fresh: str | None) -> list[tuple[str, object]]:
    """(path, layer) of every Conv2D that holds `model`'s weights, a layer's own convs (NoiseContext's
    `mix`) as "outer/inner", leaving out the layers named `fresh`..."""
    import keras

    found = []
    for layer in model.layers:
        if not layer.weights or (fresh and layer.name.startswith(fresh)):
            continue
        if isinstance(layer, keras.layers.Conv2D):  # phase_dilated_conv2d's too
            found.append((layer.name, layer))
            continue
        # Keras 3 has no public walk of a layer's own layers; `_flatten_layers` is what `Layer.layers` uses.
        inner = [sub for sub in layer._flatten_layers(include_self=False) if isinstance(sub, keras.layers.Conv2D)]
        if not inner or sum(len(sub.weights) for sub in inner) != len(layer.weights):
            raise ValueError(f"cannot load layer {layer.name} from ONNX: only Conv2D weights are mapped")
        found += [(f"{layer.name}/{sub.name}", sub) for sub in inner]
    return found


def load_initial_weights(model, source: Path, fresh: str | None = None) -> None:
    """Load `source` into `model`: a fit run folder (its best.weights.h5), a .weights.h5 file, or an
    .onnx model exported from the same architecture, or from the one it extends, when the layers named
    `fresh`... are all it adds (verified against onnxruntime)."""
    source = Path(source)
    if source.is_dir():
        source = source / "best.weights.h5"
    if source.suffix == ".onnx":
        _load_from_onnx(model, source, fresh)
    elif source.name.endswith(".weights.h5"):
        model.load_weights(source)
    else:
        raise ValueError(f"--init takes a run folder, a .weights.h5 file or an .onnx model, not {source}")


def run_architecture(source: Path) -> str | None:
    """The architecture a fit run folder (or a weights file inside one) was trained as, from the run's
    state.json, or an ONNX model was exported from, from its metadata; None when neither says."""
    source = Path(source)
    if source.suffix == ".onnx":
        import onnx

        metadata = {p.key: p.value for p in onnx.load(str(source), load_external_data=False).metadata_props}
        return metadata.get("architecture")
    state = (source if source.is_dir() else source.parent) / "state.json"
    if not state.exists():
        return None
    return json.loads(state.read_text())["config"]["arch"]


def start_weights(model, arch: str, init: Path) -> str:
    """Load `init` into `model`, a fresh model of architecture `arch`, to fine-tune it; return the
    fingerprint of the weights it started from, as their own card or export records it.

    - a run or ONNX model of the architecture `arch` grows from (`GROWS_FROM`): its weights, the grown
      layers as built (`grow`);
    - an ONNX model of another architecture that `arch` extends (prefill-unet for blind-unet): all but
      the `FRESH_LAYERS`, which stay as built;
    - anything else (a run or ONNX model of `arch` itself, a weights file): every weight."""
    from training import architectures
    from training.export import weights_sha256

    init = Path(init)
    module = architectures.get(arch)
    source_arch = run_architecture(init)
    if source_arch is not None and source_arch == getattr(module, "GROWS_FROM", None):
        source = architectures.get(source_arch).build()
        load_initial_weights(source, init)
        grow(model, source, module.GROWN_LAYERS)
        return weights_sha256(source)
    fresh = getattr(module, "FRESH_LAYERS", None) if init.suffix == ".onnx" and source_arch != arch else None
    load_initial_weights(model, init, fresh)
    return weights_sha256(model, fresh)


def grow(model, source_model, grown: str) -> None:
    """Give `model` the weights of `source_model`, a model of the architecture it grows from: every layer
    with weights, in order, but those named `grown`..., which `model` adds and which keep their initial
    weights. They must start as the identity (a residual branch ending in zeros), so the grown model
    computes what `source_model` does: checked on a random batch, as the ONNX loader checks parity."""
    ours = [layer for layer in model.layers if layer.weights and not layer.name.startswith(grown)]
    theirs = [layer for layer in source_model.layers if layer.weights]
    shapes = [[tuple(w.shape) for w in layer.weights] for layer in ours]
    if shapes != [[tuple(w.shape) for w in layer.weights] for layer in theirs]:
        raise ValueError(f"{source_model.name} is not {model.name} without its {grown}... layers: "
                         f"{len(theirs)} layers with weights against {len(ours)}, or other shapes")
    for layer, source in zip(ours, theirs):
        layer.set_weights(source.get_weights())
    x = np.random.default_rng(0).random((1, 64, 64, 3)).astype(np.float32)
    error = float(np.abs(np.asarray(model(x)) - np.asarray(source_model(x))).max())
    if not error <= 1e-5:
        raise ValueError(f"the grown model does not reproduce {source_model.name} (max difference {error:.1e}): "
                         f"do its {grown}... layers start as the identity?")


def _load_from_onnx(model, path: Path, fresh: str | None = None) -> None:
    import onnx
    from onnx import numpy_helper

    from app.cards import read_card
    from training.export import PARITY_TOLERANCE, parity, weights_sha256

    onnx_model = onnx.load(str(path))
    constants = {init.name: init for init in onnx_model.graph.initializer}
    arrays: dict[str, dict[str, np.ndarray]] = {}
    for name, init in constants.items():
        match = _INITIALIZER.match(name)
        if match:
            kind = "kernel" if match["kind"].startswith("convolution") else "bias"
            arrays.setdefault(_layer_key(match["scope"]), {})[kind] = numpy_helper.to_array(init)
    for node in onnx_model.graph.node:
        match = _BIAS_ADD.match(node.name) if node.op_type == "Add" else None
        key = _layer_key(match["scope"]) if match else None
        if key in arrays and "bias" not in arrays[key]:
            values = [numpy_helper.to_array(constants[i]) for i in node.input if i in constants]
            if len(values) == 1:
                arrays[key]["bias"] = values[0].reshape(-1)

    layers = sorted(_convs(model, fresh), key=lambda pair: _rank(pair[0]))
    found = sorted(arrays, key=_rank)
    if [_rank(name)[0] for name in found] != [_rank(name)[0] for name, _ in layers]:
        raise ValueError(f"{path} holds the weights of {len(found)} layers ({', '.join(found[:3])}, ...), "
                         f"the model has {len(layers)}: another architecture?")
    for (ours, layer), name in zip(layers, found):
        if set(arrays[name]) != {"kernel", "bias"}:
            raise ValueError(f"{path}: layer {name} lacks a kernel or a bias")
        kernel = arrays[name]["kernel"].transpose(2, 3, 1, 0)  # OIHW -> HWIO
        values = [kernel, arrays[name]["bias"]]
        shapes = [tuple(weight.shape) for weight in layer.weights]
        if [v.shape for v in values] != shapes:
            raise ValueError(f"{name} in {path} has shapes {[v.shape for v in values]}, the model's "
                             f"{ours} {shapes}: another architecture?")
        layer.set_weights(values)
    pad_multiple = int({p.key: p.value for p in onnx_model.metadata_props}.get("pad_multiple", 1))
    error = parity(model, path, pad_multiple)  # export's own Keras-vs-onnxruntime check
    if not error <= PARITY_TOLERANCE:
        if read_card(path, missing_ok=True).get("weights_sha256") == weights_sha256(model, fresh):
            # Bit for bit the weights the export fingerprinted, in their order: the mapping is right, and
            # the difference is this machine's arithmetic (a GPU's convolution algorithms; export.parity).
            print(f"{path}: the weights are the card's (fingerprint), though the outputs differ by "
                  f"{error:.1e} from onnxruntime's on this machine")
            return
        raise ValueError(f"weights loaded from {path} do not reproduce it (max difference {error:.1e})")


def _rank(name: str) -> tuple[str, int]:
    """("conv2d", 0) for "conv2d", ("conv2d", 12) for "conv2d_12": Keras's per-process numbering."""
    match = re.fullmatch(r"(.*?)(?:_(\d+))?", name)
    return match[1], int(match[2] or 0)
