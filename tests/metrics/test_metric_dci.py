"""DCI: closed-form importance matrices, and known answers of the full metric."""

import numpy as np
import pytest
from scipy.stats import special_ortho_group

from sklearn_dvae.metrics import dci_from_importance_matrix, dci_score

FAST = {"n_train": 300, "n_test": 150}


@pytest.fixture(scope="module")
def small_identity():
    """1000 rows of 3 factors with 4 values: few classes keep boosted trees quick."""
    factors = np.random.default_rng(0).integers(0, 4, size=(1000, 3))
    return factors.astype(np.float64), factors


def test_diagonal_importance_gives_disentanglement_and_completeness_1():
    scores = dci_from_importance_matrix(np.diag([5.0, 2.0, 1.0, 7.0]))
    assert scores["disentanglement"] == pytest.approx(1.0, abs=1e-12)
    assert scores["completeness"] == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("shape", [(5, 4), (3, 3), (10, 5), (7, 2)])
def test_zero_importance_gives_0(shape):
    # Exactly 0 whatever the shape: a zero row counts as uniform, entropy exactly 1
    # (the entropy of a uniform row of 3 computed in floats is 1 - 2.2e-16).
    scores = dci_from_importance_matrix(np.zeros(shape))
    assert scores["disentanglement"] == 0.0
    assert scores["completeness"] == 0.0
    np.testing.assert_array_equal(scores["disentanglement_per_latent"], 0.0)


def test_unused_latent_does_not_lower_disentanglement_or_completeness():
    scores = dci_from_importance_matrix(np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))
    assert scores["disentanglement"] == pytest.approx(1.0)
    assert scores["completeness"] == pytest.approx(1.0)
    assert scores["disentanglement_per_latent"][2] == 0.0


def test_stacked_identities_give_exact_completeness_1_minus_log2_over_log_n_latents():
    # Each factor's importance splits evenly over two of 2K latents.
    scores = dci_from_importance_matrix(np.vstack([np.eye(5), np.eye(5)]))
    assert scores["disentanglement"] == pytest.approx(1.0, abs=1e-12)
    assert scores["completeness"] == pytest.approx(1 - np.log(2) / np.log(10), abs=1e-12)


def test_side_by_side_identities_give_exact_disentanglement_1_minus_log2_over_log_n_factors():
    # Each latent's importance splits evenly over two of 2K factors.
    scores = dci_from_importance_matrix(np.hstack([np.eye(5), np.eye(5)]))
    assert scores["disentanglement"] == pytest.approx(1 - np.log(2) / np.log(10), abs=1e-12)
    assert scores["completeness"] == pytest.approx(1.0, abs=1e-12)


def test_uniform_importance_gives_0():
    scores = dci_from_importance_matrix(np.ones((4, 6)))
    assert scores["disentanglement"] == pytest.approx(0.0, abs=1e-12)
    assert scores["completeness"] == pytest.approx(0.0, abs=1e-12)


def test_disentanglement_weighs_latents_by_their_share_of_importance():
    # Latent 0: one-hot (D = 1), total 3; latent 1: uniform over 2 factors (D = 0), total 1.
    scores = dci_from_importance_matrix(np.array([[3.0, 0.0], [0.5, 0.5]]))
    assert scores["disentanglement"] == pytest.approx(3.0 / 4.0)


def test_negative_or_nan_importance_is_rejected():
    with pytest.raises(ValueError, match="non-negative"):
        dci_from_importance_matrix(np.array([[1.0, -0.1], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="finite"):
        dci_from_importance_matrix(np.array([[1.0, np.nan], [0.0, 1.0]]))


def test_identity_representation_scores_at_least_0_9(small_identity):
    Z, factors = small_identity
    details = dci_score(Z, factors, random_state=0, return_details=True, **FAST)
    assert details["disentanglement"] >= 0.9
    assert details["completeness"] >= 0.9
    # Informativeness is an accuracy (greater is better), not an error.
    assert details["informativeness_test"] >= 0.9


def test_pure_noise_scores_at_most_0_2(small_identity):
    _, factors = small_identity
    noise = np.random.default_rng(1).standard_normal((len(factors), 3))
    details = dci_score(noise, factors, random_state=0, return_details=True, **FAST)
    assert details["disentanglement"] <= 0.2
    assert details["completeness"] <= 0.2
    # Chance accuracy on 4 balanced classes is 0.25; the trees overfit the training rows.
    assert details["informativeness_test"] <= 0.35


def test_all_zero_representation_scores_0_and_informativeness_at_chance(small_identity):
    _, factors = small_identity
    details = dci_score(
        np.zeros((len(factors), 3)), factors, random_state=0, return_details=True, **FAST
    )
    # No split is possible: every importance is 0, which counts as uniform (entropy 1).
    np.testing.assert_array_equal(details["importance_matrix"], 0.0)
    assert details["disentanglement"] == 0.0
    assert details["completeness"] == 0.0
    # Each predictor can only output one class for every row: accuracy near 1/4.
    assert details["informativeness_test"] == pytest.approx(0.25, abs=0.05)
    assert np.all(details["informativeness_per_factor"] <= 0.35)


def test_permuting_and_rescaling_latents_changes_nothing(small_identity):
    Z, factors = small_identity
    Z = Z + np.random.default_rng(2).standard_normal(Z.shape) * np.array([0.3, 0.8, 1.5])
    original = dci_score(Z, factors, random_state=0, **FAST)
    moved = dci_score(
        Z[:, [2, 0, 1]] * np.array([4.0, 0.2, 9.0]) + 3.0, factors, random_state=0, **FAST
    )
    # Trees split on ranks, but ties between equally good splits may break by column order.
    assert moved == pytest.approx(original, abs=0.03)


def test_duplicated_latents_keep_disentanglement_and_lower_completeness(small_identity):
    Z, factors = small_identity
    details = dci_score(np.hstack([Z, Z]), factors, random_state=0, return_details=True, **FAST)
    assert details["disentanglement"] >= 0.9
    # Theory: each factor spread over 2 of 6 latents gives 1 - log 2 / log 6 = 0.61; a
    # tree need not split its importance evenly between identical copies, so the
    # completeness lies between that and 1 but well below the identity's.
    assert 1 - np.log(2) / np.log(6) - 0.05 <= details["completeness"] <= 0.85


def test_random_rotation_lowers_disentanglement_and_completeness(small_identity):
    Z, factors = small_identity
    original = dci_score(Z, factors, random_state=0, return_details=True, **FAST)
    rotated = dci_score(
        Z @ special_ortho_group.rvs(3, random_state=0),
        factors,
        random_state=0,
        return_details=True,
        **FAST,
    )
    assert rotated["disentanglement"] < original["disentanglement"] - 0.2
    assert rotated["completeness"] < original["completeness"] - 0.2


@pytest.mark.parametrize("importance", ["hist_gbt", "lasso"])
def test_other_importances_agree_with_gbt_on_a_clean_representation(small_identity, importance):
    Z, factors = small_identity
    Z = Z + np.random.default_rng(3).standard_normal(Z.shape) * 0.2
    exact = dci_score(Z, factors, importance="gbt", random_state=0, return_details=True, **FAST)
    other = dci_score(
        Z, factors, importance=importance, random_state=0, return_details=True, **FAST
    )
    assert other["disentanglement"] == pytest.approx(exact["disentanglement"], abs=0.1)
    np.testing.assert_allclose(
        other["importance_matrix"].argmax(axis=0), exact["importance_matrix"].argmax(axis=0)
    )


@pytest.mark.parametrize("importance", ["gbt", "fast_gbt"])
def test_parallel_fit_gives_the_same_result_as_serial(small_identity, importance):
    Z, factors = small_identity
    Z = Z + np.random.default_rng(3).standard_normal(Z.shape)
    kwargs = {"importance": importance, "random_state": 0, "return_details": True, **FAST}
    serial = dci_score(Z, factors, **kwargs)
    parallel = dci_score(Z, factors, n_jobs=2, **kwargs)
    # fast_gbt in parallel interleaves the factors' stages on a pool of threads.
    for key in ("importance_matrix", "informativeness_per_factor"):
        np.testing.assert_array_equal(serial[key], parallel[key])
    for key in ("disentanglement", "completeness", "informativeness_train"):
        assert serial[key] == parallel[key]


def test_continuous_factor_gets_a_regressor_and_r2_informativeness():
    rng = np.random.default_rng(4)
    factors = np.column_stack([rng.random(600), rng.integers(0, 3, 600)])
    Z = factors + 0.01 * rng.standard_normal(factors.shape)
    details = dci_score(Z, factors, random_state=0, return_details=True, **FAST)
    assert details["disentanglement"] >= 0.9
    assert details["informativeness_per_factor"][0] >= 0.95  # R^2 of the regressor


def test_the_default_fast_gbt_agrees_with_gbt():
    rng = np.random.default_rng(5)
    factors = rng.integers(0, 6, size=(1500, 3))
    rotation = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    Z = np.column_stack(
        [factors @ rotation, rng.standard_normal(1500)]
    ) + 0.2 * rng.standard_normal((1500, 4))
    kwargs = {"n_train": 1000, "n_test": 500, "random_state": 0, "return_details": True}
    exact = dci_score(Z, factors, importance="gbt", **kwargs)
    fast = dci_score(Z, factors, **kwargs)
    for key in ("disentanglement", "completeness", "informativeness_test"):
        assert fast[key] == pytest.approx(exact[key], abs=0.02), key
    np.testing.assert_allclose(fast["importance_matrix"], exact["importance_matrix"], atol=0.05)
