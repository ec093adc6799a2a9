"""Patches and impulse noise drawn on the accelerator, inside the jitted train step (JAX backend).

Why: on an H200 the default-sized U-Net trains at about 180 M patch pixels per second, some 11,000
128x128 patches a second, while the host sampler (`training/data.py`: numpy crops and noise, one
thread) makes about 840 a second. Here the photos go to the device once, as one padded uint8 array,
and every step draws its crops, dihedral transforms, exposure changes, grey conversions and noise
with `jax.random` in the same compiled program as the forward and backward pass: no host work and no
transfer per step.

It follows the recipe's shares as `training.data.make_patch_pair` does, with the same noise kinds as
`app.noise` (salt-pepper; impulse-range, pepper in [0, s] and salt in [255 - s, 255]; random-valued),
per channel or per pixel, on whole grey levels. It is another random stream than the host sampler's,
not another noise: `tests/test_device_sampler.py` checks the statistics against `app.noise`. A recipe's
JPEG saves (`jpeg_share`, quality ~ U{jpeg_quality_min..100}, after the noise as on the host) go through
`training.device_jpeg`, libjpeg's save and read-back in jax.numpy; the patch must then be a multiple of
16, JPEG's 4:2:0 block of blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.recipe import Recipe


def _pad_to(image: np.ndarray, height: int, width: int) -> np.ndarray:
    h, w = image.shape[:2]
    return np.pad(image, ((0, height - h), (0, width - w), (0, 0)))


@dataclass(frozen=True)
class DevicePhotos:
    """All training photos in one zero-padded (N, H, W, 3) uint8 device array and their true sizes.

    Photos smaller than a patch are reflect-padded up to it first, as the host sampler does."""

    pixels: object  # jax.Array (N, H, W, 3) uint8
    sizes: object  # jax.Array (N, 2) int32: each photo's height and width

    @classmethod
    def upload(cls, images: list[np.ndarray], patch: int) -> DevicePhotos:
        import jax.numpy as jnp

        grown = []
        for image in images:
            h, w = image.shape[:2]
            if h < patch or w < patch:
                image = np.pad(image, ((0, max(0, patch - h)), (0, max(0, patch - w)), (0, 0)), mode="reflect")
            grown.append(image)
        height, width = max(i.shape[0] for i in grown), max(i.shape[1] for i in grown)
        pixels = np.stack([_pad_to(i, height, width) for i in grown])
        sizes = np.array([i.shape[:2] for i in grown], dtype=np.int32)
        return cls(jnp.asarray(pixels), jnp.asarray(sizes))


JPEG_BLOCK = 16  # 4:2:0 chroma is one 8x8 block per 16x16 pixels


def check_recipe(recipe: Recipe, patch: int) -> None:
    """ValueError for what the device cannot draw: JPEG saves of a patch that is not whole 16x16 blocks
    (libjpeg pads such an image by repeating its edges; `device_jpeg` does not)."""
    if recipe.jpeg_share and patch % JPEG_BLOCK:
        raise ValueError(f"the device sampler saves JPEG only for patches that are a multiple of {JPEG_BLOCK} "
                         f"(jpeg_share > 0, patch {patch}): --patch {patch - patch % JPEG_BLOCK or JPEG_BLOCK}, "
                         "the host sampler (fit --sampler host) or --recipe jpeg_share=0")


def sample(key, photos: DevicePhotos, recipe: Recipe, patch: int, batch: int):
    """(noisy, clean), float32 (batch, patch, patch, 3) in [0, 1] on whole grey levels; jittable."""
    import jax
    import jax.numpy as jnp

    keys = iter(jax.random.split(key, 24))  # 21 used
    uniform = lambda shape=(batch,): jax.random.uniform(next(keys), shape)
    index = jax.random.randint(next(keys), (batch,), 0, photos.pixels.shape[0])
    size = photos.sizes[index]
    top = jnp.floor(uniform() * (size[:, 0] - patch + 1)).astype(jnp.int32)
    left = jnp.floor(uniform() * (size[:, 1] - patch + 1)).astype(jnp.int32)
    crop = jax.vmap(lambda i, y, x: jax.lax.dynamic_slice(photos.pixels[i], (y, x, 0), (patch, patch, 3)))(
        index, top, left).astype(jnp.float32) / 255.0

    def per_sample(flag):
        return flag[:, None, None, None]

    # The eight dihedral transforms (the host's rot90 x flip): transpose, then flip rows, then columns.
    crop = jnp.where(per_sample(uniform() < 0.5), jnp.swapaxes(crop, 1, 2), crop)
    crop = jnp.where(per_sample(uniform() < 0.5), crop[:, ::-1], crop)
    crop = jnp.where(per_sample(uniform() < 0.5), crop[:, :, ::-1], crop)

    # Exposure change that clips (training.data._clip_augment's formula).
    gamma, gain = 0.6 + 1.0 * uniform(), 1.0 + uniform()
    pivot, shift = 0.2 + 0.6 * uniform(), -0.3 + 0.6 * uniform()
    exposed = (crop ** per_sample(gamma) - per_sample(pivot)) * per_sample(gain) + per_sample(pivot + shift)
    exposed = jnp.clip(jnp.round(exposed * 255.0), 0.0, 255.0) / 255.0
    crop = jnp.where(per_sample(uniform() < recipe.clip_augment_share), exposed, crop)

    made_grey = uniform() < recipe.grey_share
    grey = jnp.round(jnp.mean(crop, axis=-1, keepdims=True) * 255.0) / 255.0
    crop = jnp.where(per_sample(made_grey), jnp.broadcast_to(grey, crop.shape), crop)
    is_grey = jnp.all(crop == crop[..., :1], axis=(1, 2, 3))
    per_pixel = made_grey | (is_grey if recipe.grey_photos_per_pixel else False) | (uniform() < recipe.per_pixel_share)

    # Kind (0 salt-pepper, 1 impulse-range, 2 random-valued) and density by the recipe's shares; clean
    # patches are salt-pepper at density 0.
    u = uniform()
    shares = np.cumsum([recipe.impulse_range_share, recipe.random_valued_share, recipe.clean_share])
    kind = jnp.where(u < shares[0], 1, jnp.where(u < shares[1], 2, 0))
    density = jnp.where(kind == 0, recipe.density_max, recipe.real_world_density_max) * uniform()
    density = jnp.where((u >= shares[1]) & (u < shares[2]), 0.0, density)
    salt_ratio = recipe.salt_ratio_range[0] + (recipe.salt_ratio_range[1] - recipe.salt_ratio_range[0]) * uniform()
    spread = jnp.floor(uniform() * (recipe.spread_max + 1.0))

    # One uniform per site (per value, or per pixel for all its channels), as app.noise: hit below the
    # density, salt below density * salt_ratio; then one value per hit site for the random kinds.
    site = uniform((batch, patch, patch, 3))
    site = jnp.where(per_sample(per_pixel), site[..., :1], site)
    hit = site < per_sample(density)
    salt = site < per_sample(density * salt_ratio)
    v = uniform((batch, patch, patch, 3))
    v = jnp.where(per_sample(per_pixel), v[..., :1], v)
    offset = jnp.minimum(jnp.floor(v * per_sample(spread + 1.0)), per_sample(spread))
    values = jnp.where(per_sample(kind == 1), jnp.where(salt, 255.0 - offset, offset),
                       jnp.where(per_sample(kind == 2), jnp.minimum(jnp.floor(v * 256.0), 255.0),
                                 jnp.where(salt, 255.0, 0.0)))
    noisy = jnp.where(hit, values / 255.0, crop)

    # Then a JPEG save for a `jpeg_share` of the patches (training.data.real_world_spec): a clean patch
    # saved as JPEG stays its own target, as on the host (the model must leave a clean photo alone).
    if recipe.jpeg_share:
        from training.device_jpeg import jpeg_roundtrip

        saved = uniform() < recipe.jpeg_share
        quality = jax.random.randint(next(keys), (batch,), recipe.jpeg_quality_min, 101)
        noisy = jnp.where(per_sample(saved), jpeg_roundtrip(noisy * 255.0, quality) / 255.0, noisy)
        crop = jnp.where(per_sample(saved & (density == 0.0)), noisy, crop)
    return noisy, crop
