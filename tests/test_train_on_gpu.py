"""scripts/train_on_gpu.sh, the plumbing of a GPU trip (docs/gpu.md), with a stand-in for `python -m
training fit`: a trip's device time is 15 minutes, so a slip here (a file not carried back, runs that
overwrite each other, a state that cannot resume) costs the trip. The fit itself is tested on JAX in
tests/test_device_sampler.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

# Writes what `fit` writes into its --out: a state naming its folder, a log, weights (one large enough
# that the trip must split it: the tool returns files of at most 16 MB).
FAKE_FIT = r"""#!/usr/bin/env bash
out=""; prev=""
for a in "$@"; do [ "$prev" = "--out" ] && out=$a; prev=$a; done
mkdir -p "$out"
printf '{"config": {"out": "%s", "args": "%s"}, "epochs_done": 1}' "$out" "$*" > "$out/state.json"
echo "epoch 1: loss 0.1  val PSNR 30.00 dB" | tee "$out/train.log"
head -c 17000000 /dev/zero > "$out/last.weights.h5"
echo weights > "$out/best.weights.h5"
"""


@pytest.fixture
def trip(tmp_path: Path) -> Path:
    """A clone-like folder holding the script, a photo set beside it and wheels already fetched."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "train_on_gpu.sh", repo / "scripts")
    (repo / ".gitignore").write_text(".gpu/\nruns/\n")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".gpu" / "wheels").mkdir(parents=True)
    (repo / ".gpu" / "wheels" / "keras-0-py3-none-any.whl").write_bytes(b"")  # prepare downloads none
    (tmp_path / "data" / "Photos").mkdir(parents=True)
    (tmp_path / "data" / "Photos" / "a.png").write_bytes(b"\x89PNG")
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_FIT)
    fake.chmod(0o755)
    return repo


def _script(repo: Path, verb: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "scripts/train_on_gpu.sh", verb, *args], cwd=repo, capture_output=True,
                          text=True, env={**os.environ, "DATA": str(repo.parent / "data"), "SETS": "Photos", **env})


def test_two_prepared_runs_train_at_once_and_come_back_into_their_run_folders(trip: Path, tmp_path: Path):
    for name, arch in (("one", "jpeg-unet"), ("two", "blind-unet-chroma")):
        done = _script(trip, "prepare", RUN=name, ARCH=arch, FIT_ARGS="--recipe train_only= --lr 1e-4")
        assert done.returncode == 0, done.stderr
    assert "prepared runs: one two" in done.stdout
    out = tmp_path / "out"
    out.mkdir()
    done = _script(trip, "remote", OUT=str(out), SKIP_WHEELS="1", PYTHON=str(tmp_path / "fake-python"))
    assert done.returncode == 0, done.stderr
    # Each run's files come back as one tar, split where it passes 16 MB: the tool returns at most 8 files.
    back = sorted(p.name for p in out.iterdir())
    assert {"one-fit.log", "two-fit.log", "trip.log"} <= set(back) and len(back) <= 8
    assert any(n.startswith("one.tar.part-") for n in back) and all(p.stat().st_size <= 16_000_000 for p in out.iterdir())
    done = _script(trip, "collect", str(out))
    assert done.returncode == 0, done.stderr
    for name, arch in (("one", "jpeg-unet"), ("two", "blind-unet-chroma")):
        state = json.loads((trip / "runs" / name / "state.json").read_text())
        # The run's folder there is the one it is collected into here, so it resumes and exports as a local run.
        assert state["config"]["out"] == f"runs/{name}"
        assert f"--arch {arch}" in state["config"]["args"] and "--recipe train_only= --lr 1e-4" in state["config"]["args"]
        assert (trip / "runs" / name / "last.weights.h5").stat().st_size == 17_000_000
        assert not (trip / "runs" / name).is_symlink()
    # The next trip resumes both from what came back.
    for name in ("one", "two"):
        assert _script(trip, "prepare", RUN=name).returncode == 0
        assert (trip / ".gpu" / "resume" / name / "last.weights.h5").stat().st_size == 17_000_000


def test_a_dry_run_here_refuses_to_overwrite_a_local_run_of_the_same_name(trip: Path, tmp_path: Path):
    assert _script(trip, "prepare", RUN="kept").returncode == 0
    (trip / "runs" / "kept").mkdir(parents=True)
    (trip / "runs" / "kept" / "state.json").write_text("{}")
    out = tmp_path / "out"
    out.mkdir()
    done = _script(trip, "remote", OUT=str(out), SKIP_WHEELS="1", PYTHON=str(tmp_path / "fake-python"))
    assert "is a run of this machine" in (out / "kept-fit.log").read_text()
    assert (trip / "runs" / "kept" / "state.json").read_text() == "{}"
    assert done.returncode == 0  # the other runs of the trip would still come back


def test_reset_forgets_the_prepared_runs(trip: Path):
    assert _script(trip, "prepare", RUN="old").returncode == 0
    assert _script(trip, "reset").returncode == 0
    assert _script(trip, "prepare", RUN="new").stdout.count("prepared runs: new ") == 1
