"""Score a candidate blind model against issue 15's targets on the test sets, without touching docs/eval.

Copies each committed table to `--work`, adds the candidate's rows there with `python -m training
evaluate --merge` (the table's own command: same photos, noise, seeds; its other rows are not re-run),
then prints every target cell: the candidate, what it must reach, and by how much it passes or misses.
- real-world kinds (salt-and-pepper saved as JPEG, near-extreme, random-valued): at least the per-image
  best classical filter + 3 dB on CBSD68, + 2 dB on BSD68;
- exact salt-and-pepper (CBSD68 per channel and per pixel, BSD68, CBSD68 x1.6 clipped): at most 0.2 dB
  below `prefill-unet`, density 0 (a clean PNG) at least 60 dB;
- a clean photo saved as JPEG 90, against itself: at least 45 dB.
Speed, the last target, is `python -m training bench --models prefill-unet <candidate>`.

  python -m training export --run runs/blind-unet-symmetric-stage1 --name blind-unet --out /tmp/blind
  python scripts/blind_targets.py --model /tmp/blind/blind-unet.onnx            # CBSD68 tables, ~10 min
  python scripts/blind_targets.py --model /tmp/blind/blind-unet.onnx --sets CBSD68 BSD68
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT / "docs" / "eval"
REAL_WORLD = ("sp-jpeg90", "sp-jpeg75", "impulse-range30", "random-valued")
MARGIN = {"CBSD68": 3.0, "BSD68": 2.0}
EXACT = {"CBSD68": ("CBSD68", "CBSD68-exposure1.6"), "BSD68": ("BSD68",)}


def tables(sets: list[str]) -> list[tuple[str, str]]:
    """(table, what it checks) for the chosen test sets."""
    chosen = []
    for test_set in sets:
        chosen += [(f"{test_set}-{kind}", "real-world") for kind in REAL_WORLD]
        chosen += [(f"{test_set}-clean-jpeg90", "clean-jpeg"), *((name, "exact") for name in EXACT[test_set])]
    return chosen


def merge_command(table: Path, model: Path, out: Path, data: str) -> list[str]:
    """The table's recorded command with the candidate merged in (no --x8, no --card: nothing else re-run)."""
    words = shlex.split(json.loads((table / "summary.json").read_text())["command"])[1:]  # drop "python"
    kept, skip = [], False
    for word in words:
        if skip and not word.startswith("--"):
            continue
        skip = word in ("--x8", "--card", "--models")
        if not skip:
            kept.append(word.replace("../shared/data", data))
    return [sys.executable, *kept, "--models", str(model), "--merge", "--out", str(out)]


def checks(summary: dict, kind: str, table: str, name: str) -> list[tuple[str, float, float]]:
    """(cell, candidate, required) for one table's summary."""
    out = []
    for noise, rows in summary.items():
        for density, cell in rows[name].items():
            label = f"{table} {noise} {density}"
            if kind == "real-world":
                required = rows["best classical (per image)"][density]["psnr"] + MARGIN[table.split("-")[0]]
            elif kind == "clean-jpeg":
                required = 45.0
            elif float(density) == 0.0:
                required = 60.0
            else:
                required = rows["prefill-unet"][density]["psnr"] - 0.2
            out.append((label, cell["psnr"], required))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="the candidate .onnx, its card beside it")
    parser.add_argument("--sets", nargs="+", default=["CBSD68"], choices=sorted(MARGIN))
    parser.add_argument("--data", default="../shared/data", help="where the test sets are")
    parser.add_argument("--work", default="/tmp/blind-targets", help="copies of the tables, with the candidate's rows")
    args = parser.parse_args()

    model, work = Path(args.model).resolve(), Path(args.work)
    rows = []
    for table, kind in tables(args.sets):
        copy = work / table
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(EVAL / table, copy)
        subprocess.run(merge_command(EVAL / table, model, copy, args.data), cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        rows += checks(json.loads((copy / "summary.json").read_text())["summary"], kind, table, model.stem)
    print(f"| {model.stem}: cell | PSNR | required | margin |\n|---|---:|---:|---:|")
    for label, value, required in rows:
        print(f"| {label} | {value:.2f} | {required:.2f} | {value - required:+.2f} |")
    met = sum(value >= required for _, value, required in rows)
    print(f"\n{met} of {len(rows)} cells met; tables with the candidate's rows in {work}")


if __name__ == "__main__":
    main()
