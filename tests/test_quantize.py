"""int8 twins (training/quantize.py): which layers stay float, and what the written twin and its card hold."""

import shutil

import numpy as np
import onnx
import pytest
from PIL import Image
from skimage import data

from app.cards import file_sha256, read_card, write_card
from app.imaging import DecodedImage
from app.inference import Denoiser
from app.noise import salt_and_pepper
from app.quality import psnr
from tests.conftest import MODELS
from training.data import REAL_WORLD_VALIDATION
from training.quantize import Calibration, QuantizeConfig, choose_float_layers, conv_nodes, held_out_set, quantize
from training.recipe import Recipe


class FakeQuantizer:
    """Layers with known costs: a made model's score drops by the sum of its quantized layers' costs."""

    def __init__(self, costs: dict[str, float]):
        self.convs, self.costs, self.made = list(costs), costs, []

    def make(self, float_nodes: list[str]) -> list[str]:
        self.made.append(list(float_nodes))
        return [c for c in self.convs if c not in float_nodes]

    def score(self, quantized: list[str]) -> dict[str, float]:
        return {"sp0.5": 30.0 - sum(self.costs[c] for c in quantized)}


REFERENCE = {"sp0.5": 30.0}


def test_a_layer_that_costs_quality_alone_stays_float():
    fake = FakeQuantizer({"a": 0.01, "b": 0.9, "c": 0.02, "d": 0.0})
    choice = choose_float_layers(fake, fake.score, REFERENCE, layer_drop_db=0.05, max_drop_db=0.15)
    assert choice.float_nodes == ["b"]
    assert choice.layer_cost_db == pytest.approx({"a": 0.01, "b": 0.9, "c": 0.02, "d": 0.0})
    assert choice.scores["sp0.5"] == pytest.approx(29.97)
    assert len(fake.made) == 4 + 1  # each layer alone, then the whole
    # b stays float even where the whole would be within the target with it
    lenient = choose_float_layers(fake, fake.score, REFERENCE, layer_drop_db=0.05, max_drop_db=1.0)
    assert lenient.float_nodes == ["b"]


def test_when_the_whole_loses_too_much_the_costliest_layers_go_back_to_float():
    """Each layer is cheap alone, together they cost 0.16 dB: the costliest go back until within 0.1."""
    fake = FakeQuantizer({"a": 0.04, "b": 0.03, "c": 0.05, "d": 0.04})
    choice = choose_float_layers(fake, fake.score, REFERENCE, layer_drop_db=0.05, max_drop_db=0.1)
    assert 30.0 - choice.scores["sp0.5"] == pytest.approx(0.07)
    assert choice.float_nodes == ["c", "a"]  # a and d cost the same: the first in graph order goes first


def test_no_twin_when_nothing_can_be_quantized():
    fake = FakeQuantizer({"a": 0.5, "b": 0.6})
    with pytest.raises(ValueError, match="no convolution can be quantized"):
        choose_float_layers(fake, fake.score, REFERENCE, layer_drop_db=0.05, max_drop_db=0.15)


def test_calibration_gives_the_same_batches_to_every_quantization():
    batches = [np.full((1, 32, 32, 3), i, np.float32) for i in range(3)]
    first = Calibration(batches)
    seen = [first.get_next()["image"][0, 0, 0, 0] for _ in range(3)]
    assert first.get_next() is None
    again = first.fresh()
    assert [again.get_next()["image"][0, 0, 0, 0] for _ in range(3)] == seen == [0, 1, 2]


def test_a_model_for_every_kind_is_checked_beyond_its_validation_cases():
    """blind-unet's first twin passed on its validation cases alone and lost 0.27 dB on a table's cell they
    lack (salt-and-pepper 0.5 then JPEG 90): the check adds it, the clean PNG and the extremes of the others."""
    photos = [data.astronaut()[:200, :200], data.coffee()[:200, :200]]
    recipe = Recipe.from_dict(read_card(MODELS / "blind-unet.json")["training"]["recipe"])
    held = held_out_set(photos, recipe, 64, seed=1)
    assert set(held.cases) == {case[0] for case in REAL_WORLD_VALIDATION} | {
        "clean", "sp0.5-jpeg90", "range30-0.1", "random0.4"}
    clean_case = held.cases.index("clean")
    assert np.array_equal(np.round(held.noisy[clean_case] * 255), held.clean[clean_case])  # a clean PNG
    assert held.noisy.shape == (2 * len(set(held.cases)), 64, 64, 3)


def test_held_out_set_covers_every_density_of_the_check():
    photos = [data.astronaut()[:200, :200], data.coffee()[:200, :200]]
    recipe = Recipe.from_dict(read_card(MODELS / "prefill-unet.json")["training"]["recipe"])
    held = held_out_set(photos, recipe, 64, seed=1)
    assert sorted(set(held.cases)) == ["sp0.0", "sp0.1", "sp0.3", "sp0.5", "sp0.7", "sp0.9"]
    assert held.noisy.shape == (12, 64, 64, 3) and held.clean.dtype == np.uint8
    clean_case = [i for i, case in enumerate(held.cases) if case == "sp0.0"]
    assert np.array_equal(np.round(held.noisy[clean_case] * 255), held.clean[clean_case])  # density 0: clean
    hit = np.mean(np.round(held.noisy[held.cases.index("sp0.9")] * 255) != held.clean[held.cases.index("sp0.9")])
    assert 0.8 < hit < 0.95  # the case's density (impulses that land on 0 or 255 already do not count)


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    """prefill-unet's twin, calibrated on photos scikit-image ships (the card's folders are not here)."""
    root = tmp_path_factory.mktemp("quantize")
    photos = root / "photos"
    photos.mkdir()
    for name in ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field"):
        Image.fromarray(getattr(data, name)()[:256, :256]).save(photos / f"{name}.png")
    shutil.copy(MODELS / "prefill-unet.onnx", root / "prefill-unet.onnx")
    # A CPU tile of its own (blind-unet's card has one: the memory bound), which the twin must keep
    write_card(root / "prefill-unet.json", {**read_card(MODELS / "prefill-unet.json"), "cpu_tile_size": 512})
    config = QuantizeConfig(model=root / "prefill-unet.onnx", out_dir=root / "out", data=[str(photos)],
                            calibration_patches=16, patch=64, check_photos=4)
    card = quantize(config, command="test", log=lambda *_: None)
    return root, card


def test_the_twin_file_is_the_one_its_card_describes(twin):
    root, card = twin
    path = root / "out" / "prefill-unet-int8.onnx"
    assert card["name"] == "prefill-unet-int8" and card["precision"] == "int8" and not card["default"]
    assert card["cpu_tile_size"] == 512  # the float model's: the twin serves in its place
    assert card["sha256"] == file_sha256(path)
    assert card["int8_of"] == {"name": "prefill-unet", "sha256": file_sha256(root / "prefill-unet.onnx")}
    assert read_card(path) == card
    q = card["quantization"]
    assert sorted(q["quantized"] + q["float"]) == sorted(conv_nodes(root / "prefill-unet.onnx"))
    assert q["quantized"] and set(q["layer_cost_db"]) == set(q["quantized"] + q["float"])
    assert q["held_out"]["largest_drop_db"] <= q["max_drop_db"] == 0.15
    model = onnx.load(str(path))
    ops = {node.op_type for node in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["pad_multiple"] == "32" and meta["name"] == "prefill-unet-int8" and meta["int8_of"] == "prefill-unet"


def test_the_twin_restores_as_its_float_model_and_leaves_clean_photos_alone(twin, astronaut):
    root, _ = twin
    float_model = Denoiser(root / "prefill-unet.onnx", threads=2)
    int8_model = Denoiser(root / "out" / "prefill-unet-int8.onnx", threads=2)
    clean = astronaut[:160, :192]
    returned = int8_model.denoise(DecodedImage(clean)).image.pixels
    inside = (clean > 0) & (clean < 255)  # switching output: only 0/255 values may change (true clipping may)
    assert np.array_equal(returned[inside], clean[inside])
    # 318 true blacks in this crop look like pepper to both models
    assert psnr(clean, returned) > psnr(clean, float_model.denoise(DecodedImage(clean)).image.pixels) - 1.0
    noisy = salt_and_pepper(clean, 0.3, seed=4)
    scores = [psnr(clean, m.denoise(DecodedImage(noisy)).image.pixels) for m in (float_model, int8_model)]
    assert scores[1] > psnr(clean, noisy) + 15
    assert abs(scores[0] - scores[1]) < 0.5


def test_the_patch_must_fit_the_models_grid(tmp_path):
    with pytest.raises(ValueError, match="multiple of the model's pad_multiple"):
        quantize(QuantizeConfig(model=MODELS / "prefill-unet.onnx", out_dir=tmp_path, data=[str(tmp_path)], patch=100))


@pytest.mark.parametrize("name", ["prefill-unet", "blind-unet"])
def test_the_shipped_twin_was_made_from_the_shipped_float_model(name):
    """The service trusts a twin only for the file it was made from: re-export the float model, re-quantize.
    It runs in the float model's tiles (blind-unet: 768 on the CPU, the memory bound)."""
    card = read_card(MODELS / f"{name}-int8.json")
    assert card["int8_of"] == {"name": name, "sha256": file_sha256(MODELS / f"{name}.onnx")}
    assert card["sha256"] == file_sha256(MODELS / f"{name}-int8.onnx")
    assert card.get("cpu_tile_size") == read_card(MODELS / f"{name}.json").get("cpu_tile_size")


def test_reproduce_remakes_the_float_model_then_quantizes_it(tmp_path):
    from training.commands import flag_value
    from training.reproduce import plan

    steps = plan(read_card(MODELS / "prefill-unet-int8.json"), tmp_path / "runs", tmp_path / "out")
    float_steps = plan(read_card(MODELS / "prefill-unet.json"), tmp_path / "runs", tmp_path / "out")
    assert [s.argv for s in steps[:-1]] == [s.argv for s in float_steps]
    last = steps[-1].argv
    assert last[1:4] == ["-m", "training", "quantize"]
    assert flag_value(last, "--model") == str(tmp_path / "out" / "prefill-unet.onnx")
    assert flag_value(last, "--out") == str(tmp_path / "out")


def test_a_twin_made_again_keeps_the_scores_of_the_file_it_replaces_only_if_it_answers_the_same(twin):
    """As a re-export does (`export.outputs_kept`): the same twin again keeps its card's scores and speed (stop
    38 made the shipped twin again for a new input, nothing else); a replaced file that answers otherwise
    (here another model) has its scores dropped."""
    root, card = twin
    out = root / "out" / "prefill-unet-int8.onnx"
    config = QuantizeConfig(model=root / "prefill-unet.onnx", out_dir=root / "out",
                            data=card["quantization"]["calibration"]["data"], calibration_patches=16, patch=64,
                            check_photos=4)
    marked = {**card, "scores": {"marker": 1}, "speed": {"marker": 2}}
    write_card(out, marked)
    again = quantize(config, command="test", log=lambda *_: None)
    assert again["scores"] == {"marker": 1} and again["speed"] == {"marker": 2}
    shutil.copy(MODELS / "blind-unet.onnx", out)
    write_card(out, marked)
    other = quantize(config, command="test", log=lambda *_: None)
    assert "scores" not in other and "speed" not in other
