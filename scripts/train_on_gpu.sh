#!/usr/bin/env bash
# Train on a lent GPU machine (issue 14; docs/gpu.md, "Training on a lent GPU"): Keras on JAX, crops and
# noise drawn inside the jitted step (fit --sampler device), checkpoints every epoch, resumable.
#
# The trip, within one session's 15 minutes of device time (machine start included):
#   here:   bash scripts/train_on_gpu.sh prepare           # wheels + photos (+ the last checkpoint) into .gpu/
#   there:  the device tool's run, command "bash scripts/train_on_gpu.sh remote", carry [".gpu"],
#           timeout_s 600 (the fit stops itself FIT_SECONDS after its start; what it checkpointed comes back)
#   here:   bash scripts/train_on_gpu.sh collect FILES_AT  # the files back into runs/gpu
#           .venv/bin/python -m training export --run runs/gpu --name NAME
# A second call of "remote" (after collect and prepare) resumes from the last finished epoch.
#
# Settings (environment, the same for every call of one run, or the run refuses to resume):
#   ARCH (prefill-unet) EPOCHS (20) STEPS (2000) BATCH (64) PATCH (128) SEED (0) FIT_SECONDS (420: the
#   fit's time limit there) SETS ("CBSD432 Train400": folders of ../shared/data to carry and train on)
#   FIT_ARGS (more `python -m training fit` arguments, e.g. "--init models/prefill-unet.onnx --recipe jpeg_share=0")
set -euo pipefail
cd "$(dirname "$0")/.."

ARCH=${ARCH:-prefill-unet}
EPOCHS=${EPOCHS:-20}
STEPS=${STEPS:-2000}
BATCH=${BATCH:-64}
PATCH=${PATCH:-128}
SEED=${SEED:-0}
FIT_SECONDS=${FIT_SECONDS:-420}  # not SECONDS: bash's own clock
SETS=${SETS:-CBSD432 Train400}
FIT_ARGS=${FIT_ARGS:-}
DATA=${DATA:-../shared/data}
KERAS_VERSION=3.15.1  # pyproject's pin; the machine has JAX, numpy, Pillow, h5py, tqdm, scipy, opencv
LIMIT_MIB=64  # what one call may carry: the working tree plus .gpu

fit_command() {
    local data=()
    for set in $SETS; do data+=("../shared/data/$set"); done
    # shellcheck disable=SC2086  # FIT_ARGS is a list of words
    echo "${PYTHON:-python3}" -m training fit --arch "$ARCH" --data "${data[@]}" --out .gpu/remote-run --epochs "$EPOCHS" \
        --steps "$STEPS" --batch "$BATCH" --patch "$PATCH" --seed "$SEED" --backend jax --sampler device $FIT_ARGS
}

prepare() {
    grep -qx '.gpu/' .gitignore || { echo ".gpu/ must be in .gitignore" >&2; exit 1; }
    mkdir -p .gpu/wheels .gpu/data
    local py=${PY:-.venv/bin/python}
    [ -n "$(ls .gpu/wheels/keras-*.whl 2>/dev/null)" ] || $py -m pip download -q --no-deps --only-binary=:all: \
        --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .gpu/wheels \
        "keras==$KERAS_VERSION" namex optree
    for set in $SETS; do
        [ -d ".gpu/data/$set" ] || cp -r "$DATA/$set" ".gpu/data/$set"  # the photos do not travel by themselves
    done
    # Resume: only what `fit` needs to continue (the best weights stay here; collect keeps the better).
    rm -rf .gpu/remote-run  # a dry run's (docs/gpu.md): it would travel
    mkdir -p .gpu/resume
    rm -f .gpu/resume/*
    for f in state.json last.weights.h5 last.optimizer.npz; do
        if [ -f "runs/gpu/$f" ]; then cp "runs/gpu/$f" .gpu/resume/; fi
    done
    local tree
    tree=$(git ls-files -co --exclude-standard -z | du -cb --files0-from=- | tail -1 | cut -f1)
    local carried
    carried=$(du -sb .gpu | cut -f1)
    local total=$(( (tree + carried) / 1048576 ))
    echo "to carry: working tree $((tree / 1048576)) MiB + .gpu $((carried / 1048576)) MiB = $total MiB (limit $LIMIT_MIB)"
    [ "$total" -lt "$LIMIT_MIB" ] || { echo "too much to carry: fewer SETS" >&2; exit 1; }
    echo "run there: bash scripts/train_on_gpu.sh remote   (carry .gpu; same settings: $(fit_command))"
}

remote() {
    : "${OUT:?OUT is the output folder of the device tool}"
    local started=$EPOCHSECONDS
    if [ -z "${SKIP_WHEELS:-}" ]; then  # SKIP_WHEELS=1: a dry run on a machine that has Keras (docs/gpu.md)
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
            .gpu/wheels/*.whl
    fi
    export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 KERAS_BACKEND=jax
    # The run records ../shared/data/SET, the paths here, so export and reproduce work here unchanged.
    [ -e ../shared/data ] || { mkdir -p ../shared && ln -s "$PWD/.gpu/data" ../shared/data; }
    rm -rf .gpu/remote-run && mkdir -p .gpu/remote-run
    cp .gpu/resume/* .gpu/remote-run/ 2>/dev/null || true
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/fit.log" || true
    echo "setup $((EPOCHSECONDS - started)) s" | tee -a "$OUT/fit.log"
    set +e
    # shellcheck disable=SC2046
    timeout --signal=INT "$FIT_SECONDS" $(fit_command) 2>&1 | grep --line-buffered -v "it/s\]" | tee -a "$OUT/fit.log"
    set -e
    # Back: at most 8 files of 16 MiB; the best optimizer state is not needed to resume.
    for f in state.json train.log last.weights.h5 last.optimizer.npz best.weights.h5; do
        [ -f ".gpu/remote-run/$f" ] || continue
        if [ "$(stat -c %s ".gpu/remote-run/$f")" -gt 16000000 ]; then
            split -b 15m -d ".gpu/remote-run/$f" "$OUT/$f.part-"
        else
            cp ".gpu/remote-run/$f" "$OUT/"
        fi
    done
    echo "remote done in $((EPOCHSECONDS - started)) s" | tee -a "$OUT/fit.log"
}

collect() {
    local back=${1:?collect FILES_AT: the folder the device tool put the files in}
    mkdir -p runs/gpu
    for f in state.json train.log last.weights.h5 last.optimizer.npz best.weights.h5; do
        if ls "$back/$f.part-"* >/dev/null 2>&1; then
            cat "$back/$f.part-"* >"runs/gpu/$f"
        elif [ -f "$back/$f" ]; then
            cp "$back/$f" "runs/gpu/$f"
        fi
    done
    cp "$back/fit.log" "runs/gpu/fit-$(date +%Y%m%d-%H%M%S).log" 2>/dev/null || true
    cat runs/gpu/train.log 2>/dev/null | tail -5
    echo "next: bash scripts/train_on_gpu.sh prepare (to resume), or python -m training export --run runs/gpu --name NAME"
}

case "${1:-}" in
    prepare) prepare ;;
    remote) remote ;;
    collect) collect "${2:-}" ;;
    command) fit_command ;;
    *) echo "usage: $0 prepare | remote | collect FILES_AT | command" >&2; exit 2 ;;
esac
