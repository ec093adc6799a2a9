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
    # Real-world noise (issue 15; `app.noise.NoiseSpec` kinds). Shares of patches, the rest salt-pepper;
    # all zero (the older recipes): the salt-pepper draws of earlier runs, unchanged.
    impulse_range_share: float = 0.0  # near-extreme impulses, spread ~ U[0, spread_max]
    random_valued_share: float = 0.0
    clean_share: float = 0.0  # no impulses (the model must leave such a patch alone)
    jpeg_share: float = 0.0  # then saved as JPEG at a quality ~ U[jpeg_quality_min, 100]
    spread_max: float = 60.0
    real_world_density_max: float = 0.5  # impulse-range and random-valued densities ~ U[0, this]
    jpeg_quality_min: int = 60
    label_threshold: float = 0.0  # a value is "corrupted" (the detector's target) when moved more than this
    # On patches saved as JPEG after the noise, that threshold instead (`training.fit.corrupted_label`);
    # 0: `label_threshold` on every patch, as every stage before stop 30. At 0.08 beside 0.04 it did not pay
    # (detector alone, 1,000 steps: 33.25 against 33.29 without JPEG patches; docs/model-design.md, stop 30).
    reencoded_label_threshold: float = 0.0
    # Blind loss: a patch's restoration error is divided by its corrupted values plus one, or by this share of
    # its values when that is more (`training.fit.blind_terms`). 0: plus one, as the shipped stages trained.
    error_floor: float = 0.0
    # Blind loss: the restoration error squared instead of absolute. PSNR prices a missed impulse (a large
    # error) far above many small ones; L1 prices them alike, and trained through the frozen U-Net on it
    # the detector learned to miss (stop 29). Squared, it missed more: random-valued 0.2 -1.8 dB in 750
    # steps (docs/model-design.md, stop 30). False: absolute, as every stage before.
    squared_error: bool = False
    # The validation cases of a real-world recipe (`training.data.VALIDATION_CASES`): "" the eight of the blind
    # model, "saved" eight saved as JPEG (`jpeg-unet`, which is not meant for unsaved photos).
    validation_cases: str = ""
    train_only: str = ""  # name prefix of the layers this stage trains ("": all of them)
    # Blind models, training only: the detector's decision passes the gradient as if its dead zone reached
    # this much further on each side (a straight-through estimate; the forward pass, and so the exported
    # model, unchanged). 0: the restoration error reaches the detector only inside the zone.
    straight_through_margin: float = 0.0
    # Blind models, training only: False stops the restoration error's gradient at the detector's decision,
    # so the detector learns from its cross-entropy alone while the rest learns to restore from what it
    # flags. Trained through the frozen U-Net on the restoration loss, the detector lost 1.1-1.2 dB on
    # random-valued and near-extreme impulses in 1,000 steps, JPEG patches or none (docs/model-design.md,
    # stop 29). True: as every stage before.
    restoration_to_detector: bool = True
    # Layers whose names do not start with `full_rate_prefix` train at `other_lr_scale` times the learning
    # rate ("": every layer at the full rate). A whole-model stage can hold the U-Net near its weights
    # while the detector moves (at the full rate the U-Net unlearned exact salt-and-pepper: model-design).
    full_rate_prefix: str = ""
    other_lr_scale: float = 1.0

    @property
    def real_world(self) -> bool:
        """True when patches get more than exact salt-and-pepper."""
        return bool(self.impulse_range_share or self.random_valued_share or self.clean_share or self.jpeg_share)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "Recipe":
        """The recipe a model card records (`as_dict` through JSON); fields added since take their defaults."""
        known = {f.name for f in fields(cls)}
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in known}
        return cls(**values)

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
