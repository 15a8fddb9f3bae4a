"""The beta-VAE disentanglement score, computed on an encoded labelled pool.

Higgins, Matthey, Pal, Burgess, Glorot, Botvinick, Mohamed and Lerchner, "beta-VAE:
Learning Basic Visual Concepts with a Constrained Variational Framework", ICLR 2017
(https://openreview.net/forum?id=Sy2fzU9gl). Protocol of Locatello et al., "Challenging
Common Assumptions in the Unsupervised Learning of Disentangled Representations",
ICML 2019.
"""

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import HasMethods

from ._sampling import FactorGroups, check_memory, draws_per_chunk
from ._utils import (
    INT_AT_LEAST_TWO,
    POSITIVE_INT,
    as_random_state,
    check_representation_and_factors,
    encode_factors,
    validate_metric_params,
)

__all__ = ["beta_vae_score"]


# The user's classifier is a scikit-learn estimator: its own parameters get validated
# when it is fitted.
@validate_metric_params(
    {
        "batch_size": [POSITIVE_INT],
        "n_train": [INT_AT_LEAST_TWO],
        "n_eval": [POSITIVE_INT],
        "classifier": [HasMethods(["fit", "predict"]), None],
    },
    prefer_skip_nested_validation=False,
)
def beta_vae_score(
    Z,
    factors,
    *,
    batch_size=64,
    n_train=10_000,
    n_eval=5_000,
    classifier=None,
    continuous_factors="auto",
    n_bins=20,
    random_state=None,
    return_details=False,
):
    """Accuracy of a linear classifier that tells which factor was held fixed.

    Each point is made from ``batch_size`` pairs of rows of ``Z`` that share the value
    of one factor ``k`` (the other factors vary freely); its feature vector is the mean
    over pairs of ``|z_1 - z_2|`` and its label is ``k``. A classifier is trained on
    ``n_train`` such points and the score is its accuracy on ``n_eval`` new ones. A
    latent that encodes ``k`` alone is nearly equal across a pair, which makes ``k``
    easy to tell from the feature vector.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_latents)
        Representation of a labelled pool, e.g. posterior means.
    factors : array-like of shape (n_samples, n_factors) or (n_samples,)
        Ground-truth factor values of the same rows.
    batch_size : int, default=64
        Number of pairs averaged into one point.
    n_train : int, default=10_000
        Number of points to train the classifier on (at least 2). A ``ValueError``
        says so when they all happen to hold the same factor.
    n_eval : int, default=5_000
        Number of points to evaluate it on. Points are drawn with replacement, so
        ``n_train``, ``n_eval`` and ``batch_size`` are bounded by memory instead of
        by the pool: a request whose points would take more than 4 GiB is refused
        with a ``ValueError`` before anything is drawn.
    classifier : sklearn classifier or None, default=None
        Classifier to clone and fit; ``None`` means
        ``LogisticRegression(solver="newton-cholesky")``, the reference's model
        (multinomial, L2 penalty, ``C=1``) solved by Newton's method. A
        ``random_state`` parameter left at None is set from ``random_state``, so the
        score is reproducible.
    continuous_factors : "auto", bool or array-like of bool, default="auto"
        Factors to discretise into ``n_bins`` equal-width bins before grouping rows by
        value; ``"auto"`` picks floating-point columns with non-integer values and more
        than ``n_bins`` distinct values.
    n_bins : int, default=20
        Number of bins for continuous factors.
    random_state : int, RandomState instance or None, default=None
        Seed of the sampling (and of the classifier, see above).
    return_details : bool, default=False
        Return a dict of details instead of the score.

    Returns
    -------
    score : float
        Evaluation accuracy, in ``[0, 1]``. Chance level is ``1 / n_factors``.
    details : dict
        Only with ``return_details=True``: ``"score"`` and ``"eval_accuracy"`` (the
        score), ``"train_accuracy"``, ``"factor_indices"`` (the columns of ``factors``
        scored, constant ones being skipped) and ``"classifier"`` (the fitted one,
        whose classes are those column indices).

    Notes
    -----
    Differences from disentanglement_lib's ``compute_beta_vae_sklearn``:

    - Pairs are drawn from the rows of ``Z``: the first row of a pair uniformly, the
      second uniformly among the rows sharing factor ``k``'s value (with
      replacement), instead of sampling factors and re-encoding new observations.
    - The classifier is a parameter. The default fits the same model as the
      reference's ``LogisticRegression()`` (lbfgs since scikit-learn 0.22) with the
      Newton-Cholesky solver, which converges in a few steps on these ten-odd
      features, about ten times faster than lbfgs; both reach the same optimum up to
      lbfgs' tolerance. The 2019 study ran scikit-learn's older default, liblinear
      one-vs-rest: pass ``LogisticRegression(solver="liblinear")`` for it.
    - Factors with a single value are skipped with a warning instead of being picked as
      labels that nothing can predict.

    References
    ----------
    .. [1] Higgins et al., "beta-VAE: Learning Basic Visual Concepts with a
       Constrained Variational Framework", ICLR 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae.metrics import beta_vae_score
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 10, size=(2000, 3))
    >>> Z = factors + 0.1 * rng.standard_normal(factors.shape)
    >>> score = beta_vae_score(Z, factors, n_train=1000, n_eval=500, random_state=0)
    >>> bool(score > 0.9)
    True
    """
    metric = "beta_vae_score"
    Z, factors = check_representation_and_factors(Z, factors, metric=metric)
    check_memory(
        metric=metric,
        n_train=n_train,
        n_eval=n_eval,
        batch_size=batch_size,
        n_latents=Z.shape[1],
        bytes_per_draw=8 * (Z.shape[1] + 1),  # a feature vector and a label
        drawn="points",
    )
    codes, n_classes, used, _ = encode_factors(
        factors, continuous_factors=continuous_factors, n_bins=n_bins, metric=metric
    )
    if used.size < 2:
        raise ValueError(
            f"{metric}: needs at least two factors that take several values, got "
            f"{used.size}; the classifier would have a single class."
        )
    rng = as_random_state(random_state)
    model = clone(
        LogisticRegression(solver="newton-cholesky") if classifier is None else classifier
    )
    if "random_state" in model.get_params() and model.get_params()["random_state"] is None:
        model.set_params(random_state=int(rng.randint(np.iinfo(np.int32).max)))

    groups = FactorGroups(codes, n_classes)
    train_points, train_labels = _sample_points(Z, groups, batch_size, n_train, rng)
    if np.all(train_labels == train_labels[0]):
        raise ValueError(
            f"{metric}: the n_train={n_train} training points all hold factor "
            f"{used[train_labels[0]]}, so the classifier would see a single class; "
            "raise n_train."
        )
    eval_points, eval_labels = _sample_points(Z, groups, batch_size, n_eval, rng)
    model.fit(train_points, used[train_labels])
    train_accuracy = float(np.mean(model.predict(train_points) == used[train_labels]))
    eval_accuracy = float(np.mean(model.predict(eval_points) == used[eval_labels]))
    if not return_details:
        return eval_accuracy
    return {
        "score": eval_accuracy,
        "eval_accuracy": eval_accuracy,
        "train_accuracy": train_accuracy,
        "factor_indices": used,
        "classifier": model,
    }


def _sample_points(Z, groups, batch_size, n_points, rng):
    """Feature vectors (mean absolute pair differences) and held-factor labels."""
    labels = rng.randint(groups.n_factors, size=n_points)
    points = np.empty((n_points, Z.shape[1]))
    # In chunks, so that the (chunk, batch_size, n_latents) gather stays small whatever
    # n_points is.
    chunk = draws_per_chunk(batch_size, Z.shape[1])
    for start in range(0, n_points, chunk):
        stop = min(start + chunk, n_points)
        held = np.broadcast_to(labels[start:stop, np.newaxis], (stop - start, batch_size))
        first = rng.randint(groups.n_samples, size=held.shape)
        second = groups.same_value_rows(held, first, None, rng)
        # np.take gathers rows about twice as fast as fancy indexing with a 2-D index.
        difference = np.take(Z, first, axis=0) - np.take(Z, second, axis=0)
        points[start:stop] = np.abs(difference, out=difference).mean(axis=1)
    return points, labels
