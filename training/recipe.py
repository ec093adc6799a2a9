"""How an architecture is trained: loss, optimiser, patch sampling and noise augmentation."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace


@dataclass(frozen=True)
class Recipe:
    """Training defaults of one architecture; the CLI can override batch, patch and learning rate.

    `pad_multiple` is the factor the model's input height and width must divide by; the service and
    the evaluator pad (reflect) to it and crop back.
    """

    loss: str  # "bce", "l1" or "l1-per-impulse" (training/fit.py)
    learning_rate: float
    clipnorm: float | None
    cosine_decay: bool
    batch: int
    patch: int
    density_max: float  # training densities ~ U[0, density_max]
    per_pixel_share: float  # share of colour patches hit per pixel instead of per channel
    grey_share: float  # share of patches turned grey (3 equal channels, per-pixel noise)
    clip_augment_share: float  # share of patches given an exposure/contrast change that clips
    salt_ratio_range: tuple[float, float]
    pad_multiple: int
    # Photos that are grey (three equal channels, e.g. all of Train400) get per-pixel noise: noise on a
    # grey photo hits a pixel, there are no channels to hit apart. Off, most of their patches got
    # per-channel noise, which the cross-channel estimate undoes exactly: a case grey photos never show.
    grey_photos_per_pixel: bool = False

    def as_dict(self) -> dict:
        return asdict(self)

    def with_overrides(self, overrides: dict[str, str]) -> "Recipe":
        """A copy with some scalar fields replaced from text (`--recipe KEY=VALUE` on the command line)."""
        types = {f.name: type(getattr(self, f.name)) for f in fields(self)}
        changes: dict[str, object] = {}
        for key, text in overrides.items():
            kind = types.get(key)
            if kind not in (bool, int, float, str) or key == "pad_multiple":  # pad_multiple: the architecture's
                settable = ", ".join(k for k, t in types.items() if t in (bool, int, float, str) and k != "pad_multiple")
                raise ValueError(f"recipe field {key!r} cannot be set; settable: {settable}")
            if kind is bool:
                if text.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(f"recipe field {key!r} takes true or false, not {text!r}")
                changes[key] = text.lower() in ("true", "1")
            else:
                changes[key] = kind(text)
        return replace(self, **changes)
