#!/usr/bin/env bash
# Train on a lent GPU machine (issue 14; docs/gpu.md, "Training on a lent GPU"): Keras on JAX, crops and
# noise drawn inside the jitted step (fit --sampler device), checkpoints every epoch, resumable.
#
# The trip, within one session's 15 minutes of device time (machine start included):
#   here:   RUN=NAME [settings] bash scripts/train_on_gpu.sh prepare   # once per run: wheels, photos, the
#           run's settings (and its last checkpoint, to resume) into .gpu/
#   there:  the device tool's run, command "bash scripts/train_on_gpu.sh remote", carry [".gpu"],
#           timeout_s 600: every prepared run at once, on one GPU (each fit stops itself FIT_SECONDS after
#           its start; what it checkpointed comes back)
#   here:   bash scripts/train_on_gpu.sh collect FILES_AT  # each run's files back into runs/NAME
#           .venv/bin/python -m training export --run runs/NAME --name MODEL
# A second call of "remote" (after collect and prepare) resumes each run from its last finished epoch.
# `reset` forgets the prepared runs (not the photos or wheels), so the next trip runs only what is prepared
# after it.
#
# Settings (environment at `prepare`, kept in .gpu/runs/NAME.env; the same for every call of one run, or
# the run refuses to resume):
#   RUN (gpu: the run's name, runs/NAME here) ARCH (prefill-unet) EPOCHS (20) STEPS (2000) BATCH (64)
#   PATCH (128) SEED (0) FIT_SECONDS (420: the fit's time limit there) SETS ("CBSD432 Train400": folders of
#   ../shared/data to carry and train on) FIT_ARGS (more `python -m training fit` arguments, e.g.
#   "--init models/prefill-unet.onnx --recipe jpeg_share=0")
set -euo pipefail
cd "$(dirname "$0")/.."

RUN=${RUN:-gpu}
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
# What a run needs to resume and to be exported; the best optimizer state is not needed for either.
RUN_FILES="state.json train.log last.weights.h5 last.optimizer.npz best.weights.h5"

fit_command() {  # the settings in the environment -> the fit's command line
    local data=()
    for set in $SETS; do data+=("../shared/data/$set"); done
    # shellcheck disable=SC2086  # FIT_ARGS is a list of words
    echo "${PYTHON:-python3}" -m training fit --arch "$ARCH" --data "${data[@]}" --out "runs/$RUN" \
        --epochs "$EPOCHS" --steps "$STEPS" --batch "$BATCH" --patch "$PATCH" --seed "$SEED" --backend jax \
        --sampler device $FIT_ARGS
}

prepare() {
    grep -qx '.gpu/' .gitignore || { echo ".gpu/ must be in .gitignore" >&2; exit 1; }
    [[ "$RUN" =~ ^[A-Za-z0-9_-]+$ ]] || { echo "RUN is a name of letters, digits, _ and -" >&2; exit 1; }
    mkdir -p .gpu/wheels .gpu/data .gpu/runs
    local py=${PY:-.venv/bin/python}
    [ -n "$(ls .gpu/wheels/keras-*.whl 2>/dev/null)" ] || $py -m pip download -q --no-deps --only-binary=:all: \
        --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .gpu/wheels \
        "keras==$KERAS_VERSION" namex optree
    for set in $SETS; do
        [ -d ".gpu/data/$set" ] || cp -r "$DATA/$set" ".gpu/data/$set"  # the photos do not travel by themselves
    done
    rm -rf .gpu/remote .gpu/remote-run  # a dry run's (docs/gpu.md): it would travel
    # The settings travel with the run, so `remote` runs every prepared run with its own.
    local var
    for var in ARCH EPOCHS STEPS BATCH PATCH SEED FIT_SECONDS SETS FIT_ARGS; do
        printf '%s=%q\n' "$var" "${!var}"
    done >".gpu/runs/$RUN.env"
    # Resume: only what `fit` needs to continue (the best weights stay here; collect keeps the better).
    rm -rf ".gpu/resume/$RUN" && mkdir -p ".gpu/resume/$RUN"
    for f in state.json last.weights.h5 last.optimizer.npz; do
        if [ -f "runs/$RUN/$f" ]; then cp "runs/$RUN/$f" ".gpu/resume/$RUN/"; fi
    done
    local tree
    tree=$(git ls-files -co --exclude-standard -z | du -cb --files0-from=- | tail -1 | cut -f1)
    local carried
    carried=$(du -sb .gpu | cut -f1)
    local total=$(( (tree + carried) / 1048576 ))
    echo "to carry: working tree $((tree / 1048576)) MiB + .gpu $((carried / 1048576)) MiB = $total MiB (limit $LIMIT_MIB)"
    [ "$total" -lt "$LIMIT_MIB" ] || { echo "too much to carry: fewer SETS" >&2; exit 1; }
    echo "prepared runs: $(cd .gpu/runs && ls -- *.env | sed 's/\.env$//' | tr '\n' ' ')"
    echo "run there: bash scripts/train_on_gpu.sh remote   (carry .gpu; $RUN: $(fit_command))"
}

remote_one() {  # one prepared run, its settings sourced into this subshell; its log to $OUT/NAME-fit.log
    local log="$OUT/$RUN-fit.log"
    # The fit writes to runs/NAME, the folder `collect` fills here, so its state (which names its folder)
    # resumes on either machine and `export` records the commands as they would run here. There it is a
    # link into .gpu/remote; a real folder of that name is a run of this machine's (a dry run): refused.
    if [ -e "runs/$RUN" ] && [ ! -L "runs/$RUN" ]; then
        echo "runs/$RUN is a run of this machine: prepare the trip under another RUN" | tee "$log" >&2
        return 1
    fi
    rm -rf ".gpu/remote/$RUN" && mkdir -p ".gpu/remote/$RUN" runs && ln -sfn "../.gpu/remote/$RUN" "runs/$RUN"
    cp ".gpu/resume/$RUN/"* ".gpu/remote/$RUN/" 2>/dev/null || true
    echo "$RUN: $(fit_command)" >"$log"
    set +e
    # shellcheck disable=SC2046
    timeout --signal=INT "$FIT_SECONDS" $(fit_command) 2>&1 | grep --line-buffered -v "it/s\]" >>"$log"
    set -e
    # Back as one file (split at 15 MiB): the tool returns at most 8 files of 16 MiB, and runs share them.
    local files=()
    for f in $RUN_FILES; do [ -f ".gpu/remote/$RUN/$f" ] && files+=("$f"); done
    if [ "${#files[@]}" -gt 0 ]; then
        tar -C ".gpu/remote/$RUN" -cf ".gpu/remote/$RUN.tar" "${files[@]}"
        if [ "$(stat -c %s ".gpu/remote/$RUN.tar")" -gt 16000000 ]; then
            split -b 15m -d ".gpu/remote/$RUN.tar" "$OUT/$RUN.tar.part-"
        else
            cp ".gpu/remote/$RUN.tar" "$OUT/"
        fi
    fi
    tail -3 "$log"
}

remote() {
    : "${OUT:?OUT is the output folder of the device tool}"
    local started=$EPOCHSECONDS
    if [ -z "${SKIP_WHEELS:-}" ]; then  # SKIP_WHEELS=1: a dry run on a machine that has Keras (docs/gpu.md)
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
            .gpu/wheels/*.whl
    fi
    export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 KERAS_BACKEND=jax
    # The run records ../shared/data/SET, the paths here, so export and reproduce work here unchanged.
    [ -e ../shared/data ] || { mkdir -p ../shared && ln -s "$PWD/.gpu/data" ../shared/data; }
    local envs=(.gpu/runs/*.env)
    [ -e "${envs[0]}" ] || { echo "no prepared run: RUN=NAME bash scripts/train_on_gpu.sh prepare" >&2; exit 1; }
    # Runs share the GPU: JAX would take 75% of its memory for each, so each gets its part.
    XLA_PYTHON_CLIENT_MEM_FRACTION=$(python3 -c "print(round(0.9 / ${#envs[@]}, 3))")
    export XLA_PYTHON_CLIENT_MEM_FRACTION
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/trip.log" || true
    echo "setup $((EPOCHSECONDS - started)) s; ${#envs[@]} run(s), memory fraction $XLA_PYTHON_CLIENT_MEM_FRACTION each" \
        | tee -a "$OUT/trip.log"
    local runs=() env
    for env in "${envs[@]}"; do
        (
            RUN=$(basename "$env" .env)
            # shellcheck disable=SC1090
            source "$env"
            remote_one
        ) &
        runs+=($!)
    done
    wait "${runs[@]}" || true  # a failed run still leaves its log and what it checkpointed
    echo "remote done in $((EPOCHSECONDS - started)) s" | tee -a "$OUT/trip.log"
}

collect() {
    local back=${1:?collect FILES_AT: the folder the device tool put the files in}
    local name
    for log in "$back"/*-fit.log; do
        [ -f "$log" ] || continue
        name=$(basename "$log" -fit.log)
        if [ -L "runs/$name" ]; then rm "runs/$name"; fi  # a dry run's link into .gpu/remote (remote_one)
        mkdir -p "runs/$name"
        if ls "$back/$name.tar.part-"* >/dev/null 2>&1; then
            cat "$back/$name.tar.part-"* | tar -C "runs/$name" -xf -
        elif [ -f "$back/$name.tar" ]; then
            tar -C "runs/$name" -xf "$back/$name.tar"
        fi
        cp "$log" "runs/$name/fit-$(date +%Y%m%d-%H%M%S).log"
        echo "== runs/$name"
        tail -5 "runs/$name/train.log" 2>/dev/null || tail -5 "$log"
    done
    cat "$back/trip.log" 2>/dev/null || true
    echo "next: RUN=NAME bash scripts/train_on_gpu.sh prepare (to resume), or python -m training export --run runs/NAME --name MODEL"
}

case "${1:-}" in
    prepare) prepare ;;
    remote) remote ;;
    collect) collect "${2:-}" ;;
    command) fit_command ;;
    reset) rm -rf .gpu/runs .gpu/resume .gpu/remote ;;
    *) echo "usage: $0 prepare | remote | collect FILES_AT | command | reset" >&2; exit 2 ;;
esac
