"""Compiled tree growing for `BoostedTrees`: the engine when numba is installed.

The same trees as the numpy engine (``_trees_numpy``) grows, with the same arguments:
per tree, one depth level at a time, the best split of every node over all features
by scikit-learn's proxy improvement, the 1e-7 gap between split values, split points
halfway between float32 values, exact ties between features broken by a random
priority, leaves numbered per tree in node order after those of smaller depths, and
the weighted impurity decrease of every split. Here each feature's samples are
scanned once per level in value order with running sums per node, which reads
every sample once per feature and level instead of laying the samples out node by
node; running sums and prefix sums may round apart, so near-ties between split
points can go either way in the two engines.

Importing this module compiles nothing; the first call compiles (and numba caches
the machine code next to this file when it can write there).
"""

import numpy as np
from numba import njit

_FEATURE_THRESHOLD = 1e-7
_EPSILON = np.finfo(np.float64).eps
# A split position can only beat the best so far if squared >= best * denominator
# up to rounding; this factor leaves room for the rounding of both products.
_GENEROUS = 1.0 - 1e-9


@njit(cache=True, nogil=True)
def _node_sums(node, r, n_nodes):
    """Per tree and node (n_trees, n_nodes): samples, sum and sum of squares of ``r``."""
    n, n_trees = r.shape
    size = np.zeros((n_trees, n_nodes))
    total = np.zeros((n_trees, n_nodes))
    squares = np.zeros((n_trees, n_nodes))
    for i in range(n):
        for t in range(n_trees):
            j = node[i, t]
            if j >= 0:
                value = r[i, t]
                size[t, j] += 1.0
                total[t, j] += value
                squares[t, j] += value * value
    return size, total, squares


@njit(cache=True, nogil=True)
def _weighted_impurity(size, total, squares):
    # w * (q / w - (t / w)^2) = q - t^2 / w
    if size > 0:
        return squares - total * total / size
    return 0.0


@njit(cache=True, nogil=True)
def _route(node, values_T, feature, threshold, number, new_id, leaf):
    """Send samples to leaves or to children; ``node`` and ``leaf`` are (n, n_trees)."""
    n, n_trees = node.shape
    for i in range(n):
        for t in range(n_trees):
            j = node[i, t]
            if j < 0:
                continue
            if number[t, j] >= 0:
                leaf[t, i] = number[t, j]
                node[i, t] = -1
            else:
                right = values_T[feature[t, j], i] > threshold[t, j]
                node[i, t] = 2 * new_id[t, j] + (1 if right else 0)


@njit(cache=True, nogil=True)
def _offer(feature_best, low, high, t, j, n_left, n_right, s_left, s_right, below, value):
    """Make the split between values ``below`` and ``value`` node (t, j)'s best if it is."""
    diff = n_right * s_left - n_left * s_right
    squared = diff * diff
    denominator = n_left * n_right
    current = feature_best[t, j]
    # Divide only where the split may win: the product test errs on the generous
    # side, the quotient decides as scikit-learn's does. The first position reaching
    # a node's maximum is kept.
    if squared >= current * denominator * _GENEROUS:
        proxy = squared / denominator
        if proxy > current:
            feature_best[t, j] = proxy
            low[t, j] = below
            high[t, j] = value


@njit(cache=True, nogil=True)
def _scan(
    order,
    values,
    r,
    node,
    size,
    total,
    count,
    sum_left,
    previous,
    feature_best,
    low,
    high,
):
    """Best split of every (tree, node) on one feature: ``feature_best``, ``low``, ``high``.

    ``node`` (n, n_trees) holds -1 for the samples of nodes that do not split (and
    of leaves). ``previous`` starts at infinity, so that a node's first sample is
    never a split position.
    """
    n_trees = r.shape[1]
    count[:] = 0.0
    sum_left[:] = 0.0
    feature_best[:] = -np.inf
    previous[:] = np.inf
    for p in range(order.size):
        i = order[p]
        value = values[p]
        for t in range(n_trees):
            j = node[i, t]
            if j < 0:
                continue
            n_left = count[t, j]
            if value > previous[t, j] + _FEATURE_THRESHOLD:
                s_left = sum_left[t, j]
                _offer(
                    feature_best,
                    low,
                    high,
                    t,
                    j,
                    n_left,
                    size[t, j] - n_left,
                    s_left,
                    total[t, j] - s_left,
                    previous[t, j],
                    value,
                )
            count[t, j] = n_left + 1.0
            sum_left[t, j] += r[i, t]
            previous[t, j] = value


@njit(cache=True, nogil=True)
def _scan_root(order, values, r, splittable, total, feature_best, low, high):
    """`_scan` at the root, where every sample is in node 0 of every tree."""
    n = order.size
    n_trees = r.shape[1]
    sum_left = np.zeros(n_trees)
    feature_best[:, 0] = -np.inf
    previous = 0.0
    for p in range(n):
        i = order[p]
        value = values[p]
        if p > 0 and value > previous + _FEATURE_THRESHOLD:
            for t in range(n_trees):
                if splittable[t, 0]:
                    s_left = sum_left[t]
                    _offer(
                        feature_best,
                        low,
                        high,
                        t,
                        0,
                        float(p),
                        float(n - p),
                        s_left,
                        total[t, 0] - s_left,
                        previous,
                        value,
                    )
        for t in range(n_trees):
            sum_left[t] += r[i, t]
        previous = value


@njit(cache=True, nogil=True)
def grow_trees(X_T, X_test_T, order, sorted_values, r, priority, max_depth):
    """Grow one tree per column of ``r``, all together; see the module docstring.

    The trees of a stage share the features' value order, so each feature is
    scanned once per level for all of them, the trees' running sums side by side
    (independent, so the processor overlaps them).

    Parameters
    ----------
    X_T, X_test_T : ndarray of shape (n_features, n) and (n_features, n_test)
        Training and test features, by feature.
    order : ndarray of shape (n_features, n), int64
        The training samples in increasing value order of each feature.
    sorted_values : ndarray of shape (n_features, n)
        The values in that order.
    r : ndarray of shape (n, n_trees)
        Residuals each tree fits, one column per tree (C-contiguous).
    priority : ndarray of shape (n_trees, max_depth, n_features, 2 ** (max_depth - 1))
        Random ranks breaking exact ties between features, per tree, depth and node.
    max_depth : int
        At most 6 (node numbers are stored in bytes).

    Returns
    -------
    leaf, leaf_test : ndarray of shape (n_trees, n) and (n_trees, n_test), int64
    gains : ndarray of shape (n_trees, n_features)
    """
    d, n = order.shape
    n_trees = r.shape[1]
    n_test = X_test_T.shape[1]
    leaf = np.full((n_trees, n), -1, dtype=np.int64)
    leaf_test = np.full((n_trees, n_test), -1, dtype=np.int64)
    gains = np.zeros((n_trees, d))
    # Node numbers (-1 for a sample in a leaf) fit in a byte up to depth 6 (the
    # caller's limit), which keeps the (n, n_trees) table in the processor's cache.
    node = np.zeros((n, n_trees), dtype=np.int8)
    node_test = np.zeros((n_test, n_trees), dtype=np.int8)
    n_leaves = np.zeros(n_trees, dtype=np.int64)
    n_nodes = 1
    size, total, squares = _node_sums(node, r, n_nodes)
    for depth in range(max_depth + 1):
        splittable = np.zeros((n_trees, n_nodes), dtype=np.bool_)
        any_splittable = False
        if depth < max_depth:
            for t in range(n_trees):
                for j in range(n_nodes):
                    impurity = 0.0
                    if size[t, j] > 0:
                        mean = total[t, j] / size[t, j]
                        impurity = squares[t, j] / size[t, j] - mean * mean
                    splittable[t, j] = size[t, j] >= 2 and impurity > _EPSILON
                    any_splittable = any_splittable or splittable[t, j]
        feature = np.zeros((n_trees, n_nodes), dtype=np.int64)
        threshold = np.zeros((n_trees, n_nodes))
        if any_splittable:
            best = np.full((n_trees, n_nodes), -np.inf)
            best_priority = np.full((n_trees, n_nodes), np.inf)
            count = np.zeros((n_trees, n_nodes))
            sum_left = np.zeros((n_trees, n_nodes))
            previous = np.zeros((n_trees, n_nodes))
            feature_best = np.zeros((n_trees, n_nodes))
            low = np.zeros((n_trees, n_nodes))
            high = np.zeros((n_trees, n_nodes))
            scan_node = node  # unused at the root
            if depth > 0:
                # The scans skip the samples of nodes that do not split.
                scan_node = node.copy()
                for i in range(n):
                    for t in range(n_trees):
                        j = scan_node[i, t]
                        if j >= 0 and not splittable[t, j]:
                            scan_node[i, t] = -1
            for f in range(d):
                if depth == 0:
                    _scan_root(
                        order[f], sorted_values[f], r, splittable, total, feature_best, low, high
                    )
                else:
                    _scan(
                        order[f],
                        sorted_values[f],
                        r,
                        scan_node,
                        size,
                        total,
                        count,
                        sum_left,
                        previous,
                        feature_best,
                        low,
                        high,
                    )
                for t in range(n_trees):
                    for j in range(n_nodes):
                        candidate = feature_best[t, j]
                        if not splittable[t, j] or candidate == -np.inf:
                            continue
                        rank = priority[t, depth, f, j]
                        if candidate > best[t, j] or (
                            candidate == best[t, j] and rank < best_priority[t, j]
                        ):
                            best[t, j] = candidate
                            best_priority[t, j] = rank
                            feature[t, j] = f
                            middle = low[t, j] / 2.0 + high[t, j] / 2.0
                            if middle == high[t, j] or not np.isfinite(middle):
                                middle = low[t, j]
                            threshold[t, j] = middle
            for t in range(n_trees):
                for j in range(n_nodes):
                    splittable[t, j] = splittable[t, j] and np.isfinite(best[t, j])
        # Nodes that do not split become leaves, numbered in node order after the
        # leaves of smaller depths; the others get consecutive child numbers.
        number = np.full((n_trees, n_nodes), -1, dtype=np.int64)
        new_id = np.full((n_trees, n_nodes), -1, dtype=np.int64)
        any_split = False
        for t in range(n_trees):
            n_split = 0
            for j in range(n_nodes):
                if splittable[t, j]:
                    new_id[t, j] = n_split
                    n_split += 1
                    any_split = True
                elif size[t, j] > 0:
                    number[t, j] = n_leaves[t]
                    n_leaves[t] += 1
        _route(node, X_T, feature, threshold, number, new_id, leaf)
        _route(node_test, X_test_T, feature, threshold, number, new_id, leaf_test)
        if not any_split:
            break
        child_size, child_total, child_squares = _node_sums(node, r, 2 * n_nodes)
        for t in range(n_trees):
            level_gains = np.zeros(d)
            for j in range(n_nodes):
                if splittable[t, j]:
                    left, right = 2 * new_id[t, j], 2 * new_id[t, j] + 1
                    level_gains[feature[t, j]] += (
                        _weighted_impurity(size[t, j], total[t, j], squares[t, j])
                        - _weighted_impurity(
                            child_size[t, left], child_total[t, left], child_squares[t, left]
                        )
                        - _weighted_impurity(
                            child_size[t, right], child_total[t, right], child_squares[t, right]
                        )
                    )
            for f in range(d):
                gains[t, f] += level_gains[f]
        size, total, squares = child_size, child_total, child_squares
        n_nodes *= 2
    return leaf, leaf_test, gains


@njit(cache=True, nogil=True)
def add_leaf_values(leaf, leaf_test, r, hessian, factor, learning_rate, raw, raw_test, first):
    """Add each tree's leaf values to the raw predictions of its column, in place.

    A leaf's value is the mean residual (regression, ``hessian`` empty) or the
    Newton step ``factor * sum(residual) / sum(hessian)`` (0 where the sum of the
    Hessian terms is 0), as the numpy engine's; tree ``t`` adds to
    column ``first + t`` of ``raw`` and ``raw_test``.
    """
    n_trees, n = leaf.shape
    newton = hessian.shape[0] > 0
    n_leaves = 0
    for t in range(n_trees):
        for i in range(n):
            n_leaves = max(n_leaves, leaf[t, i] + 1)
    numerator = np.zeros((n_trees, n_leaves))
    denominator = np.zeros((n_trees, n_leaves))
    for i in range(n):
        for t in range(n_trees):
            k = leaf[t, i]
            numerator[t, k] += r[i, t]
            denominator[t, k] += hessian[i, t] if newton else 1.0
    scale = factor if newton else 1.0
    values = np.zeros((n_trees, n_leaves))
    for t in range(n_trees):
        for k in range(n_leaves):
            if denominator[t, k] != 0:
                values[t, k] = scale * numerator[t, k] / denominator[t, k]
    for i in range(n):
        for t in range(n_trees):
            raw[i, first + t] += learning_rate * values[t, leaf[t, i]]
    for i in range(leaf_test.shape[1]):
        for t in range(n_trees):
            raw_test[i, first + t] += learning_rate * values[t, leaf_test[t, i]]
