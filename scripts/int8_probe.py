#!/usr/bin/env python
"""Feasibility probe for int8 (issue 16): post-training static quantization of a model's convolutions,
timed against the float model in one run, with the PSNR both reach on one noisy photo.

Calibration: scikit-image's coffee and chelsea at densities 0.1 / 0.5 / 0.9 (never a test photo);
scored on a 512x512 crop of the astronaut at density 0.3. A probe, not the deliverable: no card, not
served. It prints the speed ratio, the PSNR difference and the processor.

  python scripts/int8_probe.py --format qoperator --no-reduce-range
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process
from skimage import data

from app.noise import salt_and_pepper
from app.quality import psnr, to_uint8
from training.bench import cpu_description, sgemm_gflops


class Calibration(CalibrationDataReader):
    def __init__(self) -> None:
        feeds = [{"image": salt_and_pepper(photo[:256, :256], d, seed=i).astype(np.float32)[None] / 255}
                 for i, photo in enumerate((data.coffee(), data.chelsea())) for d in (0.1, 0.5, 0.9)]
        self.feeds = iter(feeds)

    def get_next(self):
        return next(self.feeds, None)


def session(path: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path("models/prefill-unet.onnx"))
    parser.add_argument("--format", choices=["qdq", "qoperator"], default="qdq")
    parser.add_argument("--no-reduce-range", action="store_true", help="full 8-bit range (u8 x s8 may saturate on AVX2)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        prepared, quantized = Path(tmp) / "pre.onnx", Path(tmp) / "int8.onnx"
        quant_pre_process(str(args.model), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(quantized), Calibration(),
                        quant_format=QuantFormat.QDQ if args.format == "qdq" else QuantFormat.QOperator,
                        per_channel=True, reduce_range=not args.no_reduce_range, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, op_types_to_quantize=["Conv"])
        sessions = {"float": session(args.model, args.threads), "int8": session(quantized, args.threads)}
        clean = data.astronaut()[:512, :512]
        feed = {"image": salt_and_pepper(clean, 0.3, seed=5).astype(np.float32)[None] / 255}
        times: dict[str, list[float]] = {name: [] for name in sessions}
        outputs = {name: s.run(None, feed)[0] for name, s in sessions.items()}  # warm-up
        for _ in range(args.repeats):  # interleaved, so drift hits both
            for name, s in sessions.items():
                started = time.perf_counter()
                s.run(None, feed)
                times[name].append(time.perf_counter() - started)
    medians = {name: float(np.median(t)) for name, t in times.items()}
    scores = {name: psnr(clean, to_uint8(out[0])) for name, out in outputs.items()}
    print(f"float {medians['float'] * 1000:.1f} ms, {scores['float']:.2f} dB; int8 ({args.format}, reduce_range "
          f"{not args.no_reduce_range}) {medians['int8'] * 1000:.1f} ms, {scores['int8']:.2f} dB")
    print(f"int8 speed-up {medians['float'] / medians['int8']:.2f}x, PSNR {scores['int8'] - scores['float']:+.2f} dB; "
          f"sgemm {sgemm_gflops():.1f} GFLOP/s; {cpu_description()}")


if __name__ == "__main__":
    main()
