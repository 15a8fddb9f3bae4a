"""The Separated Attribute Predictability (SAP) score, with a vectorised one-latent SVM.

Kumar, Sattigeri and Balakrishnan, "Variational Inference of Disentangled Latent
Concepts from Unlabeled Observations", ICLR 2018 (arXiv:1711.00848), Section 3.
Protocol of Locatello et al., "Challenging Common Assumptions in the Unsupervised
Learning of Disentangled Representations", ICML 2019.
"""

import numbers

import numpy as np
from sklearn.svm import LinearSVC

from ._utils import (
    as_random_state,
    check_representation_and_factors,
    encode_factors,
    split_rows,
)

__all__ = ["sap_score"]


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
        Sizes of the disjoint random train and test sets. A smaller pool is split in
        the same proportion.
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
    if discrete_score not in ("accuracy", "balanced_accuracy"):
        raise ValueError(
            f"{metric}: discrete_score must be 'accuracy' or 'balanced_accuracy', "
            f"got {discrete_score!r}."
        )
    if solver not in ("newton", "liblinear"):
        raise ValueError(f"{metric}: solver must be 'newton' or 'liblinear', got {solver!r}.")
    if not isinstance(C, numbers.Real) or not C > 0:
        raise ValueError(f"{metric}: C must be a positive number, got {C!r}.")
    codes, _, used, continuous = encode_factors(
        factors, continuous_factors=continuous_factors, n_bins=n_bins, metric=metric
    )
    rng = as_random_state(random_state)
    train, test = split_rows(Z.shape[0], n_train, n_test, rng, metric=metric)

    score_matrix = np.empty((Z.shape[1], used.size))
    # Each latent's training values are sorted once and shared by every factor's SVMs.
    sorted_latents = [_SortedFeature(Z[train, d]) for d in range(Z.shape[1])]
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
    classes, y_index = np.unique(y_train, return_inverse=True)
    n_latents = Z_train.shape[1]
    if classes.size == 1:
        # The training rows show one class: any classifier predicts it.
        predicted = np.full((n_latents, y_test.size), classes[0])
        return _score(predicted, y_test, balanced)
    if solver == "liblinear":
        predicted = np.empty((n_latents, y_test.size), dtype=y_train.dtype)
        for latent in range(n_latents):
            model = LinearSVC(C=C, class_weight="balanced")
            model.fit(Z_train[:, latent, np.newaxis], y_train)
            predicted[latent] = model.predict(Z_test[:, latent, np.newaxis])
        return _score(predicted, y_test, balanced)

    n_train = y_train.size
    class_weight = n_train / (classes.size * np.bincount(y_index))
    if classes.size == 2:
        # One problem: class 1 against class 0, each weighted by its balanced weight.
        positive_class = np.array([1])
        cost_positive = np.array([C * class_weight[1]])
        cost_negative = np.array([C * class_weight[0]])
    else:
        # One-vs-rest as liblinear does it: the positive class gets its balanced
        # weight, all the other rows the plain C.
        positive_class = np.arange(classes.size)
        cost_positive = C * class_weight
        cost_negative = np.full(classes.size, C)
    predicted = np.empty((n_latents, y_test.size), dtype=classes.dtype)
    for latent in range(n_latents):
        weight, intercept = _solve_one_feature_svms(
            sorted_latents[latent], y_index, positive_class, cost_positive, cost_negative
        )
        decision = np.outer(weight, Z_test[:, latent]) + intercept[:, np.newaxis]
        if classes.size == 2:
            predicted[latent] = classes[(decision[0] > 0).astype(np.int64)]
        else:
            predicted[latent] = classes[np.argmax(decision, axis=0)]
    return _score(predicted, y_test, balanced)


class _SortedFeature:
    """One feature's values sorted, with prefix sums of ``1, x, x^2`` in that order."""

    def __init__(self, x):
        self.n = x.size
        self.order = np.argsort(x, kind="stable")
        self.x_sorted = x[self.order]
        self.powers_sorted = np.stack([np.ones(self.n), self.x_sorted, self.x_sorted**2], axis=-1)
        self.cum_all = np.concatenate([np.zeros((1, 3)), np.cumsum(self.powers_sorted, axis=0)])


def _solve_one_feature_svms(
    feature, class_index, positive_class, cost_positive, cost_negative, max_iter=100
):
    """Linear SVMs on one feature, one per positive class, all solved at once.

    For each problem ``p``, minimises ``0.5 (w^2 + b^2) + sum_i c_i max(0, 1 - s_i
    (w x_i + b))^2`` with ``s_i = +1`` and ``c_i = cost_positive[p]`` on the rows of
    class ``positive_class[p]``, ``s_i = -1`` and ``c_i = cost_negative[p]`` on the
    others: liblinear's L2-regularised squared-hinge problem, the intercept being a
    feature of value 1.

    On one feature the rows that violate the margin are those below or above a
    threshold (``(1 - b) / w`` for positive rows, ``(-1 - b) / w`` for negative ones),
    so every sum that the gradient, the Hessian and the objective need is a
    difference of prefix sums of ``1, x, x^2``: over all rows sorted by ``x``, and over
    the rows of each class sorted by ``x`` (located by a binary search on the key
    ``class * n + rank``, rows being put in that order by a stable sort of their
    classes). A Newton step then costs a few binary searches per problem
    instead of a pass over the rows. The objective is strongly convex and piecewise
    quadratic, so Newton's method with a backtracking line search reaches the exact
    minimiser once the violating rows settle, usually within ten steps.

    Returns ``w`` and ``b``, each of shape (n_problems,).
    """
    n = feature.n
    x_sorted = feature.x_sorted
    cum_all = feature.cum_all
    classes_by_rank = class_index[feature.order]
    # A stable sort of the classes (a radix sort on 16 bits) keeps ranks increasing
    # within each class, so the position in rank order is the rank itself.
    small = np.uint16 if class_index.max() < 65536 else np.int64
    by_class = np.argsort(classes_by_rank.astype(small), kind="stable")
    key_sorted = classes_by_rank[by_class] * n + by_class
    cum_by_class = np.concatenate(
        [np.zeros((1, 3)), np.cumsum(feature.powers_sorted[by_class], axis=0)]
    )
    class_start = np.searchsorted(key_sorted, positive_class * n)

    def positive_prefix(rank_limit):
        """Sums of 1, x, x^2 over positive rows whose rank is below ``rank_limit``."""
        stop = np.searchsorted(key_sorted, positive_class * n + rank_limit)
        return cum_by_class[stop] - cum_by_class[class_start]

    def range_sums(lo, hi):
        positive = positive_prefix(hi) - positive_prefix(lo)
        return positive, (cum_all[hi] - cum_all[lo]) - positive

    def sums(w, b):
        """Sums of 1, x, x^2 over the margin-violating positive and negative rows."""
        with np.errstate(divide="ignore", invalid="ignore"):
            threshold_positive = (1.0 - b) / w
            threshold_negative = (-1.0 - b) / w
        rising = w > 0
        falling = w < 0
        # w > 0: positive rows violate below their threshold, negative rows above.
        pos_lo = np.where(falling, np.searchsorted(x_sorted, threshold_positive, "right"), 0)
        pos_hi = np.where(rising, np.searchsorted(x_sorted, threshold_positive, "left"), n)
        neg_lo = np.where(rising, np.searchsorted(x_sorted, threshold_negative, "right"), 0)
        neg_hi = np.where(falling, np.searchsorted(x_sorted, threshold_negative, "left"), n)
        flat = ~(rising | falling)
        # w == 0: the margin is s * b for every row, violated by all or none.
        pos_hi = np.where(flat & (b >= 1.0), 0, pos_hi)
        neg_hi = np.where(flat & (b <= -1.0), 0, neg_hi)
        pos_hi = np.maximum(pos_hi, pos_lo)
        neg_hi = np.maximum(neg_hi, neg_lo)
        s_pos = range_sums(pos_lo, pos_hi)[0]
        s_neg = range_sums(neg_lo, neg_hi)[1]
        return s_pos * cost_positive[:, None], s_neg * cost_negative[:, None]

    def objective(w, b, s_pos, s_neg):
        loss_pos = (1 - b) ** 2 * s_pos[:, 0] - 2 * (1 - b) * w * s_pos[:, 1] + w**2 * s_pos[:, 2]
        loss_neg = (1 + b) ** 2 * s_neg[:, 0] + 2 * (1 + b) * w * s_neg[:, 1] + w**2 * s_neg[:, 2]
        return 0.5 * (w**2 + b**2) + loss_pos + loss_neg

    w = np.zeros(positive_class.size)
    b = np.zeros(positive_class.size)
    s_pos, s_neg = sums(w, b)
    value = objective(w, b, s_pos, s_neg)
    for _ in range(max_iter):
        grad_w = (
            w
            - 2 * (s_pos[:, 1] - w * s_pos[:, 2] - b * s_pos[:, 1])
            + 2 * (s_neg[:, 1] + w * s_neg[:, 2] + b * s_neg[:, 1])
        )
        grad_b = (
            b
            - 2 * (s_pos[:, 0] - w * s_pos[:, 1] - b * s_pos[:, 0])
            + 2 * (s_neg[:, 0] + w * s_neg[:, 1] + b * s_neg[:, 0])
        )
        h_ww = 1 + 2 * (s_pos[:, 2] + s_neg[:, 2])
        h_wb = 2 * (s_pos[:, 1] + s_neg[:, 1])
        h_bb = 1 + 2 * (s_pos[:, 0] + s_neg[:, 0])
        determinant = h_ww * h_bb - h_wb**2
        step_w = -(h_bb * grad_w - h_wb * grad_b) / determinant
        step_b = -(h_ww * grad_b - h_wb * grad_w) / determinant
        slope = grad_w * step_w + grad_b * step_b
        if np.all(-slope <= 1e-12 * np.maximum(1.0, value)):
            break
        # Backtracking (Armijo): halve each problem's step until it decreases enough.
        length = np.ones_like(w)
        for _ in range(40):
            w_new = w + length * step_w
            b_new = b + length * step_b
            s_pos_new, s_neg_new = sums(w_new, b_new)
            value_new = objective(w_new, b_new, s_pos_new, s_neg_new)
            accepted = value_new <= value + 1e-4 * length * slope
            if accepted.all():
                break
            length = np.where(accepted, length, 0.5 * length)
        w, b, s_pos, s_neg, value = w_new, b_new, s_pos_new, s_neg_new, value_new
    return w, b
