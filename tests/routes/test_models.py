import hashlib

import onnxruntime as ort

from tests.conftest import MODELS


def test_models_lists_every_shipped_model_with_its_card(client):
    body = client.get("/models").json()
    names = {m["name"] for m in body["models"]}
    assert names == {p.stem for p in MODELS.glob("*.onnx")}
    assert body["default"] in names
    # provider "auto": CUDA where onnxruntime-gpu offers it (scripts/check_cuda.py's machine), else the CPU
    expected = "CUDAExecutionProvider" if "CUDAExecutionProvider" in ort.get_available_providers() else "CPUExecutionProvider"
    for model in body["models"]:
        assert model["provider"] == expected
        assert model["parameters"]["total"] > 0
        digest = hashlib.sha256((MODELS / f"{model['name']}.onnx").read_bytes()).hexdigest()
        assert model["sha256"] == digest, f"{model['name']}: the card's sha256 is not the file's"


def test_default_is_the_flagged_card_unless_a_setting_names_another(tmp_path, camera):
    """In a copy of models/ where the flag moves to the model that sorts last, the flag decides; then a
    setting overrides it."""
    import shutil

    from fastapi.testclient import TestClient

    from app.cards import read_card, write_card
    from app.main import create_app
    from app.settings import Settings
    from tests.conftest import png_bytes, wait_ready

    for path in MODELS.iterdir():
        shutil.copy(path, tmp_path / path.name)
    names = sorted(p.stem for p in tmp_path.glob("*.onnx"))
    for name in names:
        card = read_card(tmp_path / f"{name}.json")
        write_card(tmp_path / f"{name}.json", {**card, "default": name == names[-1]})
    for setting, expected in ((None, names[-1]), (names[0], names[0])):
        with TestClient(create_app(Settings(models_dir=tmp_path, default_model=setting, threads=2))) as c:
            wait_ready(c)
            assert c.get("/models").json()["default"] == expected
            upload = png_bytes(camera[:32, :32])
            assert c.post("/denoise", files={"file": ("g.png", upload)}).headers["x-model"] == expected
