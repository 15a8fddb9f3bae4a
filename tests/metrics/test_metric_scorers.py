"""Disentanglement scorers in cross_val_score, GridSearchCV and RandomizedSearchCV."""

import pickle

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    RandomizedSearchCV,
    cross_val_score,
    cross_validate,
)
from sklearn.preprocessing import FunctionTransformer

from sklearn_dvae.metrics import (
    DisentanglementScorer,
    beta_vae_scorer,
    dci_scorer,
    factor_vae_scorer,
    gaussian_total_correlation,
    get_scorer,
    get_scorer_names,
    make_disentanglement_scorer,
    make_multimetric_disentanglement_scorer,
    mig_scorer,
    sap_scorer,
)

FAST_FACTOR_VAE = make_disentanglement_scorer(
    "factor_vae", n_train=500, n_eval=300, n_variance_estimate=1000
)
FAST_SAP = make_disentanglement_scorer("sap", n_train=200, n_test=100)


def rotate(X, angle=0.0):
    """Rotate the first two columns of X by ``angle`` radians: a mixing 'encoder'."""
    cos, sin = np.cos(angle), np.sin(angle)
    mixed = X.copy()
    mixed[:, 0] = cos * X[:, 0] - sin * X[:, 1]
    mixed[:, 1] = sin * X[:, 0] + cos * X[:, 1]
    return mixed


@pytest.fixture(scope="module")
def factor_data():
    """600 rows: 3 factors with 5 values; X is the factors plus a little noise."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, size=(600, 3))
    X = y + 0.05 * rng.standard_normal(y.shape)
    return X, y


def mixing_transformer():
    return FunctionTransformer(rotate, kw_args={"angle": 0.0})


# FactorVAE's vote only asks which latent varies least, so rotations below 45 degrees
# keep every vote right: the mixed candidate is rotated by exactly 45 degrees.
ANGLES = [{"angle": np.pi / 4}, {"angle": 0.0}]


def test_grid_search_with_factor_vae_scorer_picks_the_unmixed_transformer(factor_data):
    X, y = factor_data
    search = GridSearchCV(
        mixing_transformer(), {"kw_args": ANGLES}, scoring=FAST_FACTOR_VAE, cv=KFold(2)
    )
    search.fit(X, y)
    assert search.best_params_ == {"kw_args": {"angle": 0.0}}
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_multimetric_grid_search_refits_on_the_named_scorer(factor_data):
    X, y = factor_data
    search = GridSearchCV(
        mixing_transformer(),
        {"kw_args": ANGLES},
        scoring={"factor_vae": FAST_FACTOR_VAE, "sap": FAST_SAP},
        refit="factor_vae",
        cv=KFold(2),
    )
    search.fit(X, y)
    for name in ("factor_vae", "sap"):
        assert np.isfinite(search.cv_results_[f"mean_test_{name}"]).all()
    assert search.best_params_ == {"kw_args": {"angle": 0.0}}
    assert search.best_index_ == np.argmax(search.cv_results_["mean_test_factor_vae"])
    # refit=... gave a fitted best estimator.
    np.testing.assert_allclose(search.best_estimator_.transform(X), X)


def test_dict_returning_scorer_encodes_once_and_works_with_refit(factor_data):
    X, y = factor_data
    scorer = make_multimetric_disentanglement_scorer(
        {"factor_vae": FAST_FACTOR_VAE, "sap": FAST_SAP}
    )
    search = GridSearchCV(
        mixing_transformer(), {"kw_args": ANGLES}, scoring=scorer, refit="factor_vae", cv=KFold(2)
    )
    search.fit(X, y)
    assert search.best_params_ == {"kw_args": {"angle": 0.0}}
    assert np.isfinite(search.cv_results_["mean_test_sap"]).all()


class CountingTransformer(TransformerMixin, BaseEstimator):
    """Identity transformer that counts its transform calls."""

    def fit(self, X, y=None):
        self.calls_ = 0
        return self

    def transform(self, X):
        self.calls_ += 1
        return np.asarray(X, dtype=float)


def test_a_scorer_calls_transform_exactly_once(factor_data):
    X, y = factor_data
    model = CountingTransformer().fit(X)
    FAST_FACTOR_VAE(model, X, y)
    assert model.calls_ == 1
    make_multimetric_disentanglement_scorer({"a": FAST_FACTOR_VAE, "b": FAST_SAP})(model, X, y)
    assert model.calls_ == 2


def test_randomized_search_and_cross_val_score_accept_the_scorers(factor_data):
    X, y = factor_data
    search = RandomizedSearchCV(
        PCA(),
        {"n_components": [2, 3]},
        n_iter=2,
        scoring=make_disentanglement_scorer("mig", n_samples=None),
        cv=KFold(2),
        random_state=0,
    )
    search.fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    scores = cross_val_score(FunctionTransformer(), X, y, scoring=mig_scorer, cv=KFold(3))
    assert scores.shape == (3,) and (scores > 0.9).all()


def test_scorers_run_in_joblib_worker_processes(factor_data):
    X, y = factor_data
    results = cross_validate(
        FunctionTransformer(),
        X,
        y,
        scoring={"mig": mig_scorer, "sap": FAST_SAP},
        cv=KFold(2),
        n_jobs=2,
    )
    assert np.isfinite(results["test_mig"]).all() and np.isfinite(results["test_sap"]).all()


@pytest.mark.parametrize(
    "scorer", [beta_vae_scorer, factor_vae_scorer, sap_scorer, mig_scorer, dci_scorer]
)
def test_ready_made_scorers_survive_pickling(scorer):
    restored = pickle.loads(pickle.dumps(scorer))
    assert isinstance(restored, DisentanglementScorer)
    assert restored.metric is scorer.metric and restored.kwargs == scorer.kwargs


def test_ready_made_scorers_use_the_protocol_defaults_with_a_fixed_seed():
    assert factor_vae_scorer.kwargs == {"random_state": 0}
    assert factor_vae_scorer.metric.__name__ == "factor_vae_score"
    assert dci_scorer.metric.__name__ == "dci_score"


@pytest.mark.parametrize("name", ["dci_scorer", "get_scorer"])
def test_dci_scorers_fit_the_package_boosted_trees_by_default(name, factor_data, monkeypatch):
    from sklearn_dvae.metrics import dci_score
    from sklearn_dvae.metrics._solvers import BoostedTrees

    scorer = dci_scorer if name == "dci_scorer" else get_scorer("dci")
    tasks = []
    fit_score = BoostedTrees.fit_score

    def recording_fit_score(self, *args, **kwargs):
        tasks.append(self.task)
        return fit_score(self, *args, **kwargs)

    monkeypatch.setattr(BoostedTrees, "fit_score", recording_fit_score)
    X, y = factor_data
    value = scorer(FunctionTransformer().fit(X), X, y)
    assert tasks == ["classification"] * 3  # one model per factor
    assert value == dci_score(X, y, importance="fast_gbt", random_state=0)


def test_scorer_value_equals_the_metric_on_the_encoded_data(factor_data):
    X, y = factor_data
    from sklearn_dvae.metrics import sap_score

    model = FunctionTransformer(rotate, kw_args={"angle": 0.3}).fit(X)
    expected = sap_score(rotate(X, 0.3), y, n_train=200, n_test=100, random_state=0)
    assert FAST_SAP(model, X, y) == expected


def test_details_key_selects_another_output(factor_data):
    X, y = factor_data
    from sklearn_dvae.metrics import dci_score

    kwargs = {"n_train": 100, "n_test": 50, "importance": "lasso"}
    completeness = make_disentanglement_scorer("dci", key="completeness", **kwargs)
    model = FunctionTransformer().fit(X)
    expected = dci_score(X, y, random_state=0, return_details=True, **kwargs)
    assert completeness(model, X, y) == expected["completeness"]
    assert get_scorer("dci_completeness").key == "completeness"


def test_lower_is_better_scores_are_negated(factor_data):
    X, y = factor_data
    model = FunctionTransformer().fit(X)
    tc = gaussian_total_correlation(X, random_state=0)
    assert get_scorer("neg_gaussian_total_correlation")(model, X, y) == -tc
    assert make_disentanglement_scorer(gaussian_total_correlation)(model, X, None) == -tc


def test_get_scorer_knows_every_ready_made_name_and_falls_back_to_sklearn():
    for name in ("beta_vae", "factor_vae", "sap", "mig", "dci", "irs", "modularity"):
        assert isinstance(get_scorer(name), DisentanglementScorer)
    assert get_scorer("factor_vae_score").metric is factor_vae_scorer.metric
    assert callable(get_scorer("accuracy"))
    assert "explicitness" in get_scorer_names() and "r2" in get_scorer_names()
    with pytest.raises(ValueError, match="is neither a disentanglement scorer"):
        get_scorer("no_such_score")


def test_missing_y_or_transform_give_clear_errors(factor_data):
    X, y = factor_data
    with pytest.raises(ValueError, match="needs the ground-truth factors as y"):
        mig_scorer(FunctionTransformer().fit(X), X, None)

    class Predictor(BaseEstimator):
        def fit(self, X, y=None):
            return self

    with pytest.raises(TypeError, match="needs an estimator with transform"):
        mig_scorer(Predictor().fit(X), X, y)
    with pytest.raises(ValueError, match="Unknown disentanglement metric"):
        make_disentanglement_scorer("factorvae")


def test_unknown_metric_keyword_is_rejected_when_the_scorer_is_made():
    # Otherwise every candidate of a search would fail at scoring time and get
    # error_score (NaN) with only a warning.
    with pytest.raises(
        TypeError, match=r"mig_score got unexpected keyword argument\(s\) \['n_train'\]"
    ):
        make_disentanglement_scorer("mig", n_train=600)
