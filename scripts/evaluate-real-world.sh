#!/usr/bin/env bash
# The real-world impulse-noise tables of docs/eval (issue 15): salt-and-pepper saved as JPEG, near-extreme
# impulses, random-valued impulses, and clean photos saved as JPEG; CBSD68 per channel, BSD68 grey (per pixel).
# Needs the train extra (make test-deps) and ../shared/data (or DATA=/path/to/sets). No --card: these
# scores are not the models' salt-and-pepper scores.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
PY=${PY:-.venv/bin/python}
for set in CBSD68 BSD68; do
    noise=per-channel; [ "$set" = BSD68 ] && noise=per-pixel
    ev() { $PY -m training evaluate --data "$DATA/$set" --noise "$noise" --figure-density 0.1 "$@"; }
    ev --densities 0.1 0.3 0.5 --jpeg-quality 90 --name "$set-sp-jpeg90"
    ev --densities 0.1 0.3 --jpeg-quality 75 --name "$set-sp-jpeg75"
    ev --densities 0.1 0.3 0.5 --kind impulse-range --spread 30 --name "$set-impulse-range30"
    ev --densities 0.1 0.2 0.3 0.4 --kind random-valued --name "$set-random-valued"
    ev --densities 0 --jpeg-quality 90 --name "$set-clean-jpeg90"
done
