#!/usr/bin/env bash
# Every evaluation table in docs/eval and every score in the model cards, from the shipped models.
# Needs the train extra (make test-deps) and ../shared/data (or DATA=/path/to/sets). ~41 min on 2 cores (the three lines with x8 rows took 36m37s).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
PY=${PY:-.venv/bin/python}
# The default model also as its 8-fold geometric self-ensemble ("x8" rows; opt-in in the service).
$PY -m training evaluate --data "$DATA/CBSD68" --densities 0 0.1 0.3 0.5 0.7 0.9 --x8 prefill-unet --card
$PY -m training evaluate --data "$DATA/BSD68" --densities 0 0.1 0.3 0.5 0.7 0.9 --x8 prefill-unet --card
$PY -m training evaluate --data "$DATA/Set12" --card
# The densities of the published deep-learning results on grey BSD68 (150/255, 180/255, 230/255).
$PY -m training evaluate --data "$DATA/BSD68" --densities 0.5882 0.7059 0.902 --name BSD68-published-densities --x8 prefill-unet --card
# Photos with large clipped highlights (true 0/255 regions that look like impulses).
$PY -m training evaluate --data "$DATA/CBSD68" --exposure 1.6 --densities 0 0.1 0.3 0.5 --noise per-channel --card
