"""The Interventional Robustness Score (IRS).

Suter, Miladinovic, Schoelkopf and Bauer, "Robustly Disentangled Causal Mechanisms:
Validating Deep Representations for Interventional Robustness", ICML 2019
(arXiv:1811.00007).
"""

import warnings
from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval

from ._utils import (
    INT_AT_LEAST_TWO,
    as_random_state,
    check_representation_and_factors,
    draw_rows,
    encode_factors,
    validate_metric_params,
)

__all__ = ["irs_score"]


@validate_metric_params(
    {
        "n_samples": [INT_AT_LEAST_TWO, None],
        "diff_quantile": [Interval(Real, 0, 1, closed="both")],
    }
)
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
        Number of rows (at least 2, drawn without replacement) to compute the score
        on; all rows if None or if the pool is smaller.
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
    rng = as_random_state(random_state)
    rows = draw_rows(Z.shape[0], n_samples, rng)
    # Latents as contiguous rows: reductions over the samples are then fast ones.
    columns = np.ascontiguousarray(Z[rows].T)
    codes, n_classes, used, _ = encode_factors(
        factors[rows], continuous_factors=continuous_factors, n_bins=n_bins, metric=metric
    )
    n_latents = columns.shape[0]
    active = columns.var(axis=1) > 0.0
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

    columns = columns[active]
    max_deviations = np.abs(columns - columns.mean(axis=1, keepdims=True)).max(axis=1)
    deviation = np.stack(
        [
            _mean_group_quantile(columns, codes[:, k], int(n_classes[k]), diff_quantile)
            for k in range(used.size)
        ],
        axis=1,
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


def _mean_group_quantile(columns, group, n_groups, quantile):
    """Mean over groups of the ``quantile`` of ``|z - group mean|``, for every latent.

    ``columns`` holds the latents as rows (shape (n_latents, n_samples), contiguous).
    Each group's quantile is numpy's default ("linear") percentile, read from the two
    order statistics around ``quantile * (size - 1)``. The samples are ordered by
    group once (a radix sort of the small group codes); the order statistics are
    then read from the few largest deviations of each group (see
    ``_order_statistics``), all groups and latents at once.
    """
    sizes = np.bincount(group, minlength=n_groups)
    sizes = sizes[sizes > 0]
    bounds = np.concatenate(([0], np.cumsum(sizes)))
    small = np.uint8 if n_groups <= 256 else np.uint16 if n_groups <= 65536 else np.int64
    order = np.argsort(group.astype(small), kind="stable")
    grouped = np.take(columns, order, axis=1)
    means = np.add.reduceat(grouped, bounds[:-1], axis=1) / sizes
    deviations = np.abs(grouped - np.repeat(means, sizes, axis=1))
    positions = quantile * (sizes - 1)
    lowers = np.floor(positions).astype(np.int64)
    uppers = np.minimum(lowers + 1, sizes - 1)
    fractions = positions - lowers
    low, high = _order_statistics(deviations, bounds, lowers, uppers)
    return np.mean(low + fractions * (high - low), axis=1)


def _order_statistics(deviations, bounds, lowers, uppers):
    """Order statistics ``lowers[g]`` and ``uppers[g]`` of each group, for every latent.

    Group ``g`` is the run of columns ``bounds[g]:bounds[g + 1]`` of ``deviations``
    (shape (n_latents, n_samples)); ``lowers[g] <= uppers[g]`` are 0-based ascending
    ranks within the group. Exact, and without a selection over every value: the
    wanted values are among the ``need = size - lowers[g]`` largest of the group, so
    the group is cut into ``need`` disjoint blocks and ``t``, the smallest of the
    blocks' maxima, has at least ``need`` values of the group at or above it (one per
    block). Only the values ``>= t`` (a few percent of a random group for the 99%
    quantile) are then sorted, all groups and latents together.
    """
    n_latents = deviations.shape[0]
    n_groups = lowers.size
    sizes = np.diff(bounds)
    need = sizes - lowers
    block = sizes // need
    # Block starts, group after group; each block's maximum runs to the next start,
    # so a group's last block also takes its leftover values (still its own).
    starts = np.repeat(bounds[:-1], need) + block.repeat(need) * (
        np.arange(need.sum()) - np.repeat(np.cumsum(need) - need, need)
    )
    block_max = np.maximum.reduceat(deviations, starts, axis=1)
    thresholds = np.minimum.reduceat(block_max, np.cumsum(need) - need, axis=1)
    kept = deviations >= np.repeat(thresholds, sizes, axis=1)
    counts = np.add.reduceat(kept, bounds[:-1], axis=1, dtype=np.int64)
    # Kept values in row-major order run latent by latent, group by group: a
    # stable sort by value then by (latent, group) orders every run ascending.
    flat = np.flatnonzero(kept)
    values = deviations.ravel()[flat]
    latent, column = np.divmod(flat, deviations.shape[1])
    n_runs = n_latents * n_groups
    small = np.uint16 if n_runs <= 65536 else np.int64  # radix-sorted when small
    run = (latent * n_groups + np.repeat(np.arange(n_groups), sizes)[column]).astype(small)
    by_value = np.argsort(values)
    values = values[by_value][np.argsort(run[by_value], kind="stable")]
    ends = np.cumsum(counts.ravel()).reshape(n_latents, n_groups)
    low = values[ends - (sizes - lowers)]
    high = values[ends - (sizes - uppers)]
    return low, high
