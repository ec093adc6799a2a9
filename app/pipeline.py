"""The work of /denoise and /corrupt, from uploaded bytes to a result: one implementation, shared by the
service and the command line (as rembg's `remove()` is by its server and its CLI).

    bytes -> decode (within the pixel budget) -> model (tiles, ensemble) -> Denoised
    bytes -> decode (within the pixel budget) -> noise -> DecodedImage

What stays outside: HTTP (forms, content negotiation, the admission gate, headers, metrics) in
`app/routes`, files and progress bars in `app/cli.py`, and encoding, which both call separately
(`app.imaging.encode`) because the service encodes after it has given its inference slot back.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.errors import ImageTooLarge, InvalidParameter
from app.imaging import DecodedImage, decode
from app.inference import ENSEMBLES, Denoiser
from app.noise import impulse_fraction, salt_and_pepper


@dataclass(frozen=True)
class DenoiseOptions:
    """How to denoise; checked on construction, so a bad value is refused before the upload is read."""

    ensemble: int = 1  # 1: one pass; 8: the mean over the 8 flips and rotations (8x the time)

    def __post_init__(self) -> None:
        if self.ensemble not in ENSEMBLES:
            raise InvalidParameter(f"ensemble must be one of {', '.join(map(str, ENSEMBLES))}, not {self.ensemble}")

    def pixel_budget(self, max_pixels: int) -> int:
        """The largest image this request may decode: an ensemble runs the model `ensemble` times,
        so it shares the budget of one pass (the same cost bound whatever the options)."""
        return max_pixels // self.ensemble


@dataclass
class Denoised:
    image: DecodedImage  # the cleaned pixels; alpha, ICC profile and source format carried through
    seconds: float  # model time only: decoding and encoding excluded
    impulse_fraction: float  # share of the upload's values at 0 or the maximum (an upper bound on the density)

    @property
    def pixels(self) -> int:
        return self.image.pixel_count


def decode_within(data: bytes, max_pixels: int, options: DenoiseOptions) -> DecodedImage:
    """Decode for denoising; an image over the budget is refused on its header, saying why."""
    try:
        return decode(data, options.pixel_budget(max_pixels))
    except ImageTooLarge as e:
        if options.ensemble == 1:
            raise
        raise ImageTooLarge(f"{e.detail} (ensemble={options.ensemble} runs the model {options.ensemble} times: "
                            f"its limit is max_pixels / {options.ensemble})") from None


def denoise(data: bytes, denoiser: Denoiser, max_pixels: int, options: DenoiseOptions = DenoiseOptions()) -> Denoised:
    """Uploaded bytes -> the denoised image (not yet encoded), its model time and impulse fraction."""
    image = decode_within(data, max_pixels, options)
    restored = denoiser.denoise(image, options.ensemble)
    return Denoised(restored.image, restored.seconds, impulse_fraction(image.pixels))


@dataclass(frozen=True)
class NoiseOptions:
    """Salt-and-pepper noise to add (`app.noise.salt_and_pepper` says what each field does)."""

    density: float = 0.2
    salt_ratio: float = 0.5
    per_channel: bool = True
    seed: int | None = None


def corrupt(data: bytes, max_pixels: int, options: NoiseOptions) -> DecodedImage:
    """Uploaded bytes -> the same image with noise added (alpha, ICC profile and format kept)."""
    image = decode(data, max_pixels)
    noisy = salt_and_pepper(image.pixels, options.density, options.salt_ratio, options.per_channel, options.seed)
    return image.with_pixels(noisy)
