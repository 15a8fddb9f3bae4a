"""Label-free selection: UDRSearch fits seeds per setting and ranks settings by UDR."""

import warnings

import numpy as np
import pytest
import torch

from sklearn_dvae import BetaVAE
from sklearn_dvae.metrics import make_disentanglement_scorer, mig_score, udr_score
from sklearn_dvae.model_selection import UDRSearch

SMALL = dict(latent_dim=3, hidden_units=(16,), batch_size=50, max_epochs=15)


def test_latent_kl_is_the_mean_kl_of_each_latent(tabular_unit_data):
    vae = BetaVAE(**SMALL, random_state=0).fit(tabular_unit_data)
    module = vae.net_.module_
    with torch.no_grad():
        mu, logvar = module.encode(module.prepare(torch.from_numpy(tabular_unit_data)))
    mu, logvar = mu.double().numpy(), logvar.double().numpy()
    expected = (0.5 * (mu**2 + np.exp(logvar) - logvar - 1)).mean(axis=0)
    np.testing.assert_allclose(vae.latent_kl(tabular_unit_data), expected, rtol=1e-6)


@pytest.fixture(scope="module")
def search():
    rng = np.random.default_rng(0)
    factors = rng.random((300, 2))
    # Two factors mixed into 8 features with a variance well above the Gaussian
    # likelihood's unit noise: the models have something to encode.
    X = (8 * (factors - 0.5) @ rng.normal(size=(2, 8))).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = UDRSearch(
            BetaVAE(**SMALL),
            {"beta": [1.0, 2000.0]},
            n_seeds=3,
            n_samples=200,
            random_state=0,
        ).fit(X)
    return fitted, X


def test_the_search_reports_every_seed_and_each_settings_spread(search):
    fitted, _ = search
    results = fitted.cv_results_
    assert results["params"] == [{"beta": 1.0}, {"beta": 2000.0}]
    udr = np.column_stack([results[f"udr_seed{k}"] for k in range(3)])
    np.testing.assert_allclose(results["mean_udr"], udr.mean(axis=1))
    np.testing.assert_allclose(results["std_udr"], udr.std(axis=1))
    assert list(results["n_failed"]) == [0, 0]
    assert fitted.seeds_ == [0, 1, 2]
    assert [m.random_state for m in fitted.estimators_[0]] == [0, 1, 2]


def test_a_collapsed_setting_ranks_below_a_learning_one(search):
    fitted, _ = search
    # beta = 2000 collapses (nearly) every latent: little left to agree on.
    learning, collapsed = fitted.cv_results_["mean_udr"]
    assert learning > collapsed + 0.2
    assert fitted.best_params_ == {"beta": 1.0}
    assert list(fitted.cv_results_["rank_udr"]) == [1, 2]
    seeds = [fitted.cv_results_[f"udr_seed{k}"][0] for k in range(3)]
    assert fitted.best_estimator_ is fitted.estimators_[0][int(np.argmax(seeds))]
    assert fitted.best_score_ == fitted.cv_results_["mean_udr"][0] > 0


def test_the_scores_are_udr_of_the_seeds_on_the_shared_sample(search):
    fitted, X = search
    rows = np.sort(np.random.RandomState(0).choice(len(X), size=200, replace=False))
    models = fitted.estimators_[0]
    expected = udr_score(
        [m.transform(X[rows]) for m in models], [m.latent_kl(X[rows]) for m in models]
    )
    got = [fitted.cv_results_[f"udr_seed{k}"][0] for k in range(3)]
    np.testing.assert_allclose(got, expected)


def test_factors_add_supervised_scores_beside_udr(tabular_unit_data):
    factors = np.random.default_rng(0).integers(0, 3, size=(len(tabular_unit_data), 2))
    scorer = make_disentanglement_scorer(mig_score)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = UDRSearch(
            BetaVAE(**{**SMALL, "max_epochs": 3}),
            {"beta": [1.0]},
            n_seeds=2,
            scoring={"mig": scorer},
        ).fit(tabular_unit_data, factors)
    assert fitted.cv_results_["mig_seed0"].shape == (1,)
    assert np.isfinite(fitted.cv_results_["mean_mig"]).all()
    # Without factors the supervised scores are left out.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        unlabelled = UDRSearch(
            BetaVAE(**{**SMALL, "max_epochs": 3}), {"beta": [1.0]}, n_seeds=2, scoring=scorer
        ).fit(tabular_unit_data)
    assert not any(key.startswith("mean_score") for key in unlabelled.cv_results_)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"n_seeds": 1}, "n_seeds must be an integer of at least 2"),
        ({"correlation": "pearson"}, "correlation must be"),
        ({"max_fused": 0}, "max_fused"),
        ({"param_grid": []}, "param_grid is empty"),
    ],
)
def test_bad_settings_are_refused(tabular_unit_data, params, message):
    kwargs = {"param_grid": {"beta": [1.0]}, **params}
    with pytest.raises(ValueError, match=message):
        UDRSearch(BetaVAE(**SMALL), **kwargs).fit(tabular_unit_data)
