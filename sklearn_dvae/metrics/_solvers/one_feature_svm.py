"""Linear SVMs on one feature each, solved by Newton's method on prefix sums.

SAP scores every latent by a ``LinearSVC(C=0.01, class_weight="balanced")`` that sees
that latent alone. On one feature the rows that violate the margin are those below
or above a threshold, so each SVM's objective, gradient and Hessian are differences
of prefix sums over the feature's sorted values: a Newton step costs a few binary
searches instead of a pass over the rows, and all the one-vs-rest problems of a
feature are solved at once.
"""

import numpy as np

__all__ = ["SortedColumns", "OneFeatureLinearSVC"]


class SortedColumns:
    """The columns of a training matrix, each sorted once, with prefix sums of ``1, x, x^2``.

    Made once, it serves several fits of :class:`OneFeatureLinearSVC` on the same
    rows (SAP fits one per factor on the same latents).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Training features.

    Attributes
    ----------
    n_samples, n_features : int
        Shape of ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae.metrics._solvers import SortedColumns
    >>> SortedColumns(np.array([[3.0, 1.0], [1.0, 2.0]])).n_features
    2
    """

    def __init__(self, X):
        X = np.asarray(X, dtype=np.float64)
        self.n_samples, self.n_features = X.shape
        self._columns = [_SortedFeature(X[:, j]) for j in range(self.n_features)]


class OneFeatureLinearSVC:
    """One ``LinearSVC(C=C, class_weight="balanced")`` per feature, on that feature alone.

    The problem of scikit-learn's ``LinearSVC`` (liblinear's L2-regularised squared
    hinge loss, the intercept a feature of value 1 that is penalised like the weight,
    one-vs-rest for more than two classes) with balanced class weights, solved to a
    tighter tolerance than liblinear's default.

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength.
    max_iter : int, default=100
        Most Newton steps per feature.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Classes of the training labels.
    coef_ : ndarray of shape (n_features, n_problems)
        Weight of each feature in each of its problems: one problem (class
        ``classes_[1]`` against ``classes_[0]``) for two classes, one per class
        (that class against the rest) otherwise. Row ``j`` is ``coef_[:, 0]`` of a
        ``LinearSVC`` fitted on column ``j`` alone.
    intercept_ : ndarray of shape (n_features, n_problems)
        The problems' intercepts.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae.metrics._solvers import OneFeatureLinearSVC
    >>> X = np.array([[0.0, 5.0], [1.0, 3.0], [2.0, 4.0], [3.0, 6.0]])
    >>> y = np.array([0, 0, 1, 1])
    >>> OneFeatureLinearSVC(C=10.0).fit(X, y).predict(X)  # one row per feature
    array([[0, 0, 1, 1],
           [1, 0, 0, 1]])
    """

    def __init__(self, C=1.0, max_iter=100):
        self.C = C
        self.max_iter = max_iter

    def fit(self, X, y):
        """Fit the SVMs of every feature.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or SortedColumns
            Training features, or their :class:`SortedColumns` made once for
            several fits.
        y : array-like of shape (n_samples,)
            Class labels; at least two classes.

        Returns
        -------
        self : OneFeatureLinearSVC
            The fitted SVMs.
        """
        columns = X if isinstance(X, SortedColumns) else SortedColumns(X)
        self.classes_, class_index = np.unique(np.asarray(y), return_inverse=True)
        n_classes = self.classes_.size
        if n_classes < 2:
            raise ValueError(f"needs at least two classes in y, got {n_classes}.")
        # class_weight="balanced": n_samples / (n_classes * count of the class).
        class_weight = class_index.size / (n_classes * np.bincount(class_index))
        if n_classes == 2:
            # One problem: class 1 against class 0, each weighted by its balanced weight.
            positive_class = np.array([1])
            cost_positive = np.array([self.C * class_weight[1]])
            cost_negative = np.array([self.C * class_weight[0]])
        else:
            # One-vs-rest as liblinear does it: the positive class gets its balanced
            # weight, all the other rows the plain C.
            positive_class = np.arange(n_classes)
            cost_positive = self.C * class_weight
            cost_negative = np.full(n_classes, float(self.C))
        solutions = [
            _solve_one_feature_svms(
                column, class_index, positive_class, cost_positive, cost_negative, self.max_iter
            )
            for column in columns._columns
        ]
        self.coef_ = np.stack([weight for weight, _ in solutions])
        self.intercept_ = np.stack([intercept for _, intercept in solutions])
        return self

    def predict(self, X):
        """The class each feature's SVM predicts for each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to classify, with the features of the training rows.

        Returns
        -------
        predicted : ndarray of shape (n_features, n_samples)
            Row ``j``: the predictions of the SVM on feature ``j``.
        """
        X = np.asarray(X, dtype=np.float64)
        predicted = np.empty((self.coef_.shape[0], X.shape[0]), dtype=self.classes_.dtype)
        for j, (weight, intercept) in enumerate(zip(self.coef_, self.intercept_, strict=True)):
            decision = np.outer(weight, X[:, j]) + intercept[:, np.newaxis]
            if self.classes_.size == 2:
                predicted[j] = self.classes_[(decision[0] > 0).astype(np.int64)]
            else:
                predicted[j] = self.classes_[np.argmax(decision, axis=0)]
        return predicted


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
