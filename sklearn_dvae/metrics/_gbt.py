"""Gradient-boosted depth-limited trees, vectorised across the trees of a stage.

The model of scikit-learn's ``GradientBoostingClassifier()`` and
``GradientBoostingRegressor()`` with their default settings (100 stages, learning
rate 0.1, depth 3, no subsampling, leaves of one sample allowed), which DCI fits once
per factor: the same loss, start, split rule (the squared-error improvement, which
ranks splits as ``(n_r s_l - n_l s_r)^2 / (n_l n_r)`` does)
with the 1e-7 minimum gap between split values and split points halfway between
float32 values, Newton leaf values, tree-wise importances and predictions.
scikit-learn grows the ``n_classes`` trees of a stage one after the other and sorts
the samples of every node anew; here the trees of a stage grow together, one depth
level at a time, from a single sort of each feature, with prefix sums over the
samples of every node. Exact ties between features (duplicated latents) are broken
at random per node, as scikit-learn's random feature order does; near-ties may be
broken differently where its incremental sums and these prefix sums round apart.
"""

import numpy as np

# scikit-learn's tree constants (sklearn/tree/_splitter.pyx, _tree.pyx).
_FEATURE_THRESHOLD = 1e-7
_EPSILON = np.finfo(np.float64).eps


class BoostedTrees:
    """Fit and evaluate boosted trees; see the module docstring.

    Parameters
    ----------
    task : {"classification", "regression"}
        Log-loss classification (softmax over classes, sigmoid for two) or
        squared-error regression.
    n_estimators : int, default=100
    learning_rate : float, default=0.1
    max_depth : int, default=3
    random_state : numpy.random.RandomState
        Breaks exact ties between features.
    trees_together : int, default=64
        Most trees of a stage grown at once (the working arrays hold this many
        rows of ``n_samples`` values).
    engine : {"auto", "numba", "numpy"}, default="auto"
        How the trees are grown: compiled by numba (``sklearn_dvae.metrics._gbt_numba``)
        or with numpy arrays (``_grow``); ``"auto"`` takes numba when it is installed.
        Both grow the same trees, up to near-ties between split points that their
        sums round apart.

    Attributes
    ----------
    feature_importances_ : ndarray of shape (n_features,)
        Impurity decrease per feature, averaged over the trees that split at
        least once and normalised to sum 1 (scikit-learn's definition).
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
        self.random_state = np.random.RandomState(0) if random_state is None else random_state

    def fit_score(self, X_train, y_train, X_test, y_test, executor=None):
        """Fit on the training rows; return the train and test scores.

        Parameters
        ----------
        X_train, X_test : ndarray of shape (n_rows, n_features)
        y_train, y_test : ndarray of shape (n_rows,)
            Class codes ``0 .. n_classes - 1`` (classification) or values.
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
        engine = self.engine
        if engine not in ("auto", "numba", "numpy"):
            raise ValueError(f"engine must be 'auto', 'numba' or 'numpy', got {engine!r}.")
        if engine == "numba" and not 1 <= self.max_depth <= 6:
            raise ValueError(f"engine='numba' grows trees of depth 1 to 6, not {self.max_depth}.")
        compiled = None
        if engine != "numpy" and 1 <= self.max_depth <= 6:
            compiled = _compiled(required=engine == "numba")
        # The multinomial Newton step's factor (K - 1) / K, K trees per stage.
        factor = 1.0 if n_trees == 1 else (n_trees - 1) / n_trees
        if compiled is None:

            def step(residual, hessian, trees, raw, raw_test, priority):
                leaf, leaf_test, gains = self._grow(
                    X_train, X_test, order, sorted_values, residual[:, trees], priority
                )
                values = self._leaf_values(
                    leaf,
                    residual[:, trees],
                    None if hessian is None else hessian[:, trees],
                    n_trees,
                )
                rows = np.arange(leaf.shape[0])[:, np.newaxis]
                raw[:, trees] += self.learning_rate * values[rows, leaf].T
                raw_test[:, trees] += self.learning_rate * values[rows, leaf_test].T
                return gains

            return step

        grow_trees, add_leaf_values = compiled
        X_T = np.ascontiguousarray(X_train.T)
        X_test_T = np.ascontiguousarray(X_test.T)
        order = np.ascontiguousarray(order, dtype=np.int64)
        sorted_values = np.ascontiguousarray(sorted_values)

        def compiled_step(residual, hessian, trees, raw, raw_test, priority):
            r = np.ascontiguousarray(residual[:, trees])
            leaf, leaf_test, gains = grow_trees(
                X_T, X_test_T, order, sorted_values, r, priority, self.max_depth
            )
            h = np.empty((0, 0)) if hessian is None else np.ascontiguousarray(hessian[:, trees])
            add_leaf_values(
                leaf, leaf_test, r, h, factor, self.learning_rate, raw, raw_test, trees.start
            )
            return gains

        return compiled_step

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

    def _leaf_values(self, leaf, residual, hessian, n_classes_trees):
        """Value of every leaf (n_trees, n_leaves): Newton steps, or means for regression.

        ``n_classes_trees`` is the number of trees per stage (the classes, or 1), which
        sets the multinomial step's factor ``(K - 1) / K``.
        """
        n_trees = leaf.shape[0]
        n_leaves = int(leaf.max()) + 1
        keys = (leaf + n_leaves * np.arange(n_trees)[:, np.newaxis]).ravel()
        size = n_trees * n_leaves
        numerator = np.bincount(keys, residual.T.ravel(), minlength=size)
        if hessian is None:
            denominator = np.bincount(keys, minlength=size).astype(np.float64)
            factor = 1.0
        else:
            denominator = np.bincount(keys, hessian.T.ravel(), minlength=size)
            K = n_classes_trees
            factor = 1.0 if K == 1 else (K - 1) / K
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.where(denominator != 0, factor * numerator / denominator, 0.0)
        return values.reshape(n_trees, n_leaves)

    def _score(self, raw, y):
        if self.task == "regression":
            y = np.asarray(y, dtype=np.float64)
            residual = np.sum((y - raw[:, 0]) ** 2)
            total = np.sum((y - y.mean()) ** 2)
            return float(1.0 - residual / total) if total > 0 else 0.0
        predicted = (raw[:, 0] > 0).astype(int) if raw.shape[1] == 1 else raw.argmax(axis=1)
        return float(np.mean(self.classes_[predicted] == np.asarray(y)))

    # ------------------------------------------------------------------ trees
    def _grow(self, X, X_test, order, sorted_values, residual, priority):
        """Grow one tree per column of ``residual``; return leaves and importances.

        Returns
        -------
        leaf : ndarray of shape (n_trees, n)
            Leaf index of every training sample in every tree.
        leaf_test : ndarray of shape (n_trees, n_test)
        gains : ndarray of shape (n_trees, n_features)
            Weighted impurity decrease of every tree's splits, per feature.
        """
        n, d = X.shape
        n_trees = residual.shape[1]
        r = np.ascontiguousarray(residual.T)  # (n_trees, n)
        rows = np.arange(n_trees)[:, np.newaxis]
        # Node of every sample at the current depth; -1 once its node is a leaf.
        node = np.zeros((n_trees, n), dtype=np.int64)
        node_test = np.zeros((n_trees, X_test.shape[0]), dtype=np.int64)
        leaf = np.full((n_trees, n), -1, dtype=np.int64)
        leaf_test = np.full((n_trees, X_test.shape[0]), -1, dtype=np.int64)
        n_leaves = np.zeros(n_trees, dtype=np.int64)
        gains = np.zeros((n_trees, d))
        n_nodes = 1
        X_flat, X_test_flat = X.T.ravel(), X_test.T.ravel()
        size, total, squares = _node_sums(node, r, n_nodes)
        for depth in range(self.max_depth + 1):
            impurity = np.zeros_like(total)
            np.divide(squares, size, out=impurity, where=size > 0)
            mean = np.zeros_like(total)
            np.divide(total, size, out=mean, where=size > 0)
            impurity -= mean * mean
            splittable = (size >= 2) & (impurity > _EPSILON)
            if depth == self.max_depth or not splittable.any():
                splittable[:] = False
            else:
                feature, threshold, found = self._best_splits(
                    node,
                    r,
                    order,
                    sorted_values,
                    n_nodes,
                    size,
                    total,
                    splittable,
                    np.moveaxis(priority[:, depth, :, :n_nodes], 1, 0),
                )
                splittable &= found
            # Nodes that do not split become leaves, numbered per tree in node order
            # after the leaves made at smaller depths.
            ends_here = ~splittable & (size > 0)
            for ids, target in ((node, leaf), (node_test, leaf_test)):
                safe = np.maximum(ids, 0)
                ends = (ids >= 0) & ends_here[rows, safe]
                number = n_leaves[:, np.newaxis] + _rank_among(ends_here, safe)
                target[ends] = number[ends]
                ids[ends] = -1
            n_leaves += ends_here.sum(axis=1)
            if not splittable.any():
                break
            # Split: samples go right when their value is above the threshold.
            new_ids = np.cumsum(splittable, axis=1) - 1
            for ids, flat in ((node, X_flat), (node_test, X_test_flat)):
                active = ids >= 0
                safe = np.maximum(ids, 0)
                width = ids.shape[1]
                values = np.take(flat, feature[rows, safe] * width + np.arange(width))
                goes_right = values > threshold[rows, safe]
                ids[active] = (2 * new_ids[rows, safe] + goes_right)[active]
            child_size, child_total, child_squares = _node_sums(node, r, 2 * n_nodes)
            gains += _impurity_decrease(
                size,
                total,
                squares,
                child_size,
                child_total,
                child_squares,
                splittable,
                feature,
                d,
            )
            size, total, squares = child_size, child_total, child_squares
            n_nodes *= 2
        return leaf, leaf_test, gains

    def _best_splits(
        self, node, r, order, sorted_values, n_nodes, size, total, splittable, priority
    ):
        """Best split of every splittable node over all features.

        Splits are ranked by scikit-learn's proxy improvement (``friedman_mse``'s
        ``(n_r s_l - n_l s_r)^2 / (n_l n_r)``, which orders splits as
        ``squared_error``'s does). For each feature, every tree's samples are laid
        out node by node, by value within a node (a stable radix sort of the node
        numbers of the samples in value order); prefix sums of the residuals then
        give every split point's left and right sums at once.
        """
        n_trees, n = node.shape
        d = order.shape[0]
        best = np.full((n_trees, n_nodes), -np.inf)
        best_priority = np.full((n_trees, n_nodes), np.inf)
        feature = np.zeros((n_trees, n_nodes), dtype=np.int64)
        threshold = np.zeros((n_trees, n_nodes))
        # priority (d, n_trees, n_nodes): exact ties go to the lowest rank (see
        # `_priority`).
        # The layout's runs: the nodes in order, then the samples of leaves (key
        # n_nodes), which are never split points.
        key = np.where(node >= 0, node, n_nodes).astype(np.int16 if n_nodes < 2**15 else np.int64)
        counts = np.concatenate([size, n - size.sum(axis=1, keepdims=True)], axis=1)
        counts = counts.astype(np.int64).ravel()
        starts = np.cumsum(counts) - counts  # of each run, in the flattened layout
        run = np.repeat(np.arange(counts.size), counts).reshape(n_trees, n)
        run_id = run % (n_nodes + 1)
        run_start = (starts - np.repeat(np.arange(n_trees) * n, n_nodes + 1))[run]
        n_left = np.arange(1, n + 1) - run_start
        run_size = np.concatenate([size, np.zeros((n_trees, 1))], axis=1).ravel()[run]
        n_right = run_size - n_left
        run_total = np.concatenate([total, np.zeros((n_trees, 1))], axis=1).ravel()[run]
        same_node = (run_id[:, 1:] == run_id[:, :-1]) & (run_id[:, :-1] < n_nodes)
        last_of_previous = starts - 1  # flattened index of the position before each run
        with np.errstate(divide="ignore", invalid="ignore"):
            denominator = n_left * n_right
        single_node = n_nodes == 1 and bool((node == 0).all())
        r_flat = r.ravel()
        row_offsets = np.arange(n_trees)[:, np.newaxis] * n
        for f in range(d):
            by_value = order[f]
            if single_node:
                # Every sample in the one node: the value order is the layout.
                values = np.broadcast_to(sorted_values[f], (n_trees, n))
                prefix = np.cumsum(np.take(r, by_value, axis=1), axis=1)
            else:
                grouped = np.argsort(key[:, by_value], axis=1, kind="stable")
                values = sorted_values[f][grouped]
                samples = by_value[grouped]  # (n_trees, n)
                samples += row_offsets  # flat indices into r
                prefix = np.cumsum(np.take(r_flat, samples), axis=1)
            flat_prefix = prefix.ravel()
            run_before = np.where(
                starts % n > 0, flat_prefix[np.maximum(last_of_previous, 0)], 0.0
            )
            sum_left = prefix
            sum_left -= run_before[run]
            sum_right = run_total - sum_left
            valid = np.zeros((n_trees, n), dtype=bool)
            valid[:, :-1] = same_node & (values[:, 1:] > values[:, :-1] + _FEATURE_THRESHOLD)
            # (n_r s_l - n_l s_r)^2 / (n_l n_r), in place.
            diff = n_right * sum_left
            sum_right *= n_left
            diff -= sum_right
            diff *= diff
            with np.errstate(divide="ignore", invalid="ignore"):
                diff /= denominator
            proxy = diff
            proxy[~valid] = -np.inf
            # Best position of every node: the first one reaching the node's maximum.
            node_max = _segment_max(proxy.ravel(), starts.reshape(n_trees, -1)[:, :-1], size)
            hit = valid & (proxy == _per_position(node_max, run, n_nodes))
            hit_rows, hit_positions = np.nonzero(hit)
            position = np.full(n_trees * n_nodes, -1, dtype=np.int64)
            hit_keys = hit_rows * n_nodes + run_id[hit_rows, hit_positions]
            # nonzero lists hits in position order: each node's first is its earliest.
            keys, first = np.unique(hit_keys, return_index=True)
            position[keys] = hit_positions[first]
            position = position.reshape(n_trees, n_nodes)
            better = (node_max > best) | ((node_max == best) & (priority[f] < best_priority))
            better &= splittable & np.isfinite(node_max)
            if better.any():
                t, j = np.nonzero(better)
                local = position[t, j]
                low = values[t, local]
                high = values[t, local + 1]
                middle = low / 2.0 + high / 2.0
                middle = np.where((middle == high) | ~np.isfinite(middle), low, middle)
                best[better] = node_max[better]
                best_priority[better] = priority[f][better]
                feature[better] = f
                threshold[better] = middle
        return feature, threshold, np.isfinite(best)


def _compiled(required=False):
    """numba's kernels, or None when numba is missing (an error if ``required``)."""
    try:
        from ._gbt_numba import add_leaf_values, grow_trees
    except ImportError as error:
        if required:
            raise ImportError(
                "engine='numba' needs numba: pip install 'sklearn-dvae[fast]'."
            ) from error
        return None
    return grow_trees, add_leaf_values


def _per_position(node_max, run, n_nodes):
    """``node_max`` of the run at every position (-inf on the leaves' run)."""
    n_trees = node_max.shape[0]
    padded = np.concatenate([node_max, np.full((n_trees, 1), -np.inf)], axis=1).ravel()
    return padded[run]


def _segment_max(flat, offsets, size):
    """Maximum of each node's run of ``flat`` (-inf for an empty node), as (n_trees, n_nodes).

    ``offsets`` are the runs' starts in ``flat``; every run extends to the next
    non-empty run's start, which only adds -inf entries (samples of leaves).
    """
    sizes = size.ravel()
    offsets = np.asarray(offsets).ravel()
    result = np.full(sizes.size, -np.inf)
    nonempty = sizes > 0
    if nonempty.any():
        result[nonempty] = np.maximum.reduceat(flat, offsets[nonempty])
    return result.reshape(size.shape)


def _node_sums(node, r, n_nodes):
    """Per tree and node: number of samples, sum and sum of squares of ``r``."""
    n_trees = node.shape[0]
    active = node >= 0
    keys = (node + n_nodes * np.arange(n_trees)[:, np.newaxis])[active]
    size = np.bincount(keys, minlength=n_trees * n_nodes).astype(np.float64)
    total = np.bincount(keys, r[active], minlength=n_trees * n_nodes)
    squares = np.bincount(keys, r[active] ** 2, minlength=n_trees * n_nodes)
    shape = (n_trees, n_nodes)
    return size.reshape(shape), total.reshape(shape), squares.reshape(shape)


def _rank_among(mask, ids):
    """For samples in node ``ids``: the rank of that node among the True nodes of ``mask``."""
    rank = np.cumsum(mask, axis=1) - 1
    return np.take_along_axis(rank, ids, axis=1)


def _impurity_decrease(
    size, total, squares, child_size, child_total, child_squares, splittable, feature, d
):
    """Weighted impurity decrease of each split, summed per tree and feature."""

    def weighted_impurity(s, t, q):
        # w * (q / w - (t / w)^2) = q - t^2 / w
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(s > 0, q - t * t / np.where(s > 0, s, 1.0), 0.0)

    parent = weighted_impurity(size, total, squares)
    n_trees, n_nodes = size.shape
    new_ids = np.cumsum(splittable, axis=1) - 1
    children = weighted_impurity(child_size, child_total, child_squares)
    left = np.take_along_axis(children, 2 * np.maximum(new_ids, 0), axis=1)
    right = np.take_along_axis(children, 2 * np.maximum(new_ids, 0) + 1, axis=1)
    decrease = np.where(splittable, parent - left - right, 0.0)
    gains = np.zeros((n_trees, d))
    np.add.at(gains, (np.arange(n_trees)[:, np.newaxis].repeat(n_nodes, 1), feature), decrease)
    return gains
