"""`python -m training rebuild`: a shipped model's own weights re-exported with the architecture's current
code (stop 37's rule for clipped regions), and how its card and `training reproduce` record that."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app.cards import file_sha256, read_card
from tests.conftest import load_script

MODELS = Path(__file__).resolve().parents[1] / "models"


@pytest.fixture
def shipped_copy(tmp_path) -> Path:
    """models/prefill-unet.onnx and its card in a folder of their own, the card's scores a marker."""
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(MODELS / "prefill-unet.onnx", folder)
    card = read_card(MODELS / "prefill-unet.json")
    (folder / "prefill-unet.json").write_text(json.dumps({**card, "scores": {"marker": 1}}))
    return folder / "prefill-unet.onnx"


def test_rebuild_keeps_the_weights_and_drops_scores_only_when_the_outputs_move(shipped_copy, monkeypatch):
    from training.architectures import prefill_unet
    from training.export import rebuild

    before = read_card(shipped_copy.with_suffix(".json"))
    same = rebuild(shipped_copy, shipped_copy.parent, why="the code it was exported with", command="first")
    assert same["weights_sha256"] == before["weights_sha256"]
    assert same["scores"] == {"marker": 1}  # the outputs did not move: the scores still describe the file
    assert same["sha256"] == file_sha256(shipped_copy) and same["commands"]["rebuild"] == "first"

    # The rule shipped until stop 36: the probes' clipped ramp tells it apart, so the scores go.
    solid = load_script("clipped_rule_probe").solid_rule
    monkeypatch.setattr(prefill_unet, "_isolated", solid)  # blind-unet's too (`exact_impulses`)
    moved = rebuild(shipped_copy, shipped_copy.parent, why="the solid rule", command="second")
    assert moved["scores"] == {} and moved["speed"] == {}
    assert moved["weights_sha256"] == before["weights_sha256"]
    assert [r["command"] for r in moved["rebuilds"]][-2:] == ["first", "second"]
    assert moved["rebuilds"][-1]["replaced_sha256"] == same["sha256"] != moved["sha256"]


def test_rebuild_refuses_weights_that_are_not_the_cards(shipped_copy):
    from training.export import rebuild

    card_path = shipped_copy.with_suffix(".json")
    card_path.write_text(json.dumps({**read_card(card_path), "weights_sha256": "0" * 64}))
    with pytest.raises(ValueError, match="are not its card's"):
        rebuild(shipped_copy, shipped_copy.parent, why="test", command="test")


def test_reproduce_rebuilds_after_the_export_and_before_the_int8_twin(tmp_path):
    from training.commands import flag_value
    from training.reproduce import plan

    for name, rebuild_at in (("prefill-unet", -1), ("prefill-unet-int8", -2), ("blind-unet", -1)):
        card = read_card(MODELS / f"{name}.json")
        assert "rebuild" in card["commands"], name  # shipped files come from `training rebuild` (stop 37)
        steps = plan(card, tmp_path / "runs", tmp_path / "out")
        rebuild = steps[rebuild_at].argv
        assert rebuild[1:4] == ["-m", "training", "rebuild"] and steps[rebuild_at - 1].argv[3] == "export"
        model = "prefill-unet" if name.startswith("prefill") else name
        assert flag_value(rebuild, "--model") == str(tmp_path / "out" / f"{model}.onnx")
        assert flag_value(rebuild, "--out") == str(tmp_path / "out")


def test_a_rebuild_that_fails_parity_leaves_the_file_it_would_replace(shipped_copy, monkeypatch):
    from training import export

    before = shipped_copy.read_bytes()
    monkeypatch.setattr(export, "PARITY_TOLERANCE", -1.0)
    with pytest.raises(RuntimeError, match="onnxruntime differs from Keras"):
        export.rebuild(shipped_copy, shipped_copy.parent, why="test", command="test")
    assert shipped_copy.read_bytes() == before


def test_parity_catches_a_file_whose_graph_ignores_its_share_input(tmp_path, monkeypatch):
    """The export's probes give the Keras model and the file the same `impulse_share` (`_probe_shares`): a file
    whose graph takes the input but decides with its own p fails the check."""
    import onnx

    from training import architectures, export
    from training.architectures import prefill_unet
    from training.init_weights import load_initial_weights

    module = architectures.get("prefill-unet")
    model = architectures.build_for_export(module)
    load_initial_weights(model, MODELS / "prefill-unet.onnx")
    assert export.parity(model, MODELS / "prefill-unet.onnx", module.PAD_MULTIPLE) <= export.PARITY_TOLERANCE
    isolated = prefill_unet._isolated
    monkeypatch.setattr(prefill_unet, "_isolated", lambda extreme, share=None: isolated(extreme))
    deaf = architectures.build_for_export(module)
    deaf.set_weights(model.get_weights())
    onnx.save(export.to_onnx(deaf), str(tmp_path / "deaf.onnx"))
    monkeypatch.undo()
    assert [i.name for i in onnx.load(str(tmp_path / "deaf.onnx")).graph.input] == ["image", "impulse_share"]
    assert export.parity(model, tmp_path / "deaf.onnx", module.PAD_MULTIPLE) > 0.1
