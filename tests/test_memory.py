"""glibc malloc tuning: applied once, and never against the user's own settings."""

import subprocess
import sys

import pytest

CODE = (
    "import numpy as np; from sklearn_dvae import BetaVAE; from sklearn_dvae import _memory; "
    "BetaVAE(latent_dim=2, hidden_units=(4,), max_epochs=1).fit(np.random.rand(8, 3)); "
    "print(_memory._tuned)"
)


def _run(env_update, monkeypatch):
    for key, value in env_update.items():
        monkeypatch.setenv(key, value)
    result = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, check=True
    )
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc tuning is Linux-only")
def test_fit_tunes_malloc_on_linux(monkeypatch):
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_TOP_PAD_", raising=False)
    assert _run({"SKLEARN_DVAE_TUNE_MALLOC": "1"}, monkeypatch) == "True"


def test_user_settings_and_opt_out_are_respected(monkeypatch):
    assert _run({"MALLOC_TRIM_THRESHOLD_": "65536"}, monkeypatch) == "False"
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_")
    assert _run({"SKLEARN_DVAE_TUNE_MALLOC": "0"}, monkeypatch) == "False"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc tuning is Linux-only")
def test_inference_in_a_process_that_never_fitted_tunes_malloc(monkeypatch, tmp_path):
    # A model loaded in a fresh process encodes with the same allocator policy as fit.
    import pickle

    import numpy as np

    from sklearn_dvae import BetaVAE

    X = np.random.default_rng(0).random((8, 3))
    model = BetaVAE(latent_dim=2, hidden_units=(4,), max_epochs=1).fit(X)
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_TOP_PAD_", raising=False)
    monkeypatch.setenv("SKLEARN_DVAE_TUNE_MALLOC", "1")
    for method in ("transform(np.random.rand(4, 3))", "inverse_transform(np.zeros((2, 2)))"):
        code = (
            "import pickle, numpy as np; from sklearn_dvae import _memory; "
            f"model = pickle.loads(open({str(path)!r}, 'rb').read()); "
            f"print(_memory._tuned); model.{method}; print(_memory._tuned)"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert result.stdout.split() == ["None", "True"], method
