"""Input checks, discretisation and factor encoding shared by the disentanglement metrics."""

import inspect
import warnings
from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

__all__ = [
    "POSITIVE_INT",
    "INT_AT_LEAST_TWO",
    "validate_metric_params",
    "check_representation",
    "check_representation_and_factors",
    "encode_factors",
    "histogram_discretize",
    "mutual_information_matrix",
    "draw_rows",
    "split_rows",
]


POSITIVE_INT = Interval(Integral, 1, None, closed="left")
# Sizes of a set of rows that a metric estimates something on (a variance, a train or
# test set): one row is never enough.
INT_AT_LEAST_TWO = Interval(Integral, 2, None, closed="left")

# validate_params' constraints of the arguments that several metrics share.
_SHARED_CONSTRAINTS = {
    "Z": ["array-like"],
    "factors": ["array-like"],
    "continuous_factors": [StrOptions({"auto"}), "boolean", "array-like"],
    "n_bins": [Interval(Integral, 2, None, closed="left")],
    "n_jobs": [Integral, None],
    "random_state": ["random_state"],
    "return_details": ["boolean"],
}


def validate_metric_params(constraints, *, prefer_skip_nested_validation=True):
    """scikit-learn's ``validate_params``, with the constraints the metrics share.

    The decorated function's arguments named in ``_SHARED_CONSTRAINTS`` (``Z``,
    ``factors``, ``n_bins``, ``random_state``, ...) get those constraints;
    ``constraints`` gives the others' (and may replace a shared one).
    """

    def decorator(function):
        names = inspect.signature(function).parameters
        every = {name: _SHARED_CONSTRAINTS[name] for name in names if name in _SHARED_CONSTRAINTS}
        every.update(constraints)
        return validate_params(every, prefer_skip_nested_validation=prefer_skip_nested_validation)(
            function
        )

    return decorator


def check_representation(Z, *, metric, min_samples=2):
    """Return ``Z`` as a finite float64 array of shape (n_samples, n_latents).

    Raises a ``ValueError`` naming ``metric`` and the problem otherwise.
    """
    try:
        Z = np.asarray(Z, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{metric}: Z must be a numeric array, got {error}") from None
    if Z.ndim != 2:
        raise ValueError(
            f"{metric}: Z must be 2-D (n_samples, n_latents), got an array of shape {Z.shape}."
        )
    if Z.shape[1] == 0:
        raise ValueError(f"{metric}: Z has no latent dimension (shape {Z.shape}).")
    if Z.shape[0] < min_samples:
        raise ValueError(
            f"{metric}: needs at least {min_samples} samples, got {Z.shape[0]} "
            f"(Z has shape {Z.shape})."
        )
    # A sum is finite exactly when every value is (an overflow falls through to the
    # exact check); it reads Z once without a boolean copy of it.
    if not np.isfinite(np.add.reduce(Z, axis=None)) and not np.isfinite(Z).all():
        bad = np.flatnonzero(~np.isfinite(Z).all(axis=1))
        raise ValueError(
            f"{metric}: Z contains NaN or infinity ({bad.size} rows, first at row {bad[0]})."
        )
    return Z


def check_representation_and_factors(Z, factors, *, metric, min_samples=2):
    """Check ``Z`` and ``factors`` and return them as 2-D arrays with matching rows.

    ``factors`` of shape (n_samples,) is read as a single factor. Its values may be
    numbers or labels (strings); numbers must be finite.
    """
    Z = check_representation(Z, metric=metric, min_samples=min_samples)
    factors = np.asarray(factors)
    if factors.ndim == 1:
        factors = factors[:, np.newaxis]
    if factors.ndim != 2:
        raise ValueError(
            f"{metric}: factors must be 1-D or 2-D (n_samples, n_factors), "
            f"got an array of shape {factors.shape}."
        )
    if factors.shape[0] != Z.shape[0]:
        raise ValueError(
            f"{metric}: Z and factors must have the same number of rows, "
            f"got {Z.shape[0]} and {factors.shape[0]}."
        )
    if factors.shape[1] == 0:
        raise ValueError(f"{metric}: factors has no column (shape {factors.shape}).")
    if factors.dtype.kind in "fc" and not np.isfinite(factors).all():
        raise ValueError(f"{metric}: factors contain NaN or infinity.")
    return Z, factors


def histogram_discretize(values, n_bins=20):
    """Discretise each column into ``n_bins`` equal-width bins over its own range.

    The bins are those of ``np.histogram(column, n_bins)`` and a value goes to the bin
    whose left edge is the last one at or below it, so the maximum lands in the last
    bin. This is the discretiser of Locatello et al. (2019), reproduced exactly.

    Parameters
    ----------
    values : ndarray of shape (n_samples, n_columns)
        Values to discretise.
    n_bins : int, default=20
        Number of bins per column.

    Returns
    -------
    codes : ndarray of shape (n_samples, n_columns), dtype int64
        Bin index of each value, in ``0 .. n_bins - 1``.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.shape[0] == 0:
        return np.zeros(values.shape, dtype=np.int64)
    # Columns as contiguous rows: every reduction and lookup below is then a fast one.
    rows = np.ascontiguousarray(values.T)
    # The edges of np.histogram, computed as it does (its _get_outer_edges, then
    # linspace), for all columns at once, so bin boundaries (and hence scores) match
    # the reference bit for bit.
    first = rows.min(axis=1)
    last = rows.max(axis=1)
    constant = first == last
    first = np.where(constant, first - 0.5, first)
    last = np.where(constant, last + 0.5, last)
    edges = np.linspace(first, last, n_bins + 1, axis=1)  # (n_columns, n_bins + 1)
    # As np.histogram places values: a first guess by arithmetic, then one step down
    # or up where rounding put a value on the wrong side of an edge.
    codes = ((rows - first[:, np.newaxis]) * (n_bins / (last - first))[:, np.newaxis]).astype(
        np.int64
    )
    np.clip(codes, 0, n_bins - 1, out=codes)
    codes -= rows < np.take_along_axis(edges, codes, axis=1)
    codes += (rows >= np.take_along_axis(edges, codes + 1, axis=1)) & (codes < n_bins - 1)
    codes = codes.T
    return codes


def _is_continuous_column(column, n_bins):
    """A column is continuous if it holds non-integer numbers with more than n_bins values."""
    if column.dtype.kind not in "f":
        return False
    if np.all(column == np.round(column)):
        return False
    return np.unique(column).size > n_bins


def encode_factors(factors, *, continuous_factors="auto", n_bins=20, metric="metric"):
    """Turn factor columns into integer class codes, discretising continuous ones.

    Factors with a single value carry no information for any metric: they are skipped
    with a ``UserWarning`` (dSprites' colour is one). A ``ValueError`` is raised when
    no factor is left.

    Parameters
    ----------
    factors : ndarray of shape (n_samples, n_factors)
        Checked factor values.
    continuous_factors : "auto", bool or array-like of bool, default="auto"
        Which factors are continuous and must be discretised into ``n_bins``
        equal-width bins. ``"auto"``: floating-point columns that hold non-integer
        values and more than ``n_bins`` distinct values.
    n_bins : int, default=20
        Number of bins for continuous factors.
    metric : str
        Name used in messages.

    Returns
    -------
    codes : ndarray of shape (n_samples, n_used), dtype int64
        Class code of each sample for each kept factor, in ``0 .. n_classes - 1``.
    n_classes : ndarray of shape (n_used,)
        Number of classes of each kept factor.
    used : ndarray of shape (n_used,)
        Indices of the kept factors among the columns of ``factors``.
    is_continuous : ndarray of shape (n_used,), dtype bool
        Whether each kept factor was treated as continuous.
    """
    n_factors = factors.shape[1]
    flags = _continuous_flags(factors, continuous_factors, n_bins, metric)
    codes, n_classes, used = [], [], []
    for j in range(n_factors):
        column = factors[:, j]
        if flags[j]:
            column = histogram_discretize(column[:, np.newaxis].astype(np.float64), n_bins)[:, 0]
        inverse, n_values = _class_codes(column)
        if n_values < 2:
            warnings.warn(
                f"{metric}: factor {j} takes a single value and is skipped.",
                UserWarning,
                stacklevel=3,
            )
            continue
        codes.append(inverse)
        n_classes.append(n_values)
        used.append(j)
    if not used:
        raise ValueError(f"{metric}: every factor takes a single value; nothing to score.")
    return (
        np.stack(codes, axis=1).astype(np.int64),
        np.asarray(n_classes),
        np.asarray(used),
        flags[np.asarray(used)],
    )


def _class_codes(column):
    """Codes ``0 .. n_values - 1`` of a column's sorted distinct values, and their number."""
    if column.dtype.kind in "biuf":
        # Class labels are usually small non-negative integers: a lookup table built with
        # bincount encodes them in linear time, where np.unique sorts the column.
        as_integer = column.astype(np.int64)
        if (
            as_integer.size
            and as_integer.min() >= 0
            and as_integer.max() < 4 * as_integer.size + 1024
            and np.array_equal(as_integer, column)
        ):
            present = np.bincount(as_integer) > 0
            lookup = np.cumsum(present) - 1
            return lookup[as_integer], int(present.sum())
    values, inverse = np.unique(column, return_inverse=True)
    return inverse.reshape(-1), values.size


def _continuous_flags(factors, continuous_factors, n_bins, metric):
    n_factors = factors.shape[1]
    if isinstance(continuous_factors, str):  # "auto", the only string allowed
        return np.array([_is_continuous_column(factors[:, j], n_bins) for j in range(n_factors)])
    flags = np.asarray(continuous_factors, dtype=bool)
    if flags.ndim == 0:
        flags = np.full(n_factors, bool(flags))
    if flags.shape != (n_factors,):
        raise ValueError(
            f"{metric}: continuous_factors must hold one bool per factor ({n_factors}), "
            f"got shape {flags.shape}."
        )
    if flags.any() and factors.dtype.kind not in "biuf":
        raise ValueError(f"{metric}: continuous factors must be numeric.")
    return flags


def mutual_information_matrix(codes_a, n_a, codes_b, n_b):
    """Mutual information (nats) between every column of ``codes_a`` and of ``codes_b``.

    Computed from the joint counts of each pair of columns, as
    ``sklearn.metrics.mutual_info_score`` does for one pair, but for all pairs with one
    ``bincount`` per column of ``codes_b``.

    Parameters
    ----------
    codes_a : ndarray of shape (n_samples, n_columns_a), int
        Codes in ``0 .. n_a - 1`` (``n_a`` an int or one int per column).
    n_a : int or ndarray of shape (n_columns_a,)
        Number of codes of each column of ``codes_a``.
    codes_b : ndarray of shape (n_samples, n_columns_b), int
        Codes in ``0 .. n_b[j] - 1``.
    n_b : ndarray of shape (n_columns_b,)
        Number of codes of each column of ``codes_b``.

    Returns
    -------
    mutual_information : ndarray of shape (n_columns_a, n_columns_b)
    """
    n_samples, n_columns_a = codes_a.shape
    size_a = int(np.max(n_a))
    result = np.zeros((n_columns_a, codes_b.shape[1]))
    column_offsets = np.arange(n_columns_a) * size_a
    for j in range(codes_b.shape[1]):
        size_b = int(n_b[j])
        flat = ((codes_a + column_offsets) * size_b + codes_b[:, j, np.newaxis]).ravel()
        joint = np.bincount(flat, minlength=n_columns_a * size_a * size_b)
        joint = joint.reshape(n_columns_a, size_a, size_b) / n_samples
        p_a = joint.sum(axis=2, keepdims=True)
        p_b = joint.sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = joint * np.log(joint / (p_a * p_b))
        result[:, j] = np.where(joint > 0, terms, 0.0).sum(axis=(1, 2))
    # Rounding leaves values of order 1e-16 (of either sign) where the true value is 0,
    # e.g. for a constant column; snap them, so that "no information" is exactly 0.
    result[result < 1e-12] = 0.0
    return result


def entropy_of_codes(codes, n_classes):
    """Entropy (nats) of each column of integer codes."""
    entropies = np.empty(codes.shape[1])
    for j in range(codes.shape[1]):
        p = np.bincount(codes[:, j], minlength=int(n_classes[j])) / codes.shape[0]
        p = p[p > 0]
        entropies[j] = -np.sum(p * np.log(p))
    return entropies


def _distinct_rows(n_rows, n_draws, random_state):
    """``n_draws`` distinct random rows in random order.

    numpy's ``Generator.choice`` draws a small subset of a large pool in time
    proportional to the subset (Floyd's algorithm) instead of permuting the whole pool;
    the generator is seeded from ``random_state`` so results stay reproducible.
    """
    generator = np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    return generator.choice(n_rows, size=n_draws, replace=False)


def draw_rows(n_rows, n_draws, random_state):
    """Indices of ``min(n_draws, n_rows)`` distinct rows, or all rows when ``n_draws`` is None."""
    if n_draws is None or n_draws >= n_rows:
        return np.arange(n_rows)
    return _distinct_rows(n_rows, n_draws, random_state)


def split_rows(n_rows, n_train, n_test, random_state, *, metric, min_each=2):
    """Disjoint random train and test row indices.

    ``n_train`` and ``n_test`` are at least ``min_each`` (the metrics' parameter
    validation sees to it). When the pool holds fewer than ``n_train + n_test`` rows,
    it is split in the proportion ``n_train : n_test``, so a small held-out fold still
    gives both sets; a ``ValueError`` naming the request is raised when that leaves
    either set fewer than ``min_each`` rows.
    """
    if n_rows < n_train + n_test:
        requested = n_train, n_test
        n_train = int(round(n_rows * n_train / (n_train + n_test)))
        n_test = n_rows - n_train
        if min(n_train, n_test) < min_each:
            smaller, size = ("train", n_train) if n_train < min_each else ("test", n_test)
            raise ValueError(
                f"{metric}: n_train={requested[0]} and n_test={requested[1]} ask for "
                f"{sum(requested)} rows, more than the {n_rows} in Z; split in that "
                f"proportion, the {smaller} set would get {size} "
                f"row{'' if size == 1 else 's'} and each set needs at least {min_each}. "
                "Lower n_train or n_test, or pass more rows."
            )
    order = _distinct_rows(n_rows, n_train + n_test, random_state)
    return order[:n_train], order[n_train:]


def as_random_state(random_state):
    """``sklearn.utils.check_random_state``, re-exported for the metric modules."""
    return check_random_state(random_state)
