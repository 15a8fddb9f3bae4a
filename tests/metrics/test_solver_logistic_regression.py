"""LBFGSLogisticRegression (explicitness's default) against scikit-learn's LogisticRegression."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from sklearn_dvae.metrics._solvers import LBFGSLogisticRegression


def _data(n_classes, seed=12, n=2000):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    X = np.column_stack([y + rng.standard_normal(n), rng.standard_normal((n, 3))])
    return (X - X.mean(axis=0)) / X.std(axis=0), y


def _assert_same_model(ours, reference, X, atol):
    assert ours.coef_.shape == reference.coef_.shape
    np.testing.assert_allclose(ours.coef_, reference.coef_, atol=atol)
    np.testing.assert_allclose(ours.intercept_, reference.intercept_, atol=atol)
    np.testing.assert_allclose(ours.predict_proba(X), reference.predict_proba(X), atol=atol)


@pytest.mark.parametrize("n_classes", [2, 3, 7], ids=["binomial", "3", "7"])
def test_the_fit_is_sklearn_logistic_regression(n_classes):
    # Two classes are the binomial model (one weight vector), as scikit-learn fits it.
    X, y = _data(n_classes)
    _assert_same_model(
        LBFGSLogisticRegression().fit(X, y), LogisticRegression().fit(X, y), X, atol=1e-6
    )


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("n_classes", [2, 7], ids=["binomial", "7"])
def test_the_iterates_are_sklearns_when_stopped_early(n_classes):
    # Same objective, start and L-BFGS settings: after 2 iterations both stand at the
    # same point, short of the optimum.
    X, y = _data(n_classes, seed=3)
    reference = LogisticRegression(C=0.05, max_iter=2).fit(X, y)
    assert reference.n_iter_[0] == 2  # stopped by max_iter
    ours = LBFGSLogisticRegression(C=0.05, max_iter=2).fit(X, y)
    _assert_same_model(ours, reference, X, atol=1e-9)
    converged = LogisticRegression(C=0.05).fit(X, y)
    assert np.abs(converged.coef_ - ours.coef_).max() > 1e-4


def test_probabilities_follow_the_order_of_the_classes():
    X, y = _data(3, seed=4)
    labels = np.array(["red", "green", "blue"])[y]
    ours = LBFGSLogisticRegression().fit(X, labels)
    np.testing.assert_array_equal(ours.classes_, ["blue", "green", "red"])
    probabilities = ours.predict_proba(X)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    reference = LogisticRegression().fit(X, labels)
    np.testing.assert_allclose(probabilities, reference.predict_proba(X), atol=1e-6)


def test_a_single_class_is_refused():
    X, _ = _data(2)
    with pytest.raises(ValueError, match="at least two classes in y, got 1"):
        LBFGSLogisticRegression().fit(X, np.zeros(len(X)))
