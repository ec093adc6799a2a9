"""Denoiser: one onnxruntime session per model, created once, with padding and overlapping tiles.

Models take (B, H, W, 3) floats in [0, 1] and return the same shape; H and W must be multiples of
the model's `pad_multiple` (ONNX metadata), so inputs are reflect-padded and the output cropped.
Large images go through in tiles of `tile_size` plus `tile_margin` context on every side; tile
origins stay on the model's grid, so each tile sees the same pooling cells as the whole image and
the seams are invisible (tests/test_inference.py checks the difference). A model with the `impulse_share`
input is given the whole photo's (`app.impulse_share`), so its tiles decide as the whole photo would.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import onnxruntime as ort

from app.cpus import available_cpus
from app.errors import DeadlineExceeded
from app.imaging import DecodedImage
from app.impulse_share import feed, photo_shares, takes_share
from app.jpeg_grid import grid_phase
from app.leftover_impulses import fill_leftovers, leftovers_due
from app.memory import BIG_REQUEST_PIXELS
from app.pass_changes import PassChanges, pass_changes

# cuDNN's default, EXHAUSTIVE, benchmarks every algorithm again whenever a convolution's input shape
# changes, and the tiles of a large image come in several shapes: 1920x1080 in 1024 tiles took 546 ms of
# model time on an H200, 155 ms with HEURISTIC, 17 ms untiled (docs/gpu.md).
CUDA_OPTIONS = {"cudnn_conv_algo_search": "HEURISTIC"}
# Tile cores when settings leave it to us. CPU: 1024 bounds memory at no cost in speed. CUDA: every new
# tile shape still costs, so tiles are larger; 2048 kept a 6000x4000 photo at 6.3 GB of GPU memory
# (286 ms) where 4096 took 17 GB (195 ms) on the H200 (docs/gpu.md).
AUTO_TILE = {"CPUExecutionProvider": 1024, "CUDAExecutionProvider": 2048}

Providers = list[str | tuple[str, dict[str, str]]]

# Geometric self-ensemble (KAIR's and BasicSR's "x8" test mode): the model on all 8 flips and rotations,
# each result turned back, averaged. 8x the time for +0.14 to +0.19 dB on grey BSD68 and +0.18 to +0.35 dB
# on colour CBSD68 (the "x8" rows in docs/eval). Opt-in per request; 1 is a single pass.
ENSEMBLES = (1, 8)


# A second pass of the blind model on its own output. Its detector judges each value by its neighbours and by
# the other channels of its pixel, so where noise struck channels one at a time, an impulse among impulses is
# missed; once the first pass has restored most of its neighbours, a second look finds it, as iterative
# switching filters know ("detect, fill, detect again").
# Measured on held-out training photos, never a test photo (`python scripts/second_pass_checks.py --photos 16`,
# 16 photos a group, the int8 twin as the CPU service runs it), mean PSNR after two passes against one:
# - colour photos, noise per channel: random-valued 0.1-0.5 +0.07 / +0.14 / +0.10 / +0.21 / +0.33 dB,
#   near-extreme 0.1 / 0.3 / 0.5 +0.31 / +0.27 / +0.58 (per photo -0.00 to +1.41), salt-and-pepper saved as
#   JPEG 90 +0.00-0.02;
# - noise per pixel, colour or grey: +0.00-0.04, for the same time again;
# - exact salt-and-pepper (restored at 0 and the maximum alone) and clean photos: nothing, and a clean photo
#   may lose a handful of values (-1.26 dB on one at 84 dB); a third pass: at most +0.01;
# - after an 8-fold ensemble, whose mean of eight looks already takes what one more would: +0.00-0.02 on
#   near-extreme 0.3 / 0.5 and random-valued 0.2 / 0.4 (`--ensemble 8 --passes 2`), so single passes only.
# So a second pass runs where the first changed at least SECOND_PASS_MIN_AWAY of the values that were not 0 or
# the maximum (0.000 on every clean photo; 0.072-0.095 with random-valued noise 0.1; 0.013 at 0.02, where it gains
# nothing), on colour photos whose changed pixels average under SECOND_PASS_MAX_PER_PIXEL changed values, the
# mark of noise per channel: means 1.11-1.85 there (per photo up to 2.11, at near-extreme 0.5) against
# 2.27-2.78 with noise per pixel (per photo from 1.87), where a pixel's values are struck together.
# The models that look again after their first pass (this second pass, and `app.leftover_impulses`): the blind
# model's architecture, the float file and its int8 twin.
LOOKS_AGAIN = frozenset({"blind-unet-chroma"})
SECOND_PASS_MIN_AWAY = 0.05
SECOND_PASS_MAX_PER_PIXEL = 2.0


def second_pass_due(changes: PassChanges) -> bool:
    """Whether the blind model's first pass, which made `changes`, calls for a second: a colour photo whose
    values away from 0 and the maximum the pass changed by at least SECOND_PASS_MIN_AWAY, at under
    SECOND_PASS_MAX_PER_PIXEL changed values per changed pixel (noise per channel)."""
    return (changes.colour and changes.away >= SECOND_PASS_MIN_AWAY * changes.size
            and changes.values < SECOND_PASS_MAX_PER_PIXEL * changes.pixels)


def _turn(batch: np.ndarray, mode: int) -> np.ndarray:
    """Mode 0-7 of (B, H, W, C): rotation by mode % 4 quarter turns, then a left-right flip from 4 on."""
    out = np.rot90(batch, mode % 4, axes=(1, 2))
    return out[:, :, ::-1] if mode >= 4 else out


def _turn_back(batch: np.ndarray, mode: int) -> np.ndarray:
    out = batch[:, :, ::-1] if mode >= 4 else batch
    return np.rot90(out, -(mode % 4), axes=(1, 2))


def choose_providers(preference: str = "auto") -> Providers:
    """CUDA first when onnxruntime offers it (and it is not turned off), then the CPU."""
    available = ort.get_available_providers()
    if preference != "cpu" and "CUDAExecutionProvider" in available:
        preload = getattr(ort, "preload_dlls", None)  # CUDA/cuDNN from the nvidia-* wheels, if installed
        if preload is not None:
            try:
                preload()
            except Exception:  # noqa: BLE001 - a system CUDA install may still work
                pass
        return [("CUDAExecutionProvider", dict(CUDA_OPTIONS)), "CPUExecutionProvider"]
    if preference == "cuda":
        raise RuntimeError(f"CUDA was asked for, but onnxruntime offers only {available}")
    return ["CPUExecutionProvider"]


def round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


@dataclass
class DenoiseResult:
    image: DecodedImage
    seconds: float  # model time (with the blind model's look for leftovers), decoding and encoding excluded
    passes: int = 1  # 2 where the blind model ran again on its own output (`second_pass_due`)
    leftovers: int = 0  # values filled by the look for leftover impulses (`app.leftover_impulses`)


class Denoiser:
    def __init__(self, path: Path, providers: Providers | None = None, threads: int = 0,
                 tile_size: int = 0, tile_margin: int = 64, cpu_tile_size: int = 0):
        """`tile_size` 0: the provider's own (`AUTO_TILE`), or on the CPU the model's own `cpu_tile_size`
        (its card's, for a model whose tile of 1024 needs more memory than the service's bound)."""
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or available_cpus()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle pool threads sleep instead of spinning: under load the cores are shared with decoding,
        # encoding and HTTP, and spinning stole them (+14% service throughput, same single-image latency:
        # docs/load-test.md, scripts/profile_onnx.py --spinning).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=providers or ["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.takes_share = takes_share(self.input_names)
        self.output_name = self.session.get_outputs()[0].name
        metadata = self.session.get_modelmeta().custom_metadata_map
        self.pad_multiple = int(metadata.get("pad_multiple", 1))
        # A model trained on JPEG saves whose 8x8 grid starts at its input's corner (jpeg-unet): each
        # upload is padded so that its own grid does, whatever it was cropped or turned by (`_grid_padding`).
        self.jpeg_grid = int(metadata.get("jpeg_grid", 0))
        self.architecture = metadata.get("architecture", "")  # what `model=auto` may know of it before a run
        self.looks_again = self.architecture in LOOKS_AGAIN
        self.provider = self.session.get_providers()[0]
        if not tile_size and cpu_tile_size and self.provider == "CPUExecutionProvider":
            tile_size = cpu_tile_size
        tile_size = tile_size or AUTO_TILE.get(self.provider, 1024)
        self.tile_size = max(self.pad_multiple, round_up(tile_size, self.pad_multiple))
        self.tile_margin = round_up(tile_margin, self.pad_multiple)
        # onnxruntime's memory arena keeps what a run allocated for the next: after a 6000x4000 photo the
        # idle process stayed at 1.05 GB (136 MB at start), which malloc_trim cannot return. Shrinking it
        # at the end of a big image's last run gave 134 MB afterwards (and 11% more time when done after
        # every tile, so it is done once per big image; scripts/memory_cases.py).
        self._shrink = ort.RunOptions()
        self._shrink.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0" if
                                          self.provider == "CPUExecutionProvider" else "cpu:0;gpu:0")

    def release_arena(self) -> None:
        """Shrink onnxruntime's arena now, with one run on the smallest input. A big image's work that
        was stopped (deadline, drain, client gone) never reaches its last tile, whose run shrinks it: four
        6000x4000 photos sent at once to `blind-unet`, the last stopped by the deadline, left the idle
        server at 1,942 MB (`scripts/memory_cases.py --model blind-unet`, before this)."""
        side = self.pad_multiple
        self._run_once(np.zeros((1, side, side, 3), np.float32), shrink=True)

    def _run(self, batch: np.ndarray, ensemble: int = 1, shrink: bool = False,
             shares: np.ndarray | None = None) -> np.ndarray:
        """The model on a (B, h, w, 3) float32 batch, once or as the mean of `ensemble` turned copies.
        `shares`: the `impulse_share` input, for a model that takes it (default: the graph's own p).

        The mean is summed in float64: eight copies of a value the model passes through (switching
        output) average back to exactly that value."""
        if ensemble not in ENSEMBLES:
            raise ValueError(f"ensemble must be one of {ENSEMBLES}, not {ensemble}")
        if ensemble == 1:
            return self._run_once(batch, shrink, shares)
        total = np.zeros(batch.shape, np.float64)
        for mode in range(ensemble):
            last = shrink and mode == ensemble - 1
            total += _turn_back(self._run_once(np.ascontiguousarray(_turn(batch, mode)), last, shares), mode)
        return (total / ensemble).astype(np.float32)

    def _run_once(self, batch: np.ndarray, shrink: bool = False, shares: np.ndarray | None = None) -> np.ndarray:
        """One session call on a (B, h, w, 3) float32 batch, padded to the model's multiple."""
        h, w = batch.shape[1:3]
        ph, pw = round_up(h, self.pad_multiple) - h, round_up(w, self.pad_multiple) - w
        if ph or pw:
            mode = "reflect" if (h > ph and w > pw) else "symmetric"
            batch = np.pad(batch, ((0, 0), (0, ph), (0, pw), (0, 0)), mode=mode)
        out = self.session.run([self.output_name], feed(self.input_names, batch, shares),
                               self._shrink if shrink else None)[0]
        return out[:, :h, :w]

    def _tiles(self, h: int, w: int):
        """(window, core-within-window, core-in-image) slices covering an h x w image.

        One window when the image fits in a tile plus its margins; otherwise tiles of `tile_size`
        with `tile_margin` context on each side (origins on the model's grid), cores kept.
        """
        t, m = self.tile_size, self.tile_margin
        if h <= t + 2 * m and w <= t + 2 * m:
            full = (slice(0, h), slice(0, w))
            yield full, full, full
            return
        for y in range(0, h, t):
            for x in range(0, w, t):
                y0, x0 = max(0, y - m), max(0, x - m)
                y1, x1 = min(h, y + t + m), min(w, x + t + m)
                th, tw = min(t, h - y), min(t, w - x)
                yield ((slice(y0, y1), slice(x0, x1)), (slice(y - y0, y - y0 + th), slice(x - x0, x - x0 + tw)),
                       (slice(y, y + th), slice(x, x + tw)))

    def denoise(self, image: DecodedImage, ensemble: int = 1, check: Callable[[], None] | None = None,
                second_pass: bool = True, leftovers: bool = True) -> DenoiseResult:
        """Denoise the colour (or grey) values; alpha and metadata pass through untouched.

        A model whose architecture is in LOOKS_AGAIN (the blind model) then looks again at a colour photo,
        as its first pass's changes (`pass_changes`) call for: a second pass on its own output where
        `second_pass_due`, in a single pass only (not with an ensemble); then the weight-free look for the
        impulses it left (`app.leftover_impulses`) where `leftovers_due`, after an ensemble too. Scripts that
        measure the looks apart turn them off (`second_pass=False`, `leftovers=False`). The time is all of it.

        A second pass or a look that the request's deadline stops is dropped, and what came before is
        returned: a second pass doubles the work, and a 60 MP photo took 191 s in one pass of the float model
        on 2 cores where the deadline is 300 s (docs/benchmarks.md). A client that left or a drain still stops
        the work."""
        first = self._one_pass(image, ensemble, check)
        if not (self.looks_again and not image.is_grey and (second_pass or leftovers)):
            return first
        changes = pass_changes(image.pixels, first.image.pixels, image.max_value)
        result = first
        if second_pass and ensemble == 1 and second_pass_due(changes):
            result = self._second_pass(first, ensemble, check)
        if leftovers and leftovers_due(changes):
            result = self._leftovers(image, result, check)
        return result

    def _second_pass(self, first: DenoiseResult, ensemble: int, check: Callable[[], None] | None) -> DenoiseResult:
        """The model again on the first pass's output; the first pass's result where the deadline stops it."""
        try:
            second = self._one_pass(first.image, ensemble, check)
        except DeadlineExceeded:
            return first
        return DenoiseResult(second.image, first.seconds + second.seconds, passes=2)

    def _leftovers(self, image: DecodedImage, result: DenoiseResult,
                   check: Callable[[], None] | None) -> DenoiseResult:
        """`result` with the impulses the model left filled (`app.leftover_impulses`, in place: its pixels are
        this call's own output array); `result` as it was where the deadline stops the look."""
        started = time.perf_counter()
        try:
            filled = fill_leftovers(image.pixels, result.image.pixels, image.max_value, check)
        except DeadlineExceeded:
            return result
        return replace(result, leftovers=filled, seconds=result.seconds + time.perf_counter() - started)

    def _one_pass(self, image: DecodedImage, ensemble: int = 1,
                  check: Callable[[], None] | None = None) -> DenoiseResult:
        """One pass of the model over the image.

        Works tile by tile from the integer image to the integer result, so memory beyond the input
        and output arrays is one tile's worth (a 6000x4000 photo stays far below a full float copy).
        `check()` runs before each tile and raises to stop the work (deadline, drain, client gone).
        """
        (above, below), (before, after) = self._grid_padding(image.pixels, ensemble)
        pixels = image.pixels
        if above or below or before or after:
            widths = ((above, below), (before, after)) + ((0, 0),) * (pixels.ndim - 2)
            pixels = np.pad(pixels, widths, mode="reflect" if min(pixels.shape[:2]) > self.jpeg_grid else "symmetric")
        top = np.float32(image.max_value)
        # the photo's own p, not its padding's: every tile, and every turned copy of an ensemble, gets the same
        shares = photo_shares(image.pixels, image.max_value) if self.takes_share else None
        out = np.empty_like(pixels)
        seconds = 0.0
        tiles = list(self._tiles(*pixels.shape[:2]))
        release = pixels.shape[0] * pixels.shape[1] >= BIG_REQUEST_PIXELS
        for index, (window, core, target) in enumerate(tiles):
            if check is not None:
                try:
                    check()
                except BaseException:
                    if release and index > 0:  # stopped mid-image: the last tile's shrink will not come
                        self.release_arena()
                    raise
            tile = pixels[window].astype(np.float32) / top
            if image.is_grey:
                tile = np.repeat(tile[..., None], 3, axis=2)
            started = time.perf_counter()
            restored = self._run(tile[None], ensemble, release and index == len(tiles) - 1, shares)[0][core]
            seconds += time.perf_counter() - started
            if image.is_grey:
                restored = restored.mean(axis=2)
            out[target] = np.clip(np.rint(restored * top), 0, top).astype(pixels.dtype)
        if above or below or before or after:
            out = np.ascontiguousarray(out[above : out.shape[0] - below, before : out.shape[1] - after])
        return DenoiseResult(image.with_pixels(out), seconds)

    def _grid_padding(self, pixels: np.ndarray, ensemble: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """((rows above, below), (columns before, after)) to pad so that the upload's JPEG grid starts at the
        corner, as in the model's training; with an ensemble, also sides that are multiples of the grid, so
        that every turned copy keeps it there. Nothing for a model without `jpeg_grid`; a grid not seen
        (`grid_phase` None: never saved, or clipping hides it) is taken to start at the corner, as a JPEG
        file's does."""
        if not self.jpeg_grid:
            return (0, 0), (0, 0)
        row, column = grid_phase(pixels) or (0, 0)
        above, before = -row % self.jpeg_grid, -column % self.jpeg_grid
        if ensemble == 1:
            return (above, 0), (before, 0)
        return ((above, -(pixels.shape[0] + above) % self.jpeg_grid),
                (before, -(pixels.shape[1] + before) % self.jpeg_grid))
