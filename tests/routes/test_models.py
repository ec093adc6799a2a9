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


def test_default_is_the_flagged_card_unless_a_setting_names_another(client, camera):
    from fastapi.testclient import TestClient

    from app.cards import read_card
    from app.main import create_app
    from app.settings import Settings
    from tests.conftest import png_bytes, wait_ready

    flagged = [p.stem for p in MODELS.glob("*.json") if read_card(p).get("default")]
    assert len(flagged) == 1 and client.get("/models").json()["default"] == flagged[0]
    other = next(p.stem for p in MODELS.glob("*.onnx") if p.stem != flagged[0])
    with TestClient(create_app(Settings(models_dir=MODELS, default_model=other, threads=2))) as c:
        wait_ready(c)
        assert c.get("/models").json()["default"] == other
        assert c.post("/denoise", files={"file": ("g.png", png_bytes(camera[:32, :32]))}).headers["x-model"] == other
