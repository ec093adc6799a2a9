"""The whole photo's p (`app.impulse_share`) against the graph's own (`own_share` in prefill_unet), and the
`impulse_share` input of the shipped files."""

from __future__ import annotations

import numpy as np
import pytest

from app import impulse_share
from app.impulse_share import SHARE_INPUT, feed, own_shares, solid_rule_shares
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


def test_bands_change_nothing(astronaut, monkeypatch):
    """Band edges with REACH rows of context count each value once, with its whole neighbourhood."""
    photo = _photos(astronaut)["clipped sp 0.3"]
    whole = solid_rule_shares(photo, 255)
    for rows in (1, 7, 64):
        monkeypatch.setattr(impulse_share, "BAND_ROWS", rows)
        assert np.array_equal(solid_rule_shares(photo, 255), whole), rows


def test_grey_and_sixteen_bit_photos_count_as_the_model_sees_them(camera):
    """A grey photo is repeated to 3 channels; 16-bit extremes are 0 and 65535."""
    grey = add_noise(camera[:200, :200], NoiseSpec("salt-pepper", 0.2), seed=5)
    shares = solid_rule_shares(grey, 255).ravel()
    assert np.all(shares[:3] == shares[0]) and np.all(shares[3:] == shares[3]) and 0.05 < shares[0] < 0.15
    deep = grey.astype(np.uint16) * 257
    assert np.array_equal(solid_rule_shares(deep, 65535), solid_rule_shares(grey, 255))
    assert solid_rule_shares(deep, 255)[..., :3].max() == 0  # 255 is no extreme in 16 bits


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
