"""Re-run every command that made a model, from the photos, into fresh run folders: one command.

A model card records them: `training.reproduce` (each fit stage, in order; a model fitted in one go
has only `training.command`), `commands.export`, and `commands.rebuild` where its file was re-exported
from its own weights after a change to the graph's weight-free part (`training rebuild`); an int8 twin's
card also `quantization.command`, run last on the float model just exported. Here each stage's run folder moves under
`runs_dir`, so the runs that made the shipped model are neither reused nor overwritten. A stage that
another starts from (`--init`) is exported into its own run folder first and the next stage starts
from that ONNX file: its card beside it is the record the final card keeps (`training.starts_from`).
Interrupted, the same command resumes: fit resumes its run folder, and a finished stage is skipped.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from app.cards import int8_source, read_card
from training.commands import flag_value, with_flag


@dataclass
class Step:
    argv: list[str]  # `python -m training ...` with this interpreter
    done: Path | None = None  # skip the step when this file exists (an intermediate export)

    def text(self) -> str:
        return shlex.join(["python", *self.argv[1:]])


def plan(card: dict, runs_dir: Path, out_dir: Path) -> list[Step]:
    """The steps that remake the card's model in `runs_dir`, exported to `out_dir`."""
    fits = [shlex.split(c) for c in card["training"].get("reproduce") or [card["training"]["command"]]]
    export = shlex.split(card["commands"]["export"])
    rebuild = shlex.split(card["commands"]["rebuild"]) if "rebuild" in card["commands"] else []
    quantize = shlex.split(card["quantization"]["command"]) if "quantization" in card else []
    for parts in fits + [export] + ([rebuild] if rebuild else []) + ([quantize] if quantize else []):
        if parts[:3] != ["python", "-m", "training"] or parts[3] not in ("fit", "export", "rebuild", "quantize"):
            raise ValueError(f"not a training command: {shlex.join(parts)}")
    name = flag_value(export, "--name") or (int8_source(card) or {}).get("name") or card["name"]
    moved: dict[str, Path] = {}  # recorded run folder -> its new place
    steps: list[Step] = []
    for parts in fits:
        recorded = flag_value(parts, "--out")
        start = flag_value(parts, "--init")
        if start in moved:  # starts from an earlier stage: export that stage, start from the export
            stage = moved[start]
            onnx = stage / f"{name}.onnx"
            steps.append(Step([sys.executable, "-m", "training", "export", "--run", str(stage), "--name", name,
                               "--out", str(stage)], done=onnx))
            parts = with_flag(parts, "--init", str(onnx))
        moved[recorded] = runs_dir / Path(recorded).name
        steps.append(Step([sys.executable, *with_flag(parts, "--out", str(moved[recorded]))[1:]]))
    run = flag_value(export, "--run")
    export = with_flag(with_flag(export, "--run", str(moved.get(run, run))), "--out", str(out_dir))
    steps.append(Step([sys.executable, *export[1:]]))
    if rebuild:  # the weight-free part as the card's file has it (a no-op when the fits ran under that code)
        rebuild = with_flag(with_flag(rebuild, "--model", str(out_dir / f"{name}.onnx")), "--out", str(out_dir))
        steps.append(Step([sys.executable, *rebuild[1:]]))
    if quantize:
        quantize = with_flag(with_flag(quantize, "--model", str(out_dir / f"{name}.onnx")), "--out", str(out_dir))
        steps.append(Step([sys.executable, *quantize[1:]]))
    return steps


def reproduce(card_path: Path, runs_dir: Path, out_dir: Path, dry_run: bool = False, log=print) -> dict | None:
    """Run the plan; returns the new card, after saying whether its weights match the original's."""
    card = read_card(card_path)
    steps = plan(card, runs_dir, out_dir)
    for step in steps:
        if step.done is not None and step.done.exists():
            log(f"done already: {step.text()}")
            continue
        log(f"{'would run' if dry_run else 'running'}: {step.text()}")
        if not dry_run:
            subprocess.run(step.argv, check=True)
    if dry_run:
        return None
    name = card["name"] if "quantization" in card else flag_value(steps[-1].argv, "--name") or card["name"]
    new = read_card(out_dir / f"{name}.json")
    if "quantization" in card:
        log(f"int8 twin {'identical to' if new['sha256'] == card['sha256'] else 'differs from'} {card_path} "
            f"(sha256 {new['sha256'][:12]}... vs {card['sha256'][:12]}...)")
    same = new["weights_sha256"] == card["weights_sha256"]
    log(f"weights {'identical to' if same else 'differ from'} {card_path} ({new['weights_sha256'][:12]}... vs "
        f"{card['weights_sha256'][:12]}...); best validation PSNR {new['training']['best_validation_psnr']:.3f} vs "
        f"{card['training']['best_validation_psnr']:.3f} dB")
    return new
