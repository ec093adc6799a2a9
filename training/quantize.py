"""int8 twins of exported models (issue 16): `python -m training quantize --model models/X.onnx` writes
`X-int8.onnx` and its card, which the service runs in place of X on the CPU (`app.registry`).

Static post-training quantization of the convolutions with onnxruntime (QDQ format: uint8 activations per
tensor, int8 weights per output channel, weights in 7 bits by default so that AVX2 processors without VNNI,
whose u8 x s8 products saturate at 16 bits, compute exactly what the file says). Calibrated on noisy
patches of the model's own training photos, drawn by its training recipe (every density and noise kind it
was trained for); the quality check uses the held-out share of the same folders. Never a test photo.

Why not every convolution (the default, prefill-unet; `python -m training quantize`, its card keeps the
figures): quantized one at a time, nine of its thirteen convolutions cost 0.00-0.03 dB each on held-out
patches, but the last stage's first conv (its input is the U-Net's features concatenated with the pre-fill,
whose fine values one per-tensor scale cannot hold) cost 1.8 dB, the output conv 1.2 dB, and the first two
convs 0.11 and 0.06 dB on clean photos (their true 0/255 values, where PSNR lives at 60-100 dB; a twin
checked only on noisy patches returned CBSD68's clean photos 0.22 dB further from themselves than its
float model). So each layer's cost is measured alone, layers costing more than `layer_drop_db` at some
case stay float, and if the whole still loses more than `max_drop_db` the costliest of the rest go back
to float one by one. Weight-free parts (pre-fill, switching output, layout changes) are never quantized.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from app.cards import INT8_SUFFIX, file_sha256, read_card, write_card
from app.impulse_share import feed
from app.quality import psnr, to_uint8
from training.commands import flag_value
from training.data import (
    REAL_WORLD_VALIDATION,
    PatchSampler,
    load_rgb,
    real_world_validation_set,
    split_folders,
    validation_set,
)
from training.export import onnx_outputs, outputs_kept, parity_probes
from training.recipe import Recipe

# Density 0: clean photos (their true 0/255 values look like impulses): on CBSD68 a twin checked only on
# noisy patches returned clean photos 0.22 dB further from themselves than its float model did.
CHECK_DENSITIES = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9)
# A model for impulses of every kind (blind-unet) is checked on its validation cases and these: the first
# twin of blind-unet, checked on the validation cases alone, lost 0.099 dB there at most but 0.27 dB on
# CBSD68 salt-and-pepper 0.5 then JPEG 90 and 0.155 on near-extreme 0.1 (stop 39; the tables' cells it was
# scored on, `python scripts/int8_gap.py`), past the 0.15 bound: both kinds at densities the cases lack.
# With the clean PNG (the first convolutions' cost, as CHECK_DENSITIES' 0) and the densest random-valued.
REAL_WORLD_CHECK_CASES = (
    ("clean", "salt-pepper", 0.0, 0.0, None), ("sp0.5-jpeg90", "salt-pepper", 0.5, 0.0, 90),
    ("range30-0.1", "impulse-range", 0.1, 30.0, None), ("random0.4", "random-valued", 0.4, 0.0, None),
)
SCORE_CAP_DB = 100.0  # a patch returned exactly scores infinity: capped as the tables cap (training/evaluate.py)
FIT_VAL_FRACTION = 0.2  # `fit --val-fraction`'s default, for cards whose command does not name it


@dataclass
class QuantizeConfig:
    model: Path
    out_dir: Path = Path("models")
    data: list[str] | None = None  # default: the folders the card says the model was trained on
    calibration_patches: int = 64
    patch: int = 128
    check_photos: int = 40  # held-out photos scored at each density (or real-world case)
    max_drop_db: float = 0.15  # the issue's target: the twin may lose at most this at any density
    layer_drop_db: float = 0.05  # a layer that alone costs more than this stays float
    full_range: bool = False  # 8-bit weights: only for processors with VNNI (AVX-512 VNNI, AVX-VNNI)
    seed: int = 0


@dataclass
class HeldOut:
    """Noisy held-out patches, their clean targets and the case (density or real-world kind) of each."""

    noisy: np.ndarray  # float32 (N, P, P, 3) in [0, 1]
    clean: np.ndarray  # uint8
    cases: list[str]

    def score(self, model: Path | str, batch: int = 16) -> dict[str, float]:
        """Mean PSNR per case of `model`'s rounded outputs, capped at 100 dB: the tables' metric (per photo
        there, per patch here). At density 0 the few true 0/255 values a model changes in a clean photo
        move it at 60-100 dB, where the tables' clean column lives."""
        options = ort.SessionOptions()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        restored = np.concatenate([session.run(None, feed(names, self.noisy[i : i + batch]))[0]
                                   for i in range(0, len(self.noisy), batch)])
        scores: dict[str, list[float]] = {case: [] for case in dict.fromkeys(self.cases)}
        for case, clean, out in zip(self.cases, self.clean, restored):
            scores[case].append(min(psnr(clean, to_uint8(out)), SCORE_CAP_DB))
        return {case: float(np.mean(v)) for case, v in scores.items()}


@dataclass
class Calibration(CalibrationDataReader):
    """The same seeded batches for every quantization of one run (onnxruntime reads a reader once). A model
    with the `impulse_share` input gets each patch's own p, as in training (`app.impulse_share.feed`)."""

    batches: list[np.ndarray]
    input_names: tuple[str, ...] = ("image",)
    _left: Iterator[np.ndarray] | None = field(default=None, repr=False)

    def get_next(self) -> dict | None:
        if self._left is None:
            self._left = iter(self.batches)
        batch = next(self._left, None)
        return None if batch is None else feed(list(self.input_names), batch)

    def fresh(self) -> Calibration:
        return Calibration(self.batches, self.input_names)


def input_names(model: Path) -> tuple[str, ...]:
    """The graph's inputs, in order (an ONNX file's, without loading a session)."""
    graph = onnx.load(str(model), load_external_data=False).graph
    constants = {init.name for init in graph.initializer}
    return tuple(value.name for value in graph.input if value.name not in constants)


def largest_drop(reference: dict[str, float], scores: dict[str, float]) -> float:
    return max(reference[case] - scores[case] for case in reference)


def conv_nodes(model: Path) -> list[str]:
    return [node.name for node in onnx.load(str(model)).graph.node if node.op_type == "Conv"]


def training_photos(card: dict, config: QuantizeConfig) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """(calibration photos, held-out photos, folders): the card's training split of its folders (or of
    `config.data`), split as `fit` split them, so the held-out photos are ones the model never trained on."""
    training = card.get("training", {})
    folders = config.data or [d["path"] for d in training.get("data", [])]
    if not folders:
        raise ValueError(f"{config.model}: the card names no training folders; pass --data")
    command = training.get("command", "")
    val_fraction = float(flag_value(command, "--val-fraction") or FIT_VAL_FRACTION) if command else FIT_VAL_FRACTION
    train, val = split_folders(folders, val_fraction, int(training.get("seed", 0)))
    rng = np.random.default_rng(config.seed)
    picked = sorted(rng.choice(len(train), min(len(train), config.calibration_patches), replace=False))
    held = val if len(val) <= config.check_photos else [val[i] for i in sorted(rng.choice(len(val), config.check_photos, replace=False))]
    return [load_rgb(train[i]) for i in picked], [load_rgb(p) for p in held], folders


def held_out_set(photos: list[np.ndarray], recipe: Recipe, patch: int, seed: int) -> HeldOut:
    """Salt-and-pepper at `CHECK_DENSITIES` (per channel and per pixel, as fit validates); a real-world
    recipe's validation cases (`training.data.REAL_WORLD_VALIDATION`) and `REAL_WORLD_CHECK_CASES` for a
    model trained on those."""
    if recipe.real_world:
        noisy, clean, names = real_world_validation_set(photos, patch, seed, recipe.grey_photos_per_pixel,
                                                        cases=REAL_WORLD_VALIDATION + REAL_WORLD_CHECK_CASES)
        cases = [names[i % len(names)] for i in range(len(noisy))]
    else:
        noisy, clean = validation_set(photos, patch, CHECK_DENSITIES, seed, per_image=1,
                                      grey_per_pixel=recipe.grey_photos_per_pixel)
        cases = [f"sp{CHECK_DENSITIES[i % len(CHECK_DENSITIES)]}" for i in range(len(noisy))]
    return HeldOut(noisy, clean, cases)


class Quantizer:
    """One float model, prepared once; `make(float_nodes)` quantizes every other convolution."""

    def __init__(self, model: Path, calibration: Calibration, work: Path, full_range: bool):
        self.prepared = work / "prepared.onnx"
        quant_pre_process(str(model), str(self.prepared), skip_symbolic_shape=True)
        self.calibration, self.work, self.full_range = calibration, work, full_range
        self.convs = conv_nodes(self.prepared)
        self.made = 0

    def make(self, float_nodes: list[str]) -> Path:
        self.made += 1
        out = self.work / f"int8-{self.made}.onnx"
        quantize_static(str(self.prepared), str(out), self.calibration.fresh(), quant_format=QuantFormat.QDQ,
                        per_channel=True, reduce_range=not self.full_range, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, op_types_to_quantize=["Conv"], nodes_to_exclude=float_nodes,
                        calibrate_method=CalibrationMethod.MinMax)
        return out


@dataclass
class Choice:
    path: Path
    float_nodes: list[str]
    layer_cost_db: dict[str, float]
    scores: dict[str, float]


def choose_float_layers(quantizer: Quantizer, score: Callable[[Path], dict[str, float]], reference: dict[str, float],
                        layer_drop_db: float, max_drop_db: float) -> Choice:
    """Measure each convolution's cost alone; keep the costly ones float; then, while the whole loses more
    than `max_drop_db` at some case, return the costliest quantized one to float. `score(path)` -> scores."""
    convs = quantizer.convs
    cost = {name: largest_drop(reference, score(quantizer.make([c for c in convs if c != name]))) for name in convs}
    float_nodes = [name for name in convs if cost[name] > layer_drop_db]
    while True:
        if len(float_nodes) == len(convs):
            raise ValueError(f"no convolution can be quantized within {max_drop_db} dB (costs: {cost})")
        path = quantizer.make(float_nodes)
        scores = score(path)
        if largest_drop(reference, scores) <= max_drop_db:
            return Choice(path, float_nodes, cost, scores)
        float_nodes.append(max((c for c in convs if c not in float_nodes), key=cost.__getitem__))


def _with_metadata(path: Path, float_model: Path, name: str, out: Path) -> None:
    """The float model's metadata (pad_multiple, architecture) on the twin, with its own name."""
    source = {p.key: p.value for p in onnx.load(str(float_model)).metadata_props}
    model = onnx.load(str(path))
    del model.metadata_props[:]
    for key, value in {**source, "name": name, "precision": "int8", "int8_of": float_model.stem}.items():
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value
    onnx.save(model, str(out))


def quantize(config: QuantizeConfig, command: str = "", log=print) -> dict:
    """Write `<out_dir>/<name>-int8.onnx` and its card; returns the card."""
    model = Path(config.model)
    card = read_card(model)
    recipe = Recipe.from_dict(card["training"]["recipe"])
    if config.patch % recipe.pad_multiple:
        raise ValueError(f"--patch must be a multiple of the model's pad_multiple ({recipe.pad_multiple})")
    calibration_photos, held_photos, folders = training_photos(card, config)
    sampler = PatchSampler(calibration_photos, recipe, config.patch, 8, config.seed)
    batches = [sampler.next_batch().noisy for _ in range(max(1, config.calibration_patches // 8))]
    held = held_out_set(held_photos, recipe, config.patch, config.seed + 1)
    reference = held.score(model)
    log(f"{len(calibration_photos)} calibration photos ({len(batches) * 8} patches), {len(held_photos)} held-out "
        f"photos ({len(held.noisy)} patches); float: " + ", ".join(f"{c} {s:.2f}" for c, s in reference.items()))
    name = model.stem + INT8_SUFFIX
    out = Path(config.out_dir) / f"{name}.onnx"
    out.parent.mkdir(parents=True, exist_ok=True)
    replaced = out.read_bytes() if out.exists() else None
    with tempfile.TemporaryDirectory() as tmp:
        quantizer = Quantizer(model, Calibration(batches, input_names(model)), Path(tmp), config.full_range)
        choice = choose_float_layers(quantizer, held.score, reference, config.layer_drop_db, config.max_drop_db)
        _with_metadata(choice.path, model, name, out)
    quantized = [c for c in quantizer.convs if c not in choice.float_nodes]
    drop = largest_drop(reference, choice.scores)
    log(f"kept float: {choice.float_nodes or 'none'}; int8 loses at most {drop:.3f} dB on held-out patches")
    twin = _card(card, model, name, out, config, choice, quantized, reference, folders, len(calibration_photos),
                 len(held_photos), command)
    # A twin made again that answers as the file it replaces (stop 38: the float model gained an input, nothing
    # else) keeps that file's scores and speed, as a re-export does (`export.outputs_kept`).
    probes = parity_probes(recipe.pad_multiple)
    if outputs_kept(replaced, probes, onnx_outputs(str(out), probes)):
        previous = read_card(out)
        twin.update({key: previous[key] for key in ("scores", "speed") if key in previous})
    write_card(out, twin)
    return twin


def _card(card: dict, model: Path, name: str, out: Path, config: QuantizeConfig, choice: Choice, quantized: list[str],
          reference: dict[str, float], folders: list[str], calibration_photos: int, held_photos: int,
          command: str) -> dict:
    # The float model's record (how it was trained and exported: `training reproduce` remakes it, then this),
    # and its CPU tile: the twin serves in its place, on the same activations (blind-unet's 768, the memory
    # bound; a twin without it ran in 1024 tiles).
    kept = {k: card[k] for k in ("architecture", "parameters", "io", "pad_multiple", "cpu_tile_size", "opset",
                                 "weights_sha256", "training", "commands") if k in card}
    macs = conv_macs(model)
    return {
        "name": name,
        "default": False,
        "description": f"int8 twin of {model.stem}: its convolutions in int8 where that costs no quality (QDQ, "
                       f"onnxruntime), served in its place on the CPU. {card.get('description', '')}".strip(),
        **kept,
        "precision": "int8",
        "int8_of": {"name": model.stem, "sha256": file_sha256(model)},
        "quantization": {
            "tool": f"onnxruntime {ort.__version__} quantize_static",
            "format": "QDQ",
            "activations": "uint8, per tensor, MinMax calibration",
            "weights": "int8, per output channel" + ("" if config.full_range else ", 7-bit range (reduce_range: "
                                                     "exact on AVX2 processors without VNNI)"),
            "quantized": quantized,
            "float": choice.float_nodes,
            "not_quantized": "everything without weights: the pre-fill, the switching output, layout changes",
            "quantized_share_of_conv_macs": round(sum(macs[n] for n in quantized) / max(1, sum(macs.values())), 3),
            "layer_cost_db": {k: round(v, 3) for k, v in choice.layer_cost_db.items()},
            "layer_drop_db": config.layer_drop_db,
            "max_drop_db": config.max_drop_db,
            "calibration": {"data": folders, "photos": calibration_photos, "patches": config.calibration_patches,
                            "patch": config.patch, "noise": "the model's training recipe (training.recipe above)"},
            "held_out": {"photos": held_photos, "patch": config.patch,
                         "psnr_float": {k: round(v, 3) for k, v in reference.items()},
                         "psnr_int8": {k: round(v, 3) for k, v in choice.scores.items()},
                         "largest_drop_db": round(largest_drop(reference, choice.scores), 3)},
            "command": command,
        },
        "sha256": file_sha256(out),
    }


def conv_macs(model: Path, size: int = 256) -> dict[str, int]:
    """Multiply-accumulates of each convolution on one size x size image (shapes inferred by onnx):
    the share of the work that int8 can speed up."""
    graph = onnx.load(str(model))
    dims = graph.graph.input[0].type.tensor_type.shape.dim
    for axis, value in zip(range(3), (1, size, size)):
        dims[axis].ClearField("dim_param")
        dims[axis].dim_value = value
    inferred = onnx.shape_inference.infer_shapes(graph).graph
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in inferred.value_info}
    weights = {t.name: list(t.dims) for t in inferred.initializer}
    return {node.name: math.prod(shapes[node.output[0]][2:]) * math.prod(weights[node.input[1]])
            for node in inferred.node if node.op_type == "Conv"}
