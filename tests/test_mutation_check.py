"""scripts/mutation_check.py: every mutant still applies to the code it names. A snippet the code has moved
away from is reported as DOES NOT APPLY only when the tool runs (stop 32 found three that way: two moved by
its own edits, one since stop 27), so its killed count would claim a check that no longer happens."""

from pathlib import Path

from tests.conftest import ROOT, load_script


def test_every_mutant_snippet_is_in_its_file_exactly_once():
    mutants = load_script("mutation_check").MUTANTS
    stale = [(m.name, old[:60]) for m in mutants for old, _ in m.edits
             if (Path(ROOT) / m.file).read_text().count(old) != 1]
    assert not stale, stale
    assert len({m.name for m in mutants}) == len(mutants)  # names select them (--only): no two alike
