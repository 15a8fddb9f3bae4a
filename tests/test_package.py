"""The package's top level: lazy imports keep the numpy-only parts free of torch."""

import subprocess
import sys

import sklearn_dvae


def _run(code):
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_metrics_datasets_and_model_selection_import_without_torch():
    out = _run(
        "import sys; import sklearn_dvae.metrics, sklearn_dvae.datasets, "
        "sklearn_dvae.model_selection; from sklearn_dvae.metrics import sap_scorer; "
        "print('torch' in sys.modules)"
    )
    assert out == "False"


def test_estimators_are_reachable_from_the_top_level():
    out = _run(
        "import sys, sklearn_dvae; before = 'torch' in sys.modules; "
        "print(before, sklearn_dvae.BetaVAE.__name__, 'torch' in sys.modules)"
    )
    assert out == "False BetaVAE True"


def test_every_public_name_resolves_and_is_listed_by_dir():
    for name in sklearn_dvae.__all__:
        assert getattr(sklearn_dvae, name) is not None
        assert name in dir(sklearn_dvae)
    for module in ("datasets", "metrics", "model_selection"):
        assert getattr(sklearn_dvae, module).__name__ == f"sklearn_dvae.{module}"


def test_an_unknown_name_raises_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'NotAModel'"):
        sklearn_dvae.NotAModel  # noqa: B018
