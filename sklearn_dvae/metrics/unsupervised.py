"""Unsupervised scores of a representation: Gaussian total and Wasserstein correlation, latent MI.

These need no ground-truth factors. They are the unsupervised scores of Locatello et al.,
"Challenging Common Assumptions in the Unsupervised Learning of Disentangled
Representations", ICML 2019 (Section 5 and Appendix), computed on the covariance (or the
histogram-discretised values) of the representation.
"""

import numpy as np

from ._utils import (
    INT_AT_LEAST_TWO,
    as_random_state,
    check_representation,
    check_representation_and_factors,
    draw_rows,
    histogram_discretize,
    mutual_information_matrix,
    validate_metric_params,
)

__all__ = [
    "gaussian_total_correlation",
    "gaussian_wasserstein_correlation",
    "latent_mutual_info_score",
]


# factors: None, or the y that a scorer passes through (see _sample).
_UNSUPERVISED_CONSTRAINTS = {
    "factors": ["array-like", None],
    "n_samples": [INT_AT_LEAST_TWO, None],
}


def _sample(Z, factors, n_samples, random_state, metric, min_samples=2):
    if factors is None:
        Z = check_representation(Z, metric=metric, min_samples=min_samples)
    else:
        # Factors are accepted (and ignored) so that scorers can pass y through.
        Z, _ = check_representation_and_factors(Z, factors, metric=metric, min_samples=min_samples)
    rng = as_random_state(random_state)
    return Z[draw_rows(Z.shape[0], n_samples, rng)]


def _covariance_of_varying_latents(Z):
    covariance = np.atleast_2d(np.cov(Z, rowvar=False))
    # A constant latent is independent of every other; dropping it avoids log(0).
    varying = np.diag(covariance) > 0
    return covariance[np.ix_(varying, varying)], varying


@validate_metric_params(_UNSUPERVISED_CONSTRAINTS)
def gaussian_total_correlation(
    Z, factors=None, *, n_samples=10_000, random_state=None, return_details=False
):
    """Total correlation of the Gaussian with the representation's covariance.

    ``TC = KL(N(0, C) || N(0, diag C)) = 0.5 (sum_d log C_dd - log det C)``: zero for
    uncorrelated latents, larger as they correlate. Lower is better.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_latents)
        Representation.
    factors : array-like or None, default=None
        Ignored (accepted so that scorers can pass ``y``); only its row count is checked.
    n_samples : int or None, default=10_000
        Number of rows (at least 2, drawn without replacement) to estimate the
        covariance on; all rows if None or if there are fewer.
    random_state : int, RandomState instance or None, default=None
        Seed of the row subsample.
    return_details : bool, default=False
        Return a dict with ``"score"``, ``"covariance"`` and ``"varying_latents"``.

    Returns
    -------
    score : float
        Total correlation in nats, non-negative.

    Notes
    -----
    As disentanglement_lib's ``gaussian_total_correlation`` on ``np.cov`` of the
    sampled codes, except that constant latents (zero variance) are left out instead
    of giving NaN; ``slogdet`` gives ``inf`` for perfectly dependent latents.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae.metrics import gaussian_total_correlation
    >>> rng = np.random.default_rng(0)
    >>> Z = rng.multivariate_normal([0, 0], [[1.0, 0.8], [0.8, 1.0]], size=20000)
    >>> round(gaussian_total_correlation(Z, random_state=0), 1)  # -0.5 log(1 - 0.8^2)
    0.5
    """
    metric = "gaussian_total_correlation"
    Z = _sample(Z, factors, n_samples, random_state, metric)
    covariance, varying = _covariance_of_varying_latents(Z)
    if covariance.size == 0:
        score = 0.0
    else:
        sign, log_det = np.linalg.slogdet(covariance)
        log_det = log_det if sign > 0 else -np.inf
        score = float(0.5 * (np.sum(np.log(np.diag(covariance))) - log_det))
    if not return_details:
        return score
    return {"score": score, "covariance": covariance, "varying_latents": varying}


@validate_metric_params({**_UNSUPERVISED_CONSTRAINTS, "normalize": ["boolean"]})
def gaussian_wasserstein_correlation(
    Z, factors=None, *, n_samples=10_000, normalize=False, random_state=None, return_details=False
):
    """Squared 2-Wasserstein distance between N(0, C) and N(0, diag C), C the code covariance.

    ``W = 2 tr C - 2 tr (D^1/2 C D^1/2)^1/2`` with ``D = diag C``: zero for uncorrelated
    latents. Lower is better.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_latents)
        Representation.
    factors : array-like or None, default=None
        Ignored (accepted so that scorers can pass ``y``); only its row count is checked.
    n_samples : int or None, default=10_000
        Number of rows (at least 2, drawn without replacement) to estimate the
        covariance on; all rows if None or if there are fewer.
    normalize : bool, default=False
        Divide by ``tr C`` (the reference's ``gaussian_wasserstein_correlation_norm``).
    random_state : int, RandomState instance or None, default=None
        Seed of the row subsample.
    return_details : bool, default=False
        Return a dict with ``"score"``, ``"unnormalized"``, ``"normalized"`` and
        ``"covariance"``.

    Returns
    -------
    score : float

    Notes
    -----
    The reference takes the matrix square root of ``C * diag(C)[:, None]`` with
    ``scipy.linalg.sqrtm``; that matrix is similar to the symmetric ``D^1/2 C D^1/2``,
    so the trace of the square root is the sum of the square roots of the latter's
    eigenvalues, which is what is computed here (stable, and always real).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae.metrics import gaussian_wasserstein_correlation
    >>> rng = np.random.default_rng(0)
    >>> Z = rng.standard_normal((5000, 3))
    >>> bool(gaussian_wasserstein_correlation(Z, random_state=0) < 0.01)
    True
    """
    metric = "gaussian_wasserstein_correlation"
    Z = _sample(Z, factors, n_samples, random_state, metric)
    covariance = np.atleast_2d(np.cov(Z, rowvar=False))
    scale = np.sqrt(np.diag(covariance))
    eigenvalues = np.linalg.eigvalsh(covariance * np.outer(scale, scale))
    trace = float(np.trace(covariance))
    unnormalized = float(2.0 * trace - 2.0 * np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None))))
    unnormalized = max(unnormalized, 0.0)
    normalized = unnormalized / trace if trace > 0 else 0.0
    score = normalized if normalize else unnormalized
    if not return_details:
        return score
    return {
        "score": score,
        "unnormalized": unnormalized,
        "normalized": normalized,
        "covariance": covariance,
    }


@validate_metric_params(_UNSUPERVISED_CONSTRAINTS)
def latent_mutual_info_score(
    Z, factors=None, *, n_samples=10_000, n_bins=20, random_state=None, return_details=False
):
    """Mean mutual information between pairs of distinct histogram-discretised latents.

    Zero for independent latents, larger as they share information. Lower is better.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_latents)
        Representation; at least two latents.
    factors : array-like or None, default=None
        Ignored (accepted so that scorers can pass ``y``); only its row count is checked.
    n_samples : int or None, default=10_000
        Number of rows (at least 2, drawn without replacement) to compute it on; all
        rows if None or if there are fewer.
    n_bins : int, default=20
        Number of equal-width bins per latent.
    random_state : int, RandomState instance or None, default=None
        Seed of the row subsample.
    return_details : bool, default=False
        Return a dict with ``"score"`` and ``"mutual_information"`` (latents x latents,
        nats, zero diagonal).

    Returns
    -------
    score : float
        Mean off-diagonal mutual information, in nats.

    Notes
    -----
    The ``mutual_info_score`` of disentanglement_lib's ``unsupervised_metrics``, with
    the mutual information computed from joint counts here (see :func:`mig_score`).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae.metrics import latent_mutual_info_score
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal(5000)
    >>> dependent = latent_mutual_info_score(np.column_stack([x, x]), random_state=0)
    >>> independent = latent_mutual_info_score(rng.standard_normal((5000, 2)),
    ...                                        random_state=0)
    >>> bool(dependent > 1.0 > 0.1 > independent)
    True
    """
    metric = "latent_mutual_info_score"
    Z = _sample(Z, factors, n_samples, random_state, metric)
    n_latents = Z.shape[1]
    if n_latents < 2:
        raise ValueError(f"{metric}: needs at least two latents, got {n_latents}.")
    codes = histogram_discretize(Z, n_bins)
    mutual_information = mutual_information_matrix(
        codes, n_bins, codes, np.full(n_latents, n_bins)
    )
    np.fill_diagonal(mutual_information, 0.0)
    score = float(mutual_information.sum() / (n_latents**2 - n_latents))
    if not return_details:
        return score
    return {"score": score, "mutual_information": mutual_information}
