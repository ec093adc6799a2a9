"""Recipe overrides (`fit --recipe KEY=VALUE`) and the grey-photo noise rule of the patch sampler."""

import numpy as np
import pytest

from training.architectures.prefill_unet import RECIPE
from training.data import is_grey, make_patch_pair, validation_set


def test_overrides_parse_each_field_by_its_type():
    recipe = RECIPE.with_overrides({"grey_share": "0.35", "batch": "8", "grey_photos_per_pixel": "true",
                                    "loss": "l2-per-impulse"})
    assert (recipe.grey_share, recipe.batch, recipe.grey_photos_per_pixel, recipe.loss) == (
        0.35, 8, True, "l2-per-impulse")
    assert RECIPE.with_overrides({}) == RECIPE and RECIPE.grey_photos_per_pixel is False


@pytest.mark.parametrize("overrides, message", [
    ({"no_such_field": "1"}, "cannot be set"),
    ({"salt_ratio_range": "0.5"}, "cannot be set"),
    ({"pad_multiple": "16"}, "cannot be set"),
    ({"grey_photos_per_pixel": "yes please"}, "true or false"),
    ({"batch": "eight"}, "invalid literal"),
])
def test_overrides_refuse_what_they_cannot_set(overrides, message):
    with pytest.raises(ValueError, match=message):
        RECIPE.with_overrides(overrides)


def _grey_photo(camera: np.ndarray) -> np.ndarray:
    return np.repeat(camera[..., None], 3, axis=2)


def test_grey_photos_get_per_pixel_noise_when_the_recipe_says_so(camera):
    """Per-pixel noise hits all three channels of a pixel at once, so a noisy grey patch stays grey."""
    photo = _grey_photo(camera)
    recipe = RECIPE.with_overrides({"grey_share": "0", "clip_augment_share": "0", "per_pixel_share": "0",
                                    "grey_photos_per_pixel": "true"})
    rng = np.random.default_rng(0)
    for _ in range(20):
        noisy, clean = make_patch_pair(photo, recipe, 64, rng)
        assert is_grey(noisy) and is_grey(clean)
    # Without the rule (and no per-pixel share), a grey photo gets per-channel noise: channels differ.
    old = recipe.with_overrides({"grey_photos_per_pixel": "false"})
    assert not all(is_grey(make_patch_pair(photo, old, 64, rng)[0]) for _ in range(20))


def test_colour_photos_keep_per_channel_noise(astronaut):
    recipe = RECIPE.with_overrides({"grey_share": "0", "clip_augment_share": "0", "per_pixel_share": "0",
                                    "grey_photos_per_pixel": "true"})
    rng = np.random.default_rng(1)
    noisy = [make_patch_pair(astronaut, recipe, 64, rng)[0] for _ in range(10)]
    extreme = [(n == 0) | (n == 255) for n in noisy]
    # Per-channel: some pixel somewhere has an impulse in one channel but not in another.
    assert any((e.any(axis=2) & ~e.all(axis=2)).any() for e in extreme)


def test_validation_set_noises_grey_photos_per_pixel(astronaut, camera):
    images = [_grey_photo(camera), astronaut]  # index 0: per-channel under the old rule
    noisy, _ = validation_set(images, 64, (0.5,), seed=0, per_image=1, grey_per_pixel=True)
    assert is_grey((noisy[0] * 255).astype(np.uint8))
    noisy_old, _ = validation_set(images, 64, (0.5,), seed=0, per_image=1)
    assert not is_grey((noisy_old[0] * 255).astype(np.uint8))


def test_real_world_validation_can_hold_every_colour_photo_per_channel(astronaut):
    """`per_channel=True` (scripts/blind_oracle.py --colour, the CBSD68 tables' case): the odd-numbered photo
    too gets noise that hits channels apart, where by default it gets per-pixel noise."""
    from training.data import REAL_WORLD_VALIDATION, real_world_validation_set

    photo = np.clip(astronaut, 1, 254)  # no 0/255 of its own
    images = [photo, np.ascontiguousarray(photo[::-1])]
    sp = [case[0] for case in REAL_WORLD_VALIDATION].index("sp0.5")
    second = len(REAL_WORLD_VALIDATION) + sp  # the second photo's exact salt-and-pepper 0.5 patch

    def split_pixels(noisy: np.ndarray) -> bool:
        extreme = (noisy[second] == 0) | (noisy[second] == 1)
        return bool((extreme.any(axis=2) & ~extreme.all(axis=2)).any())

    default, _, _ = real_world_validation_set(images, 64, seed=0)
    forced, _, _ = real_world_validation_set(images, 64, seed=0, per_channel=True)
    assert not split_pixels(default) and split_pixels(forced)


def test_validation_layouts_name_each_photos_group(astronaut, camera):
    """The one rule both validation sets and `fit`'s report by group follow: per channel on even-numbered
    photos, per pixel on odd ones, and on grey photos too under the grey rule; a forced `per_channel` wins."""
    from training.data import validation_layouts

    grey = _grey_photo(camera)
    images = [grey, astronaut, astronaut, grey]
    groups = lambda **kw: [layout.group for layout in validation_layouts(images, **kw)]
    assert groups(grey_per_pixel=True) == ["grey/pixel", "colour/pixel", "colour/channel", "grey/pixel"]
    assert groups(grey_per_pixel=False) == ["grey/channel", "colour/pixel", "colour/channel", "grey/pixel"]
    assert groups(grey_per_pixel=True, per_channel=True) == ["grey/channel", "colour/channel", "colour/channel",
                                                             "grey/channel"]


def test_saved_validation_cases_are_all_saved_as_jpeg_and_named_by_the_recipe(astronaut):
    """`jpeg-unet`'s recipe validates on `SAVED_VALIDATION`: every patch saved as JPEG (no exact 0/255 left
    in a noisy one, which an unsaved salt-and-pepper patch keeps), the clean case its own reference."""
    from training.architectures import jpeg_unet
    from training.data import REAL_WORLD_VALIDATION, SAVED_VALIDATION, real_world_validation_set, validation_cases

    assert validation_cases(jpeg_unet.RECIPE.validation_cases) is SAVED_VALIDATION
    assert validation_cases("") is REAL_WORLD_VALIDATION
    from training.data import DENSE_VALIDATION  # the study set of scripts/blind_threshold.py --cases dense

    assert validation_cases("dense") is DENSE_VALIDATION and min(case[2] for case in DENSE_VALIDATION[:-1]) >= 0.3
    with pytest.raises(ValueError, match="'saved'"):
        validation_cases("nope")
    photo = np.clip(astronaut, 40, 215)  # far from the extremes: a saved impulse leaves none there
    noisy, clean, names = real_world_validation_set([photo], 64, seed=0, cases=SAVED_VALIDATION)
    assert names == tuple(case[0] for case in SAVED_VALIDATION) and len(noisy) == len(SAVED_VALIDATION)
    assert all(case[4] is not None for case in SAVED_VALIDATION)
    for k, (name, kind, density, _, _) in enumerate(SAVED_VALIDATION):
        values = np.rint(noisy[k] * 255)
        if density == 0:
            assert np.array_equal(clean[k], values.astype(np.uint8)), name  # the saved clean patch is the target
        else:
            assert not np.array_equal(clean[k], values.astype(np.uint8)), name
        if kind == "salt-pepper" and density:
            assert 0 < np.mean((values == 0) | (values == 255)) < density, name  # saving moved most impulses
