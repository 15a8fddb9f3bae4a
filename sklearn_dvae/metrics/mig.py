"""The Mutual Information Gap (MIG), with histogram-discretised latents.

Chen, Li, Grosse and Duvenaud, "Isolating Sources of Disentanglement in Variational
Autoencoders", NeurIPS 2018 (arXiv:1802.04942). Protocol of Locatello et al.,
"Challenging Common Assumptions in the Unsupervised Learning of Disentangled
Representations", ICML 2019.
"""

import numpy as np

from ._utils import (
    INT_AT_LEAST_TWO,
    as_random_state,
    check_representation_and_factors,
    draw_rows,
    encode_factors,
    entropy_of_codes,
    histogram_discretize,
    mutual_information_matrix,
    validate_metric_params,
)

__all__ = ["mig_score"]


@validate_metric_params({"n_samples": [INT_AT_LEAST_TWO, None]})
def mig_score(
    Z,
    factors,
    *,
    n_samples=10_000,
    n_bins=20,
    continuous_factors="auto",
    random_state=None,
    return_details=False,
):
    """Mean over factors of the normalised gap between the two most informative latents.

    Each latent is discretised into ``n_bins`` equal-width bins over its range. With
    ``I[d, k]`` the mutual information between latent ``d`` and factor ``k`` and
    ``H[k]`` the entropy of factor ``k``, MIG is the mean over factors of
    ``(I[d1, k] - I[d2, k]) / H[k]``, ``d1`` and ``d2`` being the latents with the
    largest and second largest ``I[., k]``.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_latents)
        Representation of a labelled pool; at least two latents.
    factors : array-like of shape (n_samples, n_factors) or (n_samples,)
        Ground-truth factor values of the same rows.
    n_samples : int or None, default=10_000
        Number of rows (at least 2, drawn without replacement) to compute the mutual
        information on; all rows if None or if the pool is smaller. The plug-in estimator is biased
        upwards by about ``(n_bins - 1) (n_classes - 1) / (2 n_samples)`` nats, so
        compare MIG values computed on equal numbers of rows.
    n_bins : int, default=20
        Number of bins per latent (and per continuous factor).
    continuous_factors : "auto", bool or array-like of bool, default="auto"
        Factors to discretise into ``n_bins`` bins; ``"auto"`` picks floating-point
        columns with non-integer values and more than ``n_bins`` distinct values.
    random_state : int, RandomState instance or None, default=None
        Seed of the row subsample.
    return_details : bool, default=False
        Return a dict of details instead of the score.

    Returns
    -------
    score : float
        MIG, in ``[0, 1]``.
    details : dict
        Only with ``return_details=True``: ``"score"``, ``"mutual_information"`` (nats,
        shape (n_latents, n_scored_factors)), ``"factor_entropy"`` (nats),
        ``"gaps"`` (normalised, one per scored factor) and ``"factor_indices"``.

    Notes
    -----
    Same estimator as disentanglement_lib's ``compute_mig`` (20-bin histograms over
    each latent's range, plug-in mutual information in nats, normalised by the
    plug-in entropy of the factor), with these differences:

    - The mutual information comes from joint counts computed here, not from
      ``sklearn.metrics.mutual_info_score``, whose behaviour has changed between
      versions; the values agree with it to rounding.
    - Factors with a single value are skipped with a warning instead of dividing
      by a zero entropy.
    - Continuous factors can be discretised (the reference takes factors as classes).

    References
    ----------
    .. [1] Chen et al., "Isolating Sources of Disentanglement in Variational
       Autoencoders", NeurIPS 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae.metrics import mig_score
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 8, size=(5000, 2))
    >>> Z = np.column_stack([factors, rng.standard_normal(5000)])
    >>> bool(mig_score(Z, factors, random_state=0) > 0.9)
    True
    """
    metric = "mig_score"
    Z, factors = check_representation_and_factors(Z, factors, metric=metric)
    if Z.shape[1] < 2:
        raise ValueError(f"{metric}: needs at least two latents to take a gap, got {Z.shape[1]}.")
    rng = as_random_state(random_state)
    rows = draw_rows(Z.shape[0], n_samples, rng)
    codes, n_classes, used, _ = encode_factors(
        factors[rows], continuous_factors=continuous_factors, n_bins=n_bins, metric=metric
    )
    latent_codes = histogram_discretize(Z[rows], n_bins)
    mutual_information = mutual_information_matrix(latent_codes, n_bins, codes, n_classes)
    entropy = entropy_of_codes(codes, n_classes)
    ordered = np.sort(mutual_information, axis=0)
    gaps = (ordered[-1] - ordered[-2]) / entropy
    score = float(np.mean(gaps))
    if not return_details:
        return score
    return {
        "score": score,
        "mutual_information": mutual_information,
        "factor_entropy": entropy,
        "gaps": gaps,
        "factor_indices": used,
    }
