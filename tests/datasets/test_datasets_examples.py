"""The dataset docstrings: every public name documents a runnable example, and it runs."""

import doctest
import importlib

import pytest

import sklearn_dvae.datasets as datasets

MODULES = [
    "sklearn_dvae.datasets._base",
    "sklearn_dvae.datasets._lazy",
    "sklearn_dvae.datasets.dsprites",
    "sklearn_dvae.datasets.shapes3d",
    "sklearn_dvae.datasets.ellipses",
]


@pytest.mark.parametrize("name", datasets.__all__)
def test_every_public_name_has_an_examples_section(name):
    docstring = getattr(datasets, name).__doc__
    assert "Examples\n    --------\n" in docstring
    assert ">>> " in docstring.split("Examples\n    --------\n")[1]


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_run(module_name, tmp_path, monkeypatch):
    # Examples must never write into the user's real cache folder.
    monkeypatch.setenv("SKLEARN_DVAE_DATA", str(tmp_path))
    module = importlib.import_module(module_name)
    result = doctest.testmod(
        module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS, verbose=False
    )
    assert result.attempted > 0
    assert result.failed == 0
