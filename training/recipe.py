"""How an architecture is trained: loss, optimiser, patch sampling and noise augmentation."""

from __future__ import annotations

from dataclasses import asdict, dataclass


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

    def as_dict(self) -> dict:
        return asdict(self)
