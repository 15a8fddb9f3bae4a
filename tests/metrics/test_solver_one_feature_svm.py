"""OneFeatureLinearSVC (SAP's ``solver="newton"``) against scikit-learn's LinearSVC."""

import numpy as np
import pytest
from sklearn.svm import LinearSVC

from sklearn_dvae.metrics._solvers import OneFeatureLinearSVC, SortedColumns


def _data(n_classes, seed, n=600):
    """Imbalanced classes; features: informative, noise, and informative but not monotone."""
    rng = np.random.default_rng(seed)
    weights = np.linspace(1.0, 2.0, n_classes)
    y = rng.choice(n_classes, n, p=weights / weights.sum())
    X = np.column_stack(
        [y + rng.standard_normal(n), rng.standard_normal(n), 0.3 * y**2 + rng.standard_normal(n)]
    )
    return X, y


def _liblinear(X, y, C):
    """LinearSVC on each feature alone, solved far tighter than its default tolerance."""
    return [
        LinearSVC(C=C, class_weight="balanced", tol=1e-12, max_iter=1_000_000).fit(X[:, [j]], y)
        for j in range(X.shape[1])
    ]


@pytest.mark.parametrize("C", [0.01, 1.0, 10.0])
@pytest.mark.parametrize("n_classes", [2, 4], ids=["binary", "one_vs_rest"])
def test_weights_and_intercepts_are_linear_svcs_on_each_feature(n_classes, C):
    X, y = _data(n_classes, seed=n_classes)
    ours = OneFeatureLinearSVC(C=C).fit(X, y)
    for j, reference in enumerate(_liblinear(X, y, C)):
        np.testing.assert_allclose(ours.coef_[j], reference.coef_[:, 0], atol=1e-6)
        np.testing.assert_allclose(ours.intercept_[j], reference.intercept_, atol=1e-6)


@pytest.mark.parametrize("n_classes", [2, 4], ids=["binary", "one_vs_rest"])
def test_predictions_are_linear_svcs_on_each_feature(n_classes):
    X, y = _data(n_classes, seed=10 + n_classes)
    X_test, _ = _data(n_classes, seed=20 + n_classes, n=300)
    predicted = OneFeatureLinearSVC(C=0.01).fit(X, y).predict(X_test)
    assert predicted.shape == (3, 300)
    for j, reference in enumerate(_liblinear(X, y, 0.01)):
        np.testing.assert_array_equal(predicted[j], reference.predict(X_test[:, [j]]))


def test_labels_are_returned_as_given():
    X, y = _data(3, seed=5)
    labels = np.array(["circle", "heart", "square"])[y]
    ours = OneFeatureLinearSVC(C=0.01).fit(X, labels)
    np.testing.assert_array_equal(ours.classes_, ["circle", "heart", "square"])
    codes = OneFeatureLinearSVC(C=0.01).fit(X, y).predict(X)
    np.testing.assert_array_equal(ours.predict(X), ours.classes_[codes])


def test_sorted_columns_made_once_give_the_same_svms():
    X, y = _data(4, seed=6)
    columns = SortedColumns(X)
    for other_labels in (y, (y + 1) % 2):
        from_columns = OneFeatureLinearSVC(C=0.01).fit(columns, other_labels)
        from_array = OneFeatureLinearSVC(C=0.01).fit(X, other_labels)
        np.testing.assert_array_equal(from_columns.coef_, from_array.coef_)
        np.testing.assert_array_equal(from_columns.intercept_, from_array.intercept_)


def test_a_single_class_is_refused():
    X, _ = _data(2, seed=7)
    with pytest.raises(ValueError, match="at least two classes in y, got 1"):
        OneFeatureLinearSVC().fit(X, np.zeros(len(X)))
