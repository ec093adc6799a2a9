"""scripts/blind_targets.py: issue 15's targets, read from the committed tables' own commands and rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import load_script


def _script():
    return load_script("blind_targets")


def test_the_merge_reruns_the_tables_noise_for_the_candidate_only(tmp_path):
    bt = _script()
    command = bt.merge_command(bt.EVAL / "CBSD68", Path("/m/cand.onnx"), tmp_path, "/data")
    words = command[1:]
    assert words[:3] == ["-m", "training", "evaluate"]
    assert words[words.index("--data") + 1] == "/data/CBSD68"
    assert words[words.index("--densities") + 1 : words.index("--densities") + 7] == ["0", "0.1", "0.3", "0.5", "0.7", "0.9"]
    assert "--x8" not in words and "--card" not in words and "prefill-unet" not in words  # nothing else re-run
    assert words[-5:] == ["--models", "/m/cand.onnx", "--merge", "--out", str(tmp_path)]


def test_each_kind_of_cell_gets_its_own_target():
    bt = _script()
    cell = {"psnr": 30.0}
    rows = {"best classical (per image)": {"0.1": {"psnr": 28.0}}, "prefill-unet": {"0.1": {"psnr": 30.1}, "0": {"psnr": 65.0}},
            "cand": {"0.1": cell}}
    assert bt.checks({"per-channel": rows}, "real-world", "CBSD68-random-valued", "cand") == [
        ("CBSD68-random-valued per-channel 0.1", 30.0, 31.0)]
    assert bt.checks({"per-pixel": rows}, "real-world", "BSD68-random-valued", "cand")[0][2] == 30.0
    assert bt.checks({"per-channel": rows}, "exact", "CBSD68", "cand")[0][2] == pytest.approx(29.9)
    rows["cand"] = {"0": cell}
    assert bt.checks({"per-channel": rows}, "exact", "CBSD68", "cand")[0][2] == 60.0
    assert bt.checks({"per-channel": rows}, "clean-jpeg", "CBSD68-clean-jpeg90", "cand")[0][2] == 45.0
    assert [t for t, _ in bt.tables(["BSD68"])] == ["BSD68-sp-jpeg90", "BSD68-sp-jpeg75", "BSD68-impulse-range30",
                                                    "BSD68-random-valued", "BSD68-clean-jpeg90", "BSD68"]


def test_a_shipped_models_merge_writes_its_card_only_where_the_table_does():
    """`--in-place`: the card gets the salt-and-pepper tables' scores (their commands have --card), never the
    real-world ones (evaluate-real-world.sh writes no card: they would replace the card's CBSD68 scores)."""
    bt = _script()
    model, out = Path("models/cand.onnx"), Path("docs/eval/x")
    assert bt.merge_command(bt.EVAL / "CBSD68", model, out, "/data", card=True)[-1] == "--card"
    assert "--card" not in bt.merge_command(bt.EVAL / "CBSD68-random-valued", model, out, "/data", card=True)
    assert "--card" not in bt.merge_command(bt.EVAL / "CBSD68", model, out, "/data")
    assert set(bt.UNCHECKED).isdisjoint(table for table, _ in bt.tables(["CBSD68", "BSD68"]))


def test_card_from_tables_takes_only_the_card_writing_tables_rows(tmp_path, monkeypatch):
    import json

    from app.cards import read_card, write_card
    from training.evaluate import METHODS

    bt = _script()
    classical = next(name for name in METHODS if name != "noisy input")
    summary = {"per-channel": {"cand": {"0.1": {"psnr": 30.0, "ssim": 0.9}},
                               "noisy input": {"0.1": {"psnr": 15.0, "ssim": 0.2}},
                               classical: {"0.1": {"psnr": 28.0, "ssim": 0.8}}}}
    for table, command in (("S", "python -m training evaluate --data d/S --card"), ("S-jpeg", "python -m training evaluate --data d/S")):
        (tmp_path / "eval" / table).mkdir(parents=True)
        (tmp_path / "eval" / table / "summary.json").write_text(json.dumps(
            {"dataset": table, "command": command,
             "added_by": [f"python -m training evaluate --models m/cand.onnx --merge --name {table}",
                          "python -m training evaluate --models cand-int8 --merge"],
             "summary": summary}))
    monkeypatch.setattr(bt, "EVAL", tmp_path / "eval")
    model = tmp_path / "cand.onnx"
    write_card(model, {"name": "cand", "scores": {}})
    bt.card_from_tables(model)
    scores = read_card(model)["scores"]
    assert list(scores) == ["S"]  # the real-world-style table writes no card
    assert scores["S"]["per-channel"]["0.1"] == {"psnr": 30.0, "ssim": 0.9, "noisy_psnr": 15.0, "best_classical_psnr": 28.0}
    assert scores["S"]["command"].endswith("--name S")  # its own merge, not its twin's


def test_report_reads_a_shipped_models_cells_from_the_committed_tables(capsys, monkeypatch):
    import json
    import sys

    bt = _script()
    monkeypatch.setattr(sys, "argv", ["blind_targets.py", "--model", "models/blind-unet.onnx", "--sets", "BSD68", "--report"])
    bt.main()
    lines = capsys.readouterr().out.splitlines()
    table = json.loads((bt.EVAL / "BSD68-random-valued" / "summary.json").read_text())["summary"]["per-pixel"]
    value, best = table["blind-unet"]["0.1"]["psnr"], table["best classical (per image)"]["0.1"]["psnr"]
    assert f"| BSD68-random-valued per-pixel 0.1 | {value:.2f} | {best + 2.0:.2f} | {value - best - 2.0:+.2f} |" in lines
    cells = [line for line in lines if line.startswith("| BSD68")]
    met = sum(not line.split("|")[4].strip().startswith("-") for line in cells)  # the margin column
    assert lines[-1].startswith(f"{met} of {len(cells)} cells met")


def test_saved_tables_alone_and_the_pair_report(capsys, monkeypatch):
    """`--saved-only` keeps the tables saved as JPEG after the noise; `--report --saved-model` scores those by
    the saved model's rows and every other table by `--model`'s (the pair X-Try-Model points to)."""
    import json
    import sys

    bt = _script()
    assert [t for t, _ in bt.tables(["CBSD68", "BSD68"], saved_only=True)] == [
        "CBSD68-sp-jpeg90", "CBSD68-sp-jpeg75", "CBSD68-clean-jpeg90", "BSD68-sp-jpeg90", "BSD68-sp-jpeg75",
        "BSD68-clean-jpeg90"]
    assert not bt.is_saved("CBSD68-exposure1.6") and not bt.is_saved("BSD68-random-valued")
    assert bt.is_saved_colour("CBSD68-sp-jpeg75") and not bt.is_saved_colour("BSD68-sp-jpeg75")  # grey: the blind model
    monkeypatch.setattr(sys, "argv", ["blind_targets.py", "--model", "models/blind-unet.onnx", "--saved-model",
                                      "models/prefill-unet.onnx", "--sets", "CBSD68", "BSD68", "--report"])
    bt.main()
    cells = {line.split(" | ")[0].lstrip("| "): line.split(" | ")[1] for line in capsys.readouterr().out.splitlines()
             if line.startswith("| ") and "BSD68" in line}
    lines = {k: v for k, v in cells.items() if k.startswith("CBSD68")}
    grey_lines = {k: v for k, v in cells.items() if k.startswith("BSD68")}
    summary = lambda table: json.loads((bt.EVAL / table / "summary.json").read_text())["summary"]["per-channel"]
    assert lines["CBSD68-sp-jpeg90 per-channel 0.1"] == f"{summary('CBSD68-sp-jpeg90')['prefill-unet']['0.1']['psnr']:.2f}"
    assert lines["CBSD68-random-valued per-channel 0.1"] == (
        f"{summary('CBSD68-random-valued')['blind-unet']['0.1']['psnr']:.2f}")
    grey = json.loads((bt.EVAL / "BSD68-sp-jpeg90" / "summary.json").read_text())["summary"]["per-pixel"]
    assert grey_lines["BSD68-sp-jpeg90 per-pixel 0.1"] == f"{grey['blind-unet']['0.1']['psnr']:.2f}"
    assert len(lines) == len([1 for table, _ in bt.tables(["CBSD68"]) for noise in json.loads(
        (bt.EVAL / table / "summary.json").read_text())["summary"].values() for _ in noise["blind-unet"]])


def test_the_pair_report_of_a_candidate_scored_earlier(capsys, monkeypatch, tmp_path):
    """`--report --work DIR`: a candidate's rows from the copies it was scored into (not the committed
    tables, which hold the shipped model's), the saved model's from the committed tables."""
    import json
    import sys

    bt = _script()
    for table, _ in bt.tables(["CBSD68", "BSD68"]):
        summary = json.loads((bt.EVAL / table / "summary.json").read_text())
        for noise in summary["summary"].values():
            if "blind-unet" in noise:
                noise["candidate"] = {d: {**cell, "psnr": cell["psnr"] + 0.5} for d, cell in noise["blind-unet"].items()}
        (tmp_path / table).mkdir()
        (tmp_path / table / "summary.json").write_text(json.dumps(summary))
    monkeypatch.setattr(sys, "argv", ["blind_targets.py", "--model", str(tmp_path / "candidate.onnx"), "--saved-model",
                                      "models/jpeg-unet.onnx", "--sets", "CBSD68", "BSD68", "--report", "--work",
                                      str(tmp_path)])
    bt.main()
    out = capsys.readouterr().out
    cells = {line.split(" | ")[0].lstrip("| "): line.split(" | ")[1] for line in out.splitlines()
             if line.startswith("| ") and "BSD68" in line}
    committed = lambda table, model, noise: json.loads((bt.EVAL / table / "summary.json").read_text())[
        "summary"][noise][model]["0.1"]["psnr"]
    assert cells["CBSD68-random-valued per-channel 0.1"] == f"{committed('CBSD68-random-valued', 'blind-unet', 'per-channel') + 0.5:.2f}"
    assert cells["CBSD68-sp-jpeg90 per-channel 0.1"] == f"{committed('CBSD68-sp-jpeg90', 'jpeg-unet', 'per-channel'):.2f}"
    assert f"tables with the model's rows in {tmp_path}" in out


def test_auto_is_merged_and_scored_as_its_own_row(capsys, monkeypatch):
    """`--auto`: model=auto's rows (`evaluate --auto`, no model file, no card), and the report reads them."""
    bt = _script()
    command = bt.merge_command(bt.EVAL / "CBSD68", None, Path("/out"), "/data", card=False)
    assert command[-5:] == ["--models", "--auto", "--merge", "--out", "/out"]
    _reports_the_committed_row(bt, capsys, monkeypatch, ["--auto"], "auto", "CBSD68", "0.1")


def _reports_the_committed_row(bt, capsys, monkeypatch, flags: list[str], row: str, table: str, density: str):
    """`--report` with `flags` on both test sets: it scores `row`, whose cell of `table` (per channel) is the
    committed one, among 48 cells."""
    import json
    import sys

    monkeypatch.setattr(sys, "argv", ["blind_targets.py", *flags, "--sets", "CBSD68", "BSD68", "--report"])
    bt.main()
    out = capsys.readouterr().out
    committed = json.loads((bt.EVAL / table / "summary.json").read_text())["summary"]
    line = next(line for line in out.splitlines() if line.startswith(f"| {table} per-channel {density} |"))
    assert out.startswith(f"| {row}: cell |") and float(line.split("|")[2]) == round(
        committed["per-channel"][row][density]["psnr"], 2)
    assert " of 48 cells met" in out


def test_x8_adds_the_eight_fold_row_of_the_candidate_and_scores_it(capsys, monkeypatch):
    """`--x8`: the candidate's 8-fold row beside its one-pass row ('auto x8': requests with ensemble=8), and
    the report reads that row."""
    bt = _script()
    assert bt.merge_command(bt.EVAL / "CBSD68", None, Path("/out"), "/data", x8=True)[-7:] == [
        "--models", "--auto", "--x8", "auto", "--merge", "--out", "/out"]
    assert bt.merge_command(bt.EVAL / "CBSD68", Path("/m/cand.onnx"), Path("/out"), "/data", x8=True)[-7:] == [
        "--models", "/m/cand.onnx", "--x8", "cand", "--merge", "--out", "/out"]
    _reports_the_committed_row(bt, capsys, monkeypatch, ["--auto", "--x8"], "auto x8", "CBSD68-random-valued", "0.2")


def test_the_scorecard_says_what_the_committed_tables_say():
    """docs/eval/targets.md is `--scorecard`'s output from the committed tables: a table measured again without
    the scorecard made again fails here, so the one page that shows every target cell never goes stale."""
    bt = _script()
    assert bt.SCORECARD_FILE.read_text() == bt.scorecard(), (
        "docs/eval/targets.md is stale: python scripts/blind_targets.py --scorecard > docs/eval/targets.md")


def test_the_scorecard_marks_a_cell_met_by_its_own_target(tmp_path, monkeypatch):
    """A cell is bold where the method reaches what the cell requires, and counted; a method with no row in a
    table leaves its cells blank (jpeg-unet in the tables of unsaved noise)."""
    import json
    import shutil

    bt = _script()
    for table, _ in bt.tables(["CBSD68", "BSD68"]):
        shutil.copytree(bt.EVAL / table, tmp_path / table, ignore=shutil.ignore_patterns("*.csv", "*.png"))
    path = tmp_path / "CBSD68-random-valued" / "summary.json"
    record = json.loads(path.read_text())
    rows = record["summary"]["per-channel"]
    rows["auto"]["0.4"]["psnr"] = rows["best classical (per image)"]["0.4"]["psnr"] + 3.0  # exactly the target
    path.write_text(json.dumps(record))
    monkeypatch.setattr(bt, "EVAL", tmp_path)
    before = bt.SCORECARD_FILE.read_text().splitlines()
    after = bt.scorecard().splitlines()
    cells = lambda line: [cell.strip() for cell in line.strip("|").split("|")]
    line = cells(next(line for line in after if line.startswith("| CBSD68-random-valued per-channel 0.4 |")))
    assert line[2].startswith("**") and line[-1] == ""  # auto met; no jpeg-unet row in that table
    assert int(cells(after[-1])[2]) == int(cells(before[-1])[2]) + 1  # auto meets one more


def test_an_in_place_run_writes_the_scorecard_again(tmp_path, monkeypatch, capsys):
    """`--in-place` (the merges stubbed): the committed tables' page is written again from them."""
    import shutil
    import sys

    bt = _script()
    eval_dir = tmp_path / "docs" / "eval"
    for table, _ in bt.tables(["CBSD68", "BSD68"]):
        shutil.copytree(bt.EVAL / table, eval_dir / table, ignore=shutil.ignore_patterns("*.csv", "*.png"))
    ran = []
    monkeypatch.setattr(bt, "ROOT", tmp_path)
    monkeypatch.setattr(bt, "EVAL", eval_dir)
    monkeypatch.setattr(bt, "SCORECARD_FILE", eval_dir / "targets.md")
    monkeypatch.setattr(bt.subprocess, "run", lambda command, **kwargs: ran.append(command))
    monkeypatch.setattr(sys, "argv", ["blind_targets.py", "--auto", "--sets", "CBSD68", "BSD68", "--in-place"])
    bt.main()
    assert len(ran) == 13  # one merge per table the targets read
    assert (eval_dir / "targets.md").read_text() == bt.scorecard()  # the copies hold no page until this run
