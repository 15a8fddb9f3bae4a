"""Gradient-boosted depth-limited trees, the trees of a stage grown together.

The model of scikit-learn's ``GradientBoostingClassifier()`` and
``GradientBoostingRegressor()`` with their default settings (100 stages, learning
rate 0.1, depth 3, no subsampling, leaves of one sample allowed), which DCI fits once
per factor: the same loss, start, split rule (the squared-error improvement, which
ranks splits as ``(n_r s_l - n_l s_r)^2 / (n_l n_r)`` does)
with the 1e-7 minimum gap between split values and split points halfway between
float32 values, Newton leaf values, tree-wise importances and predictions.
scikit-learn grows the ``n_classes`` trees of a stage one after the other and sorts
the samples of every node anew; here the trees of a stage grow together, one depth
level at a time, from a single sort of each feature. Exact ties between features
(duplicated latents) are broken at random per node, as scikit-learn's random feature
order does; near-ties may be broken differently where its sums and these round
apart.

Two engines grow the trees, with the same arguments: loops compiled by numba
(``_trees_numba``, when numba is installed: ``pip install "sklearn-dvae[fast]"``)
and numpy arrays (``_trees_numpy``, otherwise).
"""

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["BoostedTrees"]


class BoostedTrees:
    """scikit-learn's default gradient boosting, fitted and scored in one call.

    The interface DCI uses: construct, call :meth:`fit_score`, read
    ``feature_importances_``. See the module docstring for the model.

    Parameters
    ----------
    task : {"classification", "regression"}
        Log-loss classification (softmax over classes, sigmoid for two) or
        squared-error regression.
    n_estimators : int, default=100
        Number of boosting stages.
    learning_rate : float, default=0.1
        Shrinkage of every tree's leaf values.
    max_depth : int, default=3
        Depth of the trees.
    random_state : int, RandomState instance or None, default=None
        Breaks exact ties between features; None means 0.
    trees_together : int, default=64
        Most trees of a stage grown at once (the working arrays hold this many
        rows of ``n_samples`` values).
    engine : {"auto", "numba", "numpy"}, default="auto"
        How the trees are grown: compiled by numba or with numpy arrays; ``"auto"``
        takes numba when it is installed (and ``max_depth`` is 1 to 6, the depths
        it stores). Both grow the same trees, up to near-ties between split points
        that their sums round apart.

    Attributes
    ----------
    feature_importances_ : ndarray of shape (n_features,)
        Impurity decrease per feature, averaged over the trees that split at
        least once and normalised to sum 1 (scikit-learn's definition).
    classes_ : ndarray of shape (n_classes,)
        Classes of the training rows (classification only).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae.metrics._solvers import BoostedTrees
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((300, 3))
    >>> y = (X[:, 0] > 0).astype(int)
    >>> model = BoostedTrees("classification", n_estimators=20)
    >>> model.fit_score(X[:200], y[:200], X[200:], y[200:])
    (1.0, 1.0)
    >>> int(np.argmax(model.feature_importances_))
    0
    """

    def __init__(
        self,
        task,
        *,
        n_estimators=100,
        learning_rate=0.1,
        max_depth=3,
        random_state=None,
        trees_together=64,
        engine="auto",
    ):
        self.task = task
        self.engine = engine
        self.trees_together = trees_together
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.random_state = check_random_state(0 if random_state is None else random_state)

    def fit_score(self, X_train, y_train, X_test, y_test, executor=None):
        """Fit on the training rows; return the train and test scores.

        Parameters
        ----------
        X_train, X_test : ndarray of shape (n_rows, n_features)
            Training and test features (the trees see them as float32).
        y_train, y_test : ndarray of shape (n_rows,)
            Class labels (classification) or values (regression).
        executor : concurrent.futures.Executor or None, default=None
            Where the groups of trees of each stage grow (threads sharing the
            arrays; several fits may share one executor, their stages interleaving).
            ``None`` grows them here, one group after the other. The fit does not
            depend on it: the groups are independent, write disjoint columns of the
            predictions, and their tie-breaking ranks are drawn here in group order.

        Returns
        -------
        train_score, test_score : float
            Accuracy (classification) or R^2 (regression).
        """
        # Trees see float32 features, as scikit-learn's do.
        X_train = np.asarray(X_train, dtype=np.float32).astype(np.float64)
        X_test = np.asarray(X_test, dtype=np.float32).astype(np.float64)
        n, d = X_train.shape
        if self.task == "classification":
            # Classes are those of the training rows, as a fitted classifier's are.
            self.classes_, y_train = np.unique(y_train, return_inverse=True)
        raw, raw_test, targets = self._start(y_train, X_test.shape[0])
        n_trees = raw.shape[1]
        order = np.argsort(X_train, axis=0, kind="stable").T  # (d, n)
        sorted_values = np.take_along_axis(X_train.T, order, axis=1)  # (d, n)
        importance_sum = np.zeros(d)
        n_relevant = 0
        step = self._stage_step(X_train, X_test, order, sorted_values, n_trees)
        # Every tree of a stage fits the gradients at the stage's start, so the trees
        # can grow in groups: at most `trees_together` at once bounds the (trees,
        # samples) working arrays for factors with many classes.
        groups = [
            slice(first, min(first + self.trees_together, n_trees))
            for first in range(0, n_trees, self.trees_together)
        ]
        for _ in range(self.n_estimators):
            residual, hessian = self._gradients(raw, targets)
            # One draw per group, in group order: each tree gets the ranks one draw
            # for the whole stage would give it, whatever the grouping.
            ranks = [self._priority(group.stop - group.start, d) for group in groups]
            if executor is None:
                stage = [
                    step(residual, hessian, group, raw, raw_test, priority)
                    for group, priority in zip(groups, ranks, strict=True)
                ]
            else:
                futures = [
                    executor.submit(step, residual, hessian, group, raw, raw_test, priority)
                    for group, priority in zip(groups, ranks, strict=True)
                ]
                stage = [future.result() for future in futures]
            for gains in stage:
                split = gains.any(axis=1)
                n_relevant += int(split.sum())
                importance_sum += gains[split].sum(axis=0) / n
        if n_relevant:
            mean = importance_sum / n_relevant
            total = mean.sum()
            self.feature_importances_ = mean / total if total > 0 else mean
        else:
            self.feature_importances_ = np.zeros(d)
        train_labels = self.classes_[y_train] if self.task == "classification" else y_train
        return self._score(raw, train_labels), self._score(raw_test, y_test)

    def _stage_step(self, X_train, X_test, order, sorted_values, n_trees):
        """A function growing the trees ``trees`` (a slice of a stage's) with the
        tie-breaking ranks ``priority`` and adding their leaf values to the raw
        predictions in place; it returns their gains."""
        engine = _engine(self.engine, self.max_depth)
        # The multinomial Newton step's factor (K - 1) / K, K trees per stage.
        factor = 1.0 if n_trees == 1 else (n_trees - 1) / n_trees
        X_T = np.ascontiguousarray(X_train.T)
        X_test_T = np.ascontiguousarray(X_test.T)
        order = np.ascontiguousarray(order, dtype=np.int64)
        sorted_values = np.ascontiguousarray(sorted_values)
        no_hessian = np.empty((0, 0))

        def step(residual, hessian, trees, raw, raw_test, priority):
            r = np.ascontiguousarray(residual[:, trees])
            leaf, leaf_test, gains = engine.grow_trees(
                X_T, X_test_T, order, sorted_values, r, priority, self.max_depth
            )
            h = no_hessian if hessian is None else np.ascontiguousarray(hessian[:, trees])
            engine.add_leaf_values(
                leaf, leaf_test, r, h, factor, self.learning_rate, raw, raw_test, trees.start
            )
            return gains

        return step

    def _priority(self, n_trees, d):
        """Random ranks breaking exact ties between features.

        scikit-learn visits the features of a node in a random order and keeps the
        first strictly better one, so exact ties go to a random feature; here each
        (tree, depth, feature, node) gets a random rank, the lowest winning a tie.
        Both engines draw them alike, so they break ties alike.
        """
        depth = max(self.max_depth, 1)
        return self.random_state.random_sample((n_trees, depth, d, 2 ** (depth - 1)))

    # ------------------------------------------------------------------ loss
    def _start(self, y, n_test):
        if self.task == "regression":
            y = np.asarray(y, dtype=np.float64)
            raw = np.full((y.size, 1), y.mean())
            return raw, np.full((n_test, 1), y.mean()), y[:, np.newaxis]
        y = np.asarray(y)
        self.n_classes_ = int(y.max()) + 1
        prior = np.bincount(y, minlength=self.n_classes_) / y.size
        if self.n_classes_ == 2:
            start = np.log(prior[1] / prior[0])
            one_hot = (y == 1).astype(np.float64)[:, np.newaxis]
            return np.full((y.size, 1), start), np.full((n_test, 1), start), one_hot
        start = np.log(prior)
        one_hot = (y[:, np.newaxis] == np.arange(self.n_classes_)).astype(np.float64)
        return (
            np.tile(start, (y.size, 1)),
            np.tile(start, (n_test, 1)),
            one_hot,
        )

    def _gradients(self, raw, targets):
        """Negative gradients (n, n_trees) and the Newton denominators' terms."""
        if self.task == "regression":
            return targets - raw, None
        if raw.shape[1] == 1:
            probability = 1.0 / (1.0 + np.exp(-raw))
        else:
            shifted = np.exp(raw - raw.max(axis=1, keepdims=True))
            probability = shifted / shifted.sum(axis=1, keepdims=True)
        return targets - probability, probability * (1.0 - probability)

    def _score(self, raw, y):
        if self.task == "regression":
            y = np.asarray(y, dtype=np.float64)
            residual = np.sum((y - raw[:, 0]) ** 2)
            total = np.sum((y - y.mean()) ** 2)
            return float(1.0 - residual / total) if total > 0 else 0.0
        predicted = (raw[:, 0] > 0).astype(int) if raw.shape[1] == 1 else raw.argmax(axis=1)
        return float(np.mean(self.classes_[predicted] == np.asarray(y)))


def _engine(name, max_depth):
    """The module growing the trees: ``_trees_numba`` or ``_trees_numpy``."""
    if name not in ("auto", "numba", "numpy"):
        raise ValueError(f"engine must be 'auto', 'numba' or 'numpy', got {name!r}.")
    if name == "numba" and not 1 <= max_depth <= 6:
        raise ValueError(f"engine='numba' grows trees of depth 1 to 6, not {max_depth}.")
    if name != "numpy" and 1 <= max_depth <= 6:
        try:
            from . import _trees_numba
        except ImportError as error:
            if name == "numba":
                raise ImportError(
                    "engine='numba' needs numba: pip install 'sklearn-dvae[fast]'."
                ) from error
        else:
            return _trees_numba
    from . import _trees_numpy

    return _trees_numpy
