"""Unsupervised Disentanglement Ranking (UDR): how well models trained with different seeds agree.

Duan, Matthey, Saraiva, Watters, Burgess, Lerchner and Higgins, "Unsupervised Model
Selection for Variational Disentangled Representation Learning", ICLR 2020
(arXiv:1905.12614). The computation follows disentanglement_lib's
``compute_udr_sklearn``.
"""

import warnings
from numbers import Real

import numpy as np
from scipy.stats import rankdata
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions

from ._utils import validate_metric_params

__all__ = ["udr_score"]

# The Lasso penalty of the paper and of disentanglement_lib.
LASSO_ALPHA = 0.1
# Coordinate descent runs in stages, until no coefficient moves by more than each of
# these in a sweep (coefficients of standardised codes are of order 1); after each, the
# problems whose exact solution on the support found is confirmed are done.
_LASSO_STAGES = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-8, 1e-10)
_LASSO_MAX_SWEEPS = 10_000


@validate_metric_params(
    {
        "representations": ["array-like"],
        "kl": ["array-like", None],
        "correlation": [StrOptions({"lasso", "spearman"})],
        "kl_threshold": [Interval(Real, 0, None, closed="left")],
    }
)
def udr_score(
    representations,
    kl=None,
    *,
    correlation="lasso",
    kl_threshold=0.01,
    random_state=None,
    return_details=False,
):
    r"""UDR of each of several models: how closely its latents match those of the others.

    Models trained with the same hyperparameters and different seeds tend to agree on a
    disentangled solution, up to a permutation and the sign of each latent, while
    entangled solutions differ from seed to seed. For every ordered pair of models
    ``(i, j)`` a matrix ``R`` relates the latents of model ``i`` (rows) to those of
    model ``j`` (columns); the pair scores high when each row and each column has
    one dominant entry. A model's UDR is the median of the scores of its pairs with the
    other models.

    Parameters
    ----------
    representations : sequence of M array-like of shape (n_samples, n_latents)
        Codes of M models (at least 2) on the same ``n_samples`` inputs, in the same
        order, e.g. ``[model.transform(X) for model in models]``; a 3-D array of shape
        (M, n_samples, n_latents) also works. Every model must have the same number of
        latents.
    kl : sequence of M array-like of shape (n_latents,) or None, default=None
        Mean KL divergence from the prior of each latent of each model, over the same
        inputs. Latents whose KL is not above ``kl_threshold`` are inactive (collapsed
        to the prior): they are left out of the pair scores. None: every latent is
        active.
    correlation : {"lasso", "spearman"}, default="lasso"
        How ``R`` is computed. ``"lasso"``: the absolute coefficients of a Lasso
        (``alpha=0.1``) regressing each latent of model ``j`` on the active latents of
        model ``i``, codes standardised first. ``"spearman"``: the absolute Spearman rank
        correlations between the latents of the two models.
    kl_threshold : float, default=0.01
        A latent is active when its KL is above this (nats).
    random_state : int, RandomState instance or None, default=None
        Unused: every step is deterministic. Accepted so that UDR takes the arguments
        of the other metrics (disentanglement_lib passes its seed to scikit-learn's
        Lasso, whose cyclic coordinate descent does not use it).
    return_details : bool, default=False
        Return a dict of details instead of the scores.

    Returns
    -------
    scores : ndarray of shape (M,)
        UDR of each model, in ``[0, 1]``; higher is better.
    details : dict
        Only with ``return_details=True``: ``"scores"`` (as above), ``"pairwise"``
        (M, M) with ``pairwise[i, j]`` the score of the pair whose rows are model
        ``i``'s latents (NaN on the diagonal), ``"correlations"`` (M, M, n_latents,
        n_latents), the matrices ``R`` of every pair (rows and columns of inactive
        latents are 0, diagonal blocks NaN), and ``"active_latents"`` (M, n_latents),
        the mask of active latents.

    Warns
    -----
    UserWarning
        When a model has no active latent. Such a model has collapsed to the prior
        and carries no information: every pair that involves it scores 0, so its UDR
        is 0 and it counts as a 0 in the medians of the other models.

    See Also
    --------
    gaussian_total_correlation : a factor-free score of one model's codes.
    sklearn_dvae.model_selection : hyperparameter search.

    Notes
    -----
    Let ``A_i`` be the active latents of model ``i`` and ``R`` the matrix of a pair
    ``(i, j)`` restricted to ``A_i`` x ``A_j``, with non-negative entries. Each row
    ``a`` and each column ``b`` is scored by the relative strength of its largest
    entry, 0 for a row or column of zeros:

    .. math::

        s_a = \frac{\max_b R_{ab}^2}{\sum_b R_{ab}}, \qquad
        s_b = \frac{\max_a R_{ab}^2}{\sum_a R_{ab}}, \qquad
        \mathrm{UDR}_{ij} = \frac{1}{2} \left( \frac{1}{|A_i|} \sum_{a \in A_i} s_a
        + \frac{1}{|A_j|} \sum_{b \in A_j} s_b \right),

    and :math:`\mathrm{UDR}_j = \mathrm{median}_{i \neq j} \mathrm{UDR}_{ij}`, the
    median over the pairs in which model ``j``'s latents are the columns (for the
    Lasso, the regression targets). The paper writes the pair score as
    :math:`(\sum_a s_a + \sum_b s_b) / (|A_i| + |A_j|)`; disentanglement_lib, and
    this function, average the two means instead. The two agree when both models have
    the same number of active latents.

    A row's score is its largest entry when the others are 0, not 1: with
    ``correlation="lasso"`` the penalty shrinks every coefficient by ``alpha``, so two
    identical models whose latents are uncorrelated score ``1 - alpha = 0.9``.
    Spearman correlations of independent latents are not exactly 0 on a finite
    sample either: their sum over a row of ``d`` latents, about
    ``0.8 (d - 1) / sqrt(n_samples)``, lowers the score of identical models below 1.
    Compare UDR values computed with the same correlation and number of inputs.

    Differences from disentanglement_lib's ``compute_udr_sklearn``:

    - The codes are given; the reference samples inputs and encodes them batch by
      batch.
    - The Lasso is solved for every pair and target at once, by coordinate descent on
      the Gram matrices of the standardised codes, then exactly on the support it
      finds (kept once the optimality conditions confirm it); the reference fits one
      scikit-learn ``Lasso`` per pair, which stops at its tolerance (1e-4), so its
      coefficients differ from the exact ones by up to about 1e-4. Spearman
      correlations come from one matrix product of the ranks for all pairs, instead
      of one ``scipy.stats.spearmanr`` call per pair of latents (same values to
      rounding).
    - ``kl_threshold`` decides both which latents enter the regressions and which are
      scored; the reference zeroes the latents with KL at most 0.01 before the
      regressions whatever its ``kl_filter_threshold``. There is no
      ``filter_low_kl=False``: pass ``kl=None`` to keep every latent.
    - A model with no active latent scores 0, with a warning, and so do its pairs; the
      reference stops with an error from an empty matrix.
    - An active latent that is constant over the inputs has Spearman correlation 0 with
      every latent; in the reference it gets NaN, which sets to 0 its row and every
      column of the pair's matrix.
    - Models of different widths, mismatched rows and NaN are refused with a message
      naming the model (the reference asserts equal shapes).
    - The diagonal of ``"pairwise"`` is NaN (0 in the reference).

    References
    ----------
    .. [1] Duan et al., "Unsupervised Model Selection for Variational Disentangled
       Representation Learning", ICLR 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae.metrics import udr_score
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.standard_normal((2000, 4))
    >>> agreeing = [factors, -factors[:, [2, 0, 3, 1]], 2 * factors[:, ::-1]]
    >>> udr_score(agreeing).round(2)  # the Lasso's best: 1 - alpha
    array([0.9, 0.9, 0.9])
    >>> udr_score(agreeing, correlation="spearman").round(2)
    array([0.93, 0.93, 0.93])
    >>> rotated = [factors @ np.linalg.qr(rng.standard_normal((4, 4)))[0] for _ in range(3)]
    >>> udr_score(rotated).round(2)
    array([0.37, 0.33, 0.33])
    """
    metric = "udr_score"
    codes = _check_representations(representations, metric)
    active = _active_latents(kl, codes.shape, kl_threshold, metric)
    n_models = codes.shape[0]
    empty = np.flatnonzero(~active.any(axis=1))
    if empty.size:
        warnings.warn(
            f"{metric}: model(s) {empty.tolist()} have no latent with KL above "
            f"kl_threshold={kl_threshold}; every pair with them scores 0.",
            UserWarning,
            stacklevel=2,
        )
    if correlation == "lasso":
        correlations = _lasso_coefficients(codes, active)
    else:
        correlations = _spearman_correlations(codes)
    # Inactive latents leave the matrices: their rows and columns become 0.
    correlations *= active[:, np.newaxis, :, np.newaxis] & active[np.newaxis, :, np.newaxis, :]
    pairwise = _pair_scores(correlations, active)
    models = np.arange(n_models)
    pairwise[models, models] = np.nan
    correlations[models, models] = np.nan
    # Column j without its diagonal entry: the pairs in which model j's latents are
    # the columns.
    off_diagonal = ~np.eye(n_models, dtype=bool)
    scores = np.median(pairwise.T[off_diagonal].reshape(n_models, n_models - 1), axis=1)
    if not return_details:
        return scores
    return {
        "scores": scores,
        "pairwise": pairwise,
        "correlations": correlations,
        "active_latents": active,
    }


def _check_representations(representations, metric):
    """Return the codes as one finite float64 array of shape (M, n_samples, n_latents)."""
    if getattr(representations, "ndim", None) == 2:
        raise ValueError(
            f"{metric}: representations must hold the codes of several models, one 2-D "
            f"array each; got a single 2-D array of shape {representations.shape}."
        )
    if len(representations) < 2:
        raise ValueError(
            f"{metric}: needs the codes of at least 2 models, got {len(representations)}."
        )
    checked = []
    for index, codes in enumerate(representations):
        try:
            codes = np.asarray(codes, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"{metric}: representations[{index}] must be a numeric array, got {error}"
            ) from None
        if codes.ndim != 2:
            raise ValueError(
                f"{metric}: representations[{index}] must be 2-D (n_samples, n_latents), "
                f"got an array of shape {codes.shape} (representations holds one array "
                f"of codes per model)."
            )
        if codes.shape[1] == 0:
            raise ValueError(f"{metric}: representations[{index}] has no latent dimension.")
        if codes.shape[0] < 2:
            raise ValueError(
                f"{metric}: needs at least 2 samples, got {codes.shape[0]} in "
                f"representations[{index}]."
            )
        if not np.isfinite(codes).all():
            row = np.flatnonzero(~np.isfinite(codes).all(axis=1))[0]
            raise ValueError(
                f"{metric}: representations[{index}] contains NaN or infinity (first at "
                f"row {row})."
            )
        checked.append(codes)
    shape = checked[0].shape
    for index, codes in enumerate(checked[1:], start=1):
        if codes.shape[0] != shape[0]:
            raise ValueError(
                f"{metric}: every model must be encoded on the same inputs, got "
                f"{shape[0]} rows in representations[0] and {codes.shape[0]} in "
                f"representations[{index}]."
            )
        if codes.shape[1] != shape[1]:
            raise ValueError(
                f"{metric}: every model must have the same number of latents, got "
                f"{shape[1]} in representations[0] and {codes.shape[1]} in "
                f"representations[{index}]."
            )
    return np.stack(checked)


def _active_latents(kl, shape, kl_threshold, metric):
    """Boolean mask (M, n_latents) of the latents whose KL is above the threshold."""
    n_models, _, n_latents = shape
    if kl is None:
        return np.ones((n_models, n_latents), dtype=bool)
    if len(kl) != n_models:
        raise ValueError(
            f"{metric}: kl must hold one array per model ({n_models}), got {len(kl)}."
        )
    try:
        kl = np.array([np.asarray(values, dtype=np.float64) for values in kl])
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{metric}: kl must hold one array of shape ({n_latents},) per model: {error}"
        ) from None
    if kl.shape != (n_models, n_latents):
        raise ValueError(
            f"{metric}: kl must hold one array of shape ({n_latents},) per model, got "
            f"shape {kl.shape[1:]}."
        )
    if not np.isfinite(kl).all():
        raise ValueError(f"{metric}: kl contains NaN or infinity.")
    return kl > kl_threshold


def _standardise(codes):
    """Each latent of each model to mean 0 and variance 1; a constant latent to 0."""
    centred = codes - codes.mean(axis=1, keepdims=True)
    scale = centred.std(axis=1, keepdims=True)
    return centred / np.where(scale > 0, scale, 1.0)


def _cross_products(columns):
    """``[i, j, a, b] = <columns[i, :, a], columns[j, :, b]> / n`` for all models at once."""
    n_models, n_samples, n_latents = columns.shape
    stacked = columns.transpose(1, 0, 2).reshape(n_samples, n_models * n_latents)
    products = stacked.T @ stacked / n_samples
    return products.reshape(n_models, n_latents, n_models, n_latents).transpose(0, 2, 1, 3)


def _lasso_coefficients(codes, active):
    """Absolute Lasso coefficients of every pair, shape (M, M, n_latents, n_latents).

    ``[i, j, a, b]`` is the coefficient of latent ``a`` of model ``i`` in the Lasso that
    predicts latent ``b`` of model ``j`` from the active latents of model ``i``.
    """
    # Inactive latents are zeroed, so they neither predict nor need predicting.
    standardised = _standardise(codes) * active[:, np.newaxis, :]
    products = _cross_products(standardised)
    models = np.arange(codes.shape[0])
    gram = products[models, models]
    return np.abs(_batched_lasso(gram, products, LASSO_ALPHA))


def _batched_lasso(gram, targets, alpha):
    """Minimise ``w'Gw / 2 - c'w + alpha |w|_1`` for every pair and target at once.

    This is scikit-learn's ``Lasso`` objective (``|y - Xw|^2 / (2 n) + alpha |w|_1``)
    written with ``G = X'X / n`` and ``c = X'y / n``, for centred X and y.

    Parameters
    ----------
    gram : ndarray of shape (M, d, d)
        ``G`` of each model's codes.
    targets : ndarray of shape (M, M, d, t)
        ``c`` of each pair and target: ``targets[i, j, :, b]`` for the regression of
        target ``b`` of model ``j`` on model ``i``.
    alpha : float
        L1 penalty.

    Returns
    -------
    coefficients : ndarray of shape (M, M, d, t)
    """
    n_models, _, n_features, n_targets = targets.shape
    # One row per problem, ordered (i, j, target), with the Gram matrix of its model.
    problems = np.moveaxis(targets, 2, 3).reshape(-1, n_features)
    model = np.repeat(np.arange(n_models), n_models * n_targets)
    solution = _lasso_problems(gram[model], problems, alpha)
    return np.moveaxis(solution.reshape(n_models, n_models, n_targets, n_features), 3, 2)


def _lasso_problems(gram, targets, alpha):
    """Lasso solutions of problems given by rows: ``gram`` (P, d, d), ``targets`` (P, d).

    Cyclic coordinate descent (scikit-learn's solver) finds which coefficients are
    non-zero, and their signs, long before their values settle. So after each stage
    of sweeps every problem gets the exact solution on the support it has reached,
    which is kept where the optimality conditions confirm it; the sweeps go on, to a
    tighter tolerance, for the others only.
    """
    solution = np.zeros_like(targets)
    pending = np.arange(len(targets))
    coefficients = np.zeros_like(targets)
    n_sweeps = 0
    for tol in _LASSO_STAGES:
        gram_pending, targets_pending = gram[pending], targets[pending]
        n_sweeps += _sweep_until(
            gram_pending, targets_pending, coefficients, alpha, tol, _LASSO_MAX_SWEEPS - n_sweeps
        )
        exact = _solve_on_support(gram_pending, targets_pending, coefficients, alpha)
        solved = _satisfies_optimality(gram_pending, targets_pending, exact, alpha)
        solution[pending[solved]] = exact[solved]
        pending, coefficients = pending[~solved], coefficients[~solved]
        if not pending.size:
            return solution
        if n_sweeps >= _LASSO_MAX_SWEEPS:
            warnings.warn(
                f"udr_score: the Lasso of {pending.size} regression(s) did not converge in "
                f"{n_sweeps} sweeps of coordinate descent.",
                ConvergenceWarning,
                stacklevel=4,
            )
            break
    # Left: problems whose exact solve failed (a singular Gram matrix on the support,
    # where the solution need not be unique); the descent has converged for them.
    solution[pending] = coefficients
    return solution


def _sweep_until(gram, targets, coefficients, alpha, tol, max_sweeps):
    """Cyclic coordinate descent on ``coefficients`` (in place) until no coefficient moves
    by ``tol`` or more in a sweep, or for ``max_sweeps`` sweeps; returns the sweeps run.
    """
    n_problems, n_features = targets.shape
    fitted = np.einsum("pab,pb->pa", gram, coefficients)  # G w, updated as coordinates move
    diagonal = gram.diagonal(axis1=1, axis2=2)
    # A zero feature (inactive or constant latent) keeps its coefficient at 0.
    inverse_diagonal = np.divide(1.0, diagonal, out=np.zeros_like(diagonal), where=diagonal > 0)
    for sweep in range(1, max_sweeps + 1):
        largest_step = 0.0
        for feature in range(n_features):
            current = coefficients[:, feature]
            rho = targets[:, feature] - fitted[:, feature] + diagonal[:, feature] * current
            new = np.sign(rho) * np.maximum(np.abs(rho) - alpha, 0.0)
            new *= inverse_diagonal[:, feature]
            step = new - current
            largest = np.abs(step).max(initial=0.0)
            if largest > 0:
                coefficients[:, feature] = new
                fitted += gram[:, :, feature] * step[:, np.newaxis]
                largest_step = max(largest_step, largest)
        if largest_step < tol:
            return sweep
    return max_sweeps


def _solve_on_support(gram, targets, coefficients, alpha):
    """The stationary point on the support and signs of ``coefficients``.

    On the support ``S`` with signs ``s``: ``G_SS w_S = c_S - alpha s_S``; 0 elsewhere.
    A singular system gives NaN (and fails the optimality check).
    """
    support = coefficients != 0
    right = np.where(support, targets - alpha * np.sign(coefficients), 0.0)
    systems = np.where(support[:, :, np.newaxis] & support[:, np.newaxis, :], gram, 0.0)
    diagonal = np.einsum("pii->pi", systems)  # a writable view of every diagonal
    diagonal += ~support  # 1 off the support, so that those coefficients solve to 0
    try:
        return np.linalg.solve(systems, right[:, :, np.newaxis])[:, :, 0]
    except np.linalg.LinAlgError:
        # Some system is singular: solve one by one, NaN for those.
        solution = np.full_like(right, np.nan)
        for index in range(len(right)):
            try:
                solution[index] = np.linalg.solve(systems[index], right[index])
            except np.linalg.LinAlgError:
                pass
        return solution


def _satisfies_optimality(gram, targets, coefficients, alpha):
    """Per problem: whether ``coefficients`` meet the Lasso's optimality conditions.

    With the gradient ``g = c - G w`` of the smooth part: ``g_k = alpha sign(w_k)``
    where ``w_k != 0`` and ``|g_k| <= alpha`` elsewhere, to rounding.
    """
    gradient = targets - np.einsum("pab,pb->pa", gram, coefficients)
    slack = 1e-9 * max(alpha, 1.0)
    on_support = np.abs(gradient - alpha * np.sign(coefficients)) <= slack
    off_support = np.abs(gradient) <= alpha + slack
    # NaN (a singular system) fails both comparisons.
    return np.all(np.where(coefficients != 0, on_support, off_support), axis=1)


def _spearman_correlations(codes):
    """Absolute Spearman correlations of every pair, shape (M, M, n_latents, n_latents)."""
    # Average ranks for ties, as scipy.stats.spearmanr; the Pearson correlation of the
    # ranks is the Spearman correlation. A constant latent's ranks standardise to 0.
    ranks = rankdata(codes, axis=1)
    return np.abs(_cross_products(_standardise(ranks)))


def _pair_scores(correlations, active):
    """Relative-strength score of every pair, shape (M, M); rows and columns of zeros score 0."""
    n_active = active.sum(axis=1)

    def mean_strength(axis, counts):
        largest = correlations.max(axis=axis)
        total = correlations.sum(axis=axis)
        strength = np.divide(largest**2, total, out=np.zeros_like(total), where=total > 0)
        return np.divide(
            strength.sum(axis=-1),
            counts,
            out=np.zeros(correlations.shape[:2]),
            where=counts > 0,
        )

    rows = mean_strength(3, n_active[:, np.newaxis])
    columns = mean_strength(2, n_active[np.newaxis, :])
    pair = (rows + columns) / 2
    # A pair with a model without active latents scores 0 (its half over that model's
    # latents would be an empty mean).
    pair[(n_active[:, np.newaxis] == 0) | (n_active[np.newaxis, :] == 0)] = 0.0
    return pair
