"""The gallery: every ``examples/plot_*.py`` runs and draws at least one figure.

``make docs`` runs the gallery at full size (sphinx-gallery). Here each example runs
in a subprocess with matplotlib's Agg backend, in its quick mode
(``SKLEARN_DVAE_EXAMPLES_QUICK=1``: a few training steps), and every figure left open
at the end is saved as a PNG, as sphinx-gallery saves them. The full-size runs take
minutes, so they run only with ``SKLEARN_DVAE_FULL_GALLERY=1``; the last ``make docs``
build is checked for each example's images when it is there.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GALLERY = sorted((ROOT / "examples").glob("plot_*.py"))
BUILT = ROOT / "docs" / "auto_examples"
QUICK = "SKLEARN_DVAE_EXAMPLES_QUICK"
FULL_SIZE = "SKLEARN_DVAE_FULL_GALLERY"
# Examples that have no quick mode: only the slow test and `make docs` run them.
FULL_SIZE_ONLY = set()

RUNNER = textwrap.dedent(
    """
    import runpy, sys
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    runpy.run_path(sys.argv[1], run_name="__main__")
    for number in plt.get_fignums():
        plt.figure(number).savefig(f"{sys.argv[2]}/figure_{number:02d}.png", dpi=40)
    """
)


def _has_quick_mode(path):
    return QUICK in path.read_text()


def _run_example(path, folder, quick, timeout):
    """Run one example in a fresh interpreter; return the PNG files of its figures."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    env.pop(QUICK, None)
    if quick:
        env[QUICK] = "1"
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, str(path), str(folder)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"{path.name} failed:\n{result.stderr[-4000:]}"
    return sorted(folder.glob("figure_*.png"))


def _ids(paths):
    return [path.stem for path in paths]


QUICK_EXAMPLES = [path for path in GALLERY if _has_quick_mode(path)]


def test_the_gallery_has_examples():
    assert len(GALLERY) >= 6, [path.name for path in GALLERY]


def test_every_example_but_the_listed_ones_has_a_quick_mode():
    # A new example gets a quick mode, so that the test below runs it in every suite.
    without = {path.stem for path in GALLERY if not _has_quick_mode(path)}
    assert without == FULL_SIZE_ONLY


@pytest.mark.parametrize("path", QUICK_EXAMPLES, ids=_ids(QUICK_EXAMPLES))
def test_example_draws_a_figure_in_quick_mode(path, tmp_path):
    figures = _run_example(path, tmp_path, quick=True, timeout=120)
    assert figures, f"{path.name} left no figure open"
    assert all(figure.stat().st_size > 0 for figure in figures)


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get(FULL_SIZE) != "1",
    reason=f"the full-size gallery takes minutes; {FULL_SIZE}=1 runs it (make docs does too)",
)
@pytest.mark.parametrize("path", GALLERY, ids=_ids(GALLERY))
def test_example_draws_a_figure_at_full_size(path, tmp_path):
    figures = _run_example(path, tmp_path, quick=False, timeout=600)
    assert figures, f"{path.name} left no figure open"


def _built_copy_is_current(path):
    built = BUILT / path.name
    return built.is_file() and built.read_bytes() == path.read_bytes()


@pytest.mark.parametrize("path", GALLERY, ids=_ids(GALLERY))
def test_the_last_docs_build_shows_an_image_of_the_example(path):
    # sphinx-gallery copies each example into docs/auto_examples/ and writes its
    # figures as images/sphx_glr_<name>_<number>.png.
    if not _built_copy_is_current(path):
        pytest.skip(f"no `make docs` build of the current {path.name}")
    images = sorted((BUILT / "images").glob(f"sphx_glr_{path.stem}_[0-9][0-9][0-9].png"))
    assert images, f"the build ran {path.name} but shows no image of it"
