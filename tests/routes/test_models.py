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
        assert model["parameters"]["total"] > 0 and len(model["sha256"]) == 64
