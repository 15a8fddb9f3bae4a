"""Each vectorised computation against an independent, slow one written out by hand."""

import numpy as np
import pytest
import scipy.linalg
from sklearn.linear_model import LinearRegression
from sklearn.metrics import balanced_accuracy_score, mutual_info_score, roc_auc_score
from sklearn.svm import LinearSVC
from sklearn.utils import check_random_state

from sklearn_dvae.metrics import (
    factor_vae_score,
    gaussian_total_correlation,
    gaussian_wasserstein_correlation,
    irs_score,
    latent_mutual_info_score,
    mig_score,
    modularity_explicitness_score,
    sap_score,
)
from sklearn_dvae.metrics._utils import split_rows


def _reference_discretise(column, n_bins=20):
    """The 2019 protocol's discretiser, written with np.digitize as published."""
    return np.digitize(column, np.histogram(column, n_bins)[1][:-1])


def _mutual_information_by_counting(a, b):
    """Plug-in mutual information (nats) from explicit joint counts."""
    n = len(a)
    joint, left, right = {}, {}, {}
    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        joint[x, y] = joint.get((x, y), 0) + 1
        left[x] = left.get(x, 0) + 1
        right[y] = right.get(y, 0) + 1
    return sum(c / n * np.log(c * n / (left[x] * right[y])) for (x, y), c in joint.items())


@pytest.fixture(scope="module")
def mixed_code():
    """800 rows: 3 factors (4, 3 and 5 values, non-uniform) and a partly mixed 4-latent code."""
    rng = np.random.default_rng(7)
    factors = np.column_stack(
        [
            rng.choice(4, 800, p=[0.1, 0.2, 0.3, 0.4]),
            rng.integers(0, 3, 800),
            rng.integers(0, 5, 800),
        ]
    )
    Z = np.column_stack(
        [
            factors[:, 0] + 0.3 * rng.standard_normal(800),
            factors[:, 1] + 0.5 * factors[:, 2] + 0.2 * rng.standard_normal(800),
            factors[:, 2] + rng.standard_normal(800),
            rng.standard_normal(800),
        ]
    )
    return Z, factors


def test_mig_mutual_information_matches_a_direct_count(mixed_code):
    Z, factors = mixed_code
    details = mig_score(Z, factors, n_samples=None, return_details=True)
    expected = np.array(
        [
            [
                _mutual_information_by_counting(_reference_discretise(Z[:, d]), factors[:, k])
                for k in range(3)
            ]
            for d in range(4)
        ]
    )
    np.testing.assert_allclose(details["mutual_information"], expected, rtol=1e-10, atol=1e-12)
    entropy = [_mutual_information_by_counting(factors[:, k], factors[:, k]) for k in range(3)]
    np.testing.assert_allclose(details["factor_entropy"], entropy, rtol=1e-12)
    ordered = np.sort(expected, axis=0)
    assert details["score"] == pytest.approx(np.mean((ordered[-1] - ordered[-2]) / entropy))


def test_mig_mutual_information_matches_sklearn_mutual_info_score(mixed_code):
    Z, factors = mixed_code
    details = mig_score(Z, factors, n_samples=None, return_details=True)
    for d in range(4):
        for k in range(3):
            expected = mutual_info_score(factors[:, k], _reference_discretise(Z[:, d]))
            assert details["mutual_information"][d, k] == pytest.approx(expected, abs=1e-12)


def _sap_split(n_rows, n_train, n_test, seed):
    return split_rows(n_rows, n_train, n_test, check_random_state(seed), metric="test")


@pytest.mark.parametrize("discrete_score", ["accuracy", "balanced_accuracy"])
def test_sap_matrix_entries_match_one_latent_linear_svms_fitted_by_hand(
    mixed_code, discrete_score
):
    Z, factors = mixed_code
    details = sap_score(
        Z,
        factors,
        n_train=500,
        n_test=300,
        discrete_score=discrete_score,
        random_state=3,
        return_details=True,
    )
    train, test = _sap_split(len(Z), 500, 300, 3)
    score = accuracy if discrete_score == "accuracy" else balanced_accuracy_score
    for d in range(4):
        for k in range(3):
            model = LinearSVC(C=0.01, class_weight="balanced", tol=1e-8, max_iter=100_000)
            model.fit(Z[train, d : d + 1], factors[train, k])
            expected = score(factors[test, k], model.predict(Z[test, d : d + 1]))
            assert details["score_matrix"][d, k] == pytest.approx(expected, abs=1e-12)


def accuracy(truth, predicted):
    return float(np.mean(truth == predicted))


def test_sap_continuous_entries_are_r2_of_one_latent_least_squares_lines(mixed_code):
    Z, factors = mixed_code
    details = sap_score(
        Z,
        factors,
        n_train=500,
        n_test=300,
        continuous_factors=True,
        random_state=3,
        return_details=True,
    )
    train, _ = _sap_split(len(Z), 500, 300, 3)
    for d in range(4):
        for k in range(3):
            line = LinearRegression().fit(Z[train, d : d + 1], factors[train, k])
            expected = line.score(Z[train, d : d + 1], factors[train, k])
            assert details["score_matrix"][d, k] == pytest.approx(expected, abs=1e-12)


def _slow_factor_vae_votes(Z, codes, used, std, active, n_votes, batch_size, rng):
    """One vote at a time, with the same random draws as the vectorised version."""
    held = rng.randint(len(used), size=n_votes)
    anchors = rng.randint(len(Z), size=n_votes)
    uniforms = rng.random_sample((n_votes, batch_size))
    votes = np.zeros((Z.shape[1], len(used)), dtype=np.int64)
    for vote in range(n_votes):
        k = held[vote]
        group = np.flatnonzero(codes[:, k] == codes[anchors[vote], k])
        rows = group[(uniforms[vote] * len(group)).astype(int)]
        variances = np.var(Z[rows] / std, axis=0, ddof=1)
        variances[~active] = np.inf
        votes[np.argmin(variances), k] += 1
    return votes


def test_factor_vae_vote_matrix_matches_a_slow_loop_on_a_small_case():
    rng = np.random.default_rng(11)
    factors = np.column_stack(
        [
            rng.integers(0, 3, 400),
            np.full(400, 7),
            rng.integers(0, 4, 400),
            rng.integers(0, 2, 400),
        ]
    )
    # Latent 1 is collapsed (pruned); latent 3 mixes two factors; latent 4 is noise.
    Z = np.column_stack(
        [
            factors[:, 0] + 0.1 * rng.standard_normal(400),
            0.001 * rng.standard_normal(400),
            factors[:, 2] + 0.3 * rng.standard_normal(400),
            factors[:, 3] + factors[:, 0] + 0.5 * rng.standard_normal(400),
            rng.standard_normal(400),
        ]
    )
    with pytest.warns(UserWarning, match="factor 1 takes a single value"):
        details = factor_vae_score(
            Z,
            factors,
            batch_size=16,
            n_train=300,
            n_eval=200,
            n_variance_estimate=1000,
            random_state=5,
            return_details=True,
        )
    used = np.array([0, 2, 3])
    codes = factors[:, used]
    std = np.std(Z, axis=0, ddof=1)
    active = std >= 0.05
    rng = np.random.RandomState(5)  # n_variance_estimate >= n_rows: no draw for the subsample
    train = _slow_factor_vae_votes(Z, codes, used, std, active, 300, 16, rng)
    evaluation = _slow_factor_vae_votes(Z, codes, used, std, active, 200, 16, rng)
    np.testing.assert_array_equal(details["train_votes"], train)
    np.testing.assert_array_equal(details["eval_votes"], evaluation)
    classifier = np.argmax(train, axis=1)
    assert details["score"] == pytest.approx(evaluation[np.arange(5), classifier].sum() / 200)
    np.testing.assert_array_equal(details["factor_indices"], used)
    assert details["latent_to_factor"][1] == -1


def test_irs_matches_a_slow_loop_with_numpy_percentiles(mixed_code):
    Z, factors = mixed_code
    details = irs_score(Z, factors, n_samples=None, return_details=True)
    max_deviation = np.abs(Z - Z.mean(axis=0)).max(axis=0)
    expected = np.zeros((4, 3))
    for k in range(3):
        values = np.unique(factors[:, k])
        for value in values:
            group = Z[factors[:, k] == value]
            expected[:, k] += np.percentile(np.abs(group - group.mean(axis=0)), 99, axis=0)
        expected[:, k] /= len(values)
    expected = 1 - expected / max_deviation[:, None]
    np.testing.assert_allclose(details["irs_matrix"], expected, rtol=1e-10)
    assert details["score"] == pytest.approx(
        np.average(expected.max(axis=1), weights=max_deviation)
    )


@pytest.mark.parametrize("layout", ["random", "ties", "sorted", "reversed", "zeros"])
def test_irs_group_order_statistics_equal_a_full_sort(layout):
    from sklearn_dvae.metrics.irs import _order_statistics

    rng = np.random.default_rng(0)
    for _ in range(60):
        sizes = rng.integers(1, 80, size=rng.integers(1, 7))
        bounds = np.concatenate(([0], np.cumsum(sizes)))
        shape = (int(rng.integers(1, 5)), int(bounds[-1]))
        values = {
            "random": np.abs(rng.standard_normal(shape)),
            "ties": rng.integers(0, 3, shape).astype(float),
            "sorted": np.sort(rng.random(shape), axis=1),
            "reversed": -np.sort(-rng.random(shape), axis=1),
            "zeros": np.zeros(shape),
        }[layout]
        quantile = rng.choice([0.0, 0.5, 0.99, 1.0, rng.random()])
        lowers = np.floor(quantile * (sizes - 1)).astype(np.int64)
        uppers = np.minimum(lowers + 1, sizes - 1)
        low, high = _order_statistics(values, bounds, lowers, uppers)
        for g, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            ordered = np.sort(values[:, start:stop], axis=1)
            np.testing.assert_array_equal(low[:, g], ordered[:, lowers[g]])
            np.testing.assert_array_equal(high[:, g], ordered[:, uppers[g]])


def test_explicitness_matches_sklearn_roc_auc_per_factor(mixed_code):
    Z, factors = mixed_code
    details = modularity_explicitness_score(
        Z, factors, n_train=500, n_test=300, random_state=3, return_details=True
    )
    train, test = _sap_split(len(Z), 500, 300, 3)
    from sklearn.linear_model import LogisticRegression

    mean, std = Z[train].mean(axis=0), Z[train].std(axis=0)
    for k in range(3):
        model = LogisticRegression().fit((Z[train] - mean) / std, factors[train, k])
        probabilities = model.predict_proba((Z[test] - mean) / std)
        one_hot = factors[test, k][:, None] == model.classes_[None]
        expected = roc_auc_score(one_hot, probabilities, average="macro")
        assert details["explicitness_per_factor"][k] == pytest.approx(expected, abs=1e-6)


def test_gaussian_total_correlation_matches_the_closed_form():
    covariance = np.array([[2.0, 0.6, 0.0], [0.6, 1.0, 0.3], [0.0, 0.3, 0.5]])
    Z = np.random.default_rng(0).multivariate_normal(np.zeros(3), covariance, size=50_000)
    empirical = np.cov(Z, rowvar=False)
    expected = 0.5 * (np.sum(np.log(np.diag(empirical))) - np.log(np.linalg.det(empirical)))
    assert gaussian_total_correlation(Z, n_samples=None) == pytest.approx(expected, rel=1e-10)
    truth = 0.5 * (np.sum(np.log(np.diag(covariance))) - np.log(np.linalg.det(covariance)))
    assert gaussian_total_correlation(Z, n_samples=None) == pytest.approx(truth, abs=0.01)


def test_gaussian_wasserstein_correlation_matches_the_matrix_square_root_formula():
    covariance = np.array([[2.0, 0.6, 0.0], [0.6, 1.0, 0.3], [0.0, 0.3, 0.5]])
    Z = np.random.default_rng(0).multivariate_normal(np.zeros(3), covariance, size=5000)
    empirical = np.cov(Z, rowvar=False)
    root = scipy.linalg.sqrtm(empirical * np.diag(empirical)[:, None])
    expected = 2 * np.trace(empirical) - 2 * np.trace(root).real
    details = gaussian_wasserstein_correlation(Z, n_samples=None, return_details=True)
    assert details["unnormalized"] == pytest.approx(expected, rel=1e-8)
    assert details["normalized"] == pytest.approx(expected / np.trace(empirical), rel=1e-8)


def test_latent_mutual_info_score_matches_sklearn_on_each_pair(mixed_code):
    Z, _ = mixed_code
    details = latent_mutual_info_score(Z, n_samples=None, return_details=True)
    codes = [_reference_discretise(Z[:, d]) for d in range(4)]
    for a in range(4):
        for b in range(4):
            expected = 0.0 if a == b else mutual_info_score(codes[a], codes[b])
            assert details["mutual_information"][a, b] == pytest.approx(expected, abs=1e-12)
    assert details["score"] == pytest.approx(details["mutual_information"].sum() / 12)


def test_explicitness_fitted_in_parallel_equals_serial(mixed_code):
    Z, factors = mixed_code
    kwargs = {"n_train": 500, "n_test": 300, "random_state": 3, "return_details": True}
    serial = modularity_explicitness_score(Z, factors, **kwargs)
    parallel = modularity_explicitness_score(Z, factors, n_jobs=2, **kwargs)
    np.testing.assert_array_equal(
        serial["explicitness_per_factor"], parallel["explicitness_per_factor"]
    )


def test_histogram_discretize_equals_np_histogram_bins_column_by_column():
    from sklearn_dvae.metrics._utils import histogram_discretize

    rng = np.random.default_rng(11)
    edges = np.histogram_bin_edges([-1.3, 2.9], 7)
    cases = [
        (rng.standard_normal((500, 3)) * 1e-6, 20),
        (rng.integers(0, 50, (500, 3)).astype(float), 20),
        (rng.choice(edges, (500, 3)), 7),  # every value exactly on an edge
        (np.full((50, 2), 3.0), 20),  # constant columns
        (rng.standard_normal((500, 3)) + 1e6, 13),
    ]
    for values, n_bins in cases:
        expected = np.column_stack(
            [_reference_discretise(values[:, j], n_bins) - 1 for j in range(values.shape[1])]
        )
        np.testing.assert_array_equal(histogram_discretize(values, n_bins), expected)


def test_default_explicitness_equals_the_one_with_sklearn_logistic_regression(mixed_code):
    from sklearn.linear_model import LogisticRegression

    Z, factors = mixed_code
    # A binary factor too: scikit-learn fits it by the binomial model.
    factors = np.column_stack([factors, factors[:, 2] % 2])
    kwargs = {"n_train": 500, "n_test": 300, "random_state": 5, "return_details": True}
    ours = modularity_explicitness_score(Z, factors, **kwargs)
    theirs = modularity_explicitness_score(Z, factors, classifier=LogisticRegression(), **kwargs)
    np.testing.assert_allclose(
        ours["explicitness_per_factor"], theirs["explicitness_per_factor"], atol=1e-9
    )
    assert ours["explicitness_train"] == pytest.approx(theirs["explicitness_train"], abs=1e-9)
    # Without details the score is the same modularity, with no classifier fitted.
    assert (
        modularity_explicitness_score(Z, factors, **{**kwargs, "return_details": False})
        == (ours["modularity"])
    )


def test_macro_auc_averages_ties_as_sklearn_roc_auc_does():
    from sklearn_dvae.metrics.modularity_explicitness import _macro_auc

    rng = np.random.default_rng(13)
    classes = np.array([2, 5, 9])
    y = rng.choice(classes, 400)
    # Probabilities rounded to one decimal: many ties within and across classes.
    probabilities = np.round(rng.dirichlet(np.ones(3), 400), 1).T
    expected = np.mean(
        [roc_auc_score(y == label, probabilities[k]) for k, label in enumerate(classes)]
    )
    assert _macro_auc(y, probabilities, classes) == pytest.approx(expected, abs=1e-12)
