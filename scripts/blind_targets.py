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
  python scripts/blind_targets.py --model models/blind-unet.onnx --sets CBSD68 BSD68 --in-place  # a shipped model
  python scripts/blind_targets.py --model models/blind-unet.onnx --sets CBSD68 BSD68 --report    # its cells, as committed
  python scripts/blind_targets.py --model models/jpeg-unet.onnx --sets CBSD68 BSD68 --saved-only --in-place
  python scripts/blind_targets.py --model models/blind-unet.onnx --saved-model models/jpeg-unet.onnx \
      --sets CBSD68 BSD68 --report   # the pair: jpeg-unet's rows on the colour tables saved as JPEG, blind-unet's elsewhere
  python scripts/blind_targets.py --auto --sets CBSD68 BSD68 --in-place   # model=auto, upload by upload (~30 min)
  python scripts/blind_targets.py --auto --x8 --sets CBSD68 BSD68 --in-place   # and with ensemble=8 (rows "auto x8")
  python scripts/blind_targets.py --scorecard > docs/eval/targets.md   # every cell, every shipped method, one table
With `--in-place` the rows go into the committed tables themselves (each `evaluate --merge`, recorded in
the table's summary.json and README as `added_by`), and into the tables no target reads (UNCHECKED),
with `--card` where the table's own command has it (the model's card then holds its scores): for a
model that ships; docs/eval/targets.md (`--scorecard`) is then written again.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from app.registry import AUTO

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT / "docs" / "eval"
REAL_WORLD = ("sp-jpeg90", "sp-jpeg75", "impulse-range30", "random-valued")
# The tables whose photos were saved as JPEG after the noise: the only ones a model for saved photos
# (`jpeg-unet`) is meant for and scored on (`--saved-only`, `--saved-model`).
SAVED = ("sp-jpeg90", "sp-jpeg75", "clean-jpeg90")
COLOUR_SETS = ("CBSD68",)
MARGIN = {"CBSD68": 3.0, "BSD68": 2.0}
EXACT = {"CBSD68": ("CBSD68", "CBSD68-exposure1.6"), "BSD68": ("BSD68",)}
# Tables without a target of issue 15 that a shipped model's rows belong in too (`--in-place`)
UNCHECKED = ("Set12", "BSD68-published-densities")


def tables(sets: list[str], saved_only: bool = False) -> list[tuple[str, str]]:
    """(table, what it checks) for the chosen test sets; with `saved_only` the `SAVED` tables alone."""
    chosen = []
    for test_set in sets:
        chosen += [(f"{test_set}-{kind}", "real-world") for kind in REAL_WORLD]
        chosen += [(f"{test_set}-clean-jpeg90", "clean-jpeg"), *((name, "exact") for name in EXACT[test_set])]
    return [(table, kind) for table, kind in chosen if not saved_only or is_saved(table)]


def is_saved(table: str) -> bool:
    """True for a table whose photos were saved as JPEG after the noise (`SAVED`)."""
    return table.partition("-")[2] in SAVED


def is_saved_colour(table: str) -> bool:
    """A `SAVED` table of colour photos: where the pair X-Try-Model points to uses the saved model (for a grey
    JPEG file it names the blind model, but for a hard save under light noise: `app.pipeline.model_to_try`)."""
    return is_saved(table) and table.partition("-")[0] in COLOUR_SETS


def merge_command(table: Path, model: Path | None, out: Path, data: str, card: bool = False,
                  x8: bool = False) -> list[str]:
    """The table's recorded command with the candidate merged in (the table's --x8 dropped: nothing else
    re-run; --card only with `card`, for a shipped model, where the table's own command writes cards); `model`
    None: `model=auto` over the shipped models (`evaluate --auto`). `x8`: the candidate's 8-fold row too."""
    words = shlex.split(json.loads((table / "summary.json").read_text())["command"])[1:]  # drop "python"
    kept, skip = [], False
    for word in words:
        if skip and not word.startswith("--"):
            continue
        skip = word in ("--x8", "--card", "--models")
        if not skip:
            kept.append(word.replace("../shared/data", data))
    card_flag = ["--card"] if card and "--card" in words else []
    chosen = ["--models", "--auto"] if model is None else ["--models", str(model)]
    ensemble = ["--x8", AUTO if model is None else model.stem] if x8 else []
    return [sys.executable, *kept, *chosen, *ensemble, "--merge", "--out", str(out), *card_flag]


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


def card_from_tables(model: Path) -> None:
    """The model's committed rows into its card, table by table, as `evaluate --merge --card` writes them
    (`training.evaluate.update_cards`, with the command that added the rows)."""
    from training.evaluate import update_cards

    for table in sorted(EVAL.iterdir()):
        record = json.loads((table / "summary.json").read_text()) if (table / "summary.json").exists() else {}
        added = [c for c in record.get("added_by", [])  # the merges that named this model (not its -int8 twin)
                 if any(word == model.stem or Path(word).name == model.name for word in shlex.split(c))]
        if "--card" in record.get("command", "") and added:
            update_cards(record["summary"], record["dataset"], [model], added[-1])
            print(f"{table.name}: scores from {added[-1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    chosen = parser.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--model", help="the candidate .onnx, its card beside it")
    chosen.add_argument("--auto", action="store_true", help="model=auto over the shipped models, as the service runs "
                        "it (the row 'auto', `evaluate --auto`): what a user who sends model=auto gets")
    chosen.add_argument("--scorecard", action="store_true", help="run nothing: every target cell of both test sets "
                        "with each shipped method's committed row beside it, as docs/eval/targets.md holds it")
    parser.add_argument("--sets", nargs="+", default=["CBSD68"], choices=sorted(MARGIN))
    parser.add_argument("--data", default="../shared/data", help="where the test sets are")
    parser.add_argument("--work", help="copies of the tables, with the candidate's rows (default /tmp/blind-targets); "
                        "with --report: read --model's rows there, a candidate's scored earlier, --saved-model's from "
                        "the committed tables")
    parser.add_argument("--in-place", action="store_true", help="merge into docs/eval's tables, not copies")
    parser.add_argument("--card-from-tables", action="store_true",
                        help="run nothing: write the model's rows already in the committed tables into its card "
                        "(those whose command writes cards), as --in-place does; after a re-export emptied them")
    parser.add_argument("--report", action="store_true",
                        help="run nothing: the target cells of a model whose rows the committed tables already hold "
                        "(after the tables changed, e.g. a new classical anchor moved the targets)")
    parser.add_argument("--x8", action="store_true",
                        help="the 8-fold self-ensemble's row ('<name> x8'; 'auto x8': requests with ensemble=8): "
                        "added beside the one-pass row, and scored instead of it")
    parser.add_argument("--saved-only", action="store_true",
                        help="only the tables saved as JPEG after the noise (a model for saved photos: jpeg-unet)")
    parser.add_argument("--saved-model", help="with --report: score the colour tables saved as JPEG by this model's "
                        "rows, the others by --model's (the pair X-Try-Model points to, by the upload's format and mode)")
    args = parser.parse_args()
    if args.scorecard:
        print(scorecard(), end="")
        return
    if args.card_from_tables:
        card_from_tables(Path(args.model))
        return
    if args.auto and (args.card_from_tables or args.saved_only or args.saved_model):
        parser.error("--auto is scored on every table, and has no card")
    if args.report:
        name = (AUTO if args.auto else Path(args.model).stem) + (" x8" if args.x8 else "")
        saved = Path(args.saved_model).stem if args.saved_model else name
        ours = Path(args.work) if args.work else EVAL
        rows = [row for table, kind in tables(args.sets, args.saved_only)
                for row in checks(json.loads(((EVAL if saved != name and is_saved_colour(table) else ours)
                                              / table / "summary.json").read_text())["summary"], kind, table,
                                  saved if is_saved_colour(table) else name)]
        report(rows, name if saved == name else f"{name}, {saved} on the colour {' / '.join(SAVED)}", ours)
        return

    model = None if args.auto else Path(args.model).resolve()
    name = (AUTO if model is None else model.stem) + (" x8" if args.x8 else "")
    work = EVAL if args.in_place else Path(args.work or "/tmp/blind-targets")
    if args.in_place and model is not None:  # the recorded command names the model as the repo has it
        model = model.relative_to(ROOT)
    rows = []
    for table, kind in tables(args.sets, args.saved_only):
        copy = work / table
        if not args.in_place:
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(EVAL / table, copy)
        subprocess.run(merge_command(EVAL / table, model, copy.relative_to(ROOT) if args.in_place else copy, args.data,
                                     card=args.in_place and model is not None, x8=args.x8), cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        rows += checks(json.loads((copy / "summary.json").read_text())["summary"], kind, table, name)
    if args.in_place and not args.saved_only and model is not None:
        for table in UNCHECKED:
            subprocess.run(merge_command(EVAL / table, model, (EVAL / table).relative_to(ROOT), args.data, card=True),
                           cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    if args.in_place:  # the committed tables moved: the page that shows them all follows
        SCORECARD_FILE.write_text(scorecard())
    report(rows, name, work)


# The scorecard's columns: what a user gets from `model=auto`, one pass and with ensemble=8, and each model by name.
SCORECARD = (AUTO, f"{AUTO} x8", "prefill-unet", "blind-unet", "jpeg-unet")
SCORECARD_FILE = EVAL / "targets.md"


def scorecard() -> str:
    """docs/eval/targets.md: issue 15's 48 target cells (CBSD68 and BSD68), what each must reach, and every
    SCORECARD method's committed PSNR there (bold where it meets the target; blank where the table has no
    row of it), then how many cells each meets. Made from the committed tables alone, so a test can tell when
    the file no longer says what the tables say."""
    lines = [
        "# Issue 15's target cells, from the committed tables",
        "",
        "Made by `python scripts/blind_targets.py --scorecard > docs/eval/targets.md` from each table's",
        "summary.json (a test checks that it still matches them). Mean PSNR in dB over 68 photos. \"Required\":",
        "the per-image best classical filter + 3 dB (CBSD68) or + 2 dB (BSD68) for real-world noise, 45 dB for a",
        "clean JPEG 90 against itself, 60 dB for a clean PNG, and `prefill-unet` - 0.2 dB for exact",
        "salt-and-pepper. Bold: met. The speed target is in docs/benchmarks.md.",
        "",
        f"| cell | required | {' | '.join(SCORECARD)} |",
        f"|---|---:|{'---:|' * len(SCORECARD)}",
    ]
    met = dict.fromkeys(SCORECARD, 0)
    count = 0
    for table, kind in tables(sorted(MARGIN, reverse=True)):
        summary = json.loads((EVAL / table / "summary.json").read_text())["summary"]
        scored = {name: {label: value for label, value, _ in checks(summary, kind, table, name)}
                  for name in SCORECARD if all(name in rows for rows in summary.values())}
        for label, _, required in checks(summary, kind, table, "prefill-unet"):
            count += 1
            cells = []
            for name in SCORECARD:
                value = scored.get(name, {}).get(label)
                met[name] += value is not None and value >= required
                cells.append("" if value is None else f"**{value:.2f}**" if value >= required else f"{value:.2f}")
            lines.append(f"| {label} | {required:.2f} | {' | '.join(cells)} |")
    lines.append(f"| cells met, of {count} | | {' | '.join(str(met[name]) for name in SCORECARD)} |")
    return "\n".join(lines) + "\n"


def report(rows: list[tuple[str, float, float]], name: str, where: Path) -> None:
    """Print every target cell (the model, what it must reach, the margin) and how many are met."""
    print(f"| {name}: cell | PSNR | required | margin |\n|---|---:|---:|---:|")
    for label, value, required in rows:
        print(f"| {label} | {value:.2f} | {required:.2f} | {value - required:+.2f} |")
    met = sum(value >= required for _, value, required in rows)
    print(f"\n{met} of {len(rows)} cells met; tables with the model's rows in {where}")


if __name__ == "__main__":
    main()
