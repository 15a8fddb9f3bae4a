"""BoostedTrees (DCI's ``fast_gbt``) against scikit-learn's GradientBoosting estimators."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor

from sklearn_dvae.metrics._solvers import BoostedTrees

try:
    import numba  # noqa: F401

    HAVE_NUMBA = True
except ImportError:
    HAVE_NUMBA = False

needs_numba = pytest.mark.skipif(not HAVE_NUMBA, reason="numba is not installed")
# Both ways of growing the trees: numpy arrays, and numba's compiled loops.
ENGINES = ["numpy", pytest.param("numba", marks=needs_numba)]


def _data(n, d, n_classes, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    signal = X[:, 0] + (0.5 * X[:, 1] if d > 1 else 0.0) + 0.4 * rng.standard_normal(n)
    if n_classes == 0:
        return X, signal
    return X, np.digitize(signal, np.linspace(-1.2, 1.2, n_classes - 1))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("n_classes", [0, 2, 3, 6], ids=["regression", "binary", "3", "6"])
def test_with_one_feature_the_model_is_scikit_learns(n_classes, engine):
    # One feature leaves no tie between features to break: the trees, leaf values and
    # predictions are scikit-learn's, so the scores are equal.
    X, y = _data(400, 1, n_classes, seed=1)
    reference_class = GradientBoostingRegressor if n_classes == 0 else GradientBoostingClassifier
    reference = reference_class(n_estimators=30, random_state=0).fit(X[:300], y[:300])
    ours = BoostedTrees(
        "regression" if n_classes == 0 else "classification", n_estimators=30, engine=engine
    )
    train, test = ours.fit_score(X[:300], y[:300], X[300:], y[300:])
    assert train == pytest.approx(reference.score(X[:300], y[:300]), abs=1e-12)
    assert test == pytest.approx(reference.score(X[300:], y[300:]), abs=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("n_classes", [0, 2, 5], ids=["regression", "binary", "5"])
def test_importances_and_scores_agree_with_scikit_learn(n_classes, engine):
    X, y = _data(900, 4, n_classes, seed=2)
    reference_class = GradientBoostingRegressor if n_classes == 0 else GradientBoostingClassifier
    reference = reference_class(n_estimators=40, random_state=0).fit(X[:600], y[:600])
    ours = BoostedTrees(
        "regression" if n_classes == 0 else "classification",
        n_estimators=40,
        random_state=np.random.RandomState(0),
        engine=engine,
    )
    train, test = ours.fit_score(X[:600], y[:600], X[600:], y[600:])
    # Equal up to the random choice between features that split a tiny node alike.
    np.testing.assert_allclose(
        ours.feature_importances_, reference.feature_importances_, atol=0.03
    )
    assert ours.feature_importances_.sum() == pytest.approx(1.0)
    assert train == pytest.approx(reference.score(X[:600], y[:600]), abs=0.02)
    assert test == pytest.approx(reference.score(X[600:], y[600:]), abs=0.03)


@pytest.mark.parametrize("engine", ENGINES)
def test_duplicated_features_share_the_importance_as_in_scikit_learn(engine):
    rng = np.random.default_rng(3)
    base = rng.standard_normal((500, 2))
    X = np.column_stack([base[:, 0], base[:, 0], base[:, 1]])
    y = np.digitize(X[:, 0] + 0.2 * X[:, 2] + 0.3 * rng.standard_normal(500), [-0.5, 0.5])
    ours = BoostedTrees(
        "classification",
        n_estimators=50,
        random_state=np.random.RandomState(0),
        engine=engine,
    )
    ours.fit_score(X, y, X, y)
    # Ties between the copies go to either at random: both get a fair share.
    first, second, _ = ours.feature_importances_
    assert min(first, second) > 0.3 * (first + second)


def test_labels_are_those_of_the_training_rows():
    X, y = _data(300, 2, 4, seed=4)
    labels = np.array([10, 20, 30, 40])[y]
    ours = BoostedTrees("classification", n_estimators=10)
    train, _ = ours.fit_score(X[:200], labels[:200], X[200:], labels[200:])
    np.testing.assert_array_equal(ours.classes_, np.unique(labels[:200]))
    assert train > 0.5


@pytest.mark.parametrize("engine", ENGINES)
def test_growing_the_trees_of_a_stage_in_groups_changes_nothing(engine):
    # One feature: no ties to break at random, so the groups give the very same model.
    X, y = _data(500, 1, 7, seed=6)
    together = BoostedTrees("classification", n_estimators=15, engine=engine)
    in_pairs = BoostedTrees("classification", n_estimators=15, trees_together=2, engine=engine)
    assert together.fit_score(X[:400], y[:400], X[400:], y[400:]) == in_pairs.fit_score(
        X[:400], y[:400], X[400:], y[400:]
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_groups_and_threads_change_nothing_with_ties_between_features(engine):
    # A duplicated feature gives exact ties, broken by random ranks: they are drawn per
    # stage in group order, so neither the grouping nor growing the groups on threads
    # (several fits sharing the pool, as DCI does) changes a single split. Only the
    # order in which the groups' gains are summed depends on the grouping.
    X, y = _data(500, 3, 7, seed=6)
    X = np.column_stack([X, X[:, 0]])

    def fit(trees_together, executor=None):
        model = BoostedTrees(
            "classification",
            n_estimators=12,
            trees_together=trees_together,
            random_state=np.random.RandomState(5),
            engine=engine,
        )
        scores = model.fit_score(X[:400], y[:400], X[400:], y[400:], executor=executor)
        return scores, model.feature_importances_

    scores, importances = fit(64)
    assert importances[0] > 0 and importances[3] > 0  # both copies win some ties
    in_threes = fit(3)
    with ThreadPoolExecutor(2) as trees, ThreadPoolExecutor(2) as fits:
        together = [fits.submit(fit, 3, trees), fits.submit(fit, 2, trees)]
        threaded = [fit(3, trees)] + [future.result() for future in together]
    for other_scores, other_importances in [in_threes, *threaded]:
        assert other_scores == scores
        np.testing.assert_allclose(other_importances, importances, rtol=1e-12)
    # The same groups on threads or not: the very same floats.
    for other in threaded[:2]:
        np.testing.assert_array_equal(other[1], in_threes[1])


@needs_numba
@pytest.mark.parametrize("n_classes", [0, 2, 4], ids=["regression", "binary", "4"])
def test_the_compiled_engine_grows_the_numpy_engines_trees(n_classes):
    # Both engines break exact ties between features with the same random ranks, so
    # they grow the same trees up to near-ties between split points, which their
    # running and prefix sums may round apart (the 4-class model's first such
    # difference comes at stage 5 and moves the importances by about 1e-3).
    X, y = _data(700, 5, n_classes, seed=7)
    task = "regression" if n_classes == 0 else "classification"
    results = {}
    for engine in ("numpy", "numba"):
        model = BoostedTrees(
            task, n_estimators=25, random_state=np.random.RandomState(0), engine=engine
        )
        results[engine] = model.fit_score(X[:500], y[:500], X[500:], y[500:]), model
    (numpy_scores, numpy_model), (numba_scores, numba_model) = results.values()
    assert numba_scores == pytest.approx(numpy_scores, abs=0.01)
    np.testing.assert_allclose(
        numba_model.feature_importances_, numpy_model.feature_importances_, atol=0.005
    )


def test_an_unknown_engine_is_rejected():
    X, y = _data(100, 2, 3, seed=8)
    with pytest.raises(ValueError, match="engine must be"):
        BoostedTrees("classification", n_estimators=2, engine="cython").fit_score(X, y, X, y)


@needs_numba
def test_the_compiled_engine_rejects_trees_deeper_than_it_stores():
    X, y = _data(100, 2, 3, seed=8)
    model = BoostedTrees("classification", n_estimators=2, max_depth=7, engine="numba")
    with pytest.raises(ValueError, match="depth 1 to 6"):
        model.fit_score(X, y, X, y)
