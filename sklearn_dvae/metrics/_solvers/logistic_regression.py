"""scikit-learn's default logistic regression, fitted with a vectorised loss.

Explicitness fits ``LogisticRegression()`` once per factor. This is the same
optimisation (objective, zero start, scipy's L-BFGS-B with scikit-learn's settings),
so the same iterates, with the classes laid out as rows (n_classes, n_samples) so that
every reduction over classes is a contiguous, vectorised one, and the intercepts
riding along as a column of ones.
"""

import numpy as np
from scipy.optimize import minimize

__all__ = ["LBFGSLogisticRegression"]


class LBFGSLogisticRegression:
    """``LogisticRegression(C=C, tol=tol, max_iter=max_iter)`` of scikit-learn, solved alike.

    Minimises ``(sum_n log_loss_n + ||W||^2 / (2 C)) / n_samples`` over the weights
    ``W`` and the unpenalised intercepts: the multinomial (softmax) model for more
    than two classes, the binomial one (one weight vector, class ``classes_[1]``
    against ``classes_[0]``) for two, as scikit-learn fits them. scipy's L-BFGS-B
    starts from zero with scikit-learn's settings (``gtol=tol``, ``ftol=64 eps``, 50
    line search steps, ``max_iter`` iterations), so the iterates are scikit-learn's.

    Parameters
    ----------
    C : float, default=1.0
        Inverse of the penalty strength.
    tol : float, default=1e-4
        Stop when the largest gradient entry falls below it.
    max_iter : int, default=100
        Most L-BFGS iterations.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Classes of the training labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Weights, one row for two classes, one per class otherwise (as scikit-learn's).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae.metrics._solvers import LBFGSLogisticRegression
    >>> X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    >>> model = LBFGSLogisticRegression().fit(X, ["a", "a", "b", "b"])
    >>> model.predict_proba(X).argmax(axis=1)
    array([0, 0, 1, 1])
    """

    def __init__(self, C=1.0, tol=1e-4, max_iter=100):
        self.C = C
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, X, y):
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features.
        y : array-like of shape (n_samples,)
            Class labels; at least two classes.

        Returns
        -------
        self : LBFGSLogisticRegression
            The fitted model.
        """
        X = np.ascontiguousarray(X, dtype=np.float64)
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(f"needs at least two classes in y, got {self.classes_.size}.")
        self._weights, self._intercepts = _fit(
            X, codes, self.classes_.size, self.C, self.tol, self.max_iter
        )
        # Two classes: row 0 is fixed at zero, row 1 is the binomial model.
        first = 1 if self.classes_.size == 2 else 0
        self.coef_ = self._weights[first:].copy()
        self.intercept_ = self._intercepts[first:].copy()
        return self

    def predict_proba(self, X):
        """Probability of each class for each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to score.

        Returns
        -------
        probabilities : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``. The transpose of a C-contiguous
            (n_classes, n_samples) array, which ``np.ascontiguousarray(p.T)`` returns
            without a copy.
        """
        X = np.asarray(X, dtype=np.float64)
        scores = self._weights @ X.T + self._intercepts[:, np.newaxis]
        scores -= scores.max(axis=0)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=0)
        return scores.T


def _fit(X, y, n_classes, C, tol, max_iter):
    """Weights (n_classes, n_features) and intercepts (n_classes,) of the penalised log-loss.

    ``y`` holds class codes ``0 .. n_classes - 1``. For two classes, row 0 stays
    zero (the binomial model); otherwise every row is free (the multinomial one).
    """
    n_samples, n_features = X.shape
    # The features with a column of ones: one product then gives scores with their
    # intercepts, and one product the gradients of both weights and intercepts.
    augmented = np.ones((n_samples, n_features + 1))
    augmented[:, :n_features] = X
    augmented_by_row = np.ascontiguousarray(augmented.T)
    # |score| <= ||(w_k, b_k)|| * ||(x, 1)||: while that bound keeps exp() far from
    # overflow and underflow, the scores need no shift by their column maximum.
    largest_norm = np.sqrt(np.max(np.einsum("ij,ij->i", augmented, augmented)))
    first = 1 if n_classes == 2 else 0
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)[first:]
    # Sum of the feature vectors of each class: the gradient of the linear term.
    class_sums = np.stack(
        [np.bincount(y, X[:, j], minlength=n_classes) for j in range(n_features)], axis=1
    )[first:]
    n_free = n_classes - first
    n_weights = n_free * n_features
    parameters = np.zeros((n_classes, n_features + 1))
    free = parameters[first:]

    def loss_and_gradient(theta):
        weights = theta[:n_weights].reshape(n_free, n_features)
        intercepts = theta[n_weights:]
        free[:, :n_features] = weights
        free[:, n_features] = intercepts
        scores = parameters @ augmented_by_row
        bound = largest_norm * np.sqrt(np.max(np.einsum("ij,ij->i", parameters, parameters)))
        if bound < 300.0:
            shift = 0.0
        else:
            largest = scores.max(axis=0)
            scores -= largest
            shift = largest.sum()
        np.exp(scores, out=scores)
        totals = scores.sum(axis=0)
        loss = (
            np.log(totals).sum()
            + shift
            - np.sum(class_sums * weights)
            - counts @ intercepts
            + 0.5 / C * np.sum(weights * weights)
        )
        # Probabilities times the features, without dividing every score by its total.
        # (BLAS is faster with the long dimension inner on both sides.)
        expected = (augmented_by_row / totals) @ scores[first:].T
        gradient = np.empty_like(theta)
        gradient[:n_weights] = (expected[:n_features].T - class_sums + weights / C).ravel()
        gradient[n_weights:] = expected[n_features] - counts
        return loss / n_samples, gradient / n_samples

    result = minimize(
        loss_and_gradient,
        np.zeros(n_weights + n_free),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iter, "maxls": 50, "gtol": tol, "ftol": 64 * np.finfo(float).eps},
    )
    theta = result.x
    free[:, :n_features] = theta[:n_weights].reshape(n_free, n_features)
    free[:, n_features] = theta[n_weights:]
    return np.ascontiguousarray(parameters[:, :n_features]), parameters[:, n_features].copy()
