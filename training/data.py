"""Photo folders -> random crops -> fresh noise of every kind the recipe asks for, as numpy batches.

Noise comes from `app.noise` (the service's own generator), drawn anew for every patch, so no two
epochs see the same corruption.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from app.formats import INPUT_SUFFIXES
from app.imaging import read_photo
from app.noise import NoiseSpec, add_noise, salt_and_pepper
from training.recipe import Recipe


def list_images(folder: Path) -> list[Path]:
    """Every image file under `folder`, recursively, sorted for reproducibility."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"not a folder: {folder}")
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in INPUT_SUFFIXES and p.is_file())


def load_rgb(path: Path) -> np.ndarray:
    """uint8 (H, W, 3) through the service's decoder; grey images become three equal channels."""
    pixels = read_photo(path)
    return pixels if pixels.ndim == 3 else np.repeat(pixels[..., None], 3, axis=2)


def split_files(files: list[Path], val_fraction: float, seed: int) -> tuple[list[Path], list[Path]]:
    """Seeded random split into (train, validation); validation gets at least one file."""
    order = np.random.default_rng(seed).permutation(len(files))
    n_val = max(1, int(round(len(files) * val_fraction))) if len(files) > 1 else 0
    val = sorted(files[i] for i in order[:n_val])
    train = sorted(files[i] for i in order[n_val:])
    return train, val



def split_folders(folders: list[str], val_fraction: float, seed: int,
                  max_images: int = 0) -> tuple[list[Path], list[Path]]:
    """(train, validation) files of photo folders, each folder split on its own as `split_files` does:
    what `fit` trains and validates on, and what `quantize` calibrates and checks on."""
    train: list[Path] = []
    val: list[Path] = []
    for folder in folders:
        files = list_images(Path(folder))
        if max_images:
            files = files[:max_images]
        if not files:
            raise ValueError(f"no images under {folder}")
        t, v = split_files(files, val_fraction, seed)
        train += t
        val += v
    return train, val

@dataclass
class Batch:
    noisy: np.ndarray  # float32 (B, P, P, 3) in [0, 1]
    clean: np.ndarray


def _random_crop(image: np.ndarray, patch: int, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    if h < patch or w < patch:  # small image: reflect-pad up to the patch size
        image = np.pad(image, ((0, max(0, patch - h)), (0, max(0, patch - w)), (0, 0)), mode="reflect")
        h, w = image.shape[:2]
    y, x = rng.integers(0, h - patch + 1), rng.integers(0, w - patch + 1)
    crop = image[y : y + patch, x : x + patch]
    crop = np.rot90(crop, rng.integers(4))
    return crop[:, ::-1] if rng.random() < 0.5 else crop


def _clip_augment(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Exposure/contrast/gamma change that clips, so clean patches hold true 0 and 255 regions.

    Phone and camera photos have blown highlights and crushed shadows that the BSDS photos rarely
    have; the model must learn to keep them although they look like impulses.
    """
    x = crop.astype(np.float32) / 255.0
    x = x ** rng.uniform(0.6, 1.6)
    gain = rng.uniform(1.0, 2.0)
    pivot = rng.uniform(0.2, 0.8)
    x = (x - pivot) * gain + pivot + rng.uniform(-0.3, 0.3)
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def is_grey(pixels: np.ndarray) -> bool:
    """True when all three channels are equal (a grey photo stored or loaded as RGB)."""
    return bool(np.array_equal(pixels[..., 0], pixels[..., 1]) and np.array_equal(pixels[..., 1], pixels[..., 2]))


def make_patch_pair(
    image: np.ndarray, recipe: Recipe, patch: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One (noisy, clean) uint8 patch pair following the recipe's augmentation shares."""
    noisy, clean, _ = make_patch(image, recipe, patch, rng)
    return noisy, clean


def make_patch(
    image: np.ndarray, recipe: Recipe, patch: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, NoiseSpec | None]:
    """`make_patch_pair` with the noise it drew under a real-world recipe (None under a salt-pepper one),
    for probes that need to know what a patch got (scripts/reencoded_share_probe.py)."""
    crop = _random_crop(image, patch, rng)
    if rng.random() < recipe.clip_augment_share:
        crop = _clip_augment(crop, rng)
    grey = rng.random() < recipe.grey_share
    if grey:
        crop = np.repeat(crop.mean(axis=2, keepdims=True).round().astype(np.uint8), 3, axis=2)
    elif recipe.grey_photos_per_pixel:
        grey = is_grey(crop)
    per_pixel = grey or rng.random() < recipe.per_pixel_share
    if recipe.real_world:  # a clean patch saved as JPEG is its own target: a clean photo is left alone
        spec = real_world_spec(recipe, per_pixel, rng)
        noisy = add_noise(crop, spec, rng=rng)
        return noisy, (noisy if spec.density == 0 else np.ascontiguousarray(crop)), spec
    density = rng.uniform(0.0, recipe.density_max)
    salt_ratio = rng.uniform(*recipe.salt_ratio_range)
    noisy = salt_and_pepper(crop, density, salt_ratio, per_channel=not per_pixel, rng=rng)
    return noisy, np.ascontiguousarray(crop), None


def real_world_spec(recipe: Recipe, per_pixel: bool, rng: np.random.Generator) -> NoiseSpec:
    """One patch's noise under a real-world recipe: a kind by the recipe's shares (salt-pepper takes the
    rest), its density and spread, then a JPEG save for a `jpeg_share` of the patches."""
    u = rng.random()
    shares = (recipe.impulse_range_share, recipe.random_valued_share, recipe.clean_share)
    if u < shares[0]:
        kind, density = "impulse-range", rng.uniform(0.0, recipe.real_world_density_max)
    elif u < shares[0] + shares[1]:
        kind, density = "random-valued", rng.uniform(0.0, recipe.real_world_density_max)
    elif u < sum(shares):
        kind, density = "salt-pepper", 0.0
    else:
        kind, density = "salt-pepper", rng.uniform(0.0, recipe.density_max)
    jpeg = int(rng.integers(recipe.jpeg_quality_min, 101)) if rng.random() < recipe.jpeg_share else None
    return NoiseSpec(kind, density, rng.uniform(*recipe.salt_ratio_range), per_channel=not per_pixel,
                     spread=rng.uniform(0.0, recipe.spread_max), jpeg_quality=jpeg)


class PatchSampler:
    """Endless seeded batches of random patches from images held in memory.

    A background thread builds the next batches while TensorFlow trains on the current one.
    """

    def __init__(self, images: list[np.ndarray], recipe: Recipe, patch: int, batch: int, seed: int):
        if not images:
            raise ValueError("no training images")
        self.images, self.recipe, self.patch, self.batch = images, recipe, patch, batch
        self.rng = np.random.default_rng(seed)

    def next_batch(self) -> Batch:
        pairs = [
            make_patch_pair(self.images[self.rng.integers(len(self.images))], self.recipe, self.patch, self.rng)
            for _ in range(self.batch)
        ]
        noisy = np.stack([p[0] for p in pairs]).astype(np.float32) / 255.0
        clean = np.stack([p[1] for p in pairs]).astype(np.float32) / 255.0
        return Batch(noisy, clean)

    def prefetch(self, depth: int = 8) -> Iterator[Batch]:
        q: queue.Queue[Batch] = queue.Queue(maxsize=depth)

        def work() -> None:
            while True:
                q.put(self.next_batch())

        threading.Thread(target=work, daemon=True).start()
        while True:
            yield q.get()


class Layout(NamedTuple):
    """How one validation photo's patches are corrupted, and so the group they are reported in."""

    grey: bool  # the photo's three channels are equal
    per_channel: bool  # impulses hit each channel apart (else a pixel's three values together)

    @property
    def group(self) -> str:
        """"colour/channel", "colour/pixel", "grey/pixel" (or "grey/channel" without the grey rule)."""
        return f"{'grey' if self.grey else 'colour'}/{'channel' if self.per_channel else 'pixel'}"


def validation_layouts(images: list[np.ndarray], grey_per_pixel: bool, per_channel: bool | None = None) -> list[Layout]:
    """The one rule for how validation photos are corrupted: noise per channel on even-numbered photos and
    per pixel on odd ones (a per-channel-only set hid the net's progress on per-pixel noise); with
    `grey_per_pixel` (the recipe's `grey_photos_per_pixel`), always per pixel on grey photos; `per_channel`
    True or False: always so. `fit` reports its validation by these groups, because one mean hid a trade:
    every 1,000-step variant of the blind stage lost 0.2-0.6 dB on per-pixel noise, colour and grey photos
    alike, while per-channel noise held or gained (docs/model-design.md, stops 27 and 28)."""
    layouts = []
    for index, image in enumerate(images):
        grey = is_grey(image)
        chosen = index % 2 == 0 and not (grey_per_pixel and grey) if per_channel is None else per_channel
        layouts.append(Layout(grey, chosen))
    return layouts


def validation_groups(images: list[np.ndarray], grey_per_pixel: bool, per_photo: int) -> tuple[str, ...]:
    """Each validation patch's group (`Layout.group`), for a set that holds `per_photo` consecutive patches
    of each photo, as both validation sets do: what `fit` and scripts/blind_threshold.py report by."""
    return tuple(layout.group for layout in validation_layouts(images, grey_per_pixel) for _ in range(per_photo))


# Validation cases of a real-world recipe: (name, kind, density, spread, JPEG quality). The checkpoint kept
# is the best mean over these, so exact salt-and-pepper stays in (low and high density) beside each kind.
REAL_WORLD_VALIDATION = (
    ("sp0.1", "salt-pepper", 0.1, 0.0, None), ("sp0.5", "salt-pepper", 0.5, 0.0, None),
    ("sp0.9", "salt-pepper", 0.9, 0.0, None), ("sp0.3-jpeg90", "salt-pepper", 0.3, 0.0, 90),
    ("sp0.1-jpeg75", "salt-pepper", 0.1, 0.0, 75), ("range30-0.3", "impulse-range", 0.3, 30.0, None),
    ("random0.2", "random-valued", 0.2, 0.0, None), ("clean-jpeg90", "salt-pepper", 0.0, 0.0, 90),
)
# Validation cases of a model for photos saved as JPEG after the noise (`jpeg-unet`): every case saved, the
# section-3 cells of issue 15 beside one of each other kind and the clean photo it must leave alone.
SAVED_VALIDATION = (
    ("sp0.1-jpeg90", "salt-pepper", 0.1, 0.0, 90), ("sp0.3-jpeg90", "salt-pepper", 0.3, 0.0, 90),
    ("sp0.5-jpeg90", "salt-pepper", 0.5, 0.0, 90), ("sp0.1-jpeg75", "salt-pepper", 0.1, 0.0, 75),
    ("sp0.3-jpeg75", "salt-pepper", 0.3, 0.0, 75), ("range30-0.3-jpeg90", "impulse-range", 0.3, 30.0, 90),
    ("random0.2-jpeg90", "random-valued", 0.2, 0.0, 90), ("clean-jpeg90", "salt-pepper", 0.0, 0.0, 90),
)
# Dense cases, for studying a blind model's decision settings (scripts/blind_threshold.py --cases dense), not
# for training runs: the test tables' densest real-world cells, which the validation above does not hold.
DENSE_VALIDATION = (
    ("sp0.3", "salt-pepper", 0.3, 0.0, None), ("sp0.5-jpeg90", "salt-pepper", 0.5, 0.0, 90),
    ("range30-0.5", "impulse-range", 0.5, 30.0, None), ("random0.3", "random-valued", 0.3, 0.0, None),
    ("random0.4", "random-valued", 0.4, 0.0, None), ("clean-jpeg90", "salt-pepper", 0.0, 0.0, 90),
)
VALIDATION_CASES = {"": REAL_WORLD_VALIDATION, "saved": SAVED_VALIDATION,  # by `Recipe.validation_cases`
                    "dense": DENSE_VALIDATION}


def validation_cases(name: str) -> tuple[tuple, ...]:
    """The real-world validation cases a recipe's `validation_cases` names, or a ValueError listing them."""
    try:
        return VALIDATION_CASES[name]
    except KeyError:
        raise ValueError(f"unknown validation cases {name!r}; known: {', '.join(map(repr, VALIDATION_CASES))}") from None


def real_world_validation_set(images: list[np.ndarray], patch: int, seed: int, grey_per_pixel: bool = True,
                              per_channel: bool | None = None, cases: tuple[tuple, ...] = REAL_WORLD_VALIDATION,
                              ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Fixed validation patches of held-out photos, one per case (`REAL_WORLD_VALIDATION` unless told) each,
    corrupted as `validation_layouts` says, and the case names in the order the patches cycle through them."""
    rng = np.random.default_rng(seed)
    noisy, clean = [], []
    for image, layout in zip(images, validation_layouts(images, grey_per_pixel, per_channel)):
        crop = _random_crop(image, patch, rng)
        for _, kind, density, spread, jpeg in cases:
            noisy.append(add_noise(crop, NoiseSpec(kind, density, per_channel=layout.per_channel, spread=spread,
                                                   jpeg_quality=jpeg), rng=rng))
            clean.append(noisy[-1] if density == 0 else np.ascontiguousarray(crop))  # as training/evaluate.py
    names = tuple(case[0] for case in cases)
    return np.stack(noisy).astype(np.float32) / 255.0, np.stack(clean), names


def validation_set(
    images: list[np.ndarray], patch: int, densities: tuple[float, ...], seed: int, per_image: int = 2,
    grey_per_pixel: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Fixed validation patches of held-out photos at each density, corrupted as `validation_layouts` says."""
    rng = np.random.default_rng(seed)
    noisy, clean = [], []
    for image, layout in zip(images, validation_layouts(images, grey_per_pixel)):
        for _ in range(per_image):
            crop = _random_crop(image, patch, rng)
            for density in densities:
                noisy.append(salt_and_pepper(crop, density, per_channel=layout.per_channel, rng=rng))
                clean.append(np.ascontiguousarray(crop))
    return np.stack(noisy).astype(np.float32) / 255.0, np.stack(clean)
