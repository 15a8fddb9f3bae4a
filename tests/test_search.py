"""Hyperparameter search in parallel: joblib processes and a Dask cluster give the same results."""

import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import GridSearchCV, KFold
from skorch.callbacks import Callback

from sklearn_dvae import BetaVAE
from sklearn_dvae.metrics import make_disentanglement_scorer
from sklearn_dvae.model_selection import format_results_table, search_results_table

FACTOR_VAE = make_disentanglement_scorer(
    "factor_vae", n_train=300, n_eval=200, n_variance_estimate=200
)


@pytest.fixture(scope="module")
def factor_data():
    """240 rows: 2 factors with 6 values each, seen through a fixed random map to 16 dims."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 6, size=(240, 2))
    X = 1.0 / (1.0 + np.exp(-((y / 5.0 - 0.5) * 3.0) @ rng.normal(size=(2, 16))))
    return X.astype(np.float32), y


def _search(**kwargs):
    model = BetaVAE(
        latent_dim=3,
        hidden_units=(32,),
        lr=1e-2,
        batch_size=32,
        max_epochs=8,
        device="cpu",
        random_state=0,
    )
    grid = {"beta": [1.0, 2.0], "random_state": [0, 1]}
    return GridSearchCV(model, grid, scoring=FACTOR_VAE, cv=KFold(2), **kwargs)


def _split_scores(search):
    return np.array([search.cv_results_[f"split{i}_test_score"] for i in range(2)])


@pytest.fixture(scope="module")
def serial_search(factor_data):
    return _search(n_jobs=1).fit(*factor_data)


def test_two_joblib_processes_give_the_same_results_as_one(factor_data, serial_search):
    parallel = _search(n_jobs=2).fit(*factor_data)
    np.testing.assert_allclose(_split_scores(parallel), _split_scores(serial_search), atol=1e-6)
    assert parallel.best_params_ == serial_search.best_params_


def test_a_dask_cluster_gives_the_same_results(factor_data, serial_search):
    distributed = pytest.importorskip("distributed", reason="the 'dask' extra is not installed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
        joblib.parallel_config(backend="dask"),
    ):
        on_cluster = _search().fit(*factor_data)
    np.testing.assert_allclose(_split_scores(on_cluster), _split_scores(serial_search), atol=1e-6)


def test_a_failing_candidate_gets_error_score_and_the_others_finish(factor_data):
    model = BetaVAE(
        latent_dim=3,
        hidden_units=(32,),
        lr=1e-2,
        batch_size=32,
        max_epochs=4,
        device="cpu",
        random_state=0,
    )
    search = GridSearchCV(
        model,
        {"latent_dim": [0, 3]},
        scoring=FACTOR_VAE,
        cv=KFold(2),
        n_jobs=2,
        error_score=np.nan,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search.fit(*factor_data)
    scores = search.cv_results_["mean_test_score"]
    assert np.isnan(scores[0]) and np.isfinite(scores[1])
    assert any(
        issubclass(w.category, FitFailedWarning) and "latent_dim" in str(w.message) for w in caught
    )
    assert search.best_params_ == {"latent_dim": 3}


class _RecordTorchThreads(Callback):
    def on_epoch_end(self, net, **kwargs):
        net.history.record("torch_threads", torch.get_num_threads())


def _threads_scorer(estimator, X, y):
    return float(estimator.history_[-1, "torch_threads"])


def test_workers_limit_torch_threads(factor_data, monkeypatch):
    model = BetaVAE(
        latent_dim=2,
        hidden_units=(8,),
        max_epochs=1,
        device="cpu",
        random_state=0,
        callbacks=[_RecordTorchThreads()],
    )
    search = GridSearchCV(
        model, {"beta": [1.0, 2.0]}, scoring=_threads_scorer, cv=KFold(2), n_jobs=2
    ).fit(*factor_data)
    # joblib gives each of the 2 workers cores // 2 threads; torch must not use more.
    budget = max(1, joblib.cpu_count() // 2)
    assert np.all(search.cv_results_["mean_test_score"] <= budget)
    # In-process, a budget set after torch started is enforced for the fit only.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    before = torch.get_num_threads()
    fitted = model.fit(*factor_data)
    assert fitted.history_[-1, "torch_threads"] == 1
    assert torch.get_num_threads() == before


def test_seeds_are_aggregated_in_the_results_table(serial_search):
    rows = search_results_table(serial_search)
    assert [row["n_seeds"] for row in rows] == [2, 2]
    assert {row["beta"] for row in rows} == {1.0, 2.0}
    for row in rows:
        scores = [
            serial_search.cv_results_["mean_test_score"][i]
            for i, params in enumerate(serial_search.cv_results_["params"])
            if params["beta"] == row["beta"]
        ]
        assert row["score_mean"] == pytest.approx(np.mean(scores))
        assert row["score_std"] == pytest.approx(np.std(scores, ddof=1))
    assert rows[0]["score_mean"] >= rows[1]["score_mean"]
    table = format_results_table(rows)
    assert table.splitlines()[0].split() == [
        "beta",
        "n_seeds",
        "score_mean",
        "score_std",
        "n_failed",
    ]


def test_results_table_rejects_an_unfitted_search():
    with pytest.raises(TypeError, match="fitted scikit-learn search"):
        search_results_table(_search())
