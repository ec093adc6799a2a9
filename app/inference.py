"""Denoiser: one onnxruntime session per model, created once, with padding and overlapping tiles.

Models take (B, H, W, 3) floats in [0, 1] and return the same shape; H and W must be multiples of
the model's `pad_multiple` (ONNX metadata), so inputs are reflect-padded and the output cropped.
Large images go through in tiles of `tile_size` plus `tile_margin` context on every side; tile
origins stay on the model's grid, so each tile sees the same pooling cells as the whole image and
the seams are invisible (tests/test_inference.py checks the difference).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from app.cpus import available_cpus
from app.imaging import DecodedImage


def choose_providers(preference: str = "auto") -> list[str]:
    """CUDA first when onnxruntime offers it (and it is not turned off), then the CPU."""
    available = ort.get_available_providers()
    if preference != "cpu" and "CUDAExecutionProvider" in available:
        preload = getattr(ort, "preload_dlls", None)  # CUDA/cuDNN from the nvidia-* wheels, if installed
        if preload is not None:
            try:
                preload()
            except Exception:  # noqa: BLE001 - a system CUDA install may still work
                pass
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if preference == "cuda":
        raise RuntimeError(f"CUDA was asked for, but onnxruntime offers only {available}")
    return ["CPUExecutionProvider"]


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


@dataclass
class DenoiseResult:
    image: DecodedImage
    seconds: float  # model time, decoding and encoding excluded


class Denoiser:
    def __init__(self, path: Path, providers: list[str] | None = None, threads: int = 0,
                 tile_size: int = 1024, tile_margin: int = 64):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or available_cpus()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), options, providers=providers or ["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = self.session.get_outputs()[0].name
        metadata = self.session.get_modelmeta().custom_metadata_map
        self.pad_multiple = int(metadata.get("pad_multiple", 1))
        self.provider = self.session.get_providers()[0]
        self.tile_size = max(self.pad_multiple, _round_up(tile_size, self.pad_multiple))
        self.tile_margin = _round_up(tile_margin, self.pad_multiple)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        """One session call on a (B, h, w, 3) float32 batch, padded to the model's multiple."""
        h, w = batch.shape[1:3]
        ph, pw = _round_up(h, self.pad_multiple) - h, _round_up(w, self.pad_multiple) - w
        if ph or pw:
            mode = "reflect" if (h > ph and w > pw) else "symmetric"
            batch = np.pad(batch, ((0, 0), (0, ph), (0, pw), (0, 0)), mode=mode)
        out = self.session.run([self.output_name], {self.input_name: batch})[0]
        return out[:, :h, :w]

    def restore(self, image: np.ndarray) -> np.ndarray:
        """(H, W, 3) float32 in [0, 1] -> restored (H, W, 3) float32 (not clipped), tiled if large."""
        h, w = image.shape[:2]
        t, m = self.tile_size, self.tile_margin
        if h <= t + 2 * m and w <= t + 2 * m:
            return self._run(image[None])[0]
        out = np.empty_like(image)
        for y in range(0, h, t):
            for x in range(0, w, t):
                y0, x0 = max(0, y - m), max(0, x - m)
                y1, x1 = min(h, y + t + m), min(w, x + t + m)
                tile = self._run(image[None, y0:y1, x0:x1])[0]
                out[y : y + t, x : x + t] = tile[y - y0 : y - y0 + min(t, h - y), x - x0 : x - x0 + min(t, w - x)]
        return out

    def denoise(self, image: DecodedImage) -> DenoiseResult:
        """Denoise the colour (or grey) values; alpha and metadata pass through untouched."""
        top = image.max_value
        x = image.pixels.astype(np.float32) / np.float32(top)
        if image.is_grey:
            x = np.repeat(x[..., None], 3, axis=2)
        started = time.perf_counter()
        y = self.restore(np.ascontiguousarray(x))
        seconds = time.perf_counter() - started
        if image.is_grey:
            y = y.mean(axis=2)
        pixels = np.clip(np.rint(y * top), 0, top).astype(image.pixels.dtype)
        return DenoiseResult(DecodedImage(pixels, image.alpha, image.source_format, image.icc_profile), seconds)
