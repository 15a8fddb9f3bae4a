"""The defects of peers' metric code (shared/PEERS.md, section E), each pinned by a test."""

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.utils import check_random_state

from sklearn_dvae.metrics import (
    beta_vae_score,
    factor_vae_score,
    irs_score,
    mig_score,
    modularity_explicitness_score,
    sap_score,
)
from sklearn_dvae.metrics._sampling import FactorGroups
from sklearn_dvae.metrics._utils import split_rows


@pytest.fixture(scope="module")
def code_with_a_collapsed_latent():
    """Latent 1 is collapsed (std 0.001); the other three each encode one factor."""
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 6, size=(2000, 3))
    Z = np.column_stack(
        [
            factors[:, 0] + 0.2 * rng.standard_normal(2000),
            0.001 * rng.standard_normal(2000),
            factors[:, 1] + 0.2 * rng.standard_normal(2000),
            factors[:, 2] + 0.2 * rng.standard_normal(2000),
        ]
    )
    return Z, factors


FACTOR_VAE_FAST = {"n_train": 1000, "n_eval": 500, "random_state": 0, "return_details": True}


def test_e1_factor_vae_prunes_collapsed_latents_by_default(code_with_a_collapsed_latent):
    Z, factors = code_with_a_collapsed_latent
    details = factor_vae_score(Z, factors, **FACTOR_VAE_FAST)
    # Without pruning, the collapsed latent's relative variance is 1 everywhere and it
    # would never win; with a threshold of 0 *and* a latent collapsed to a constant,
    # the reference divides 0 by 0. Either way it must get no vote here.
    assert not details["active_latents"][1]
    assert details["train_votes"][1].sum() == 0
    assert details["score"] >= 0.95


def test_e1_n_active_latents_counts_the_kept_latents(code_with_a_collapsed_latent):
    Z, factors = code_with_a_collapsed_latent
    details = factor_vae_score(Z, factors, **FACTOR_VAE_FAST)
    assert details["n_active_latents"] == 3
    assert isinstance(details["n_active_latents"], int)


def test_e1_vote_matrix_rows_are_the_latents_own_indices(code_with_a_collapsed_latent):
    Z, factors = code_with_a_collapsed_latent
    details = factor_vae_score(Z, factors, **FACTOR_VAE_FAST)
    # Latent 2 encodes factor 1 and latent 3 factor 2; the pruned latent 1 before them
    # must not shift their rows (the reference's argmin indexes the kept subset).
    votes = details["train_votes"]
    assert votes[2, 1] == votes[:, 1].sum()
    assert votes[3, 2] == votes[:, 2].sum()
    np.testing.assert_array_equal(details["latent_to_factor"], [0, -1, 1, 2])


def test_e1_factor_vae_is_reproducible_with_a_seed(code_with_a_collapsed_latent):
    Z, factors = code_with_a_collapsed_latent
    first = factor_vae_score(Z + np.arange(2000)[:, None] % 3, factors, random_state=4)
    second = factor_vae_score(Z + np.arange(2000)[:, None] % 3, factors, random_state=4)
    assert first == second


def test_e2_beta_vae_classifier_is_a_parameter(code_with_a_collapsed_latent):
    Z, factors = code_with_a_collapsed_latent
    fast = {"n_train": 600, "n_eval": 300, "random_state": 0}
    good = beta_vae_score(Z, factors, **fast)
    guessing = beta_vae_score(
        Z, factors, classifier=DummyClassifier(strategy="most_frequent"), **fast
    )
    assert good >= 0.9
    assert guessing < 0.5


def test_e2_beta_vae_fixes_the_classifier_random_state(code_with_a_collapsed_latent):
    Z, factors = code_with_a_collapsed_latent
    classifier = LogisticRegression(solver="saga", max_iter=50, tol=1e-1)  # seeded solver
    kwargs = {"n_train": 600, "n_eval": 300, "random_state": 3, "return_details": True}
    first = beta_vae_score(Z, factors, classifier=classifier, **kwargs)
    second = beta_vae_score(Z, factors, classifier=classifier, **kwargs)
    assert first["classifier"].random_state is not None
    np.testing.assert_array_equal(first["classifier"].coef_, second["classifier"].coef_)
    assert classifier.random_state is None  # the caller's object is left untouched


def test_e3_irs_counts_active_latents_instead_of_summing_their_values():
    rng = np.random.default_rng(1)
    factors = rng.integers(0, 4, size=(1000, 2))
    # Large values: a sum of values would be about 100,000, not a count.
    Z = np.column_stack([factors + 50.0, np.full(1000, 3.0)])
    details = irs_score(Z, factors, return_details=True)
    assert details["n_active_latents"] == 2
    np.testing.assert_array_equal(details["active_latents"], [True, True, False])
    assert np.isnan(details["irs_matrix"][2]).all()


def test_e4_constant_factor_is_skipped_with_a_warning_not_nan():
    rng = np.random.default_rng(2)
    factors = np.column_stack([rng.integers(0, 4, 1000), np.ones(1000), rng.integers(0, 3, 1000)])
    Z = factors[:, [0, 2]] + 0.01 * rng.standard_normal((1000, 2))
    with pytest.warns(UserWarning, match="factor 1 takes a single value and is skipped"):
        details = mig_score(Z, factors, return_details=True)
    assert np.isfinite(details["score"])
    np.testing.assert_array_equal(details["factor_indices"], [0, 2])


def test_e4_mig_recovers_the_known_mutual_information_of_a_noisy_channel():
    # Balanced binary factor seen through a channel that flips exactly 10% of each
    # class: the empirical joint distribution is the true one, so the plug-in mutual
    # information must equal log 2 - H(0.1) nats to rounding.
    factor = np.repeat([0, 1], 5000)
    flipped = factor.copy()
    flipped[:500] = 1
    flipped[5000:5500] = 0
    rng = np.random.default_rng(3)
    Z = np.column_stack([flipped, rng.standard_normal(10_000)]).astype(float)
    details = mig_score(Z, factor, n_samples=None, return_details=True)
    h = -(0.1 * np.log(0.1) + 0.9 * np.log(0.9))
    assert details["mutual_information"][0, 0] == pytest.approx(np.log(2) - h, abs=1e-12)
    assert details["factor_entropy"][0] == pytest.approx(np.log(2), abs=1e-12)


def test_e6_explicitness_is_right_when_a_class_is_missing_from_the_test_rows():
    rng = np.random.default_rng(4)
    factors = rng.integers(0, 4, size=(400, 2))
    # Class 4 of factor 0 gets five rows, all among the rows the metric will train on
    # (the split below is the one the metric draws with random_state=0).
    train, _ = split_rows(400, 390, 10, check_random_state(0), metric="test")
    factors[train[:5], 0] = 4
    Z = factors + 0.01 * rng.standard_normal(factors.shape)
    details = modularity_explicitness_score(
        Z, factors, n_train=390, n_test=10, random_state=0, return_details=True
    )
    # A perfect code ranks every class perfectly, whatever the label set of the test rows.
    assert details["explicitness_per_factor"][0] == pytest.approx(1.0)


def test_e7_sap_score_kind_is_chosen_per_factor_and_documented():
    rng = np.random.default_rng(5)
    # Factor 0 is discrete with imbalanced classes (90% / 10%), factor 1 continuous.
    factors = np.column_stack([(rng.random(3000) < 0.1).astype(int), rng.random(3000)])
    Z = np.column_stack(
        [
            factors[:, 0] + 0.01 * rng.standard_normal(3000),
            factors[:, 1] + 0.1 * rng.standard_normal(3000),
        ]
    )
    plain = sap_score(Z, factors, random_state=0, return_details=True)
    balanced = sap_score(
        Z, factors, discrete_score="balanced_accuracy", random_state=0, return_details=True
    )
    np.testing.assert_array_equal(plain["continuous"], [False, True])
    # The discrete factor is scored by a classifier: the two scores differ on the
    # useless latent 1, and the right latent 0 classifies perfectly under both.
    assert plain["score_matrix"][0, 0] == balanced["score_matrix"][0, 0] == 1.0
    assert plain["score_matrix"][1, 0] != balanced["score_matrix"][1, 0]
    assert 0.4 <= balanced["score_matrix"][1, 0] <= 0.6
    # The continuous factor is scored by R^2, whatever discrete_score says.
    np.testing.assert_array_equal(plain["score_matrix"][:, 1], balanced["score_matrix"][:, 1])
    assert plain["score_matrix"][1, 1] > 0.85


def test_e8_mig_does_not_assume_a_complete_ordered_factor_grid():
    rng = np.random.default_rng(6)
    factors = np.column_stack(
        [rng.choice(5, 3000, p=[0.5, 0.2, 0.1, 0.1, 0.1]), rng.integers(0, 3, 3000)]
    )
    Z = factors + 0.01 * rng.standard_normal(factors.shape)
    shuffled = rng.permutation(3000)
    original = mig_score(Z, factors, n_samples=None, return_details=True)
    reordered = mig_score(Z[shuffled], factors[shuffled], n_samples=None, return_details=True)
    assert original["score"] == pytest.approx(reordered["score"], abs=1e-12)
    # The entropy is that of the empirical, non-uniform factor, not log(5).
    p = np.bincount(factors[:, 0]) / 3000
    assert original["factor_entropy"][0] == pytest.approx(-np.sum(p * np.log(p)))
    assert original["score"] >= 0.95


def test_e9_group_sampling_draws_only_rows_sharing_the_held_value_uniformly():
    rng = np.random.default_rng(7)
    codes = np.column_stack([rng.integers(0, 3, 300), rng.integers(0, 5, 300)])
    groups = FactorGroups(codes, np.array([3, 5]))
    held = np.repeat([0, 1], 2000)
    anchors = np.tile(rng.integers(0, 300, 2000), 2)
    rows = groups.same_value_rows(held, anchors, 8, np.random.RandomState(0))
    assert rows.shape == (4000, 8)
    np.testing.assert_array_equal(
        codes[rows, held[:, None]], codes[anchors, held][:, None].repeat(8, 1)
    )
    # Within one group, every row is drawn about equally often (with replacement).
    group = np.flatnonzero(codes[:, 1] == codes[anchors[0], 1])
    drawn = rows[(held == 1) & (codes[anchors, 1] == codes[anchors[0], 1])].ravel()
    counts = np.bincount(np.searchsorted(group, drawn), minlength=group.size)
    assert counts.min() > 0.5 * counts.mean() and counts.max() < 1.5 * counts.mean()


def test_e9_continuous_factors_are_discretised_before_grouping():
    rng = np.random.default_rng(8)
    factors = np.column_stack([rng.random(2000), rng.random(2000)])  # all values distinct
    Z = factors + 0.001 * rng.standard_normal(factors.shape)
    # Without discretisation every group would hold one row and every batch one row
    # repeated, so all latents would have zero variance within every batch.
    details = factor_vae_score(
        Z, factors, n_train=500, n_eval=300, random_state=0, return_details=True
    )
    assert details["score"] >= 0.9
