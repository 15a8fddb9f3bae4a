"""The search examples run end to end (in their quick mode) and print a results table."""

import runpy
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*search*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_in_quick_mode(path, monkeypatch, capsys):
    monkeypatch.setenv("SKLEARN_DVAE_EXAMPLES_QUICK", "1")
    namespace = runpy.run_path(str(path), run_name="example")
    search = namespace["main"]()
    out = capsys.readouterr().out
    assert "n_seeds" in out and "_mean" in out
    assert hasattr(search, "best_params_")
