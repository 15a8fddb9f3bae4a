"""The Separated Attribute Predictability (SAP) score.

Kumar, Sattigeri and Balakrishnan, "Variational Inference of Disentangled Latent
Concepts from Unlabeled Observations", ICLR 2018 (arXiv:1711.00848), Section 3.
Protocol of Locatello et al., "Challenging Common Assumptions in the Unsupervised
Learning of Disentangled Representations", ICML 2019.
"""

from numbers import Real

import numpy as np
from sklearn.svm import LinearSVC
from sklearn.utils._param_validation import Interval, StrOptions

from ._solvers import OneFeatureLinearSVC, SortedColumns
from ._utils import (
    INT_AT_LEAST_TWO,
    as_random_state,
    check_representation_and_factors,
    encode_factors,
    split_rows,
    validate_metric_params,
)

__all__ = ["sap_score"]


@validate_metric_params(
    {
        "n_train": [INT_AT_LEAST_TWO],
        "n_test": [INT_AT_LEAST_TWO],
        "discrete_score": [StrOptions({"accuracy", "balanced_accuracy"})],
        "C": [Interval(Real, 0, None, closed="neither")],
        "solver": [StrOptions({"newton", "liblinear"})],
    }
)
def sap_score(
    Z,
    factors,
    *,
    n_train=10_000,
    n_test=5_000,
    continuous_factors="auto",
    discrete_score="accuracy",
    C=0.01,
    solver="newton",
    n_bins=20,
    random_state=None,
    return_details=False,
):
    """Mean gap between the two latents that best predict each factor on their own.

    The score matrix ``S`` (latents x factors) holds, for a discrete factor, the test
    accuracy of a linear SVM that predicts the factor from one latent
    (``LinearSVC(C=0.01, class_weight="balanced")``, trained on ``n_train`` rows and
    tested on ``n_test`` others); for a continuous factor, the R^2 of a linear fit of
    the factor on one latent (the squared correlation, on the training rows). For each
    factor the gap between its two largest entries is taken; SAP is their mean.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_latents)
        Representation of a labelled pool; at least two latents.
    factors : array-like of shape (n_samples, n_factors) or (n_samples,)
        Ground-truth factor values of the same rows.
    n_train, n_test : int, default=10_000 and 5_000
        Sizes of the disjoint random train and test sets, at least 2 each. A smaller
        pool is split in the same proportion; a ``ValueError`` names the request when
        that would leave either set fewer than 2 rows.
    continuous_factors : "auto", bool or array-like of bool, default="auto"
        Factors scored by R^2 instead of classification accuracy. ``"auto"`` picks
        floating-point columns with non-integer values and more than ``n_bins``
        distinct values, so integer class labels (the 2019 protocol) are classified.
    discrete_score : {"accuracy", "balanced_accuracy"}, default="accuracy"
        Score of the one-latent classifiers: plain accuracy as in the reference, or
        balanced accuracy as in the paper.
    C : float, default=0.01
        Inverse regularisation strength of the SVMs.
    solver : {"newton", "liblinear"}, default="newton"
        ``"newton"`` solves all one-latent SVMs at once by a vectorised Newton
        method on the same objective as ``LinearSVC`` (squared hinge loss, L2 penalty
        on the weight and the intercept, one-vs-rest); ``"liblinear"`` fits
        scikit-learn's ``LinearSVC`` for each (latent, factor) pair, slowly.
    n_bins : int, default=20
        Used only by the ``"auto"`` rule above.
    random_state : int, RandomState instance or None, default=None
        Seed of the train/test split.
    return_details : bool, default=False
        Return a dict of details instead of the score.

    Returns
    -------
    score : float
        SAP, in ``[0, 1]``.
    details : dict
        Only with ``return_details=True``: ``"score"``, ``"score_matrix"`` of shape
        (n_latents, n_scored_factors), ``"gaps"`` (one per scored factor),
        ``"continuous"`` (which scored factors used R^2) and ``"factor_indices"``.

    Notes
    -----
    Differences from disentanglement_lib's ``compute_sap``:

    - Train and test rows are a random split of the pool instead of fresh draws.
    - Continuous and discrete factors can be mixed (one flag per factor); the
      reference takes one flag for all factors. Accuracy and R^2 are on different
      scales, so compare SAP values only between runs that score factors alike.
    - The SVMs are solved to a tighter tolerance than liblinear's default, so a test
      point lying on a decision boundary may be classified differently.
    - Factors with a single value are skipped with a warning.

    References
    ----------
    .. [1] Kumar, Sattigeri and Balakrishnan, "Variational Inference of Disentangled
       Latent Concepts from Unlabeled Observations", ICLR 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae.metrics import sap_score
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 2, size=(1500, 2))
    >>> Z = np.column_stack([factors, rng.standard_normal(1500)])
    >>> round(sap_score(Z, factors, random_state=0), 2)
    0.45
    """
    metric = "sap_score"
    Z, factors = check_representation_and_factors(Z, factors, metric=metric, min_samples=4)
    if Z.shape[1] < 2:
        raise ValueError(f"{metric}: needs at least two latents to take a gap, got {Z.shape[1]}.")
    codes, _, used, continuous = encode_factors(
        factors, continuous_factors=continuous_factors, n_bins=n_bins, metric=metric
    )
    rng = as_random_state(random_state)
    train, test = split_rows(Z.shape[0], n_train, n_test, rng, metric=metric)

    score_matrix = np.empty((Z.shape[1], used.size))
    # Each latent's training values are sorted once and shared by every factor's SVMs.
    sorted_latents = SortedColumns(Z[train])
    for position, column in enumerate(used):
        if continuous[position]:
            values = factors[train, column].astype(np.float64)
            score_matrix[:, position] = _squared_correlation(Z[train], values)
        else:
            score_matrix[:, position] = _one_latent_classification_scores(
                Z[train],
                sorted_latents,
                codes[train, position],
                Z[test],
                codes[test, position],
                C=float(C),
                balanced=discrete_score == "balanced_accuracy",
                solver=solver,
            )
    ordered = np.sort(score_matrix, axis=0)
    gaps = ordered[-1] - ordered[-2]
    score = float(np.mean(gaps))
    if not return_details:
        return score
    return {
        "score": score,
        "score_matrix": score_matrix,
        "gaps": gaps,
        "continuous": continuous,
        "factor_indices": used,
    }


def _squared_correlation(Z, values):
    """R^2 of the least-squares line of ``values`` on each column of ``Z``."""
    Z_centred = Z - Z.mean(axis=0)
    y_centred = values - values.mean()
    covariance = Z_centred.T @ y_centred
    variance_z = np.einsum("ij,ij->j", Z_centred, Z_centred)
    variance_y = y_centred @ y_centred
    n = Z.shape[0] - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = covariance**2 / (variance_z * variance_y)
    # A latent with (numerically) no variance predicts nothing; same cut as the reference.
    return np.where(variance_z / n > 1e-12, r2, 0.0)


def _score(predicted, truth, balanced):
    """Accuracy or balanced accuracy of each row of ``predicted`` against ``truth``."""
    correct = predicted == truth
    if not balanced:
        return correct.mean(axis=-1)
    classes, inverse = np.unique(truth, return_inverse=True)
    per_class = np.stack([correct[..., inverse == c].mean(axis=-1) for c in range(classes.size)])
    return per_class.mean(axis=0)


def _one_latent_classification_scores(
    Z_train, sorted_latents, y_train, Z_test, y_test, *, C, balanced, solver
):
    """Test score of a linear SVM predicting ``y`` from each single latent."""
    classes = np.unique(y_train)
    n_latents = Z_train.shape[1]
    if classes.size == 1:
        # The training rows show one class: any classifier predicts it.
        predicted = np.full((n_latents, y_test.size), classes[0])
    elif solver == "newton":
        model = OneFeatureLinearSVC(C=C).fit(sorted_latents, y_train)
        predicted = model.predict(Z_test)
    else:
        predicted = np.empty((n_latents, y_test.size), dtype=y_train.dtype)
        for latent in range(n_latents):
            model = LinearSVC(C=C, class_weight="balanced")
            model.fit(Z_train[:, latent, np.newaxis], y_train)
            predicted[latent] = model.predict(Z_test[:, latent, np.newaxis])
    return _score(predicted, y_test, balanced)
