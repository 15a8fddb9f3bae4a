"""Tree growing for `BoostedTrees` with numpy arrays: the engine when numba is absent.

The trees of a stage grow together, one depth level at a time, from a single sort of
each feature: for each feature, every tree's samples are laid out node by node, by
value within a node, and prefix sums of the residuals give every split point's left
and right sums at once (see `_best_splits`). ``grow_trees`` and ``add_leaf_values``
take the arguments of the compiled engine's (``_trees_numba``), and grow the same
trees up to near-ties that their sums round apart.
"""

import numpy as np

# scikit-learn's tree constants (sklearn/tree/_splitter.pyx, _tree.pyx).
_FEATURE_THRESHOLD = 1e-7
_EPSILON = np.finfo(np.float64).eps


def grow_trees(X_T, X_test_T, order, sorted_values, r, priority, max_depth):
    """Grow one tree per column of ``r``, all together; see the module docstring.

    Parameters
    ----------
    X_T, X_test_T : ndarray of shape (n_features, n) and (n_features, n_test)
        Training and test features, by feature (C-contiguous).
    order : ndarray of shape (n_features, n), int
        The training samples in increasing value order of each feature.
    sorted_values : ndarray of shape (n_features, n)
        The values in that order.
    r : ndarray of shape (n, n_trees)
        Residuals each tree fits, one column per tree.
    priority : ndarray of shape (n_trees, max_depth, n_features, 2 ** (max_depth - 1))
        Random ranks breaking exact ties between features, per tree, depth and node.
    max_depth : int
        Depth of the trees.

    Returns
    -------
    leaf, leaf_test : ndarray of shape (n_trees, n) and (n_trees, n_test), int64
        Leaf index of every training and test sample in every tree.
    gains : ndarray of shape (n_trees, n_features)
        Weighted impurity decrease of every tree's splits, per feature.
    """
    d, n = X_T.shape
    n_test = X_test_T.shape[1]
    n_trees = r.shape[1]
    r = np.ascontiguousarray(r.T)  # (n_trees, n)
    rows = np.arange(n_trees)[:, np.newaxis]
    # Node of every sample at the current depth; -1 once its node is a leaf.
    node = np.zeros((n_trees, n), dtype=np.int64)
    node_test = np.zeros((n_trees, n_test), dtype=np.int64)
    leaf = np.full((n_trees, n), -1, dtype=np.int64)
    leaf_test = np.full((n_trees, n_test), -1, dtype=np.int64)
    n_leaves = np.zeros(n_trees, dtype=np.int64)
    gains = np.zeros((n_trees, d))
    n_nodes = 1
    X_flat, X_test_flat = X_T.ravel(), X_test_T.ravel()
    size, total, squares = _node_sums(node, r, n_nodes)
    for depth in range(max_depth + 1):
        impurity = np.zeros_like(total)
        np.divide(squares, size, out=impurity, where=size > 0)
        mean = np.zeros_like(total)
        np.divide(total, size, out=mean, where=size > 0)
        impurity -= mean * mean
        splittable = (size >= 2) & (impurity > _EPSILON)
        if depth == max_depth or not splittable.any():
            splittable[:] = False
        else:
            feature, threshold, found = _best_splits(
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


def add_leaf_values(leaf, leaf_test, r, hessian, factor, learning_rate, raw, raw_test, first):
    """Add each tree's leaf values to the raw predictions of its column, in place.

    A leaf's value is the mean residual (regression, ``hessian`` empty) or the
    Newton step ``factor * sum(residual) / sum(hessian)`` (0 where the sum of the
    Hessian terms is 0); tree ``t`` adds ``learning_rate`` times its leaf values to
    column ``first + t`` of ``raw`` and ``raw_test``.
    """
    n_trees = leaf.shape[0]
    n_leaves = int(leaf.max()) + 1
    keys = (leaf + n_leaves * np.arange(n_trees)[:, np.newaxis]).ravel()
    size = n_trees * n_leaves
    numerator = np.bincount(keys, r.T.ravel(), minlength=size)
    if hessian.size == 0:
        denominator = np.bincount(keys, minlength=size).astype(np.float64)
        factor = 1.0
    else:
        denominator = np.bincount(keys, hessian.T.ravel(), minlength=size)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.where(denominator != 0, factor * numerator / denominator, 0.0)
    values = values.reshape(n_trees, n_leaves)
    rows = np.arange(n_trees)[:, np.newaxis]
    trees = slice(first, first + n_trees)
    raw[:, trees] += learning_rate * values[rows, leaf].T
    raw_test[:, trees] += learning_rate * values[rows, leaf_test].T


def _best_splits(node, r, order, sorted_values, n_nodes, size, total, splittable, priority):
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
        run_before = np.where(starts % n > 0, flat_prefix[np.maximum(last_of_previous, 0)], 0.0)
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
