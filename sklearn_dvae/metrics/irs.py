"""The Interventional Robustness Score (IRS).

Suter, Miladinovic, Schoelkopf and Bauer, "Robustly Disentangled Causal Mechanisms:
Validating Deep Representations for Interventional Robustness", ICML 2019
(arXiv:1811.00007).
"""

import warnings

import numpy as np

from ._utils import (
    as_random_state,
    check_representation_and_factors,
    draw_rows,
    encode_factors,
)

__all__ = ["irs_score"]


def irs_score(
    Z,
    factors,
    *,
    n_samples=10_000,
    diff_quantile=0.99,
    continuous_factors="auto",
    n_bins=20,
    random_state=None,
    return_details=False,
):
    """How little each latent moves while the factor it depends on most is held fixed.

    For factor ``k`` and each of its values ``v``, the rows with ``factor_k = v`` are
    the interventions ``do(factor_k = v)``; the ``diff_quantile`` quantile of
    ``|z_d - E[z_d | factor_k = v]|`` over them, averaged over the values ``v`` and
    divided by ``max |z_d - E[z_d]|``, is the deviation of latent ``d`` under
    interventions on the other factors. ``IRS[d, k] = 1 - deviation``; each latent
    scores ``max_k IRS[d, k]``, and the score is their mean weighted by
    ``max |z_d - E[z_d]|``.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_latents)
        Representation of a labelled pool.
    factors : array-like of shape (n_samples, n_factors) or (n_samples,)
        Ground-truth factor values of the same rows.
    n_samples : int or None, default=10_000
        Number of rows (drawn without replacement) to compute the score on; all rows
        if None or if the pool is smaller.
    diff_quantile : float, default=0.99
        Quantile of the within-group deviations; 1.0 is the paper's maximum.
    continuous_factors : "auto", bool or array-like of bool, default="auto"
        Factors to discretise into ``n_bins`` equal-width bins before grouping rows;
        ``"auto"`` picks floating-point columns with non-integer values and more than
        ``n_bins`` distinct values. ``True`` bins every factor, as the reference does.
    n_bins : int, default=20
        Number of bins for continuous factors.
    random_state : int, RandomState instance or None, default=None
        Seed of the row subsample.
    return_details : bool, default=False
        Return a dict of details instead of the score.

    Returns
    -------
    score : float
        IRS, at most 1.
    details : dict
        Only with ``return_details=True``: ``"score"``, ``"irs_matrix"`` (n_latents,
        n_scored_factors; NaN rows for constant latents), ``"disentanglement_per_latent"``,
        ``"parents"`` (the column of ``factors`` each latent depends on most, -1 for a
        constant latent), ``"max_deviations"``, ``"active_latents"`` (mask of the
        non-constant latents), ``"n_active_latents"`` (a count) and
        ``"factor_indices"``.

    Notes
    -----
    Differences from disentanglement_lib's ``compute_irs``:

    - ``n_active_latents`` counts the non-constant latents; the reference sums
      their values.
    - Factors holding integers (class labels) are grouped by value. The reference
      bins every factor into 20 equal-width bins, which merges neighbouring values of
      factors with more than 20 (dSprites' positions); ``continuous_factors=True``
      does the same.
    - Factors with a single value are skipped with a warning.

    References
    ----------
    .. [1] Suter et al., "Robustly Disentangled Causal Mechanisms: Validating Deep
       Representations for Interventional Robustness", ICML 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae.metrics import irs_score
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 6, size=(3000, 2))
    >>> Z = factors + 0.01 * rng.standard_normal(factors.shape)
    >>> bool(irs_score(Z, factors, random_state=0) > 0.9)
    True
    """
    metric = "irs_score"
    Z, factors = check_representation_and_factors(Z, factors, metric=metric)
    if not 0.0 <= diff_quantile <= 1.0:
        raise ValueError(f"{metric}: diff_quantile must be in [0, 1], got {diff_quantile!r}.")
    rng = as_random_state(random_state)
    rows = draw_rows(Z.shape[0], n_samples, rng)
    Z = Z[rows]
    codes, n_classes, used, _ = encode_factors(
        factors[rows], continuous_factors=continuous_factors, n_bins=n_bins, metric=metric
    )
    n_latents = Z.shape[1]
    active = Z.var(axis=0) > 0.0
    details = {
        "active_latents": active,
        "n_active_latents": int(active.sum()),
        "factor_indices": used,
    }
    if not active.any():
        warnings.warn(f"{metric}: every latent is constant; the score is 0.", UserWarning, 2)
        details.update(
            score=0.0,
            irs_matrix=np.full((n_latents, used.size), np.nan),
            disentanglement_per_latent=np.full(n_latents, np.nan),
            parents=np.full(n_latents, -1),
            max_deviations=np.zeros(n_latents),
        )
        return details if return_details else 0.0

    Z_active = Z[:, active]
    max_deviations = np.abs(Z_active - Z_active.mean(axis=0)).max(axis=0)
    deviation = np.empty((Z_active.shape[1], used.size))
    for position in range(used.size):
        deviation[:, position] = _mean_group_quantile(
            Z_active, codes[:, position], int(n_classes[position]), diff_quantile
        )
    irs_active = 1.0 - deviation / max_deviations[:, np.newaxis]
    per_latent_active = irs_active.max(axis=1)
    score = float(np.average(per_latent_active, weights=max_deviations))
    if not return_details:
        return score
    irs_matrix = np.full((n_latents, used.size), np.nan)
    irs_matrix[active] = irs_active
    per_latent = np.full(n_latents, np.nan)
    per_latent[active] = per_latent_active
    parents = np.full(n_latents, -1)
    parents[active] = used[irs_active.argmax(axis=1)]
    all_max_deviations = np.zeros(n_latents)
    all_max_deviations[active] = max_deviations
    details.update(
        score=score,
        irs_matrix=irs_matrix,
        disentanglement_per_latent=per_latent,
        parents=parents,
        max_deviations=all_max_deviations,
    )
    return details


def _mean_group_quantile(Z, group, n_groups, quantile):
    """Mean over groups of the ``quantile`` of ``|z - group mean|``, for every column.

    Each group's quantile is numpy's default ("linear") percentile, computed for all
    groups and columns at once: sorting each column of ``group + deviation / scale``
    (``scale`` just above the column's largest deviation, so the fraction stays below 1)
    orders the rows by group, then by deviation within the group, so the quantile is
    read at ``start + quantile * (size - 1)``.
    """
    sizes = np.bincount(group, minlength=n_groups)
    present = sizes > 0
    starts = (np.cumsum(sizes) - sizes)[present]
    sizes = sizes[present]
    means = np.stack([np.bincount(group, Z[:, j], n_groups) for j in range(Z.shape[1])], axis=1)
    means = means[present] / sizes[:, np.newaxis]
    group_index = np.cumsum(present) - 1
    deviations = np.abs(Z - means[group_index[group]])
    scale = deviations.max(axis=0) * (1.0 + 1e-9) + np.finfo(float).tiny
    # Columns laid out as contiguous rows: sorting along the last axis is several times
    # faster than along the first.
    keys = np.ascontiguousarray((group_index[group][:, np.newaxis] + deviations / scale).T)
    keys.sort(axis=1)
    ordered = (keys - np.repeat(np.arange(sizes.size), sizes)) * scale[:, np.newaxis]
    position = quantile * (sizes - 1)
    lower = np.floor(position).astype(np.int64)
    upper = np.minimum(lower + 1, sizes - 1)
    fraction = position - lower
    low = ordered[:, starts + lower]
    high = ordered[:, starts + upper]
    return np.mean(low + fraction * (high - low), axis=1)
