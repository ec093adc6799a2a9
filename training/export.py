"""Keras checkpoint -> ONNX (tf2onnx, opset 17) + model card, with an onnxruntime parity check.

The ONNX file takes the raw image, floats in [0, 1], shape (batch, height, width, 3), all dynamic;
input "image", output "restored". Its metadata holds `pad_multiple`, which the service reads. A model whose
rule for clipped regions needs the photo's share of isolated extremes also takes "impulse_share"
(`app.impulse_share`; -1: the graph's own), and is built for export with it (`build_for_export`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.cards import file_sha256, read_card, write_card
from app.impulse_share import SHARE_INPUT, feed, own_shares, takes_share
from training import architectures
from training.commands import flag_value, with_flag
from training.onnx_passes import fold_dilated_convs

DATASETS = {
    "CBSD432": ("432 colour photos (BSDS500 minus the 68 CBSD68 test images), 481x321, JPEG",
                "Berkeley Segmentation Dataset: non-commercial research and educational use only"),
    "Train400": ("400 grey 180x180 crops of BSDS500 train/test photos (DnCNN's Train400)",
                 "Berkeley Segmentation Dataset: non-commercial research and educational use only"),
}
PARITY_TOLERANCE = 1e-4


def describe_data(folders: list[str]) -> list[dict]:
    out = []
    for folder in folders:
        name = Path(folder).name
        summary, licence = DATASETS.get(name, ("user-supplied photo folder", "see the folder's own terms"))
        out.append({"name": name, "path": folder, "description": summary, "licence": licence})
    return out


def weights_sha256(model, leave_out: str | None = None) -> str:
    """Fingerprint of the weights. The ONNX file's own sha256 changes on every conversion, so it cannot
    tell a re-export of the same weights (scores still valid) from a new model (scores stale).

    `leave_out`: a name prefix of layers left out, so a model that extends another (blind-unet's
    "detector" layers on prefill-unet's) started from it has the fingerprint its card records."""
    weights = (model.weights if leave_out is None else
               [w for layer in model.layers if not layer.name.startswith(leave_out) for w in layer.weights])
    digest = hashlib.sha256()
    for weight in weights:
        digest.update(np.ascontiguousarray(weight.numpy()).tobytes())
    return digest.hexdigest()


def _keras_takes_share(model) -> bool:
    """Whether a Keras model has the `impulse_share` input (`prefill_unet.share_input`)."""
    return takes_share([tensor.name for tensor in model.inputs])


def to_onnx(model, opset: int = 17):
    """tf2onnx conversion with named, fully dynamic input and output (and the `impulse_share` input,
    (batch or 1, 1, 1, 6), of a model that has it)."""
    import tensorflow as tf
    import tf2onnx

    spec = tf.TensorSpec((None, None, None, 3), tf.float32, name="image")
    # from_function over an inference-mode call: from_keras trips on Keras 3 Sequential models.
    if _keras_takes_share(model):
        specs = [spec, tf.TensorSpec((None, 1, 1, 6), tf.float32, name=SHARE_INPUT)]
        forward = tf.function(lambda image, share: model([image, share], training=False))
    else:
        specs = [spec]
        forward = tf.function(lambda image: model(image, training=False))
    onnx_model, _ = tf2onnx.convert.from_function(forward, input_signature=specs, opset=opset)
    fold_dilated_convs(onnx_model)  # TF's space-to-batch emulation of a dilated conv -> one Conv (training.onnx_passes)
    graph = onnx_model.graph
    old = graph.output[0].name
    for node in graph.node:
        node.output[:] = ["restored" if o == old else o for o in node.output]
        node.input[:] = ["restored" if i == old else i for i in node.input]
    graph.output[0].name = "restored"
    for value in (graph.input[0], graph.output[0]):
        for dim, label in zip(value.type.tensor_type.shape.dim, ("batch", "height", "width")):
            dim.dim_param = label
    for value in graph.input[1:]:  # impulse_share: one row per image, or one for the whole batch
        value.type.tensor_type.shape.dim[0].dim_param = "share_rows"
    return onnx_model


def _full_precision():
    """float32 as written, for a check against onnxruntime. On an NVIDIA GPU, JAX's default lets XLA run
    float32 convolutions in TF32 (10 mantissa bits): the first GPU trip (stop 33) found the shipped models
    2.0e-3 (jpeg-unet) and 0.54 (blind-unet, whose switching output can move a whole value on a small
    difference) from their ONNX files, and `fit --init` refused them. Training keeps the default: it is the
    fast path."""
    import keras

    if keras.backend.backend() != "jax":
        return contextlib.nullcontext()
    import jax

    return jax.default_matmul_precision("highest")


def parity_probes(pad_multiple: int, seed: int = 0) -> list[np.ndarray]:
    """Odd sizes (reflect-padded as the service pads) and a batch of 3, with dense 0 and 1 impulses; and a
    smooth photo-like ramp made x1.6 brighter and clipped, with sparse impulses of every value. The dense ones
    alone could not tell stop 37's rule for clipped regions from the one before (it changes nothing there)."""
    rng = np.random.default_rng(seed)
    probes = []
    for shape in ((1, 97, 131, 3), (3, 64, 80, 3)):
        x = rng.random(shape, dtype=np.float32)
        x[rng.random(shape) < 0.3] = 0.0
        x[rng.random(shape) < 0.15] = 1.0
        probes.append(x)
    h, w = 75, 110
    ramp = np.add.outer(np.linspace(-0.3, 0.9, h), np.linspace(0.0, 0.6, w))[None, :, :, None]
    x = np.clip(1.6 * (ramp + np.array([0.0, 0.05, -0.05])), 0.0, 1.0).astype(np.float32)
    hit = rng.random(x.shape) < 0.05
    x[hit] = rng.random(int(hit.sum())).astype(np.float32)
    x[rng.random(x.shape) < 0.01] = 1.0
    x[rng.random(x.shape) < 0.01] = 0.0
    probes.append(x)
    return [np.pad(x, ((0, 0), (0, -x.shape[1] % pad_multiple), (0, -x.shape[2] % pad_multiple), (0, 0)),
                   mode="reflect") for x in probes]


def _probe_shares(probes: list[np.ndarray]) -> list[np.ndarray]:
    """An `impulse_share` input for each probe, none of them its own p: at p = 0 (k = 4, the most kept) on
    the first; 0.2 for salt and 0.45 for pepper (nothing beyond the solid rule kept) on the second; 0.1 on the
    clipped ramp, where it moves blind-unet's outputs by up to 0.34 from those with the ramp's own p (a wrong
    wire would show). Why 0.1 there: blind-unet's soft decisions magnify float differences 12.5 times, and
    on the ramp other values (0.01-0.05, or 0.45 and 0) put it 1.1e-4 to 2.5e-4 from Keras, past
    PARITY_TOLERANCE, where its own p puts it at 7.1e-5 (stop 38)."""
    values = [(0.0, 0.0), (0.2, 0.45), (0.1, 0.1)]
    return [np.repeat(np.array(values[i % 3], np.float32), 3).reshape(1, 1, 1, 6) for i in range(len(probes))]


def _session(onnx_model: bytes | str):
    import onnxruntime as ort

    return ort.InferenceSession(onnx_model, providers=["CPUExecutionProvider"])


def onnx_outputs(onnx_model, probes: list[np.ndarray], shares: list[np.ndarray] | None = None) -> list[np.ndarray]:
    """onnxruntime's outputs on `probes` (`onnx_model`: a file, its bytes or a session); a model with the
    `impulse_share` input is given `shares` (default: its own p, as a file without that input computes it)."""
    session = onnx_model if hasattr(onnx_model, "run") else _session(onnx_model)
    names = [i.name for i in session.get_inputs()]
    return [session.run(["restored"], feed(names, x, None if shares is None else shares[i]))[0]
            for i, x in enumerate(probes)]


def _keras_gap(model, probes: list[np.ndarray], outputs: list[np.ndarray],
               shares: list[np.ndarray] | None = None) -> float:
    """Max |Keras - `outputs`| (onnxruntime's on the same probes, and `shares` where the model takes them)."""
    worst = 0.0
    for i, (x, got) in enumerate(zip(probes, outputs)):
        inputs = [x, own_shares() if shares is None else shares[i]] if _keras_takes_share(model) else x
        with _full_precision():
            expected = np.asarray(model(inputs, training=False))  # a tf.Tensor or a jax.Array
        worst = max(worst, float(np.abs(expected - got).max()))
    return worst


def _gap(model, onnx_model: bytes | str, probes: list[np.ndarray]) -> tuple[float, list[np.ndarray]]:
    """(max |Keras - onnxruntime|, onnxruntime's outputs with the model's own p) on `probes`; when both the
    Keras model and the file take the `impulse_share` input, also with `_probe_shares` given to both."""
    session = _session(onnx_model)
    outputs = onnx_outputs(session, probes)
    error = _keras_gap(model, probes, outputs)
    if _keras_takes_share(model) and takes_share([i.name for i in session.get_inputs()]):
        shares = _probe_shares(probes)
        error = max(error, _keras_gap(model, probes, onnx_outputs(session, probes, shares), shares))
    return error, outputs


def parity(model, onnx_path: Path, pad_multiple: int, seed: int = 0) -> float:
    """Max |Keras - onnxruntime| on `parity_probes` (`_gap`)."""
    return _gap(model, str(onnx_path), parity_probes(pad_multiple, seed))[0]


# An export that replaces a file whose outputs stay within this keeps the card's scores and speed (they
# still describe it); stop 34's median3 rewrite changed no output at all.
SAME_OUTPUTS = 1e-5


@dataclass
class Written:
    """An ONNX file just written from a Keras model, with what its card and the caller need to know."""

    path: Path
    parity: float  # max |Keras - onnxruntime| on `parity_probes`
    probes: list[np.ndarray]
    outputs: list[np.ndarray]  # onnxruntime's, on the probes
    replaced: bytes | None  # the file it overwrote

    def same_outputs_as_replaced(self) -> bool:
        """True when the overwritten file gives these outputs, within SAME_OUTPUTS (its scores still hold)."""
        return outputs_kept(self.replaced, self.probes, self.outputs)


def outputs_kept(replaced: bytes | None, probes: list[np.ndarray], outputs: list[np.ndarray]) -> bool:
    """True when `replaced` (the bytes of the file a new one overwrote; None: there was none) gives `outputs`
    (the new file's, each model given its own p) on `probes` within SAME_OUTPUTS; prints which."""
    if replaced is None:
        return False
    try:
        moved = max(float(np.abs(a - b).max()) for a, b in zip(onnx_outputs(replaced, probes), outputs))
    except Exception:  # noqa: BLE001 - the replaced file cannot take these sizes: another model
        moved = float("inf")
    same = moved <= SAME_OUTPUTS
    print(f"outputs {moved:.1e} from the file it replaces: scores and speed " + ("kept" if same else "dropped"))
    return same


def _write_onnx(model, module, arch: str, name: str, out_dir: Path, description: str = "",
                opset: int = 17) -> Written:
    """out_dir/<name>.onnx from `model`, with the metadata the service reads; removed again (and an error
    raised) when onnxruntime differs from Keras by more than PARITY_TOLERANCE."""
    import onnx

    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = out_dir / f"{name}.onnx"
    onnx_model = to_onnx(model, opset)
    metadata = {"pad_multiple": str(module.RECIPE.pad_multiple), "architecture": arch, "name": name,
                **({"jpeg_grid": str(module.JPEG_GRID)} if hasattr(module, "JPEG_GRID") else {})}
    for key, value in metadata.items():
        prop = onnx_model.metadata_props.add()
        prop.key, prop.value = key, value
    onnx_model.doc_string = description or module.__doc__.strip().splitlines()[0]
    replaced = onnx_path.read_bytes() if onnx_path.exists() else None
    onnx.save(onnx_model, str(onnx_path))
    probes = parity_probes(module.RECIPE.pad_multiple)
    error, outputs = _gap(model, str(onnx_path), probes)
    if not error <= PARITY_TOLERANCE:
        if replaced is None:
            onnx_path.unlink()
        else:
            onnx_path.write_bytes(replaced)
        raise RuntimeError(f"onnxruntime differs from Keras by {error:.2e} (> {PARITY_TOLERANCE})")
    return Written(onnx_path, error, probes, outputs, replaced)


def export(run_dir: Path, name: str, out_dir: Path, default: bool = False, opset: int = 17,
           description: str = "", command: str | None = None) -> dict:
    """Write out_dir/<name>.onnx and out_dir/<name>.json from a fit run folder's best weights."""
    state = json.loads((run_dir / "state.json").read_text())
    config = state["config"]
    module = architectures.get(config["arch"])
    recipe = module.RECIPE.with_overrides(config.get("recipe", {}))
    model = architectures.build_for_export(module)
    model.load_weights(run_dir / "best.weights.h5")
    written = _write_onnx(model, module, config["arch"], name, out_dir, description, opset)
    error = written.parity

    trainable = int(sum(np.prod(v.shape) for v in model.trainable_weights))
    history = state["history"]
    card_path = out_dir / f"{name}.json"
    previous = read_card(card_path, missing_ok=True)
    fingerprint = weights_sha256(model)
    # The scores describe the file: the same weights built otherwise (another dead zone, say) score otherwise.
    same_model = previous.get("weights_sha256") == fingerprint and written.same_outputs_as_replaced()
    onnx_path = written.path
    fit_command = _fit_command(config)
    stage_before = _stage_before(config, state, previous)
    card = {
        "name": name,
        "default": default,
        "description": description or module.__doc__.strip().splitlines()[0],
        "architecture": {"name": config["arch"], "summary": module.__doc__.strip(),
                         "layers": [f"{layer.__class__.__name__}" for layer in model.layers]},
        "parameters": {"total": int(model.count_params()), "trainable": trainable},
        "io": {"input": "image: float32 (batch, height, width, 3), RGB in [0, 1], height and width multiples of pad_multiple",
               "output": "restored: float32, same shape; round and clip to the output bit depth"},
        "pad_multiple": module.RECIPE.pad_multiple,
        # the service's CPU tile for this model when its settings leave the size open (app.inference.Denoiser)
        **({"cpu_tile_size": module.CPU_TILE_SIZE} if hasattr(module, "CPU_TILE_SIZE") else {}),
        # the JPEG grid the model was trained on (app.inference.Denoiser lines an upload's up with it)
        **({"jpeg_grid": module.JPEG_GRID} if hasattr(module, "JPEG_GRID") else {}),
        "opset": opset,
        "onnx_parity_max_abs_error": error,
        "sha256": file_sha256(onnx_path),
        "weights_sha256": fingerprint,
        "training": {
            "data": describe_data(config["data"]),
            "train_files": state["train_files"], "validation_files": state["val_files"],
            "validation": "held-out share of the training folders (seeded split); never the test sets",
            "recipe": recipe.as_dict(),
            "epochs": state["epochs_done"], "steps_per_epoch": config["steps"], "batch": config["batch"],
            "patch": config["patch"], "learning_rate": config["lr"], "seed": config["seed"],
            "seconds": round(state["seconds"]), "best_validation_psnr": state["best_val_psnr"],
            "learning_curve": [{k: h[k] for k in ("epoch", "loss", "val_psnr")} for h in history[:: max(1, len(history) // 10)]]
            + ([{k: history[-1][k] for k in ("epoch", "loss", "val_psnr")}] if history else []),
            "command": fit_command,
            # A fine-tune: the stage it started from, and every command from the photos to these weights.
            **({"starts_from": stage_before,
                "total_seconds": round(state["seconds"]) + stage_before["training"].get("total_seconds", stage_before["training"]["seconds"]),
                "reproduce": stage_before["training"].get("reproduce", [stage_before["training"]["command"]])
                # --init: the earlier stage's run folder (the same weights as the ONNX file it started from)
                + [shlex.join(with_flag(fit_command, "--init", flag_value(stage_before["training"]["command"], "--out")))]}
               if stage_before else {}),
        },
        "commands": {"export": command or "python -m training " + shlex.join(sys.argv[1:])},
        # Filled by `python -m training evaluate --card` and `python -m training bench --card`; kept when
        # the same model is exported again (same weights, outputs within SAME_OUTPUTS of the file it
        # replaces), dropped otherwise (they described another model).
        "scores": previous.get("scores", {}) if same_model else {},
        "speed": previous.get("speed", {}) if same_model else {},
    }
    write_card(card_path, card)
    return card


def _stage_before(config: dict, state: dict, previous_card: dict) -> dict | None:
    """The card of the weights a fine-tune started from: beside its --init ONNX file, or the card this
    export replaces, whichever has the same weights fingerprint; or the stage the replaced card itself
    started from (the same run exported again, after its --init file was overwritten by its first export).
    None for a run trained from scratch."""
    if not config.get("init"):
        return None
    fingerprint = state.get("init_weights_sha256", "")
    init = Path(config["init"])
    candidates = [previous_card, previous_card.get("training", {}).get("starts_from", {})]
    if init.suffix == ".onnx" and init.with_suffix(".json").exists():
        candidates.insert(0, read_card(init))
    for card in candidates:
        if card.get("weights_sha256") == fingerprint and "training" in card:
            return {"name": card.get("name"), "weights_sha256": fingerprint, "training": card["training"]}
    raise ValueError(f"no model card records the weights {config['init']} started from ({fingerprint[:12]}...): "
                     "export the run it came from first, or keep its card beside the .onnx file")


def _fit_command(config: dict) -> str:
    parts = ["python", "-m", "training", "fit", "--arch", config["arch"], "--data", *config["data"],
             "--out", config["out"], "--epochs", str(config["epochs"]), "--steps", str(config["steps"]),
             "--patch", str(config["patch"]), "--batch", str(config["batch"]), "--lr", str(config["lr"]),
             "--seed", str(config["seed"]), "--val-fraction", str(config["val_fraction"])]
    if config.get("loss"):  # runs from before --loss existed used the recipe's loss
        parts += ["--loss", config["loss"]]
    if config.get("max_images"):
        parts += ["--max-images", str(config["max_images"])]
    if config.get("init"):
        parts += ["--init", config["init"]]
    for key, value in config.get("recipe", {}).items():
        parts += ["--recipe", f"{key}={value}"]
    if config.get("backend", "tensorflow") != "tensorflow":  # the shipped models' commands stay as they were
        parts += ["--backend", config["backend"]]
    if config.get("sampler", "host") != "host":  # a GPU stage draws its batches in the jitted step
        parts += ["--sampler", config["sampler"]]
    if config.get("stop_after"):  # a run cut off part of the way through its schedule
        parts += ["--stop-after", str(config["stop_after"])]
    return shlex.join(parts)


def rebuild(source: Path, out_dir: Path, why: str, command: str | None = None) -> dict:
    """Re-export a shipped model's own weights, read from its ONNX file, with the architecture's code as it
    is now: for a change to the weight-free part of a graph (stop 37's `_isolated`), which needs no training.

    The card is the source's, with the new file's sha256 and parity, and a `rebuilds` entry (the file it
    replaced, the command, why). Its scores and speed are kept only when the outputs did not move
    (SAME_OUTPUTS); otherwise they are dropped, to be measured again. The weights must be the card's own
    (`weights_sha256`), so a partial load cannot pass for the model. `training reproduce` runs the command
    after the export, so a model remade from its photos is rebuilt the same way (a no-op when the training
    ran under the same code)."""
    import onnx

    from training.init_weights import load_initial_weights, run_architecture

    card = read_card(source.with_suffix(".json"))
    arch = run_architecture(source) or card["architecture"]["name"]
    module = architectures.get(arch)
    model = architectures.build_for_export(module)
    load_initial_weights(model, source)
    fingerprint = weights_sha256(model)
    if fingerprint != card["weights_sha256"]:
        raise ValueError(f"the weights read from {source} ({fingerprint[:12]}...) are not its card's "
                         f"({card['weights_sha256'][:12]}...)")
    description = onnx.load(str(source), load_external_data=False).doc_string
    replaced_sha = card["sha256"]
    written = _write_onnx(model, module, arch, card["name"], out_dir, description, card.get("opset", 17))
    same = written.same_outputs_as_replaced()
    command = command or "python -m training " + shlex.join(sys.argv[1:])
    card = {
        **card,
        "architecture": {**card["architecture"], "summary": module.__doc__.strip(),
                         "layers": [layer.__class__.__name__ for layer in model.layers]},
        "onnx_parity_max_abs_error": written.parity,
        "sha256": file_sha256(written.path),
        "commands": {**card["commands"], "rebuild": command},
        "rebuilds": [*card.get("rebuilds", []), {"replaced_sha256": replaced_sha, "command": command, "why": why}],
        "scores": card.get("scores", {}) if same else {},
        "speed": card.get("speed", {}) if same else {},
    }
    write_card(out_dir / f"{card['name']}.json", card)
    return card
