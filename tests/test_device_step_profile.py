"""scripts/device_step_profile.py: the probe a GPU trip runs to find where a training step's time goes
(docs/gpu.md, "The first trip (stop 33)"), checked on the CPU with JAX before device time is spent on it."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT


def test_the_probe_times_each_part_and_writes_them_as_it_goes(tmp_path):
    out = tmp_path / "profile.txt"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "device_step_profile.py"), "--arch", "jpeg-unet",
                           "--batch", "2", "--patch", "32", "--repeats", "1", "--convs", "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT, env={**os.environ, "KERAS_BACKEND": "jax"})
    assert done.returncode == 0, done.stderr[-3000:]
    lines = out.read_text().splitlines()
    assert lines[0].startswith("jpeg-unet, batch 2 of 32x32")
    parts = [line.split(":")[0] for line in lines[1:]]
    assert parts == ["sampler alone", "forward", "forward and backward, the run's loss",
                     "3x3 conv of 16 features, dilation 1, forward and backward",
                     "3x3 conv of 16 features, dilation 2, forward and backward"]
    assert all(" ms a call" in line and "M patch pixels/s" in line for line in lines[1:])
