"""The search examples run end to end (in their quick mode) and print a results table."""

import runpy
from pathlib import Path

import numpy as np
import pytest

# The gallery's plot_* examples have no main(); tests/test_gallery.py runs them.
EXAMPLES = sorted(
    path
    for path in (Path(__file__).resolve().parents[1] / "examples").glob("*search*.py")
    if not path.name.startswith("plot_")
)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_in_quick_mode(path, monkeypatch, capsys):
    monkeypatch.setenv("SKLEARN_DVAE_EXAMPLES_QUICK", "1")
    namespace = runpy.run_path(str(path), run_name="example")
    search = namespace["main"]()
    out = capsys.readouterr().out
    assert "n_seeds" in out and "_mean" in out
    # Every candidate was fitted and scored (a failure would give error_score NaN).
    means = [v for k, v in search.cv_results_.items() if k.startswith("mean_test_")]
    assert means and all(np.isfinite(m).all() for m in means)
