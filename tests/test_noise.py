import numpy as np
import pytest

from app.noise import impulse_fraction, salt_and_pepper


@pytest.mark.parametrize("per_channel", [True, False])
@pytest.mark.parametrize("density,salt_ratio", [(0.1, 0.5), (0.5, 0.3), (0.9, 0.8)])
def test_measured_density_and_salt_ratio_match_parameters(density, salt_ratio, per_channel):
    clean = np.full((512, 512, 3), 128, np.uint8)
    noisy = salt_and_pepper(clean, density, salt_ratio, per_channel=per_channel, seed=1)
    hit = noisy != 128
    salt = noisy == 255
    assert abs(hit.mean() - density) < 0.01
    assert abs(salt.sum() / hit.sum() - salt_ratio) < 0.01
    assert np.all((noisy == 0) | (noisy == 255) | (noisy == 128))


def test_per_pixel_hits_all_channels_together():
    noisy = salt_and_pepper(np.full((64, 64, 3), 100, np.uint8), 0.5, per_channel=False, seed=3)
    assert np.all(noisy.min(axis=2) == noisy.max(axis=2))


def test_per_channel_hits_channels_independently():
    noisy = salt_and_pepper(np.full((128, 128, 3), 100, np.uint8), 0.5, per_channel=True, seed=3)
    differs = noisy.min(axis=2) != noisy.max(axis=2)
    assert differs.mean() > 0.5  # independent hits: most pixels differ across channels


def test_zero_density_changes_nothing_and_one_hits_everything(astronaut):
    assert np.array_equal(salt_and_pepper(astronaut, 0.0, seed=0), astronaut)
    full = salt_and_pepper(astronaut, 1.0, seed=0)
    assert np.all((full == 0) | (full == 255))


def test_same_seed_same_noise_and_different_seed_different_noise(camera):
    a = salt_and_pepper(camera, 0.3, seed=7)
    assert np.array_equal(a, salt_and_pepper(camera, 0.3, seed=7))
    assert not np.array_equal(a, salt_and_pepper(camera, 0.3, seed=8))
    assert a.shape == camera.shape and a.dtype == np.uint8


def test_sixteen_bit_salt_is_the_dtype_maximum():
    noisy = salt_and_pepper(np.full((64, 64), 1000, np.uint16), 0.5, salt_ratio=1.0, seed=0)
    assert set(np.unique(noisy)) == {1000, 65535}


def test_input_is_not_modified(camera):
    copy = camera.copy()
    salt_and_pepper(camera, 0.5, seed=0)
    assert np.array_equal(copy, camera)


@pytest.mark.parametrize("kwargs", [{"density": -0.1}, {"density": 1.5}, {"density": 0.1, "salt_ratio": 2.0}])
def test_out_of_range_parameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        salt_and_pepper(np.zeros((4, 4), np.uint8), **kwargs)


def test_float_images_are_refused():
    with pytest.raises(ValueError):
        salt_and_pepper(np.zeros((4, 4), np.float32), 0.1)


def test_impulse_fraction_counts_extremes():
    image = np.full((10, 10), 7, np.uint8)
    image[0, :5] = 0
    image[1, :5] = 255
    assert impulse_fraction(image) == pytest.approx(0.1)


def test_the_estimate_says_which_share_is_at_the_extremes():
    """Impulses of other values are counted apart: they are what a model for exact extremes cannot take."""
    from app.noise import impulse_estimate

    image = np.full((20, 20), 100, np.uint8)
    image[0, :8] = 255  # 2% at the extremes
    image[5, ::2] = 30  # 2.5% isolated impulses of another value
    image[10, ::2] = 200  # 2.5% more
    estimate = impulse_estimate(image)
    assert estimate.fraction == pytest.approx(0.07) == impulse_fraction(image)
    assert estimate.at_extremes == pytest.approx(0.02) and estimate.elsewhere == pytest.approx(0.05)


@pytest.mark.parametrize("spec,low,high", [
    ({"kind": "salt-pepper", "density": 0.1}, 0.08, 0.16),
    ({"kind": "random-valued", "density": 0.2}, 0.15, 0.25),
    ({"kind": "impulse-range", "density": 0.3}, 0.2, 0.36),
    ({"kind": "salt-pepper", "density": 0.2, "jpeg_quality": 90}, 0.15, 0.4),
    ({"kind": "salt-pepper", "density": 0.0}, 0.0, 0.05),
])
def test_impulse_fraction_estimates_every_kind(astronaut, spec, low, high):
    from app.noise import NoiseSpec, add_noise

    estimate = impulse_fraction(add_noise(astronaut, NoiseSpec(**spec), seed=1))
    assert low <= estimate <= high, estimate


def _road_by_sorting(values: np.ndarray, known: np.ndarray | None = None) -> np.ndarray:
    """ROAD as its definition says: all 8 differences, sorted, the 4 smallest summed (int64)."""
    space = ((1, 1), (1, 1)) + ((0, 0),) * (values.ndim - 2)
    padded = np.pad(values.astype(np.int64), space, mode="reflect")
    skip = None if known is None else np.pad(known, space, mode="reflect")
    h, w = values.shape[:2]
    d = []
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                v = np.abs(padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] - values)
                d.append(v if skip is None else np.where(skip[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w], 0, v))
    return np.sort(np.stack(d), axis=0)[:4].sum(axis=0)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("shape", [(1, 9), (5, 7), (23, 17, 3), (2, 40, 1)])
def test_road_is_the_sum_of_the_four_smallest_differences(dtype, shape):
    """`road` (int16 for 8-bit values, the half-sort network, every channel at once) gives exactly what
    sorting all eight differences gives, with and without known impulses, at the largest differences too."""
    from app.noise import road

    rng = np.random.default_rng(sum(shape))
    top = np.iinfo(dtype).max
    values = rng.choice(np.array([0, 1, top - 1, top], dtype), shape) if shape == (5, 7) else \
        rng.integers(0, top + 1, shape).astype(dtype)
    known = rng.random(shape) < 0.3
    for k in (None, known):
        ours = road(values, k)
        assert ours.dtype == np.int32 and np.array_equal(ours, _road_by_sorting(values, k))
    if values.ndim == 3:  # each channel as if alone
        assert np.array_equal(road(values, known)[..., 0], road(values[..., 0], known[..., 0]))


@pytest.mark.parametrize("shape", [(97, 61, 3), (64, 50), (1, 300, 3)])
def test_impulse_fraction_in_row_chunks_is_the_whole_image_s(astronaut, monkeypatch, shape):
    """A small image is estimated in row chunks (CHUNK_VALUES), each with a row of context: the same
    figure as ROAD over the whole image at once, whatever the chunk's height."""
    from app import noise
    from app.noise import NoiseSpec, add_noise, road

    photo = astronaut[: shape[0], : shape[1]]
    image = add_noise(photo if len(shape) == 3 else np.ascontiguousarray(photo[..., 1]),
                      NoiseSpec("impulse-range", 0.2), seed=4)
    exact = (image == 0) | (image == 255)
    whole = np.count_nonzero(exact | (road(image, exact) > noise.ROAD_THRESHOLD)) / image.size
    channels = image.size // (shape[0] * shape[1])
    for rows in (1, 2, 7, shape[0]):
        monkeypatch.setattr(noise, "CHUNK_VALUES", rows * shape[1] * channels)
        assert impulse_fraction(image) == whole, rows


def test_impulse_fraction_of_a_big_image_is_bounded_and_close(astronaut, monkeypatch):
    """Bands of a 7 MP photo: close to the whole image's figure, in bounded memory."""
    import tracemalloc

    from app import noise

    big = salt_and_pepper(np.tile(astronaut, (20, 12, 1)), 0.1, seed=2)  # 3200 x 2304
    tracemalloc.start()
    estimate = impulse_fraction(big)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    monkeypatch.setattr(noise, "ESTIMATE_PIXELS", big.shape[0] * big.shape[1])
    assert abs(estimate - impulse_fraction(big)) < 0.02 and peak < 60e6, (estimate, peak)


from app.noise import NoiseSpec, add_noise, reencode  # noqa: E402


@pytest.mark.parametrize("per_channel", [True, False])
@pytest.mark.parametrize("dtype,top", [(np.uint8, 255), (np.uint16, 65535)])
def test_impulse_range_values_lie_within_spread_of_the_extremes(per_channel, dtype, top):
    clean = np.full((400, 400, 3), top // 2, dtype)
    spec = NoiseSpec("impulse-range", density=0.3, salt_ratio=0.25, per_channel=per_channel, spread=15)
    noisy = add_noise(clean, spec, seed=2)
    hit = noisy != top // 2
    assert abs(hit.mean() - 0.3) < 0.01
    spread = 15 * (257 if dtype == np.uint16 else 1)
    values = noisy[hit].astype(np.int64)
    salt, pepper = values[values > top // 2], values[values < top // 2]
    assert pepper.min() >= 0 and pepper.max() <= spread and salt.min() >= top - spread and salt.max() <= top
    assert abs(len(salt) / len(values) - 0.25) < 0.01
    assert len(np.unique(pepper)) > 10  # spread over the range, not only 0
    if not per_channel:
        assert np.all(noisy.min(axis=2) == noisy.max(axis=2))


def test_random_valued_impulses_cover_the_whole_range():
    clean = np.full((300, 300), 77, np.uint8)
    noisy = add_noise(clean, NoiseSpec("random-valued", density=0.4), seed=3)
    hit = noisy != 77
    assert abs(hit.mean() - 0.4 * 255 / 256) < 0.01  # a draw of 77 itself is invisible
    counts = np.bincount(noisy[hit], minlength=256)
    assert counts[0] > 0 and counts[255] > 0 and np.abs(counts[counts > 0] / counts.mean() - 1).max() < 0.3


def test_spread_zero_is_salt_and_pepper_and_salt_pepper_kind_is_the_old_generator(astronaut):
    expected = salt_and_pepper(astronaut, 0.3, 0.4, per_channel=True, seed=5)
    assert np.array_equal(add_noise(astronaut, NoiseSpec("impulse-range", 0.3, 0.4, spread=0), seed=5), expected)
    assert np.array_equal(add_noise(astronaut, NoiseSpec("salt-pepper", 0.3, 0.4), seed=5), expected)


def test_lossy_reencode_comes_last(astronaut):
    spec = NoiseSpec("salt-pepper", density=0.2, jpeg_quality=75)
    noisy = add_noise(astronaut, spec, seed=1)
    impulses = salt_and_pepper(astronaut, 0.2, seed=1)
    assert np.array_equal(noisy, reencode(impulses, "jpeg", 75))  # impulses first, then the JPEG
    assert not np.array_equal(noisy, impulses) and noisy.shape == astronaut.shape
    assert ((noisy == 0) | (noisy == 255)).mean() < 0.5 * ((impulses == 0) | (impulses == 255)).mean()
    webp = add_noise(astronaut, NoiseSpec(density=0.2, webp_quality=80), seed=1)
    assert np.array_equal(webp, reencode(impulses, "webp", 80))
    assert add_noise(np.zeros((32, 32), np.uint8), NoiseSpec(density=0.1, jpeg_quality=90), seed=0).ndim == 2


@pytest.mark.parametrize("fields,message", [({"kind": "gaussian"}, "kind"), ({"density": 2}, "density"),
                                            ({"spread": 300}, "spread"), ({"jpeg_quality": 0}, "jpeg_quality"),
                                            ({"jpeg_quality": 90, "webp_quality": 90}, "not both")])
def test_bad_specs_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        NoiseSpec(**fields)


def test_sixteen_bit_cannot_be_saved_as_jpeg():
    with pytest.raises(ValueError, match="8-bit"):
        add_noise(np.zeros((8, 8), np.uint16), NoiseSpec(jpeg_quality=90), seed=0)


def test_reencode_is_the_service_encoder_and_decoder_and_keeps_grey_grey(astronaut, camera):
    from app.imaging import DecodedImage, decode, encode

    data, _ = encode(DecodedImage(astronaut), "jpeg", 60)
    assert np.array_equal(reencode(astronaut, "jpeg", 60), decode(data, astronaut.shape[0] * astronaut.shape[1]).pixels)
    grey = reencode(camera, "webp", 70)
    assert grey.shape == camera.shape and 0 < np.abs(grey.astype(int) - camera).mean() < 10  # lossy, still grey
    # the replies' WebP stays lossless: the lossy re-save is the noise module's alone
    data, _ = encode(DecodedImage(camera), "webp")
    assert np.array_equal(decode(data, camera.size).pixels[..., 0], camera)


def test_as_grey_takes_pillows_luma_of_colour_and_keeps_grey():
    """The one grey conversion of a WebP save (`reencode`, and the grey WebP check's scores)."""
    from app.noise import as_grey

    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert as_grey(grey) is grey
    colour = np.zeros((3, 4, 3), np.uint8)
    colour[..., 0] = 100  # Pillow's L = 0.299 R + 0.587 G + 0.114 B
    assert as_grey(colour).shape == (3, 4) and int(as_grey(colour)[0, 0]) == 30
