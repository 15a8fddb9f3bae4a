"""UDR: known answers, invariances, bad input, and agreement with disentanglement_lib."""

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_dvae.metrics import udr_score

CORRELATIONS = ["lasso", "spearman"]


def full_factorial(n_values=10, n_latents=3):
    """Every combination of ``n_values`` levels of ``n_latents`` latents: the sample
    correlation (and rank correlation) of any two latents is exactly 0."""
    levels = np.linspace(-1.0, 1.0, n_values)
    return np.stack(np.meshgrid(*[levels] * n_latents, indexing="ij"), axis=-1).reshape(
        -1, n_latents
    )


def rotation(n, rng):
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


# --------------------------------------------------------------------------- agreement

N_SAMPLES, N_FACTORS, N_MODELS = 1000, 5, 5


def synthetic_codes(case, seed=0):
    """Codes of ``N_MODELS`` models on ``N_SAMPLES`` inputs, and their KL per latent.

    ``N_FACTORS`` uniform factors; each model sees them through a case-specific map,
    plus a little noise (std 0.05):

    - "permuted": its own permutation, signs and scales of the factors;
    - "rotated": its own random rotation of the factors;
    - "mixed": permuted, then model ``m`` adds ``0.15 m`` times a random mix of the
      others to each latent (model 0 unmixed, model 4 much mixed);
    - "inactive": 7 latents, permuted factors then noise; model ``m`` loses its last
      ``m % 3`` factors to noise, and every noise latent has KL 0.001 (inactive), so
      the models have 5, 4 or 3 active latents;
    - "split": models 0-2 permuted copies, models 3-4 rotated copies.
    """
    rng = np.random.default_rng(seed)
    factors = rng.uniform(-1.0, 1.0, size=(N_SAMPLES, N_FACTORS))
    representations, kls = [], []
    for model in range(N_MODELS):
        permutation = rng.permutation(N_FACTORS)
        signs = rng.choice([-1.0, 1.0], size=N_FACTORS) * rng.uniform(0.5, 2.0, N_FACTORS)
        permuted = factors[:, permutation] * signs
        kl = np.ones(N_FACTORS)
        if case == "permuted" or (case == "split" and model < 3):
            codes = permuted
        elif case in ("rotated", "split"):
            codes = factors @ rotation(N_FACTORS, rng)
        elif case == "mixed":
            mix = rng.uniform(-1.0, 1.0, size=(N_FACTORS, N_FACTORS))
            np.fill_diagonal(mix, 0.0)
            codes = permuted + 0.15 * model * permuted @ mix
        elif case == "inactive":
            n_lost = model % 3
            codes = np.hstack([permuted, np.zeros((N_SAMPLES, 2))])
            codes[:, N_FACTORS - n_lost :] = rng.standard_normal((N_SAMPLES, 2 + n_lost))
            kl = np.r_[np.ones(N_FACTORS - n_lost), np.full(2 + n_lost, 0.001)]
        else:
            raise ValueError(case)
        representations.append(codes + 0.05 * rng.standard_normal(codes.shape))
        kls.append(kl)
    return np.stack(representations), np.stack(kls)


CASES = ["permuted", "rotated", "mixed", "inactive", "split"]

# Per-model scores of disentanglement_lib's compute_udr_sklearn (udr.py of
# google-research/disentanglement_lib at commit 86a644d, 2020-08-27; PyPI's 1.5 release
# has no UDR) on synthetic_codes(case) with its kl, in a throwaway venv (Python 3.11,
# numpy 2.4.6, scikit-learn 1.9.1, scipy 1.17.1, gin stubbed out): observations were the
# row indices 0..999 in order (batch_size = num_data_points = 1000), each representation
# function returned (codes[rows], kl), kl_filter_threshold=0.01, filter_low_kl=True,
# random_state=np.random.RandomState(0); rounded to 6 decimals.
REFERENCE_SCORES = {
    ("permuted", "lasso"): [0.893985, 0.891752, 0.893082, 0.894415, 0.893145],
    ("permuted", "spearman"): [0.883357, 0.879294, 0.885298, 0.882877, 0.881868],
    ("rotated", "lasso"): [0.344246, 0.242434, 0.368308, 0.345614, 0.267951],
    ("rotated", "spearman"): [0.326353, 0.243532, 0.351978, 0.342254, 0.274257],
    ("mixed", "lasso"): [0.694406, 0.645343, 0.532033, 0.434030, 0.295612],
    ("mixed", "spearman"): [0.523977, 0.477958, 0.440511, 0.381945, 0.298672],
    ("inactive", "lasso"): [0.804020, 0.791663, 0.711456, 0.802747, 0.735798],
    ("inactive", "spearman"): [0.805243, 0.797510, 0.711700, 0.805079, 0.747582],
    ("split", "lasso"): [0.607240, 0.606932, 0.606306, 0.319617, 0.241135],
    ("split", "spearman"): [0.600045, 0.600578, 0.600711, 0.319831, 0.253524],
}


@pytest.mark.parametrize("correlation", CORRELATIONS)
@pytest.mark.parametrize("case", CASES)
def test_agrees_with_disentanglement_lib(case, correlation):
    representations, kl = synthetic_codes(case)
    scores = udr_score(representations, kl, correlation=correlation)
    np.testing.assert_allclose(scores, REFERENCE_SCORES[case, correlation], atol=0.01, rtol=0)


@pytest.mark.parametrize("correlation", CORRELATIONS)
def test_more_mixing_scores_lower(correlation):
    # In "mixed", model m mixes its latents by 0.15 m: UDR falls with m.
    representations, kl = synthetic_codes("mixed")
    scores = udr_score(representations, kl, correlation=correlation)
    assert np.all(np.diff(scores) < 0)


# --------------------------------------------------------------------------- known answers


def test_identical_models_score_one_with_spearman():
    codes = full_factorial()
    scores = udr_score([codes, codes, codes], correlation="spearman")
    np.testing.assert_allclose(scores, 1.0, rtol=0, atol=1e-12)


def test_identical_models_score_one_minus_alpha_with_lasso():
    # Uncorrelated standardised latents: each coefficient is 1 shrunk by alpha = 0.1.
    codes = full_factorial()
    scores = udr_score([codes, codes, codes], correlation="lasso")
    np.testing.assert_allclose(scores, 0.9, rtol=0, atol=1e-12)


@pytest.mark.parametrize("correlation", CORRELATIONS)
def test_permuted_sign_flipped_rescaled_copies_score_as_identical_ones(correlation):
    codes = full_factorial()
    copies = [codes, -codes[:, [2, 0, 1]], codes[:, [1, 2, 0]] * [3.0, -0.5, 7.0]]
    identical = udr_score([codes] * 3, correlation=correlation)
    np.testing.assert_allclose(udr_score(copies, correlation=correlation), identical, atol=1e-12)


@pytest.mark.parametrize("correlation", CORRELATIONS)
def test_noisy_permuted_copies_score_near_exact_copies(correlation):
    rng = np.random.default_rng(0)
    factors = rng.uniform(-1.0, 1.0, size=(5000, 4))
    copies = [
        factors[:, rng.permutation(4)] * rng.choice([-1.0, 1.0], 4)
        + 0.05 * rng.standard_normal((5000, 4))
        for _ in range(4)
    ]
    # The best a set of copies can score on these rows: exact copies.
    exact = udr_score([factors] * 4, correlation=correlation)
    assert np.all(udr_score(copies, correlation=correlation) > exact - 0.03)


def test_independent_random_codes_score_zero_with_lasso():
    # Sample correlations of independent codes (about 0.03 on 1000 rows) are below the
    # penalty: every coefficient is 0.
    codes = np.random.default_rng(0).standard_normal((5, 1000, 6))
    np.testing.assert_array_equal(udr_score(codes, correlation="lasso"), 0.0)


def test_independent_random_codes_score_low_with_spearman():
    codes = np.random.default_rng(0).standard_normal((5, 1000, 6))
    assert np.all(udr_score(codes, correlation="spearman") < 0.05)


@pytest.mark.parametrize("correlation", CORRELATIONS)
def test_rotated_copies_score_lower_than_permuted_ones(correlation):
    rng = np.random.default_rng(0)
    factors = rng.uniform(-1.0, 1.0, size=(2000, 5))
    permuted = [factors[:, rng.permutation(5)] for _ in range(4)]
    rotated = [factors @ rotation(5, rng) for _ in range(4)]
    assert (
        udr_score(rotated, correlation=correlation).max()
        < udr_score(permuted, correlation=correlation).min() - 0.3
    )


def test_spearman_is_invariant_to_monotone_warps_of_latents():
    representations, _ = synthetic_codes("mixed")
    warped = representations.copy()
    warped[1] = np.tanh(warped[1])
    warped[3] = np.exp(warped[3]) * -2.0
    np.testing.assert_allclose(
        udr_score(warped, correlation="spearman"),
        udr_score(representations, correlation="spearman"),
        atol=1e-12,
    )


def test_two_models_each_score_their_pair():
    representations, _ = synthetic_codes("mixed")
    details = udr_score(representations[[0, 4]], return_details=True)
    np.testing.assert_array_equal(details["scores"], details["pairwise"][[1, 0], [0, 1]])


# --------------------------------------------------------------------------- invariances


@pytest.mark.parametrize("correlation", CORRELATIONS)
def test_permuting_and_rescaling_latents_within_a_model_changes_nothing(correlation):
    representations, kl = synthetic_codes("inactive")
    rng = np.random.default_rng(1)
    changed, changed_kl = representations.copy(), kl.copy()
    for model in range(len(changed)):
        order = rng.permutation(changed.shape[2])
        changed[model] = changed[model][:, order] * rng.uniform(0.1, 10.0, len(order))
        changed_kl[model] = kl[model][order]
    np.testing.assert_allclose(
        udr_score(changed, changed_kl, correlation=correlation),
        udr_score(representations, kl, correlation=correlation),
        atol=1e-9,
    )


@pytest.mark.parametrize("correlation", CORRELATIONS)
def test_permuting_the_models_permutes_their_scores(correlation):
    representations, kl = synthetic_codes("split")
    order = [3, 0, 4, 2, 1]
    np.testing.assert_allclose(
        udr_score(representations[order], kl[order], correlation=correlation),
        udr_score(representations, kl, correlation=correlation)[order],
        atol=1e-9,
    )


def test_spearman_pair_scores_are_symmetric():
    representations, _ = synthetic_codes("mixed")
    pairwise = udr_score(representations, correlation="spearman", return_details=True)["pairwise"]
    np.testing.assert_allclose(pairwise, pairwise.T, atol=1e-12)


def test_scores_do_not_depend_on_random_state():
    representations, kl = synthetic_codes("mixed")
    np.testing.assert_array_equal(
        udr_score(representations, kl, random_state=0),
        udr_score(representations, kl, random_state=np.random.RandomState(12)),
    )


def test_a_three_dimensional_array_is_read_as_one_model_per_entry():
    representations, kl = synthetic_codes("mixed")
    np.testing.assert_array_equal(
        udr_score(representations, kl), udr_score(list(representations), list(kl))
    )


# --------------------------------------------------------------------------- KL mask


@pytest.mark.parametrize("correlation", CORRELATIONS)
def test_inactive_latents_leave_the_scores_unchanged(correlation):
    representations, _ = synthetic_codes("permuted")
    noise = np.random.default_rng(3).standard_normal(representations.shape[:2] + (2,))
    padded = np.concatenate([representations, noise], axis=2)
    kl = np.tile(np.r_[np.ones(N_FACTORS), 0.002, 0.01], (N_MODELS, 1))  # 0.01: not above
    np.testing.assert_allclose(
        udr_score(padded, kl, correlation=correlation),
        udr_score(representations, correlation=correlation),
        atol=1e-12,
    )


def test_kl_threshold_decides_which_latents_are_active():
    representations, _ = synthetic_codes("permuted")
    kl = np.tile(np.r_[0.5, 0.05, 0.05, 1.0, 1.0], (N_MODELS, 1))
    details = udr_score(representations, kl, kl_threshold=0.1, return_details=True)
    np.testing.assert_array_equal(details["active_latents"], kl > 0.1)
    expected = udr_score(representations, np.ones_like(kl), return_details=True)
    assert not np.allclose(details["scores"], expected["scores"])


def test_kl_none_makes_every_latent_active():
    representations, _ = synthetic_codes("rotated")
    np.testing.assert_array_equal(
        udr_score(representations), udr_score(representations, np.ones((N_MODELS, N_FACTORS)))
    )


@pytest.mark.parametrize("correlation", CORRELATIONS)
def test_a_model_without_active_latents_scores_zero_with_a_warning(correlation):
    representations, kl = synthetic_codes("permuted")
    kl[2] = 0.0
    with pytest.warns(UserWarning, match=r"model\(s\) \[2\] have no latent with KL above"):
        details = udr_score(representations, kl, correlation=correlation, return_details=True)
    pairwise = details["pairwise"]
    others = [0, 1, 3, 4]
    np.testing.assert_array_equal(pairwise[2, others], 0.0)
    np.testing.assert_array_equal(pairwise[others, 2], 0.0)
    assert details["scores"][2] == 0.0
    # The others count their pair with model 2 as a 0 in their medians.
    for model in others:
        column = pairwise[[m for m in range(N_MODELS) if m != model], model]
        assert details["scores"][model] == np.median(column)
        assert 0.0 in column


# --------------------------------------------------------------------------- details


def test_details_hold_the_pair_scores_matrices_and_masks():
    representations, kl = synthetic_codes("inactive")
    details = udr_score(representations, kl, return_details=True)
    n_latents = representations.shape[2]
    assert set(details) == {"scores", "pairwise", "correlations", "active_latents"}
    assert details["pairwise"].shape == (N_MODELS, N_MODELS)
    assert details["correlations"].shape == (N_MODELS, N_MODELS, n_latents, n_latents)
    np.testing.assert_array_equal(details["active_latents"], kl > 0.01)
    assert np.isnan(np.diagonal(details["pairwise"])).all()
    off_diagonal = ~np.eye(N_MODELS, dtype=bool)
    correlations = details["correlations"][off_diagonal]  # (pairs, d, d)
    assert np.isnan(details["correlations"][~off_diagonal]).all()
    assert (correlations >= 0).all()
    active = details["active_latents"]
    rows = np.broadcast_to(active[:, None, :], (N_MODELS, N_MODELS, n_latents))[off_diagonal]
    columns = np.broadcast_to(active[None, :, :], (N_MODELS, N_MODELS, n_latents))[off_diagonal]
    assert (correlations[~rows] == 0).all()
    assert (correlations.transpose(0, 2, 1)[~columns] == 0).all()
    medians = [np.median(details["pairwise"][off_diagonal[:, j], j]) for j in range(N_MODELS)]
    np.testing.assert_array_equal(details["scores"], medians)


def test_lasso_matrices_are_scikit_learns_lasso_coefficients():
    from sklearn.linear_model import Lasso
    from sklearn.preprocessing import StandardScaler

    representations, _ = synthetic_codes("mixed")
    # A duplicated latent (a singular Gram matrix) and a strongly correlated pair.
    representations = np.concatenate(
        [representations, representations[:, :, :1], representations[:, :, 1:2] * 0.9], axis=2
    )
    representations[:, :, -1] += 0.1 * representations[:, :, 2]
    correlations = udr_score(representations, return_details=True)["correlations"]
    standardised = [StandardScaler().fit_transform(codes) for codes in representations]
    for i, j in [(0, 1), (4, 2), (3, 0)]:
        lasso = Lasso(alpha=0.1, tol=1e-12, max_iter=100_000).fit(standardised[i], standardised[j])
        np.testing.assert_allclose(correlations[i, j], np.abs(lasso.coef_).T, atol=1e-7)


def test_spearman_matrices_are_scipys_rank_correlations():
    from scipy.stats import spearmanr

    representations, _ = synthetic_codes("mixed")
    representations[1, :, 2] = np.round(representations[1, :, 2])  # ties
    correlations = udr_score(representations, correlation="spearman", return_details=True)[
        "correlations"
    ]
    for i, j in [(0, 1), (1, 3), (4, 2)]:
        expected = np.abs(spearmanr(representations[i], representations[j]).statistic)
        np.testing.assert_allclose(
            correlations[i, j], expected[:N_FACTORS, N_FACTORS:], atol=1e-12
        )


def test_a_constant_active_latent_correlates_zero_with_spearman():
    representations, _ = synthetic_codes("permuted")
    representations[1, :, 3] = 0.7
    details = udr_score(representations, correlation="spearman", return_details=True)
    assert np.isfinite(details["scores"]).all()
    np.testing.assert_array_equal(details["correlations"][0, 1][:, 3], 0.0)


# --------------------------------------------------------------------------- bad input


def test_fewer_than_two_models_raise():
    codes = np.zeros((10, 3))
    with pytest.raises(ValueError, match="at least 2 models, got 1"):
        udr_score([codes])


def test_a_single_two_dimensional_array_raises():
    with pytest.raises(ValueError, match="got a single 2-D array of shape \\(10, 3\\)"):
        udr_score(np.zeros((10, 3)))


def test_mismatched_rows_raise():
    rng = np.random.default_rng(0)
    with pytest.raises(
        ValueError, match="same inputs, got 50 rows .* and 49 in representations\\[2\\]"
    ):
        udr_score([rng.random((50, 3)), rng.random((50, 3)), rng.random((49, 3))])


def test_mismatched_widths_raise():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="same number of latents, got 3 .* and 4 in"):
        udr_score([rng.random((50, 3)), rng.random((50, 4))])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_infinity_in_codes_raises(bad):
    rng = np.random.default_rng(0)
    codes = rng.random((50, 3))
    codes[17, 1] = bad
    with pytest.raises(
        ValueError, match="representations\\[1\\] contains NaN or infinity .*row 17"
    ):
        udr_score([rng.random((50, 3)), codes])


def test_one_dimensional_codes_raise():
    with pytest.raises(ValueError, match="representations\\[0\\] must be 2-D"):
        udr_score([np.zeros(10), np.zeros(10)])


def test_a_single_row_raises():
    with pytest.raises(ValueError, match="at least 2 samples, got 1"):
        udr_score([np.zeros((1, 3)), np.zeros((1, 3))])


def test_non_numeric_codes_raise():
    with pytest.raises(TypeError, match="representations\\[0\\] must be a numeric array"):
        udr_score([np.full((5, 2), "a"), np.zeros((5, 2))])


@pytest.mark.parametrize(
    ("kl", "message"),
    [
        (np.ones((2, 3)), "one array per model \\(3\\), got 2"),
        (np.ones((3, 4)), "one array of shape \\(3,\\) per model, got shape \\(4,\\)"),
        ([np.ones(3), np.ones(3), np.ones(2)], "one array of shape \\(3,\\) per model"),
        (np.full((3, 3), np.nan), "kl contains NaN or infinity"),
    ],
    ids=["too_few", "too_wide", "ragged", "nan"],
)
def test_bad_kl_raises(kl, message):
    codes = np.random.default_rng(0).random((3, 20, 3))
    with pytest.raises(ValueError, match=message):
        udr_score(codes, kl)


@pytest.mark.parametrize(
    ("argument", "value"),
    [("correlation", "pearson"), ("kl_threshold", -0.1), ("kl_threshold", np.nan)],
)
def test_bad_arguments_are_refused_by_parameter_validation(argument, value):
    codes = np.random.default_rng(0).random((3, 20, 3))
    with pytest.raises(InvalidParameterError, match=f"The '{argument}' parameter of udr_score"):
        udr_score(codes, **{argument: value})
