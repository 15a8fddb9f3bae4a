"""Disentanglement, completeness and informativeness (DCI) from per-factor predictors.

Eastwood and Williams, "A Framework for the Quantitative Evaluation of Disentangled
Representations", ICLR 2018 (https://openreview.net/forum?id=By-7dz-AZ). Protocol of
Locatello et al., "Challenging Common Assumptions in the Unsupervised Learning of
Disentangled Representations", ICML 2019.
"""

from concurrent.futures import ThreadPoolExecutor
from numbers import Real

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)
from sklearn.linear_model import Lasso
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._solvers import BoostedTrees
from ._utils import (
    INT_AT_LEAST_TWO,
    as_random_state,
    check_representation_and_factors,
    encode_factors,
    split_rows,
    validate_metric_params,
)

__all__ = ["dci_score", "dci_from_importance_matrix"]


@validate_metric_params(
    {
        "n_train": [INT_AT_LEAST_TWO],
        "n_test": [INT_AT_LEAST_TWO],
        "importance": [StrOptions({"fast_gbt", "gbt", "hist_gbt", "lasso"})],
        "alpha": [Interval(Real, 0, None, closed="neither")],
    }
)
def dci_score(
    Z,
    factors,
    *,
    n_train=10_000,
    n_test=5_000,
    importance="fast_gbt",
    continuous_factors="auto",
    alpha=0.02,
    n_bins=20,
    n_jobs=None,
    random_state=None,
    return_details=False,
):
    """DCI disentanglement of a representation, with completeness and informativeness.

    One predictor per factor is trained on ``n_train`` rows to predict the factor from
    all latents; its feature importances form column ``k`` of the importance matrix
    ``R`` (latents x factors, each column normalised to sum 1). Disentanglement is the
    mean over latents of ``1 - H(R[d] / sum R[d])`` (entropy in base ``n_factors``),
    weighted by each latent's share of the total importance; completeness is the mean
    over factors of ``1 - H(R[:, k])`` (base ``n_latents``), weighted likewise;
    informativeness is the predictors' mean score on ``n_test`` other rows.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_latents)
        Representation of a labelled pool.
    factors : array-like of shape (n_samples, n_factors) or (n_samples,)
        Ground-truth factor values of the same rows.
    n_train, n_test : int, default=10_000 and 5_000
        Sizes of the disjoint random train and test sets, at least 2 each. A smaller
        pool is split in the same proportion; a ``ValueError`` names the request when
        that would leave either set fewer than 2 rows.
    importance : {"fast_gbt", "gbt", "hist_gbt", "lasso"}, default="fast_gbt"
        The per-factor predictors and their importances. ``"fast_gbt"``: the
        reference's predictors, scikit-learn's ``GradientBoostingClassifier()``
        with its default settings (``GradientBoostingRegressor()`` for continuous
        factors) and its impurity-based importances, grown by this package's own
        implementation (the same loss, start, split rule, leaf values, importances
        and predictions), which grows the trees of a stage together: in loops
        compiled by numba when it is installed (``pip install
        "sklearn-dvae[fast]"``), with numpy arrays otherwise: on the dSprites
        protocol 20x (numba) or 3x (numpy) faster than ``"gbt"``
        (benchmarks/README.md). It equals ``"gbt"`` up to how exact ties between
        latents are broken (at random in both) and near-ties that round apart.
        ``"gbt"``: scikit-learn's estimators themselves, as in the reference, kept
        as the reference implementation.
        ``"hist_gbt"``: the ``HistGradientBoostingClassifier`` set up like them
        (100 iterations, learning rate 0.1, depth 3, no early stopping) with
        importances summed from its split gains; close to ``"gbt"`` but not equal
        (see Notes), and no faster than ``"fast_gbt"`` compiled. ``"lasso"``: the
        paper's linear variant, a ``Lasso(alpha)`` regression of each standardised
        factor on the standardised latents, importances ``|coef|``.
    continuous_factors : "auto", bool or array-like of bool, default="auto"
        Factors predicted by a regressor instead of a classifier (all factors are with
        ``"lasso"``). ``"auto"`` picks floating-point columns with non-integer values
        and more than ``n_bins`` distinct values.
    alpha : float, default=0.02
        Penalty of the Lasso (``importance="lasso"`` only).
    n_bins : int, default=20
        Used only by the ``"auto"`` rule above.
    n_jobs : int or None, default=None
        Number of workers (``-1``: all cores). joblib's processes fit the
        per-factor predictors in parallel, the factors with the most classes first;
        with ``"fast_gbt"``, threads grow the trees of every factor's stages, the
        factors' stages interleaved. The result does not depend on it.
    random_state : int, RandomState instance or None, default=None
        Seed of the split and of the predictors.
    return_details : bool, default=False
        Return a dict of details instead of the score.

    Returns
    -------
    score : float
        Disentanglement, in ``[0, 1]``.
    details : dict
        Only with ``return_details=True``: ``"score"`` and ``"disentanglement"``,
        ``"completeness"``, ``"informativeness_train"`` and ``"informativeness_test"``
        (mean accuracy of the classifiers, R^2 for regressors), ``"importance_matrix"``
        (n_latents, n_scored_factors), ``"disentanglement_per_latent"``,
        ``"completeness_per_factor"``, ``"informativeness_per_factor"`` (test) and
        ``"factor_indices"``.

    Notes
    -----
    Differences from disentanglement_lib's ``compute_dci``:

    - Train and test rows are a random split of the pool instead of fresh draws.
    - The entropies use ``0 log 0 = 0`` exactly instead of adding ``1e-11`` to every
      entry (values differ by about ``1e-10``).
    - The reference's ``informativeness_*`` values are accuracies, though its
      variables say errors; here too they are scores (greater is better).
    - The boosted trees are grown by this package (``importance="fast_gbt"``);
      ``importance="gbt"`` fits scikit-learn's own, as the reference does.
    - Predictors are seeded, and can run in parallel across factors.
    - Factors with a single value are skipped with a warning; continuous factors get
      regressors.
    - ``"hist_gbt"`` bins each latent into 255 quantiles and weighs splits by its
      second-order gain instead of the impurity decrease, so its importance matrix
      differs slightly from ``"gbt"``'s; benchmarks/README.md compares the two.

    With one scored factor, every latent explains only that factor: disentanglement
    is 1 by convention. Likewise completeness is 1 with a single latent.

    References
    ----------
    .. [1] Eastwood and Williams, "A Framework for the Quantitative Evaluation of
       Disentangled Representations", ICLR 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae.metrics import dci_score
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 5, size=(600, 2))
    >>> Z = factors + 0.05 * rng.standard_normal(factors.shape)
    >>> details = dci_score(Z, factors, random_state=0, return_details=True)
    >>> bool(details["disentanglement"] > 0.9), bool(details["completeness"] > 0.9)
    (True, True)
    """
    metric = "dci_score"
    Z, factors = check_representation_and_factors(Z, factors, metric=metric, min_samples=4)
    codes, n_classes, used, continuous = encode_factors(
        factors, continuous_factors=continuous_factors, n_bins=n_bins, metric=metric
    )
    rng = as_random_state(random_state)
    train, test = split_rows(Z.shape[0], n_train, n_test, rng, metric=metric)
    seeds = rng.randint(np.iinfo(np.int32).max, size=used.size)

    arguments = []
    for position, column in enumerate(used):
        regress = importance == "lasso" or continuous[position]
        target = factors[:, column].astype(np.float64) if regress else codes[:, position]
        arguments.append(
            (
                Z[train],
                target[train],
                Z[test],
                target[test],
                importance,
                regress,
                alpha,
                int(seeds[position]),
            )
        )
    n_workers = effective_n_jobs(n_jobs)
    if importance == "fast_gbt" and n_workers > 1:
        results = _fit_interleaved(arguments, n_workers)
    else:
        # The largest problems first (classes, or a regression counted as one tree
        # per stage), so that parallel workers finish together; results keep factor
        # order.
        trees = np.where(continuous | (importance == "lasso"), 1, n_classes)
        first = np.argsort(-trees, kind="stable")
        ordered = Parallel(n_jobs=n_jobs)(delayed(_fit_one_factor)(*arguments[i]) for i in first)
        results = [None] * len(arguments)
        for i, result in zip(first, ordered, strict=True):
            results[i] = result
    importance_matrix = np.column_stack([r[0] for r in results])
    train_scores = np.array([r[1] for r in results])
    test_scores = np.array([r[2] for r in results])

    summary = dci_from_importance_matrix(importance_matrix)
    score = summary["disentanglement"]
    if not return_details:
        return score
    summary.update(
        score=score,
        informativeness_train=float(np.mean(train_scores)),
        informativeness_test=float(np.mean(test_scores)),
        informativeness_per_factor=test_scores,
        importance_matrix=importance_matrix,
        factor_indices=used,
    )
    return summary


@validate_params({"importance_matrix": ["array-like"]}, prefer_skip_nested_validation=True)
def dci_from_importance_matrix(importance_matrix):
    """Disentanglement and completeness of an importance matrix (latents x factors).

    Parameters
    ----------
    importance_matrix : array-like of shape (n_latents, n_factors)
        Non-negative importance of each latent for predicting each factor.

    Returns
    -------
    scores : dict
        ``"disentanglement"`` and ``"completeness"`` (floats in ``[0, 1]``),
        ``"disentanglement_per_latent"`` and ``"completeness_per_factor"``.

    Notes
    -----
    ``D_d = 1 - H_K(R[d] / sum R[d])`` with ``H_K`` the entropy in base ``K =
    n_factors``; disentanglement is ``sum_d rho_d D_d`` with ``rho_d = sum R[d] /
    sum R``. Completeness is the same on the transpose (base ``n_latents``). A latent
    with zero importance has ``D_d = 0`` and weight 0; an all-zero matrix scores 0.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae.metrics import dci_from_importance_matrix
    >>> scores = dci_from_importance_matrix(np.vstack([np.eye(3), np.eye(3)]))
    >>> round(scores["disentanglement"], 4), round(scores["completeness"], 4)
    (1.0, 0.6131)
    """
    importance_matrix = np.asarray(importance_matrix, dtype=np.float64)
    if importance_matrix.ndim != 2 or importance_matrix.size == 0:
        raise ValueError(
            f"importance_matrix must be a non-empty 2-D array, got shape "
            f"{importance_matrix.shape}."
        )
    if not np.isfinite(importance_matrix).all() or (importance_matrix < 0).any():
        raise ValueError("importance_matrix must hold finite non-negative values.")
    per_latent = 1.0 - _normalised_entropy(importance_matrix)
    per_factor = 1.0 - _normalised_entropy(importance_matrix.T)
    total = importance_matrix.sum()
    if total > 0:
        latent_weight = importance_matrix.sum(axis=1) / total
        factor_weight = importance_matrix.sum(axis=0) / total
    else:
        latent_weight = np.full(importance_matrix.shape[0], 1.0 / importance_matrix.shape[0])
        factor_weight = np.full(importance_matrix.shape[1], 1.0 / importance_matrix.shape[1])
    return {
        "disentanglement": float(np.sum(per_latent * latent_weight)),
        "completeness": float(np.sum(per_factor * factor_weight)),
        "disentanglement_per_latent": per_latent,
        "completeness_per_factor": per_factor,
    }


def _normalised_entropy(matrix):
    """Entropy of each normalised row, in base ``n_columns`` (a zero row counts as uniform)."""
    n_columns = matrix.shape[1]
    if n_columns == 1:
        return np.zeros(matrix.shape[0])
    totals = matrix.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(totals > 0, matrix / totals, 1.0 / n_columns)
        terms = np.where(p > 0, p * np.log(p), 0.0)
    entropy = np.clip(-terms.sum(axis=1) / np.log(n_columns), 0.0, 1.0)
    # Exactly 1 for a zero row, whose uniform entropy would round to 1 - 2e-16 or so.
    return np.where(totals[:, 0] > 0, entropy, 1.0)


def _fit_interleaved(arguments, n_workers):
    """`_fit_one_factor` for every factor at once, with ``importance="fast_gbt"``.

    One thread per factor runs its boosting loop; the trees of every stage of every
    factor grow on one pool of ``n_workers`` threads (numba's loops release the GIL,
    and threads share the data without copies). The factors' stages interleave on
    the pool, so the workers stay busy to the end although the factors differ in
    cost (dSprites: 3 to 40 trees per stage); fitting whole factors in parallel left
    one of 2 workers idle for the last part (the two 32-class factors on one, 40 + 6
    + 3 classes on the other). The fits do not depend on the scheduling (see
    ``BoostedTrees.fit_score``).
    """
    with (
        ThreadPoolExecutor(n_workers, thread_name_prefix="dci-trees") as trees,
        ThreadPoolExecutor(len(arguments), thread_name_prefix="dci-factor") as fits,
    ):
        futures = [fits.submit(_fit_one_factor, *args, executor=trees) for args in arguments]
        return [future.result() for future in futures]


def _fit_one_factor(
    Z_train, y_train, Z_test, y_test, importance, regress, alpha, seed, executor=None
):
    """Importances of the latents for one factor, and the predictor's train/test scores.

    ``executor`` grows the trees of ``importance="fast_gbt"`` (see `_fit_interleaved`).
    """
    n_latents = Z_train.shape[1]
    if not regress and np.unique(y_train).size == 1:
        # The training rows show one class: nothing to learn, no latent is important.
        only = y_train[0]
        return np.zeros(n_latents), 1.0, float(np.mean(y_test == only))
    if importance == "lasso":
        return _lasso_importance(Z_train, y_train, Z_test, y_test, alpha, seed)
    if importance == "fast_gbt":
        model = BoostedTrees(
            "regression" if regress else "classification",
            random_state=np.random.RandomState(seed),
        )
        train_score, test_score = model.fit_score(
            Z_train, y_train, Z_test, y_test, executor=executor
        )
        weights = np.abs(model.feature_importances_)
        total = weights.sum()
        return (weights / total if total > 0 else weights), train_score, test_score
    if importance == "gbt":
        model_class = GradientBoostingRegressor if regress else GradientBoostingClassifier
        model = model_class(random_state=seed).fit(Z_train, y_train)
        weights = np.abs(model.feature_importances_)
    else:
        model_class = HistGradientBoostingRegressor if regress else HistGradientBoostingClassifier
        model = model_class(
            max_iter=100,
            learning_rate=0.1,
            max_depth=3,
            max_leaf_nodes=8,
            min_samples_leaf=1,
            l2_regularization=0.0,
            early_stopping=False,
            random_state=seed,
        ).fit(Z_train, y_train)
        weights = _split_gain_importance(model, n_latents)
    total = weights.sum()
    weights = weights / total if total > 0 else weights
    return weights, float(model.score(Z_train, y_train)), float(model.score(Z_test, y_test))


def _split_gain_importance(model, n_features):
    """Total split gain per feature over all trees of a fitted histogram GBT."""
    gains = np.zeros(n_features)
    # _predictors (one list of trees per iteration) is private but has kept this
    # layout since scikit-learn 0.21; a clear error beats a wrong matrix if it changes.
    predictors = getattr(model, "_predictors", None)
    if predictors is None:
        raise RuntimeError(
            "importance='hist_gbt' needs HistGradientBoosting*._predictors, which this "
            "scikit-learn version lacks; use importance='gbt'."
        )
    for trees in predictors:
        for tree in trees:
            nodes = tree.nodes[~tree.nodes["is_leaf"].astype(bool)]
            np.add.at(gains, nodes["feature_idx"], np.maximum(nodes["gain"], 0.0))
    return gains


def _lasso_importance(Z_train, y_train, Z_test, y_test, alpha, seed):
    """|coef| of a Lasso on standardised latents and factor, with train/test R^2."""
    mean, std = Z_train.mean(axis=0), Z_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    y_mean, y_std = y_train.mean(), y_train.std()
    y_std = y_std if y_std > 0 else 1.0
    model = Lasso(alpha=alpha, random_state=seed)
    model.fit((Z_train - mean) / std, (y_train - y_mean) / y_std)
    weights = np.abs(model.coef_)
    total = weights.sum()
    weights = weights / total if total > 0 else weights
    return (
        weights,
        float(model.score((Z_train - mean) / std, (y_train - y_mean) / y_std)),
        float(model.score((Z_test - mean) / std, (y_test - y_mean) / y_std)),
    )
