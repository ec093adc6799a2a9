import hashlib

import onnxruntime as ort

from tests.conftest import MODELS


def test_models_lists_every_shipped_model_with_its_card(client):
    body = client.get("/models").json()
    names = {m["name"] for m in body["models"]}
    assert names == {p.stem for p in MODELS.glob("*.onnx")}
    assert body["default"] in names
    assert body["auto"]["then"] == ["jpeg-unet", "blind-unet"]  # what model=auto may run after the default
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
        settings = Settings(models_dir=tmp_path, default_model=setting, threads=2, prefer_int8=False)
        with TestClient(create_app(settings)) as c:
            wait_ready(c)
            assert c.get("/models").json()["default"] == expected
            upload = png_bytes(camera[:32, :32])
            assert c.post("/denoise", files={"file": ("g.png", upload)}).headers["x-model"] == expected


def _serve(models_dir, **settings):
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.settings import Settings

    return TestClient(create_app(Settings(models_dir=models_dir, threads=2, provider="cpu", **settings)))


def _denoised_by(client, image) -> tuple[str, bytes]:
    from tests.conftest import png_bytes, wait_ready

    wait_ready(client)
    r = client.post("/denoise", files={"file": ("a.png", png_bytes(image))})
    assert r.status_code == 200
    return r.headers["x-model"], r.content


def test_an_int8_twin_answers_for_its_float_model_on_the_cpu_unless_turned_off(astronaut):
    """Shipped: prefill-unet-int8 (made from prefill-unet.onnx). The default request runs the twin and says
    so; with prefer_int8 off, the float model runs and nobody answers for it."""
    from app.noise import salt_and_pepper

    noisy = salt_and_pepper(astronaut[:96, :96], 0.3, seed=3)
    with _serve(MODELS) as c:
        ran, twin_output = _denoised_by(c, noisy)
        listed = {m["name"]: m for m in c.get("/models").json()["models"]}
    assert ran == "prefill-unet-int8" and listed["prefill-unet"]["runs_as"] == ran
    assert listed[ran]["precision"] == "int8" and listed[ran]["int8_of"]["name"] == "prefill-unet"
    assert listed["prefill-unet"]["precision"] == "float32"
    with _serve(MODELS, prefer_int8=False) as c:
        ran, float_output = _denoised_by(c, noisy)
        assert ran == "prefill-unet" and all("runs_as" not in m for m in c.get("/models").json()["models"])
    assert twin_output != float_output  # two different models really ran


def test_a_twin_made_from_another_version_of_the_float_model_is_not_used(tmp_path, astronaut, capfd):
    import shutil

    from app.cards import read_card, write_card

    for path in MODELS.glob("prefill-unet*"):
        shutil.copy(path, tmp_path / path.name)
    card = read_card(tmp_path / "prefill-unet-int8.json")
    write_card(tmp_path / "prefill-unet-int8.json", {**card, "int8_of": {**card["int8_of"], "sha256": "0" * 64}})
    with _serve(tmp_path) as c:
        ran, _ = _denoised_by(c, astronaut[:64, :64])
    assert ran == "prefill-unet"
    assert "int8 twin not used" in capfd.readouterr().out  # the app's JSON log lines (stdout)


def test_on_cuda_the_float_model_keeps_answering():
    """The twins are for the CPU provider: a float model running on CUDA keeps its requests (int8
    convolutions are a CPU kernel)."""
    from app.registry import ModelRegistry
    from app.settings import Settings

    registry = ModelRegistry(Settings(models_dir=MODELS, threads=1, provider="cpu"))
    registry.load()
    assert registry.twins == {"prefill-unet": "prefill-unet-int8", "blind-unet": "blind-unet-int8"}
    for model in registry.models.values():
        model.denoiser.provider = "CUDAExecutionProvider"  # as onnxruntime-gpu would report
    assert registry._pick_twins() == {}


def test_blind_unets_twin_answers_for_it_in_its_tiles():
    """Stop 39: blind-unet's int8 twin answers for it on the CPU, in blind-unet's CPU tile (768, the memory
    bound: docs/benchmarks.md), which its card carries from the float model's."""
    from app.registry import ModelRegistry
    from app.settings import Settings

    registry = ModelRegistry(Settings(models_dir=MODELS, threads=1, provider="cpu"))
    registry.load()
    registry.ready = True
    served = registry.get("blind-unet")
    assert served.name == "blind-unet-int8" and served.precision == "int8"
    assert served.denoiser.tile_size == registry.models["blind-unet"].denoiser.tile_size == 768
