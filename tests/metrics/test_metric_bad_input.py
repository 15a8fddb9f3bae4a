"""Bad input gets a clear error (or, for a constant factor, a warning) naming the problem."""

import inspect
from numbers import Real

import numpy as np
import pytest
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    generate_invalid_param_val,
    make_constraint,
)

from sklearn_dvae import metrics
from sklearn_dvae.metrics import (
    beta_vae_score,
    dci_score,
    factor_vae_score,
    gaussian_total_correlation,
    gaussian_wasserstein_correlation,
    irs_score,
    latent_mutual_info_score,
    mig_score,
    modularity_explicitness_score,
    sap_score,
    udr_score,
)

SMALL = {
    beta_vae_score: {"n_train": 100, "n_eval": 50},
    factor_vae_score: {"n_train": 100, "n_eval": 50},
    sap_score: {"n_train": 60, "n_test": 30},
    mig_score: {},
    dci_score: {"n_train": 60, "n_test": 30},
    modularity_explicitness_score: {"n_train": 60, "n_test": 30},
    irs_score: {},
}
METRICS = list(SMALL)
IDS = [metric.__name__ for metric in METRICS]


@pytest.mark.parametrize("metric", METRICS, ids=IDS)
def test_mismatched_row_counts_raise(metric, small_pool):
    Z, factors = small_pool
    with pytest.raises(ValueError, match="same number of rows, got 200 and 199"):
        metric(Z, factors[:-1], **SMALL[metric])


@pytest.mark.parametrize("metric", METRICS, ids=IDS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_in_z_raises(metric, bad, small_pool):
    Z, factors = small_pool
    Z = Z.copy()
    Z[17, 1] = bad
    with pytest.raises(ValueError, match="Z contains NaN or infinity.*row 17"):
        metric(Z, factors, **SMALL[metric])


@pytest.mark.parametrize("metric", METRICS, ids=IDS)
def test_a_single_row_raises(metric, small_pool):
    Z, factors = small_pool
    with pytest.raises(ValueError, match="needs at least .* samples, got 1"):
        metric(Z[:1], factors[:1], **SMALL[metric])


@pytest.mark.parametrize("metric", METRICS, ids=IDS)
def test_nan_in_factors_raises(metric, small_pool):
    Z, factors = small_pool
    factors = factors.astype(float)
    factors[3, 0] = np.nan
    with pytest.raises(ValueError, match="factors contain NaN"):
        metric(Z, factors, **SMALL[metric])


@pytest.mark.parametrize("metric", METRICS, ids=IDS)
def test_one_dimensional_z_raises(metric, small_pool):
    Z, factors = small_pool
    with pytest.raises(ValueError, match="Z must be 2-D"):
        metric(Z[:, 0], factors, **SMALL[metric])


@pytest.mark.parametrize("metric", METRICS, ids=IDS)
def test_factor_with_one_value_warns_and_is_skipped(metric, small_pool):
    Z, factors = small_pool
    factors = np.column_stack([factors, np.full(200, 5), factors[:, 0]])
    Z = np.column_stack([Z, Z[:, 0]])
    with pytest.warns(UserWarning, match="factor 2 takes a single value and is skipped"):
        details = metric(Z, factors, return_details=True, random_state=0, **SMALL[metric])
    np.testing.assert_array_equal(details["factor_indices"], [0, 1, 3])


@pytest.mark.parametrize("metric", METRICS, ids=IDS)
def test_all_factors_constant_raises(metric, small_pool):
    Z, _ = small_pool
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="every factor takes a single"):
        metric(Z, np.zeros((200, 2)), **SMALL[metric])


@pytest.mark.parametrize(
    "metric", [beta_vae_score, factor_vae_score, modularity_explicitness_score]
)
def test_metrics_that_compare_factors_need_two_varying_factors(metric, small_pool):
    Z, factors = small_pool
    with pytest.raises(ValueError, match="at least two factors"):
        metric(Z, factors[:, 0], **SMALL[metric])


@pytest.mark.parametrize("metric", [mig_score, sap_score, latent_mutual_info_score])
def test_gap_metrics_need_two_latents(metric, small_pool):
    Z, factors = small_pool
    kwargs = SMALL.get(metric, {})
    with pytest.raises(ValueError, match="at least two latents"):
        metric(Z[:, :1], factors, **kwargs)


def test_factor_vae_batch_of_one_row_raises(small_pool):
    Z, factors = small_pool
    message = r"'batch_size' parameter of factor_vae_score must be an int in the range \[2, inf\)"
    with pytest.raises(ValueError, match=message + r"\. Got 1 instead"):
        factor_vae_score(Z, factors, batch_size=1)


@pytest.mark.parametrize("bad", [0, -5, 2.5])
def test_non_positive_or_fractional_sample_sizes_raise(bad, small_pool):
    # A classifier needs two training points, a test set two rows; a vote is one.
    Z, factors = small_pool
    for metric, least in ((beta_vae_score, 2), (factor_vae_score, 1), (sap_score, 2)):
        message = (
            rf"'n_train' parameter of {metric.__name__} must be an int in the range "
            rf"\[{least}, inf\)"
        )
        with pytest.raises(ValueError, match=message):
            metric(Z, factors, n_train=bad)


def test_unknown_options_raise(small_pool):
    Z, factors = small_pool
    with pytest.raises(
        ValueError, match="'importance' parameter of dci_score must be a str among"
    ):
        dci_score(Z, factors, importance="forest")
    with pytest.raises(ValueError, match="'discrete_score' parameter of sap_score must be a str"):
        sap_score(Z, factors, discrete_score="f1")
    with pytest.raises(ValueError, match="'continuous_factors' parameter of mig_score must be a"):
        mig_score(Z, factors, continuous_factors="sometimes")
    with pytest.raises(ValueError, match="one bool per factor"):
        mig_score(Z, factors, continuous_factors=[True, False, True])


# The unsupervised scores take no factors, but accept them (ignored but for their row
# count) so that scorers can pass y through: mismatched rows apply to them too.
UNSUPERVISED = [
    gaussian_total_correlation,
    gaussian_wasserstein_correlation,
    latent_mutual_info_score,
]
UNSUPERVISED_IDS = [metric.__name__ for metric in UNSUPERVISED]


@pytest.mark.parametrize("metric", UNSUPERVISED, ids=UNSUPERVISED_IDS)
def test_unsupervised_scores_reject_mismatched_row_counts(metric, small_pool):
    Z, factors = small_pool
    message = (
        f"{metric.__name__}: Z and factors must have the same number of rows, got 200 and 199"
    )
    with pytest.raises(ValueError, match=message):
        metric(Z, factors[:-1])


@pytest.mark.parametrize("metric", UNSUPERVISED, ids=UNSUPERVISED_IDS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_unsupervised_scores_reject_nan_or_inf_in_z(metric, bad, small_pool):
    Z, _ = small_pool
    Z = Z.copy()
    Z[17, 1] = bad
    with pytest.raises(ValueError, match=f"{metric.__name__}: Z contains NaN or infinity.*row 17"):
        metric(Z)


@pytest.mark.parametrize("metric", UNSUPERVISED, ids=UNSUPERVISED_IDS)
@pytest.mark.parametrize("with_factors", [False, True], ids=["no_factors", "with_factors"])
def test_unsupervised_scores_reject_a_single_row(metric, with_factors, small_pool):
    Z, factors = small_pool
    with pytest.raises(ValueError, match=f"{metric.__name__}: needs at least 2 samples, got 1"):
        metric(Z[:1], factors[:1] if with_factors else None)


@pytest.mark.parametrize("metric", UNSUPERVISED, ids=UNSUPERVISED_IDS)
def test_unsupervised_scores_reject_one_dimensional_z(metric, small_pool):
    Z, _ = small_pool
    with pytest.raises(ValueError, match="Z must be 2-D"):
        metric(Z[:, 0])


# Every public function that takes arguments, with valid values of those it requires.
def _required_arguments(function, small_pool):
    Z, factors = small_pool
    return {
        "dci_from_importance_matrix": {"importance_matrix": np.eye(2)},
        "make_disentanglement_scorer": {"metric": "mig"},
        "make_multimetric_disentanglement_scorer": {"scorers": {"mig": "mig"}},
        "get_scorer": {"name": "mig"},
        "udr_score": {"representations": [Z, Z]},
    }.get(function.__name__, {"Z": Z, "factors": factors})


PUBLIC_FUNCTIONS = [
    function
    for name in metrics.__all__
    if inspect.isfunction(function := getattr(metrics, name))
    and inspect.signature(function).parameters
]


@pytest.mark.parametrize("function", PUBLIC_FUNCTIONS, ids=lambda f: f.__name__)
def test_every_argument_of_a_public_function_is_validated(function, small_pool):
    # scikit-learn's validate_params: each named argument has declared constraints,
    # and a value of the wrong type, or of the right type out of range, gets the same
    # error naming the function, the argument and what it accepts.
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    names = [
        p.name for p in inspect.signature(function).parameters.values() if p.kind not in variadic
    ]
    constraints = function._skl_parameter_constraints
    assert sorted(constraints) == sorted(names)
    required = _required_arguments(function, small_pool)

    class WrongType:
        pass

    for name in names:
        message = rf"The '{name}' parameter of {function.__name__} must be .* Got .* instead\."
        bad_values = [WrongType()]
        for constraint in map(make_constraint, constraints[name]):
            try:
                bad_values.append(generate_invalid_param_val(constraint))
            except NotImplementedError:
                pass  # a pure type constraint: WrongType covers it
        for bad in bad_values:
            with pytest.raises(InvalidParameterError, match=message):
                function(**{**required, name: bad})


# Every real-valued argument of the metrics; the test below checks the list is complete.
REAL_VALUED = [
    (factor_vae_score, "prune_threshold"),
    (sap_score, "C"),
    (dci_score, "alpha"),
    (irs_score, "diff_quantile"),
    (udr_score, "kl_threshold"),
]


def test_the_list_of_real_valued_arguments_is_complete():
    declared = {
        (function.__name__, name)
        for function in PUBLIC_FUNCTIONS
        for name, constraints in function._skl_parameter_constraints.items()
        if any(isinstance(c, Interval) and c.type is Real for c in constraints)
    }
    assert declared == {(function.__name__, name) for function, name in REAL_VALUED}


@pytest.mark.parametrize(
    ("function", "name"), REAL_VALUED, ids=[f"{f.__name__}-{n}" for f, n in REAL_VALUED]
)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_real_valued_arguments_refuse_nan_and_infinity(function, name, bad, small_pool):
    # prune_threshold=nan used to prune nothing and score silently; an infinite
    # threshold, penalty or quantile means nothing either.
    Z, factors = small_pool
    message = (
        rf"The '{name}' parameter of {function.__name__} must be a float in the range "
        rf".* Got {bad} instead\."
    )
    with pytest.raises(ValueError, match=message):
        function(Z, factors, **{name: bad})
