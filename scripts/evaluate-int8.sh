#!/usr/bin/env bash
# The int8 twin's rows (issue 16) in every table of docs/eval, added to the committed tables with
# `evaluate --merge`: only the twin runs; the classical filters' and float models' rows are kept as they are
# (deterministic, and most of the time). A fresh scripts/evaluate-all.sh + evaluate-real-world.sh gives the
# same rows, since their `--models all` includes the twin. Needs ../shared/data (or DATA=/path/to/sets).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
PY=${PY:-.venv/bin/python}
TWIN=${TWIN:-prefill-unet-int8}
ev() { $PY -m training evaluate --models "$TWIN" --merge "$@"; }
# The salt-and-pepper tables (scores into the twin's card, as evaluate-all.sh does for every model)
ev --data "$DATA/CBSD68" --densities 0 0.1 0.3 0.5 0.7 0.9 --card
ev --data "$DATA/BSD68" --densities 0 0.1 0.3 0.5 0.7 0.9 --card
ev --data "$DATA/Set12" --card
ev --data "$DATA/BSD68" --densities 0.5882 0.7059 0.902 --name BSD68-published-densities --card
ev --data "$DATA/CBSD68" --exposure 1.6 --densities 0 0.1 0.3 0.5 --noise per-channel --card
# The real-world tables (as scripts/evaluate-real-world.sh: no --card)
for set in CBSD68 BSD68; do
    noise=per-channel; [ "$set" = BSD68 ] && noise=per-pixel
    ev --data "$DATA/$set" --noise "$noise" --densities 0.1 0.3 0.5 --jpeg-quality 90 --name "$set-sp-jpeg90"
    ev --data "$DATA/$set" --noise "$noise" --densities 0.1 0.3 --jpeg-quality 75 --name "$set-sp-jpeg75"
    ev --data "$DATA/$set" --noise "$noise" --densities 0.1 0.3 0.5 --kind impulse-range --spread 30 --name "$set-impulse-range30"
    ev --data "$DATA/$set" --noise "$noise" --densities 0.1 0.2 0.3 0.4 --kind random-valued --name "$set-random-valued"
    ev --data "$DATA/$set" --noise "$noise" --densities 0 --jpeg-quality 90 --name "$set-clean-jpeg90"
done
