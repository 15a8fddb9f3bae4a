"""Modularity and explicitness of a representation.

Ridgeway and Mozer, "Learning Deep Disentangled Embeddings With the F-Statistic Loss",
NeurIPS 2018 (arXiv:1802.05312), Section 3. Protocol of Locatello et al., "Challenging
Common Assumptions in the Unsupervised Learning of Disentangled Representations",
ICML 2019.
"""

from contextlib import nullcontext

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.utils._param_validation import HasMethods
from threadpoolctl import threadpool_limits

from ._solvers import LBFGSLogisticRegression
from ._utils import (
    INT_AT_LEAST_TWO,
    as_random_state,
    check_representation_and_factors,
    encode_factors,
    histogram_discretize,
    mutual_information_matrix,
    split_rows,
    validate_metric_params,
)

__all__ = ["modularity_explicitness_score"]


# The user's classifier is a scikit-learn estimator: its own parameters get validated
# when it is fitted.
@validate_metric_params(
    {
        "n_train": [INT_AT_LEAST_TWO],
        "n_test": [INT_AT_LEAST_TWO],
        "classifier": [HasMethods(["fit", "predict_proba"]), None],
    },
    prefer_skip_nested_validation=False,
)
def modularity_explicitness_score(
    Z,
    factors,
    *,
    n_train=10_000,
    n_test=5_000,
    n_bins=20,
    classifier=None,
    continuous_factors="auto",
    n_jobs=None,
    random_state=None,
    return_details=False,
):
    """Modularity (each latent informs about one factor) and explicitness of a representation.

    Modularity: with ``m[d, k]`` the mutual information between the histogram-
    discretised latent ``d`` and factor ``k`` (on the training rows), each latent
    scores ``1 - (sum_k m[d, k]^2 - max_k m[d, k]^2) / (max_k m[d, k]^2 (K - 1))``
    (0 for a latent with no information); modularity is their mean. Explicitness:
    for each factor a logistic regression on the standardised latents is scored by
    the macro ROC-AUC of its one-vs-rest probabilities on the test rows; explicitness
    is the mean over factors.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_latents)
        Representation of a labelled pool.
    factors : array-like of shape (n_samples, n_factors) or (n_samples,)
        Ground-truth factor values of the same rows; at least two that vary.
    n_train, n_test : int, default=10_000 and 5_000
        Sizes of the disjoint random train and test sets, at least 2 each. A smaller
        pool is split in the same proportion; a ``ValueError`` names the request when
        that would leave either set fewer than 2 rows.
    n_bins : int, default=20
        Number of bins per latent (and per continuous factor).
    classifier : sklearn classifier with predict_proba, or None, default=None
        Explicitness classifier to clone. ``None`` means the reference's
        ``LogisticRegression()`` (multinomial, or binomial for a factor with two
        values; L2 penalty with ``C=1``, L-BFGS from zero stopped at ``tol=1e-4`` or
        100 iterations), fitted by this package's own vectorised implementation of
        that same optimisation, which follows scikit-learn's iterates (coefficients
        within 1e-6 in the tests) several times faster. A classifier's
        ``random_state`` parameter left at None is set from ``random_state``.
    continuous_factors : "auto", bool or array-like of bool, default="auto"
        Factors to discretise into ``n_bins`` bins; ``"auto"`` picks floating-point
        columns with non-integer values and more than ``n_bins`` distinct values.
    n_jobs : int or None, default=None
        Number of joblib workers fitting the per-factor classifiers in parallel
        (``-1``: all cores): threads for the default classifier (each limited to one
        BLAS thread), processes for a given one. The result does not depend on it.
    random_state : int, RandomState instance or None, default=None
        Seed of the split (and of the classifier, see above).
    return_details : bool, default=False
        Return a dict of details instead of the score.

    Returns
    -------
    score : float
        Modularity, in ``[0, 1]``. Explicitness (the classifiers, nearly all of the
        cost) is computed only when ``return_details=True``.
    details : dict
        Only with ``return_details=True``: ``"score"`` and ``"modularity"``,
        ``"explicitness_train"``, ``"explicitness_test"``,
        ``"modularity_per_latent"``, ``"explicitness_per_factor"`` (test),
        ``"mutual_information"`` (nats, latents x scored factors) and
        ``"factor_indices"``.

    Notes
    -----
    Differences from disentanglement_lib's ``compute_modularity_explicitness``:

    - Train and test rows are a random split of the pool instead of fresh draws.
    - The default classifier runs with one BLAS thread per fit: on problems this
      small (10 latents, at most a few dozen classes) multi-threaded matrix products
      cost more in thread wake-ups than they save (measured 3x slower on 2 cores).
    - The ROC-AUC uses the classifier's own classes to binarise the test labels. The
      reference fits a ``MultiLabelBinarizer`` again on the test labels, so a class
      absent from the test rows shifts its columns against ``predict_proba``'s. A
      class absent from either set (no positive or no negative test row) is left
      out of the macro average instead.
    - The mutual information comes from joint counts computed here (see
      :func:`mig_score`); factors with a single value are skipped with a warning.

    References
    ----------
    .. [1] Ridgeway and Mozer, "Learning Deep Disentangled Embeddings With the
       F-Statistic Loss", NeurIPS 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae.metrics import modularity_explicitness_score
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 4, size=(3000, 2))
    >>> Z = factors + 0.1 * rng.standard_normal(factors.shape)
    >>> details = modularity_explicitness_score(Z, factors, random_state=0,
    ...                                         return_details=True)
    >>> bool(details["modularity"] > 0.9), bool(details["explicitness_test"] > 0.9)
    (True, True)
    """
    metric = "modularity_explicitness_score"
    Z, factors = check_representation_and_factors(Z, factors, metric=metric, min_samples=4)
    codes, n_classes, used, _ = encode_factors(
        factors, continuous_factors=continuous_factors, n_bins=n_bins, metric=metric
    )
    if used.size < 2:
        raise ValueError(
            f"{metric}: modularity needs at least two factors that take several values, "
            f"got {used.size}."
        )
    rng = as_random_state(random_state)
    train, test = split_rows(Z.shape[0], n_train, n_test, rng, metric=metric)
    model = None if classifier is None else clone(classifier)
    if model is not None and model.get_params().get("random_state", 0) is None:
        model.set_params(random_state=int(rng.randint(np.iinfo(np.int32).max)))

    latent_codes = histogram_discretize(Z[train], n_bins)
    mutual_information = mutual_information_matrix(latent_codes, n_bins, codes[train], n_classes)
    per_latent = _modularity_per_latent(mutual_information)
    modularity = float(np.mean(per_latent))
    if not return_details:
        return modularity

    mean = Z[train].mean(axis=0)
    std = Z[train].std(axis=0)
    # A constant latent carries nothing; dividing by 1 keeps it at zero instead of NaN.
    std = np.where(std > 0, std, 1.0)
    Z_train = (Z[train] - mean) / std
    Z_test = (Z[test] - mean) / std
    # The classifiers dominate the cost; they are independent across factors, hence
    # parallel (threads for the default one, whose numpy work releases the GIL).
    pairs = Parallel(n_jobs=n_jobs, prefer="threads" if model is None else None)(
        delayed(_explicitness)(model, Z_train, codes[train, k], Z_test, codes[test, k])
        for k in range(used.size)
    )
    explicitness_train = np.array([pair[0] for pair in pairs])
    explicitness_test = np.array([pair[1] for pair in pairs])
    return {
        "score": modularity,
        "modularity": modularity,
        "explicitness_train": float(np.mean(explicitness_train)),
        "explicitness_test": float(np.mean(explicitness_test)),
        "modularity_per_latent": per_latent,
        "explicitness_per_factor": explicitness_test,
        "mutual_information": mutual_information,
        "factor_indices": used,
    }


def _modularity_per_latent(mutual_information):
    squared = mutual_information**2
    largest = squared.max(axis=1)
    n_factors = squared.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        deviation = (squared.sum(axis=1) - largest) / (largest * (n_factors - 1))
    return np.where(largest > 0, 1.0 - deviation, 0.0)


def _explicitness(model, Z_train, y_train, Z_test, y_test):
    """Macro one-vs-rest ROC-AUC of a classifier on its training and test rows.

    ``model`` None is the default logistic regression (`LBFGSLogisticRegression`,
    under one BLAS thread); otherwise a scikit-learn classifier, cloned and fitted.
    """
    if np.unique(y_train).size < 2:
        # Nothing to rank: every test row gets the same score.
        return 0.5, 0.5
    with threadpool_limits(limits=1) if model is None else nullcontext():
        fitted = (LBFGSLogisticRegression() if model is None else clone(model)).fit(
            Z_train, y_train
        )
        # One row per class: each class's probabilities are then contiguous.
        p_train = np.ascontiguousarray(fitted.predict_proba(Z_train).T)
        p_test = np.ascontiguousarray(fitted.predict_proba(Z_test).T)
    classes = fitted.classes_
    return _macro_auc(y_train, p_train, classes), _macro_auc(y_test, p_test, classes)


def _macro_auc(y, probabilities, classes):
    """Mean over classes of the one-vs-rest ROC-AUC (Mann-Whitney U, ties averaged).

    ``probabilities`` has one row per class of ``classes`` (n_classes, n_samples).
    Each row is sorted once; the average rank of each positive row is read from the
    sorted row by binary search. Classes with no positive or no negative row have no
    AUC and are left out.
    """
    aucs = []
    for k, label in enumerate(classes):
        positive = probabilities[k, y == label]
        n_positive = positive.size
        n_negative = y.size - n_positive
        if n_positive == 0 or n_negative == 0:
            continue
        ordered = np.sort(probabilities[k])
        below = np.searchsorted(ordered, positive, side="left")
        at_or_below = np.searchsorted(ordered, positive, side="right")
        rank_sum = 0.5 * np.sum(below + at_or_below + 1)
        aucs.append((rank_sum - n_positive * (n_positive + 1) / 2) / (n_positive * n_negative))
    return float(np.mean(aucs)) if aucs else 0.5
