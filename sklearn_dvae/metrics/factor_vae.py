"""The FactorVAE disentanglement score, computed on an encoded labelled pool.

Kim and Mnih, "Disentangling by Factorising", ICML 2018 (arXiv:1802.05983). Protocol of
Locatello et al., "Challenging Common Assumptions in the Unsupervised Learning of
Disentangled Representations", ICML 2019.
"""

import warnings
from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval

from ._sampling import FactorGroups, check_memory, draws_per_chunk
from ._utils import (
    INT_AT_LEAST_TWO,
    POSITIVE_INT,
    as_random_state,
    check_representation_and_factors,
    draw_rows,
    encode_factors,
    validate_metric_params,
)

__all__ = ["factor_vae_score"]


@validate_metric_params(
    {
        "batch_size": [INT_AT_LEAST_TWO],
        "n_train": [POSITIVE_INT],
        "n_eval": [POSITIVE_INT],
        "n_variance_estimate": [INT_AT_LEAST_TWO],
        "prune_threshold": [Interval(Real, 0, None, closed="left")],
    }
)
def factor_vae_score(
    Z,
    factors,
    *,
    batch_size=64,
    n_train=10_000,
    n_eval=5_000,
    n_variance_estimate=10_000,
    prune_threshold=0.05,
    continuous_factors="auto",
    n_bins=20,
    random_state=None,
    return_details=False,
):
    """Accuracy of a majority-vote classifier from least-varying latent to held factor.

    Each latent is scaled by its standard deviation over the pool; latents whose
    standard deviation is below ``prune_threshold`` (collapsed to the prior) are left
    out. A vote holds one factor ``k`` fixed over a batch of ``batch_size`` rows, finds
    the kept latent ``d`` of least scaled variance within the batch and votes
    ``(d, k)``. Each latent is mapped to the factor it most often voted for in
    ``n_train`` votes; the score is the accuracy of that map on ``n_eval`` new votes.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_latents)
        Representation of a labelled pool, e.g. posterior means.
    factors : array-like of shape (n_samples, n_factors) or (n_samples,)
        Ground-truth factor values of the same rows.
    batch_size : int, default=64
        Number of rows sharing the held factor's value in one vote (at least 2).
    n_train : int, default=10_000
        Number of votes that build the classifier.
    n_eval : int, default=5_000
        Number of votes it is evaluated on. Votes are drawn with replacement, so
        ``n_train``, ``n_eval`` and ``batch_size`` are bounded by memory instead of
        by the pool: a request whose votes would take more than 4 GiB is refused
        with a ``ValueError`` before anything is drawn.
    n_variance_estimate : int, default=10_000
        Number of rows (drawn without replacement; all rows if fewer) on which the
        global standard deviation of each latent is estimated.
    prune_threshold : float, default=0.05
        Latents whose global standard deviation is below this are not voted for.
    continuous_factors : "auto", bool or array-like of bool, default="auto"
        Factors to discretise into ``n_bins`` equal-width bins before grouping rows by
        value; ``"auto"`` picks floating-point columns with non-integer values and more
        than ``n_bins`` distinct values.
    n_bins : int, default=20
        Number of bins for continuous factors.
    random_state : int, RandomState instance or None, default=None
        Seed of the sampling.
    return_details : bool, default=False
        Return a dict of details instead of the score.

    Returns
    -------
    score : float
        Evaluation accuracy, in ``[0, 1]``.
    details : dict
        Only with ``return_details=True``: ``"score"`` and ``"eval_accuracy"``,
        ``"train_accuracy"``, ``"train_votes"`` and ``"eval_votes"`` (vote matrices of
        shape (n_latents, n_scored_factors): row ``d`` counts the votes for latent ``d``
        of ``Z`` itself, pruned latents having zero rows), ``"latent_to_factor"`` (the
        column of ``factors`` each latent is mapped to, -1 for a pruned latent),
        ``"active_latents"`` (boolean mask), ``"n_active_latents"`` (a count),
        ``"global_std"`` and ``"factor_indices"`` (the columns of ``factors`` scored).

    Notes
    -----
    Differences from disentanglement_lib's ``compute_factor_vae``:

    - Batches are drawn from the rows of ``Z`` sharing the held factor's value
      (the value of a uniformly drawn anchor row; rows with replacement), instead of
      sampling factors and re-encoding new observations.
    - ``prune_threshold`` defaults to 0.05, the value of the 2019 study's
      configuration; the function itself defaults to 0 there, which keeps collapsed
      latents and divides by their near-zero variances.
    - The vote matrix is indexed by each latent's own index. The reference indexes
      the argmin within the kept latents but sizes the matrix for all latents, so its
      columns are shifted once a latent is pruned (the accuracy is unaffected).
    - ``n_active_latents`` counts the kept latents; the reference reports the
      number of all latents.
    - Factors with a single value are skipped with a warning. With no kept latent the
      score is 0, as in the reference, and a warning says why.

    References
    ----------
    .. [1] Kim and Mnih, "Disentangling by Factorising", ICML 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae.metrics import factor_vae_score
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 10, size=(2000, 3))
    >>> Z = np.column_stack([factors, np.zeros(2000)])  # a fourth, collapsed latent
    >>> details = factor_vae_score(Z, factors, n_train=1000, n_eval=500,
    ...                            random_state=0, return_details=True)
    >>> details["score"], int(details["n_active_latents"])
    (1.0, 3)
    """
    metric = "factor_vae_score"
    Z, factors = check_representation_and_factors(Z, factors, metric=metric)
    check_memory(
        metric=metric,
        n_train=n_train,
        n_eval=n_eval,
        batch_size=batch_size,
        n_latents=Z.shape[1],
        bytes_per_draw=16,  # a held factor and an anchor row
        drawn="votes",
    )
    codes, n_classes, used, _ = encode_factors(
        factors, continuous_factors=continuous_factors, n_bins=n_bins, metric=metric
    )
    if used.size < 2:
        raise ValueError(
            f"{metric}: needs at least two factors that take several values, got "
            f"{used.size}; with one, every representation scores 1."
        )
    rng = as_random_state(random_state)
    n_latents = Z.shape[1]

    variance_rows = draw_rows(Z.shape[0], n_variance_estimate, rng)
    global_variance = np.var(Z[variance_rows], axis=0, ddof=1)
    global_std = np.sqrt(global_variance)
    active = global_std >= prune_threshold
    details = {
        "active_latents": active,
        "n_active_latents": int(active.sum()),
        "global_std": global_std,
        "factor_indices": used,
    }
    if not active.any():
        warnings.warn(
            f"{metric}: every latent has a standard deviation below prune_threshold="
            f"{prune_threshold}; the score is 0.",
            UserWarning,
            stacklevel=2,
        )
        zeros = np.zeros((n_latents, used.size), dtype=np.int64)
        details.update(
            score=0.0,
            eval_accuracy=0.0,
            train_accuracy=0.0,
            train_votes=zeros,
            eval_votes=zeros.copy(),
            latent_to_factor=np.full(n_latents, -1),
        )
        return details if return_details else 0.0

    groups = FactorGroups(codes, n_classes)
    active_index = np.flatnonzero(active)
    arguments = (Z, active_index, global_std[active_index], groups, batch_size)
    train_votes = _vote_matrix(*arguments, n_train, rng)
    eval_votes = _vote_matrix(*arguments, n_eval, rng)

    latent_factor = np.argmax(train_votes, axis=1)
    latents = np.arange(n_latents)
    train_accuracy = float(train_votes[latents, latent_factor].sum() / n_train)
    eval_accuracy = float(eval_votes[latents, latent_factor].sum() / n_eval)
    if not return_details:
        return eval_accuracy
    details.update(
        score=eval_accuracy,
        eval_accuracy=eval_accuracy,
        train_accuracy=train_accuracy,
        train_votes=train_votes,
        eval_votes=eval_votes,
        latent_to_factor=np.where(active, used[latent_factor], -1),
    )
    return details


def _vote_matrix(Z, active_index, active_std, groups, batch_size, n_votes, rng):
    """Count votes (least-varying latent, held factor) over ``n_votes`` batches."""
    n_factors = groups.n_factors
    n_latents = Z.shape[1]
    counts = np.zeros(n_latents * n_factors, dtype=np.int64)
    held = rng.randint(n_factors, size=n_votes)
    anchors = rng.randint(groups.n_samples, size=n_votes)
    # In chunks, so that the (chunk, batch_size, n_latents) batches stay small; the
    # random numbers are drawn in the same order whatever the chunk.
    chunk = draws_per_chunk(batch_size, n_latents)
    for start in range(0, n_votes, chunk):
        stop = min(start + chunk, n_votes)
        rows = groups.same_value_rows(held[start:stop], anchors[start:stop], batch_size, rng)
        # Only the batch rows are gathered and scaled, never the whole pool.
        batch = np.take(Z, rows, axis=0)
        if active_index.size < n_latents:
            batch = batch[..., active_index]
        batch /= active_std
        local_variance = np.var(batch, axis=1, ddof=1)
        least = active_index[np.argmin(local_variance, axis=1)]
        counts += np.bincount(least * n_factors + held[start:stop], minlength=counts.size)
    return counts.reshape(n_latents, n_factors)
