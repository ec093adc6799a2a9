"""The work of /denoise and /corrupt, from uploaded bytes to a result: one implementation, shared by the
service and the command line (as rembg's `remove()` is by its server and its CLI).

    bytes -> decode (within the pixel budget) -> model (tiles, ensemble) -> Denoised (+ the noise map)
    bytes -> decode -> the default model -> (if it left the impulses alone) the model for them -> Chosen  (auto)
    bytes -> decode (within the pixel budget) -> noise (any kind, lossy re-encode last) -> DecodedImage

What stays outside: HTTP (forms, content negotiation, the admission gate, headers, metrics) in
`app/routes`, files and progress bars in `app/cli.py`, and encoding, which both call separately
(`app.imaging.encode`) because the service encodes after it has given its inference slot back.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from dataclasses import dataclass

import numpy as np

from app.cards import float_name
from app.errors import ImageTooLarge, InvalidParameter, UnsupportedImage
from app.imaging import JPEG_FORMATS, LOSSY_WEBP, DecodedImage, decode
from app.inference import ENSEMBLES, Denoiser, round_up
from app.jpeg_grid import saved_as_jpeg
from app.noise import ImpulseEstimate, NoiseSpec, add_noise, impulse_estimate
from app.quality import psnr, psnr_of
from app.registry import LoadedModel, ModelRegistry


@dataclass(frozen=True)
class DenoiseOptions:
    """How to denoise; checked on construction, so a bad value is refused before the upload is read."""

    ensemble: int = 1  # 1: one pass; 8: the mean over the 8 flips and rotations (8x the time)
    noise_map: bool = False  # also make the map of the pixels the model changed (`changed_values`)

    def __post_init__(self) -> None:
        if self.ensemble not in ENSEMBLES:
            raise InvalidParameter(f"ensemble must be one of {', '.join(map(str, ENSEMBLES))}, not {self.ensemble}")

    def pixel_budget(self, max_pixels: int) -> int:
        """The largest image this request may decode: an ensemble runs the model `ensemble` times,
        so it shares the budget of one pass (the same cost bound whatever the options)."""
        return max_pixels // self.ensemble


# The switching default restores exact 0/255 impulses only: noise saved as JPEG, near-extreme and random-valued
# impulses come back all but unchanged (issue 15), and the opt-in blind model is the one for them. A model
# that changed under half of the upload's estimated impulses (X-Impulse-Fraction at least 5%) gets that
# model named in X-Try-Model and the command line's note. `python scripts/left_alone_checks.py`: with
# prefill-unet, the rule holds on all 21 crops with noise saved as JPEG, near-extreme or random-valued (changed
# 0.1-8% of the values against an estimate of 8-57%), on none of the 3 with exact salt-and-pepper or the 6 clean
# ones, and on 4 of scikit-image's 15 whole clean photos (text, grass, clipped highlights: there blind-unet
# changes no more than prefill-unet changes, so the suggestion costs time, not quality); with blind-unet, on
# none of the 21 noisy crops.
REAL_WORLD_MODEL = "blind-unet"
# An upload that is a JPEG file was saved lossily after any noise it holds: for a colour one the dense model
# trained on such photos (`jpeg-unet`) is suggested first. On CBSD68, salt-and-pepper 0.1 / 0.3 / 0.5 then
# JPEG 90, it scores 28.14 / 24.81 / 22.29 dB against blind-unet's 24.31 / 21.22 / 17.83; on grey BSD68
# blind-unet is the better one at quality 90 (33.14 / 30.20 / 27.52 against 29.44 / 26.84 / 24.42), but not at
# lower qualities: a grey JPEG goes by its quality (GREY_SAVED_BOUNDARY, below; docs/eval, stop 34's models;
# docs/model-design.md stops 31-34 and 42). Camera JPEGs with a preview picture decode as "MPO".
# Pixels saved as JPEG reach us in other files too (the demo page's /corrupt returns a PNG): `app.jpeg_grid`
# sees the save's quantisation, and `python scripts/left_alone_checks.py` then names jpeg-unet for 5 of the 12
# PNG crops with salt-and-pepper saved as JPEG (where clipping hides the save: blind-unet, as before), and for
# none with unsaved noise.
# A lossy WebP file (VP8: 4:2:0 and a block transform, as a JPEG) is saved after its noise as a JPEG is, and
# jpeg-unet, trained on JPEG saves only, is the best model for it too: `python scripts/unseen_checks.py --data
# ../shared/data/CBSD68 --limit 8 --int8` has it 2.3-2.7 dB over the best classical filter of each photo on
# salt-and-pepper, near-extreme and random-valued noise saved as WebP 50-95, where blind-unet, which auto ran
# for such a file until stop 40, is 0.8-2.5 dB under it. (A PNG of such pixels still goes to blind-unet:
# `app.jpeg_grid` sees JPEG saves only.)
SAVED_MODEL = "jpeg-unet"
SAVED_FORMATS = (*JPEG_FORMATS, LOSSY_WEBP)
# A grey photo saved as JPEG after its noise: which of the two is better depends on how hard the save was and
# how dense the noise is (`python scripts/grey_jpeg_checks.py --data ../shared/data/Set12`, stop 42: 12 grey
# photos, salt-and-pepper 0.05-0.5, qualities 50-95). `jpeg-unet` leads by 2.2-4.4 dB at quality 50 up to density
# 0.3, `blind-unet` by 3.1-6.4 dB at 90-95 at every density; between them the lead changes hands at a lower
# density the higher the quality. A JPEG file's header gives its quality (`DecodedImage.jpeg_quality`), and the
# impulse estimate (`app.noise.impulse_estimate`) tracks the density on these uploads (medians 0.07-0.14 at
# density 0.05, 0.40-0.41 at 0.5), so `jpeg-unet` gets a grey JPEG file whose estimate is under the boundary of
# its quality: the estimate where the lead changed hands on Set12 (the script's last table, rounded to 0.01),
# linear between the qualities measured. Above all of Set12's estimates at quality 50 (0.41): 0.45, the
# estimate of the densest noise; from quality 85 `blind-unet` led at every density measured. Checked on
# BSD68's photos, which it was not read from (docs/model-design.md, stop 42).
GREY_SAVED_BOUNDARY = ((50, 0.45), (60, 0.40), (65, 0.37), (70, 0.32), (75, 0.24), (80, 0.12), (85, 0.0))


def grey_saved_boundary(quality: int | None) -> float:
    """The impulse estimate under which `SAVED_MODEL` restores a grey JPEG file saved at IJG `quality` better
    than `REAL_WORLD_MODEL` (GREY_SAVED_BOUNDARY, linear between its qualities, flat beyond them); 0 (never)
    where the quality is unknown: a grey photo in a lossy WebP file, or saved as JPEG and then as a PNG."""
    if quality is None:
        return 0.0
    qualities, estimates = zip(*GREY_SAVED_BOUNDARY, strict=True)
    return float(np.interp(quality, qualities, estimates))


SUGGESTED = (SAVED_MODEL, REAL_WORLD_MODEL)  # what the hint (and so model=auto) may name, first choice first
LEFT_ALONE_MIN_IMPULSES = 0.05  # the clean crops' estimate: 0.002-0.040, saved as JPEG 90 or not
# model=auto asks at any estimate: it checks what the second model did itself (KEEP_FIRST_DB), where the hint
# can only name a model. Light noise and clean photos overlap in the estimate, which reads texture as impulses:
# `python scripts/unseen_checks.py --light --data ../shared/data/CBSD68 --int8` gives 0.002-0.289 on the clean
# photos (median 0.037) and 0.017-0.297 with random-valued noise 0.02, under 5% on 40 and 33 of the 68. Below
# the hint's 5% auto returned the default's output, the noise left in, where `blind-unet` is 11.4-17.5 dB better
# (random-valued 0.01-0.05, near-extreme 0.02; 37.86 against 25.29 dB at random-valued 0.02). It changes every
# clean photo so little (41.2 dB or more against the default's output) that auto keeps the default's output
# there (KEEP_FIRST_DB).
AUTO_MIN_IMPULSES = 0.0
LEFT_ALONE_SHARE = 0.5
# What the share rule misses: a photo with large clipped regions (sky, lamps; a quarter of its values at 0 or
# 255) and impulses of other values. The noise breaks the clipped regions up, so the default takes them for
# salt, changes most of them and so "changed" over half of the estimate, while the impulses, left alone, are
# what it should have been judged by: on 2 of CBSD68's 68 photos with random-valued noise 0.2, and 1 with
# near-extreme 0.3, auto returned the default's 10.7-12.0 dB (8.2) where blind-unet gives 24.9-25.5 (28.8)
# (found by stop 36's first `blind_targets.py --auto`; the figures are those photos' prefill-unet-int8 and
# blind-unet rows in docs/eval/CBSD68-random-valued and -impulse-range30, per_image.csv, at commit 2a23c33).
# Since stop 37 the default keeps such broken-up clipped regions (`_isolated`), so the share rule alone sends
# these photos on too; the clause stays, since the default can never take impulses of other values. So a
# model that changes only extremes is also judged to have left the
# impulses alone where at least this share of values looks like impulses away from 0 and the maximum
# (`ImpulseEstimate.elsewhere`), whatever it changed. `python scripts/left_alone_checks.py --data
# ../shared/data/CBSD68`: that share is 0.068-0.353 with random-valued noise 0.1-0.3 and 0.045-0.414 with
# near-extreme 0.1-0.3 (the rule fires on all 68 photos of each), 0.001-0.079 with exact salt-and-pepper
# 0.1 (4 of 68 at 5% or more: the rule fires on 11, 8 without the clause; auto returns blind-unet's output
# there, about 0.3 dB below the default's on exact salt-and-pepper) and at most 0.018 at 0.3 and above (never
# fires), 0.002-0.143 on clean photos (12 of 68; fires on the same 28 with or without it: texture).
LEFT_ALONE_ELSEWHERE = 0.05


@dataclass
class Denoised:
    image: DecodedImage  # the cleaned pixels; alpha, ICC profile and source format carried through
    seconds: float  # model time only: decoding and encoding excluded
    impulse_fraction: float  # estimated share of impulses of any kind in the upload (app.noise.impulse_estimate)
    changed_fraction: float  # share of the colour values the model changed (`changed_values`)
    noise_map: DecodedImage | None = None  # with `DenoiseOptions.noise_map`: grey, 255 where a pixel changed
    # The upload is not a JPEG file, but its pixels were saved as JPEG (`app.jpeg_grid`): looked at only for
    # a colour upload whose impulses the model left alone, where `model_to_try` reads it.
    jpeg_pixels: bool = False
    # The model changes nothing but exact 0/max values (EXTREMES_ONLY): what it changed in a JPEG file says
    # nothing of what it restored (`left_impulses_alone`).
    extremes_only: bool = False
    # The estimated share of impulses that are not at 0 or the maximum (`ImpulseEstimate.elsewhere`)
    impulses_elsewhere: float = 0.0

    @property
    def pixels(self) -> int:
        return self.image.pixel_count

    @property
    def left_impulses_alone(self) -> bool:
        """The upload looks impulse-noisy, but the model changed under half of what the estimate calls
        impulses: a hint (the estimate reads text, grass and clipped highlights as impulses), not a verdict.

        Or it is a JPEG file and the model changes only exact 0/max values: the file was saved after its
        noise, so each impulse's neighbours moved too, and the impulses that stayed exact are all such a
        model restores. On grey photos many do stay exact, and the default changed just over half of the
        estimate: before this rule, auto returned its output for 8 of 10 grey uploads of salt-and-pepper
        0.3 saved as JPEG 90 (and 75) in `python scripts/auto_checks.py --data ../shared/data/CBSD68
        --limit 10`, where `blind-unet` scores 30.20 dB to the default's 13.72 on BSD68
        (docs/eval/BSD68-sp-jpeg90; stop 35, docs/model-design.md).

        Or the model changes only exact 0/max values and at least LEFT_ALONE_ELSEWHERE of the values look like
        impulses of other values: it cannot have taken those, whatever share of the extremes it changed.

        The hint's rule: an estimate of at least LEFT_ALONE_MIN_IMPULSES (`leaves_impulses` for another)."""
        return self.leaves_impulses(LEFT_ALONE_MIN_IMPULSES)

    def leaves_impulses(self, least: float) -> bool:
        """`left_impulses_alone` for an upload whose estimate is at least `least` (auto's: AUTO_MIN_IMPULSES)."""
        if self.impulse_fraction < least:
            return False
        if self.extremes_only and _out_of_reach(self.image.source_format, self.impulses_elsewhere):
            return True
        return self.changed_fraction < LEFT_ALONE_SHARE * self.impulse_fraction


def _out_of_reach(source_format: str | None, impulses_elsewhere: float) -> bool:
    """Whether an upload holds impulses that a model changing only exact 0/max values cannot have taken,
    whatever it changed: it is a JPEG file, or LEFT_ALONE_ELSEWHERE of its values look like impulses of other
    values. One test for the hint (`Denoised.left_impulses_alone`) and auto's skip of the default
    (`_named_before_the_default`), which must agree."""
    return source_format in SAVED_FORMATS or impulses_elsewhere >= LEFT_ALONE_ELSEWHERE


def model_to_try(result: Denoised, used: str, available: Collection[str]) -> str | None:
    """The model to suggest when `used` left most of the upload's impulses alone, if it is served
    (`model_for_impulses`)."""
    if not result.left_impulses_alone:
        return None
    return model_for_impulses(result.image, result.jpeg_pixels, result.impulse_fraction, used, available)


def model_for_impulses(image: DecodedImage, jpeg_pixels: bool, impulse_fraction: float, used: str,
                       available: Collection[str]) -> str | None:
    """The served model for impulses that `used` left alone: for a colour JPEG file, or colour pixels saved as
    JPEG in another file (`jpeg_pixels`), `SAVED_MODEL` before `REAL_WORLD_MODEL`; the same for a grey JPEG
    file whose estimate (`impulse_fraction`) is under `grey_saved_boundary` of its quality; for any other upload
    `REAL_WORLD_MODEL`. Never `used` itself, nor the float model of a twin that ran in its place (the hint
    would name the model the user just sent the photo to). A grey photo in a colour file (`looks_grey`) is
    grey: `python scripts/unseen_checks.py --data ../shared/data/CBSD68 --limit 8 --int8` has `blind-unet`
    3.7 dB over `jpeg-unet` on grey photos saved as WebP 80 (which has no grey mode, nor a quality to read),
    and `python scripts/grey_jpeg_checks.py --data ../shared/data/Set12 --format webp ...` (stop 43) has it ahead
    on grey WebP files at every density from quality 40 up; `jpeg-unet` leads (by up to 1.5 dB) only at
    qualities of 30 and below, which is why a WebP file's quality is not read (docs/model-design.md, stop 43)."""
    saved = image.source_format in SAVED_FORMATS or jpeg_pixels
    if saved and image.looks_grey:
        saved = impulse_fraction < grey_saved_boundary(image.jpeg_quality)
    for name in SUGGESTED if saved else (REAL_WORLD_MODEL,):
        if name != float_name(used) and name in available:
            return name
    return None


# The model works on blocks of `pad_multiple` (32) pixels, so a strip 1 pixel high is padded to 32:
# 1x500,000 took 23.9 s, 33x the time per pixel of a square (issue 13). A shape may cost at most twice
# its pixels in padding; anything up to one CPU tile of work (1024 x 1024) is always accepted.
MAX_PADDING_FACTOR = 2
ALWAYS_ACCEPTED_WORK = 1024 * 1024


# Rows compared at a time by `changed_values`: a 60 MP photo's full-size comparison would hold 180 MB of
# booleans, one band of a 10,000-pixel-wide one 15 MB.
CHANGED_BAND_ROWS = 512


def changed_values(before: np.ndarray, after: np.ndarray, with_map: bool = False) -> tuple[int, np.ndarray | None]:
    """(how many colour values differ, and with `with_map` a uint8 (H, W) map: 255 where any value of the
    pixel differs, else 0). The denoiser's noise map: a switching model changes only the values it takes
    for noise, so what changed is what it found (`prefill-unet`: the exact 0/255 impulses). Alpha is not
    compared: it passes through. Row bands bound the temporary memory."""
    count = 0
    found = np.zeros(before.shape[:2], np.uint8) if with_map else None
    for top in range(0, before.shape[0], CHANGED_BAND_ROWS):
        differs = before[top : top + CHANGED_BAND_ROWS] != after[top : top + CHANGED_BAND_ROWS]
        count += int(np.count_nonzero(differs))
        if found is not None:
            found[top : top + CHANGED_BAND_ROWS] = 255 * (differs.any(axis=2) if differs.ndim == 3 else differs)
    return count, found


def check_shape_cost(width: int, height: int, pad_multiple: int) -> None:
    """Refuse (415) a shape whose padding would cost more than MAX_PADDING_FACTOR times its pixels."""
    work = round_up(width, pad_multiple) * round_up(height, pad_multiple)
    if work > ALWAYS_ACCEPTED_WORK and work > MAX_PADDING_FACTOR * width * height:
        raise UnsupportedImage(
            f"the image is {width}x{height}: the model works in blocks of {pad_multiple}x{pad_multiple} pixels, so "
            f"this shape costs {work:,} pixels of work for {width * height:,} pixels (more than {MAX_PADDING_FACTOR}x); "
            f"crop or pad it so that both sides are at least {pad_multiple} pixels")


def decode_within(data: bytes, max_pixels: int, options: DenoiseOptions, pad_multiple: int = 1) -> DecodedImage:
    """Decode for denoising; an image over the budget, or of a shape that would cost far more than its
    pixels, is refused on its header, saying why."""
    try:
        return decode(data, options.pixel_budget(max_pixels), lambda w, h: check_shape_cost(w, h, pad_multiple))
    except ImageTooLarge as e:
        if options.ensemble == 1:
            raise
        raise ImageTooLarge(f"{e.detail} (ensemble={options.ensemble} runs the model {options.ensemble} times: "
                            f"its limit is max_pixels / {options.ensemble})") from None


def denoise(data: bytes, denoiser: Denoiser, max_pixels: int, options: DenoiseOptions = DenoiseOptions(),
            check: Callable[[], None] | None = None) -> Denoised:
    """Uploaded bytes -> the denoised image (not yet encoded), its model time, impulse fraction, share of
    values changed, and with `options.noise_map` the map of the changed pixels. `check()` (the request's
    ticket) runs before each tile and raises to stop the work."""
    return denoise_image(decode_within(data, max_pixels, options, denoiser.pad_multiple), denoiser, options, check)


def denoise_image(image: DecodedImage, denoiser: Denoiser, options: DenoiseOptions = DenoiseOptions(),
                  check: Callable[[], None] | None = None, estimate: ImpulseEstimate | None = None,
                  jpeg_pixels: Callable[[], bool] | None = None) -> Denoised:
    """`denoise` after decoding: what `denoise_auto` runs once per model on one decoded upload (`estimate`:
    the upload's `impulse_estimate`, and `jpeg_pixels`: its `saved_pixels` answer, where the caller has them
    or may already have asked)."""
    restored = denoiser.denoise(image, options.ensemble, check)
    count, found = changed_values(image.pixels, restored.image.pixels, options.noise_map)
    noise_map = None if found is None else DecodedImage(found, source_format=image.source_format)
    if estimate is None:
        estimate = impulse_estimate(image.pixels)
    result = Denoised(restored.image, restored.seconds, estimate.fraction, count / max(image.pixels.size, 1),
                      noise_map, extremes_only=denoiser.architecture in EXTREMES_ONLY,
                      impulses_elsewhere=estimate.elsewhere)
    if result.left_impulses_alone:
        result.jpeg_pixels = (jpeg_pixels or (lambda: saved_pixels(image)))()
    return result


def saved_pixels(image: DecodedImage) -> bool:
    """Whether a colour upload that is not a JPEG file carries a JPEG save in its pixels (`app.jpeg_grid`;
    a JPEG file says so itself, and the model for a grey one, `looks_grey`, does not depend on it): 0.05 s
    for 24 MP, 13 ms for 512x512 (scripts/jpeg_grid_checks.py --time), so `denoise_auto` asks once."""
    return not image.looks_grey and image.source_format not in SAVED_FORMATS and saved_as_jpeg(image.pixels)


# `model=auto` (the service and `--model auto`): the default's output, or where the default leaves most of the
# upload's impulses alone, the output of the model `model_to_try` names, run on the same decoded pixels; one
# request instead of a read-the-hint-and-upload-again round trip. Not a model of its own: each result is one model's output, as scored in
# docs/eval. The name is `app.registry.AUTO`: no model file may take it.
#
# Where the default cannot change much, its run is not needed to know that it left the impulses alone.
# These architectures change an upload only where a value is exactly 0 or the maximum (their switching
# output keeps every other value bit for bit: tests/test_pipeline.py checks the shipped default and its
# int8 twin on every kind of noise). So when under LEFT_ALONE_SHARE of the estimated impulses are at the
# extremes, the default would change less than that share, and auto runs the named model first, alone;
# the same for a JPEG file, or an upload with LEFT_ALONE_ELSEWHERE of impulses away from the extremes
# (`Denoised.leaves_impulses`, at auto's AUTO_MIN_IMPULSES). The
# default runs only if auto needs its output: where the named model's output may be within KEEP_FIRST_DB of
# the default's (`psnr_away_from_extremes`, below). The result is the one the default-first order returns,
# byte for byte. The saving is the default's whole run. `python
# scripts/auto_checks.py --data ../shared/data/CBSD68 --limit 10` (float models): the default is not run
# for any of its 50 colour real-world uploads (48 before stop 36: the photo with large clipped regions, with
# random-valued noise and as a PNG of saved pixels), nor for the 30 grey JPEG files of salt-and-pepper;
# auto's model time is 0.45-0.46x the default-first order's on colour salt-and-pepper saved as JPEG,
# 0.66-0.68x where blind-unet runs alone (medians); the same outputs, and 0.98-1.02x on exact
# salt-and-pepper and clean photos, where both orders run the same models (on some clean photos the
# suggested model now runs first, then the default, whose output is kept).
EXTREMES_ONLY = frozenset({"prefill-unet"})


def extremes_fraction(pixels: np.ndarray) -> float:
    """The share of values exactly 0 or the maximum of their type: the most that an EXTREMES_ONLY model can
    change. Row bands bound the temporary memory, as in `changed_values`."""
    top = np.iinfo(pixels.dtype).max
    count = 0
    for row in range(0, pixels.shape[0], CHANGED_BAND_ROWS):
        band = pixels[row : row + CHANGED_BAND_ROWS]
        count += int(np.count_nonzero(band == 0)) + int(np.count_nonzero(band == top))
    return count / max(pixels.size, 1)


def _named_before_the_default(image: DecodedImage, estimate: ImpulseEstimate, default: Denoiser, used: str,
                              available: Collection[str], jpeg_pixels: Callable[[], bool]) -> str | None:
    """The model `model_to_try` would name after the default's run, when that is certain without the run:
    an EXTREMES_ONLY default on an upload (`estimate`: its `impulse_estimate`; `jpeg_pixels`: its
    `saved_pixels`, asked once) that is a JPEG file or holds enough impulses away from the extremes
    (`Denoised.leaves_impulses`), or with too few extreme values for the default to take its impulses."""
    if default.architecture not in EXTREMES_ONLY or estimate.fraction < AUTO_MIN_IMPULSES:
        return None
    certain = _out_of_reach(image.source_format, estimate.elsewhere)
    if not certain and extremes_fraction(image.pixels) >= LEFT_ALONE_SHARE * estimate.fraction:
        return None
    return model_for_impulses(image, jpeg_pixels(), estimate.fraction, used, available)


def psnr_away_from_extremes(upload: np.ndarray, output: np.ndarray) -> float:
    """PSNR of `output` against `upload` where only the values that are not exactly 0 or the maximum in the
    upload count as errors (over the count of all values): an upper bound of `output`'s PSNR against what any
    EXTREMES_ONLY model returns for the upload, which keeps those values bit for bit. So where the default's run
    was skipped, a figure under KEEP_FIRST_DB says that the default-first order would have kept `output`
    too, without the default's run. Row bands bound the temporary memory, as in `changed_values`."""
    top = np.iinfo(upload.dtype).max
    squared = 0.0
    for row in range(0, upload.shape[0], CHANGED_BAND_ROWS):
        before, after = upload[row : row + CHANGED_BAND_ROWS], output[row : row + CHANGED_BAND_ROWS]
        away = (before != 0) & (before != top)
        error = before[away].astype(np.float64) - after[away]
        squared += float(error @ error)
    return psnr_of(squared, upload.size, float(top))


@dataclass
class Chosen:
    """What `denoise_auto` returns: the result, the model that made it, and every model run with its time."""

    result: Denoised  # `seconds`: the model time of every run, together
    model: str  # the model (as the registry names it, an int8 twin included) whose output `result` holds
    # (model, seconds) in the order they ran, each observed by the metrics; the default may run second, or not
    # at all, where its run is not needed to choose (EXTREMES_ONLY)
    runs: list[tuple[str, float]]


def runs_text(chosen: Chosen) -> str:
    """What ran, in order, and whose output it is when more than one ran ("jpeg-unet then prefill-unet,
    output of prefill-unet"): the command line's line per file (the demo page says the same)."""
    ran = " then ".join(name for name, _ in chosen.runs)
    return ran if len(chosen.runs) == 1 else f"{ran}, output of {chosen.model}"


# The rule fires on clean photos too (texture and clipped highlights read as impulses: 6 of the first 10 CBSD68
# photos at the hint's 5%, and at auto's AUTO_MIN_IMPULSES all 10), and a clean JPEG sent to jpeg-unet comes
# back changed a little everywhere (49.0 dB against itself, where the default returns it at 64.4). It fires on
# light exact salt-and-pepper too, where the estimate reads texture beside the impulses: blind-unet then
# restores the same impulses as the default, 0.3-1.9 dB worse. So auto keeps the default's output where the
# second model's output is close to it (PSNR at least KEEP_FIRST_DB): a model that restored impulses the default
# left is far from it. `python scripts/unseen_checks.py --light --data ../shared/data/CBSD68 --int8` (68 photos,
# stop 41), blind-unet-int8's output against the default's: 41.2 dB or more on the clean photos, 39.4 or more
# with exact salt-and-pepper 0.005-0.05 (per value or whole pixels), at most 30.8 with random-valued 0.01-0.05
# or near-extreme 0.02. Until stop 41 auto compared it with the upload (threshold 40 dB), which the impulses
# keep far from any restoration, and returned 0.16-1.38 dB under the default's mean on exact salt-and-pepper
# 0.005-0.05 (docs/model-design.md, stop 41). `python scripts/auto_checks.py --data ../shared/data/CBSD68
# --limit 10 --int8`: 10.1-18.8 dB on every noisy upload, 44.6-80.1 on the clean ones. The price: on the
# x1.6-clipped photos `blind-unet` is the better model even where the two agree, and auto kept its output
# there by the old rule's accident (docs/eval/CBSD68-exposure1.6, clean: 41.38 then, 40.97 now). Where the
# default's run was skipped, `psnr_away_from_extremes` tells, without it, the uploads where the two cannot be
# close (the default runs for the others).
KEEP_FIRST_DB = 37.0


def denoise_auto(data: bytes, registry: ModelRegistry, max_pixels: int, options: DenoiseOptions = DenoiseOptions(),
                 check: Callable[[], None] | None = None) -> Chosen:
    """`model=auto`: the default model's result, or the suggested model's where the default left most of the
    impulses alone (`model_to_try`'s rule, at any estimate: AUTO_MIN_IMPULSES), unless that model's output is
    within KEEP_FIRST_DB of the default's (PSNR of one against the other): then the default's. The default
    runs first unless its run is not needed to know that (`_named_before_the_default`). The upload is decoded
    once; the memory is one run's plus the first run's output."""
    image = decode_within(data, max_pixels, options, registry.get(None).denoiser.pad_multiple)
    return denoise_auto_image(image, registry, options, check)


def denoise_auto_image(image: DecodedImage, registry: ModelRegistry, options: DenoiseOptions = DenoiseOptions(),
                       check: Callable[[], None] | None = None) -> Chosen:
    """`denoise_auto` after decoding: what `training evaluate --auto` scores, on the pixels of a table's upload
    (its `source_format` says whether it is a JPEG file)."""
    default = registry.get(None)
    estimate = impulse_estimate(image.pixels)  # once for both runs (about 10 ms: app.noise.CHUNK_VALUES)
    # Asked at most once, where the choice needs it: before the runs where the default is skipped (the suggested
    # model's name depends on it) and then again by a run of the default whose output is kept (KEEP_FIRST_DB).
    jpeg_pixels = functools.cache(lambda: saved_pixels(image))
    runs: list[tuple[str, float]] = []

    def run(loaded: LoadedModel) -> Denoised:
        check_shape_cost(image.pixels.shape[1], image.pixels.shape[0], loaded.denoiser.pad_multiple)
        result = denoise_image(image, loaded.denoiser, options, check, estimate, jpeg_pixels)
        runs.append((loaded.name, result.seconds))
        return result

    kept = None
    suggestion = _named_before_the_default(image, estimate, default.denoiser, default.name, registry.models,
                                           jpeg_pixels)
    if suggestion is None:
        kept = run(default)
        if kept.leaves_impulses(AUTO_MIN_IMPULSES):  # the hint's rule (`model_to_try`) at auto's estimate
            suggestion = model_for_impulses(image, jpeg_pixels(), estimate.fraction, default.name, registry.models)
        if suggestion is None:
            return Chosen(kept, default.name, runs)
    second = registry.get(suggestion)
    result, name = run(second), second.name
    if kept is None and psnr_away_from_extremes(image.pixels, result.image.pixels) >= KEEP_FIRST_DB:
        kept = run(default)  # the second model may have done what the default does: only its output says
    if kept is not None and psnr(kept.image.pixels, result.image.pixels, image.max_value) >= KEEP_FIRST_DB:
        result, name = kept, default.name
    result.seconds = sum(seconds for _, seconds in runs)
    return Chosen(result, name, runs)


def corrupt(data: bytes, max_pixels: int, spec: NoiseSpec, seed: int | None) -> DecodedImage:
    """Uploaded bytes -> the same image with noise added (alpha, ICC profile and format kept)."""
    image = decode(data, max_pixels)
    try:
        noisy = add_noise(image.pixels, spec, seed)
    except ValueError as e:  # a lossy re-encode of a 16-bit image
        raise InvalidParameter(str(e)) from None
    return image.with_pixels(noisy)
