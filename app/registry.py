"""The models in `models/`: each `<name>.onnx` with its `<name>.json` card, loaded once and warmed up.

Lifecycle as in MLServer: `load()` builds every session (the process is live before this finishes),
`warm_up()` runs each once so the first request does not pay for allocation; then `ready` is true.

int8 twins (issue 16): a model whose card says `int8_of` another (`python -m training quantize`) runs in
that model's place on the CPU provider, for requests that name the float model or none, unless the
`prefer_int8` setting is off. Only a twin made from the very file being served (its card's sha256) is
trusted: a float model re-exported without a new twin is served as float, with a warning. The CUDA
provider keeps float (the twin is made and measured for onnxruntime's CPU int8 kernels; on CUDA it has not
been measured, and the float model there is already 35 ms for 1920x1080).
Every response says which model ran (`X-Model`); `/models` shows `runs_as` on the float entry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.cards import file_sha256, int8_source, read_card
from app.errors import NotReady, UnknownModel
from app.imaging import DecodedImage
from app.inference import Denoiser, choose_providers
from app.settings import Settings

log = logging.getLogger("app.registry")

# Not a model: `model=auto` asks the pipeline to pick one per upload (`app.pipeline.denoise_auto`), so no
# model file may be called this.
AUTO = "auto"


@dataclass
class LoadedModel:
    name: str
    path: Path
    card: dict
    denoiser: Denoiser

    @property
    def precision(self) -> str:
        return self.card.get("precision", "float32")

    def describe(self, runs_as: str | None = None) -> dict:
        """What /models shows: the card's summary fields and how this process runs the model (`runs_as`:
        the int8 twin that answers requests for it)."""
        keys = ("description", "architecture", "parameters", "training", "scores", "speed", "sha256", "opset", "int8_of")
        return {"name": self.name, "provider": self.denoiser.provider, "pad_multiple": self.denoiser.pad_multiple,
                "precision": self.precision, **({"runs_as": runs_as} if runs_as else {}),
                **{k: self.card[k] for k in keys if k in self.card}}


@dataclass
class ModelRegistry:
    settings: Settings
    models: dict[str, LoadedModel] = field(default_factory=dict)
    default_name: str | None = None
    twins: dict[str, str] = field(default_factory=dict)  # float model -> the int8 twin that runs in its place
    ready: bool = False

    def load(self) -> None:
        providers = choose_providers(self.settings.provider)
        paths = sorted(Path(self.settings.models_dir).glob("*.onnx"))
        if not paths:
            raise RuntimeError(f"no .onnx models in {self.settings.models_dir}")
        for path in paths:
            if path.stem == AUTO:
                raise RuntimeError(f"{path}: {AUTO!r} is not a model name: model={AUTO} picks one per upload (app.pipeline)")
            card = read_card(path, missing_ok=True)
            denoiser = Denoiser(path, providers, self.settings.threads, self.settings.tile_size, self.settings.tile_margin,
                                int(card.get("cpu_tile_size", 0)))
            self.models[path.stem] = LoadedModel(path.stem, path, card, denoiser)
            log.info("loaded model", extra={"model": path.stem, "provider": denoiser.provider})
        self.default_name = self._pick_default()
        self.twins = self._pick_twins() if self.settings.prefer_int8 else {}

    def _pick_twins(self) -> dict[str, str]:
        """Float name -> int8 twin, for twins made from the served file and both running on the CPU."""
        twins = {}
        for twin in self.models.values():
            source = int8_source(twin.card) or {}
            base = self.models.get(source.get("name", ""))
            if base is None or {base.denoiser.provider, twin.denoiser.provider} != {"CPUExecutionProvider"}:
                continue
            if source.get("sha256") != file_sha256(base.path):
                log.warning("int8 twin not used: made from another version of its float model",
                            extra={"model": twin.name, "float_model": base.name})
                continue
            twins[base.name] = twin.name
            log.info("int8 twin runs in place of its float model", extra={"model": twin.name, "float_model": base.name})
        return twins

    def describe(self) -> list[dict]:
        """Every model as /models shows it."""
        return [m.describe(self.twins.get(m.name)) for m in self.models.values()]

    def _pick_default(self) -> str:
        wanted = self.settings.default_model
        if wanted:
            if wanted not in self.models:
                raise RuntimeError(f"default model {wanted!r} is not in {self.settings.models_dir}")
            return wanted
        flagged = [m.name for m in self.models.values() if m.card.get("default")]
        return flagged[0] if flagged else next(iter(self.models))

    def warm_up(self) -> None:
        """One small image through each model's `denoise`, the path requests take."""
        probe = DecodedImage(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
        for model in self.models.values():
            model.denoiser.denoise(probe)
        self.ready = True

    def get(self, name: str | None) -> LoadedModel:
        """The model that answers for `name` (None: the default): its int8 twin where one answers for it."""
        if not self.ready:
            raise NotReady("the models are still loading; retry shortly", headers={"Retry-After": "5"})
        wanted = name or self.default_name
        if wanted not in self.models:
            shown = wanted if len(wanted) <= 64 else wanted[:64] + "..."  # never echo a megabyte back
            raise UnknownModel(f"unknown model {shown!r}; available: {', '.join(self.models)}, or {AUTO}")
        return self.models[self.twins.get(wanted, wanted)]
