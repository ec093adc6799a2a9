"""The whole photo's p (`app.impulse_share`) against the graph's own (`own_share` in prefill_unet), and the
`impulse_share` input of the shipped files."""

from __future__ import annotations

import numpy as np
import pytest

from app import impulse_share
from app.impulse_share import NOISE_SLACK, SHARE_INPUT, feed, own_shares, photo_shares, solid_rule_shares
from app.noise import NoiseSpec, add_noise
from tests.conftest import MODELS


def _graph_shares(x: np.ndarray) -> np.ndarray:
    """The graph's p for a (H, W, 3) float photo: salt's then pepper's, (1, 1, 1, 6)."""
    from training.architectures.prefill_unet import own_share

    batch = x[None]
    salt = np.asarray(own_share((batch >= 1.0).astype(np.float32)))
    pepper = np.asarray(own_share((batch <= 0.0).astype(np.float32)))
    return np.concatenate([salt, pepper], axis=-1)


def _photos(astronaut: np.ndarray) -> dict[str, np.ndarray]:
    """Salt-and-pepper, a clipped photo with random-valued impulses, solid blocks at the edges, and a photo
    taller than two bands (so a band's edge falls inside solid blocks)."""
    rng = np.random.default_rng(0)
    clipped = np.clip(astronaut.astype(np.float32) * 1.6, 0, 255).astype(np.uint8)[:300, :250]
    edges = rng.integers(1, 255, (97, 131, 3), dtype=np.uint8)
    edges[:3, :7], edges[-5:, -2:], edges[40:46, :4] = 255, 0, 255  # partial windows at the borders
    tall = np.repeat(clipped[:, :60], 4, axis=0)  # 640 rows: two bands of 512
    return {
        "sp 0.1": add_noise(astronaut[:256, :320], NoiseSpec("salt-pepper", 0.1), seed=1),
        "clipped rv 0.2": add_noise(clipped, NoiseSpec("random-valued", 0.2), seed=2),
        "clipped sp 0.3": add_noise(clipped, NoiseSpec("salt-pepper", 0.3), seed=3),
        "edges": edges,
        "tall": add_noise(tall, NoiseSpec("salt-pepper", 0.05), seed=4),
    }


def test_the_photo_share_is_the_graphs_own_count(astronaut):
    """The same flagged values as the graph's pools (windows cut at the borders): counts equal, so the shares
    agree to float32's rounding of the graph's mean."""
    for name, photo in _photos(astronaut).items():
        ours = solid_rule_shares(photo, 255)
        graph = _graph_shares(photo.astype(np.float32) / 255.0)
        pixels = photo.shape[0] * photo.shape[1]
        np.testing.assert_allclose(ours * pixels, graph * pixels, atol=0.01, err_msg=name)
        assert ours.max() > 0, name


@pytest.mark.parametrize("shares", [solid_rule_shares, photo_shares])
def test_bands_change_nothing(astronaut, monkeypatch, shares):
    """Band edges with REACH rows of context count each value once, with its whole neighbourhood (the solid
    rule's, and the 5x5 median's that says which values lie far from an extreme)."""
    for name in ("clipped sp 0.3", "clipped rv 0.2"):
        photo = _photos(astronaut)[name]
        whole = shares(photo, 255)
        for rows in (1, 7, 64):
            monkeypatch.setattr(impulse_share, "BAND_ROWS", rows)
            assert np.array_equal(shares(photo, 255), whole), (name, rows)
        monkeypatch.undo()


def _clipped() -> np.ndarray:
    """The top left 300x250 of scikit-image's astronaut made x1.6 brighter and clipped: highlights of every
    width, from specks to a wide clipped suit."""
    from skimage import data

    return np.clip(data.astronaut().astype(np.float32) * 1.6, 0, 255).astype(np.uint8)[:300, :250]


def test_a_clean_photos_clipped_highlights_are_not_taken_for_noise():
    """On a clean photo made x1.6 brighter the solid rule flags thin highlights and specks (salt p 0.024-0.039
    a channel here: k 9-11); few of them lie among dark values, so the service's p is under a fifth of that
    (0.003-0.005: k 6)."""
    clipped = _clipped()
    solid, ours = solid_rule_shares(clipped, 255).ravel(), photo_shares(clipped, 255).ravel()
    assert solid[:3].min() > 0.02
    assert np.all(ours <= solid) and np.all(ours[:3] < 0.2 * solid[:3])


def test_with_noise_the_share_follows_the_noise(astronaut):
    """Salt-and-pepper 0.005 on the clipped photo (0.0025 salt and 0.0025 pepper a channel): the solid rule's
    salt share is the noise's and the clipped content's, 0.026-0.043; the service's is NOISE_SLACK (5) times the
    noise's and a little content, 0.015-0.018. Pepper, with little content in the shadows, stays near the solid
    rule's share, 0.008-0.011 (5 times the noise's is about that); at density 0.1 every share is the solid
    rule's."""
    light = add_noise(_clipped(), NoiseSpec("salt-pepper", 0.005), seed=7)
    solid, ours = solid_rule_shares(light, 255).ravel(), photo_shares(light, 255).ravel()
    assert solid[:3].min() > 0.025
    assert np.all(ours[:3] > 0.0125) and np.all(ours[:3] < 0.02)
    assert np.all(ours[3:] <= solid[3:]) and np.all(ours[3:] > 0.008)
    dense = add_noise(astronaut[:256, :320], NoiseSpec("salt-pepper", 0.1), seed=1)
    assert np.array_equal(photo_shares(dense, 255), solid_rule_shares(dense, 255))
    assert NOISE_SLACK == 5.0  # the figures above are for it


def test_a_photo_bright_all_over_keeps_the_solid_rules_share():
    """Where too few values lie far from salt (under FAR_MIN_SHARE), no estimate is made for salt: the solid
    rule's share stays. Pepper is judged as usual: every value lies far from it, and there is none."""
    rng = np.random.default_rng(3)
    bright = rng.integers(200, 255, (120, 160, 3), dtype=np.uint8)
    bright[rng.random(bright.shape) < 0.02] = 255
    solid, ours = solid_rule_shares(bright, 255).ravel(), photo_shares(bright, 255).ravel()
    assert solid[:3].min() > 0.01 and np.array_equal(ours[:3], solid[:3])
    assert np.all(ours[3:] == 0)


def test_grey_and_sixteen_bit_photos_count_as_the_model_sees_them(camera):
    """A grey photo is repeated to 3 channels; 16-bit extremes are 0 and 65535."""
    grey = add_noise(camera[:200, :200], NoiseSpec("salt-pepper", 0.2), seed=5)
    shares = solid_rule_shares(grey, 255).ravel()
    assert np.all(shares[:3] == shares[0]) and np.all(shares[3:] == shares[3]) and 0.05 < shares[0] < 0.15
    deep = grey.astype(np.uint16) * 257
    assert np.array_equal(solid_rule_shares(deep, 65535), solid_rule_shares(grey, 255))
    assert solid_rule_shares(deep, 255)[..., :3].max() == 0  # 255 is no extreme in 16 bits
    ours = photo_shares(grey, 255).ravel()
    assert np.all(ours[:3] == ours[0]) and 0.05 < ours[0] <= shares[0]
    assert np.array_equal(photo_shares(deep, 65535).ravel(), ours)  # the same values far from the extremes


def test_feed_gives_the_share_only_to_a_model_that_takes_it():
    batch = np.zeros((1, 32, 32, 3), np.float32)
    assert set(feed(["image"], batch)) == {"image"}
    given = np.full((1, 1, 1, 6), 0.2, np.float32)
    assert feed(["image", SHARE_INPUT], batch, given)[SHARE_INPUT] is given
    assert np.array_equal(feed(["image", SHARE_INPUT], batch)[SHARE_INPUT], own_shares())


@pytest.mark.parametrize("model", ["prefill-unet", "prefill-unet-int8", "blind-unet"])
def test_the_shipped_files_take_the_share_and_use_it(model):
    """Fed the photo's p, a photo of the model's padded size comes back as with the graph's own; fed another p,
    otherwise: on a clipped ramp with sparse impulses, p = 0 (k = 4) keeps clipped values that p = 0.45 fills."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(MODELS / f"{model}.onnx"), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    assert names == ["image", SHARE_INPUT]
    ramp = np.add.outer(np.linspace(-0.3, 0.9, 96), np.linspace(0.0, 0.6, 128))
    photo = np.rint(np.clip(1.6 * ramp, 0, 1) * 255).astype(np.uint8)[..., None].repeat(3, axis=2)
    noisy = add_noise(photo, NoiseSpec("salt-pepper", 0.05), seed=6)
    x = noisy[None].astype(np.float32) / 255.0

    def run(shares):
        return session.run(None, feed(names, x, shares))[0]

    own = run(None)
    assert np.array_equal(run(solid_rule_shares(noisy, 255)), own)
    low, high = run(np.zeros((1, 1, 1, 6), np.float32)), run(np.full((1, 1, 1, 6), 0.45, np.float32))
    assert np.abs(low - high).max() > 0.5


def test_the_denoiser_gives_the_model_the_photos_noise_share():
    """A clean photo with clipped highlights comes back closer to itself than when the model is given the solid
    rule's share: 523 values changed against 1,422 (45.3 against 42.0 dB) on this crop with prefill-unet."""
    from app.imaging import DecodedImage
    from app.inference import Denoiser
    from app.quality import psnr

    clipped = _clipped()
    denoiser = Denoiser(MODELS / "prefill-unet.onnx", threads=2)
    served = denoiser.denoise(DecodedImage(clipped)).image.pixels
    x = clipped[None].astype(np.float32) / 255.0
    solid = np.clip(np.rint(denoiser._run_once(x, shares=solid_rule_shares(clipped, 255))[0] * 255), 0, 255)
    assert np.count_nonzero(served != clipped) < 0.5 * np.count_nonzero(solid != clipped)
    assert psnr(clipped, served) > psnr(clipped, solid.astype(np.uint8)) + 2
