"""Modularity and explicitness of a representation.

Ridgeway and Mozer, "Learning Deep Disentangled Embeddings With the F-Statistic Loss",
NeurIPS 2018 (arXiv:1802.05312), Section 3. Protocol of Locatello et al., "Challenging
Common Assumptions in the Unsupervised Learning of Disentangled Representations",
ICML 2019.
"""

import numpy as np
from joblib import Parallel, delayed
from scipy.stats import rankdata
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from ._utils import (
    as_random_state,
    check_representation_and_factors,
    encode_factors,
    histogram_discretize,
    mutual_information_matrix,
    split_rows,
)

__all__ = ["modularity_explicitness_score"]


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
        Sizes of the disjoint random train and test sets. A smaller pool is split in
        the same proportion.
    n_bins : int, default=20
        Number of bins per latent (and per continuous factor).
    classifier : sklearn classifier with predict_proba, or None, default=None
        Explicitness classifier to clone; ``None`` means ``LogisticRegression()`` as in
        the reference. A ``random_state`` parameter left at None is set from
        ``random_state``.
    continuous_factors : "auto", bool or array-like of bool, default="auto"
        Factors to discretise into ``n_bins`` bins; ``"auto"`` picks floating-point
        columns with non-integer values and more than ``n_bins`` distinct values.
    n_jobs : int or None, default=None
        Number of joblib workers fitting the per-factor classifiers in parallel
        (``-1``: all cores). The result does not depend on it.
    random_state : int, RandomState instance or None, default=None
        Seed of the split (and of the classifier, see above).
    return_details : bool, default=False
        Return a dict of details instead of the score.

    Returns
    -------
    score : float
        Modularity, in ``[0, 1]``.
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
    model = clone(LogisticRegression() if classifier is None else classifier)
    if "random_state" in model.get_params() and model.get_params()["random_state"] is None:
        model.set_params(random_state=int(rng.randint(np.iinfo(np.int32).max)))

    latent_codes = histogram_discretize(Z[train], n_bins)
    mutual_information = mutual_information_matrix(latent_codes, n_bins, codes[train], n_classes)
    per_latent = _modularity_per_latent(mutual_information)
    modularity = float(np.mean(per_latent))

    mean = Z[train].mean(axis=0)
    std = Z[train].std(axis=0)
    # A constant latent carries nothing; dividing by 1 keeps it at zero instead of NaN.
    std = np.where(std > 0, std, 1.0)
    Z_train = (Z[train] - mean) / std
    Z_test = (Z[test] - mean) / std
    # The classifiers dominate the cost (the same ones as the reference's, for equal
    # values); they are independent across factors, hence parallel.
    pairs = Parallel(n_jobs=n_jobs)(
        delayed(_explicitness)(model, Z_train, codes[train, k], Z_test, codes[test, k])
        for k in range(used.size)
    )
    explicitness_train = np.array([pair[0] for pair in pairs])
    explicitness_test = np.array([pair[1] for pair in pairs])
    if not return_details:
        return modularity
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
    """Macro one-vs-rest ROC-AUC of a classifier on its training and test rows."""
    classes = np.unique(y_train)
    if classes.size < 2:
        # Nothing to rank: every test row gets the same score.
        return 0.5, 0.5
    fitted = clone(model).fit(Z_train, y_train)
    return (
        _macro_auc(y_train, fitted.predict_proba(Z_train), fitted.classes_),
        _macro_auc(y_test, fitted.predict_proba(Z_test), fitted.classes_),
    )


def _macro_auc(y, probabilities, classes):
    """Mean over classes of the one-vs-rest ROC-AUC, from average ranks (Mann-Whitney U).

    Classes with no positive or no negative row have no AUC and are left out.
    """
    positive = y[:, np.newaxis] == classes[np.newaxis, :]
    n_positive = positive.sum(axis=0)
    n_negative = y.size - n_positive
    defined = (n_positive > 0) & (n_negative > 0)
    if not defined.any():
        return 0.5
    ranks = rankdata(probabilities, axis=0)
    rank_sums = np.where(positive, ranks, 0.0).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = (rank_sums - n_positive * (n_positive + 1) / 2) / (n_positive * n_negative)
    return float(np.mean(auc[defined]))
