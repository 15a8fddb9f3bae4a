"""GroundTruthDataset: images with the factors that generated them, for training and metrics.

Two kinds of data are covered by one class. A *factor grid* stores one image for
every combination of factor classes, in row-major order (last factor fastest), as
dSprites and 3D Shapes do: the row of a factor combination is computed, never
searched for. Any other *labelled set* (a subset of a grid, data sampled from a
correlated model, a user's own data) carries an explicit factor-class table and
finds rows through a sorted key index built once.
"""

import numbers
import os
from pathlib import Path

import numpy as np
from sklearn.utils import check_random_state

from ._lazy import LazyImages

__all__ = ["GroundTruthDataset", "get_data_home"]

DATA_HOME_ENVIRONMENT_VARIABLE = "SKLEARN_DVAE_DATA"


def get_data_home(data_home=None):
    """Return the data folder, creating it if needed.

    Rendered datasets are cached there (``dsprites/``) and the fetchers download
    the official files there, one subfolder per dataset (``dsprites/``,
    ``shapes3d/``, ``smallnorb/``, ``cars3d/``, ``mpi3d/``), as scikit-learn's
    ``get_data_home`` does for its own datasets.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use. When None, the environment variable
        ``SKLEARN_DVAE_DATA`` names it if set; otherwise it is ``sklearn_dvae`` in
        the user's cache folder (``$XDG_CACHE_HOME``, else ``~/.cache``).

    Returns
    -------
    data_home : pathlib.Path
        The folder, which exists on return.

    See Also
    --------
    fetch_dsprites : Download into the data folder (as do the other fetchers).

    Notes
    -----
    A file the fetchers cannot download (no network) can be put in its subfolder
    by hand under its official name; the fetcher then uses it as it is.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_dvae.datasets import get_data_home
    >>> with tempfile.TemporaryDirectory() as parent:
    ...     print(get_data_home(parent + "/sklearn_dvae").is_dir())
    True
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENVIRONMENT_VARIABLE)
    if data_home is None:
        cache_root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        data_home = Path(cache_root) / "sklearn_dvae"
    data_home = Path(data_home).expanduser()
    data_home.mkdir(parents=True, exist_ok=True)
    return data_home


def _check_count(n, name="n"):
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {n!r}")
    return int(n)


class GroundTruthDataset:
    """Images with the ground-truth factors that generated them.

    Images are kept as given (uint8 for every dataset of this package) and never
    converted to float as a whole; they may live in memory, in a memory-mapped
    file, or stay on disk in a `LazyImages` until rows are indexed. Each factor has
    a name and a list of *levels* (its possible values); a row's factor *class* is
    the index of its level, from 0 to ``size - 1``.

    Parameters
    ----------
    images : array-like of shape (n_samples, ...)
        One image (or feature vector) per row: a NumPy array (memory-mapped or
        not), a `LazyImages`, or an h5py dataset (wrapped in a `LazyImages`).
    factor_classes : array-like of int of shape (n_samples, n_factors), default=None
        Class of each factor for each row. None means ``images`` is the full factor
        grid in row-major order (last factor fastest), so row ``r`` has the classes
        ``np.unravel_index(r, factor_sizes)``. A table that happens to list the
        full grid in that order is recognised as a grid too.
    factor_names : sequence of str, default=None
        Name of each factor; ``"factor_0"``, ``"factor_1"``, ... when None.
    factor_sizes : sequence of int, default=None
        Number of classes of each factor. Taken from ``factor_levels`` when given,
        else from the largest class in ``factor_classes``.
    factor_levels : sequence of array-like of float, default=None
        Value of each class of each factor, e.g. the 32 x positions in [0, 1].
        Defaults to the class numbers themselves.
    name : str, default="GroundTruthDataset"
        Short name shown by ``repr``.
    renderer : callable, default=None
        ``renderer(factor_classes)`` returns the images of any factor classes, for
        datasets defined by a generator (rendered dSprites, CorrelatedEllipses).
        A labelled set with a renderer draws observations from it instead of
        looking up its own rows. Must be picklable to cross process boundaries.
    factor_sampler : callable, default=None
        ``factor_sampler(n, random_state)`` draws ``n`` factor-class rows from the
        generative distribution (for correlated factors). Without it a grid draws
        every factor uniformly and independently, and a labelled set draws its own
        rows uniformly.

    Attributes
    ----------
    images : ndarray or LazyImages of shape (n_samples, ...)
        The images, in their stored dtype.
    factor_names : tuple of str
        Name of each factor.
    factor_sizes : tuple of int
        Number of classes of each factor.
    factor_levels : tuple of ndarray of float
        Value of each class of each factor.
    factor_classes : ndarray of int64 of shape (n_samples, n_factors)
        Class of each factor for each row (computed on first use for a grid).
    factor_values : ndarray of float64 of shape (n_samples, n_factors)
        Value of each factor for each row.
    is_grid : bool
        Whether the rows are the full factor grid in row-major order.
    X : ndarray or LazyImages
        The images, for scikit-learn estimators (the same object as ``images``).
    y : ndarray of int64 of shape (n_samples, n_varying_factors)
        Factor classes without the constant factors (those of size 1, such as the
        dSprites colour), whose columns are named by ``y_factor_names``.

    See Also
    --------
    make_dsprites : Render dSprites as a dataset of this class.
    load_shapes3d : Read 3D Shapes lazily from its official file.
    make_correlated_ellipses : A dataset with correlated factors.

    Notes
    -----
    Constant factors are dropped from ``y`` according to ``factor_sizes``, never
    according to the rows at hand, so every subset of a dataset has the same ``y``
    columns (cross-validation folds stay comparable).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae.datasets import GroundTruthDataset
    >>> images = np.arange(6 * 4, dtype=np.uint8).reshape(6, 2, 2)
    >>> dataset = GroundTruthDataset(
    ...     images, factor_names=["colour", "shape", "size"], factor_sizes=[1, 2, 3]
    ... )
    >>> dataset
    GroundTruthDataset('GroundTruthDataset', n_samples=6, images=(2, 2) uint8 in memory,
      factor grid: colour=1 (constant), shape=2, size=3)
    >>> dataset.factors_to_index([[0, 1, 2]]).tolist()
    [5]
    >>> dataset.y.tolist()[:2]
    [[0, 0], [0, 1]]
    >>> factors = dataset.sample_factors(2, random_state=0)
    >>> dataset.sample_observations_from_factors(factors).shape
    (2, 2, 2)
    >>> dataset[dataset.y[:, 1] == 2].factor_classes.tolist()
    [[0, 0, 2], [0, 1, 2]]
    """

    def __init__(
        self,
        images,
        factor_classes=None,
        *,
        factor_names=None,
        factor_sizes=None,
        factor_levels=None,
        name="GroundTruthDataset",
        renderer=None,
        factor_sampler=None,
    ):
        images = _as_image_array(images)
        n_samples = len(images)
        if factor_classes is not None:
            factor_classes = _as_class_table(factor_classes, "factor_classes")
            if len(factor_classes) != n_samples:
                raise ValueError(
                    f"factor_classes has {len(factor_classes)} rows but images has "
                    f"{n_samples}; give one row of factor classes per image"
                )
        sizes, levels = _resolve_factor_spec(factor_classes, factor_sizes, factor_levels)
        n_factors = len(sizes)
        if factor_names is None:
            factor_names = tuple(f"factor_{k}" for k in range(n_factors))
        factor_names = tuple(str(factor_name) for factor_name in factor_names)
        if len(factor_names) != n_factors:
            raise ValueError(f"factor_names has {len(factor_names)} names for {n_factors} factors")
        if len(set(factor_names)) != n_factors:
            raise ValueError(f"factor_names must be distinct, got {factor_names}")

        self._images = images
        self._factor_names = factor_names
        self._factor_sizes = sizes
        self._factor_levels = levels
        self._name = str(name)
        self._renderer = renderer
        self._factor_sampler = factor_sampler
        self._n_grid = _grid_size(sizes)
        # Row-major strides: the row of a grid combination is classes @ strides.
        self._strides = _grid_strides(sizes)
        self._key_index = None

        if factor_classes is None:
            if n_samples != self._n_grid:
                raise ValueError(
                    f"images has {n_samples} rows but the factor grid "
                    f"{dict(zip(factor_names, sizes, strict=True))} has {self._n_grid} "
                    "combinations; pass factor_classes for a dataset that is not the "
                    "full grid"
                )
            self._is_grid = True
        else:
            check_factor_table(factor_classes, factor_names, sizes, "factor_classes")
            self._is_grid = n_samples == self._n_grid and np.array_equal(
                factor_classes @ self._strides, np.arange(n_samples)
            )
        self._factor_classes = factor_classes

    # ------------------------------------------------------------------ description
    @property
    def images(self):
        return self._images

    @property
    def factor_names(self):
        return self._factor_names

    @property
    def factor_sizes(self):
        return self._factor_sizes

    @property
    def factor_levels(self):
        return self._factor_levels

    @property
    def n_factors(self):
        return len(self._factor_sizes)

    @property
    def n_samples(self):
        return len(self._images)

    @property
    def image_shape(self):
        return tuple(self._images.shape[1:])

    @property
    def is_grid(self):
        return self._is_grid

    @property
    def name(self):
        return self._name

    @property
    def renderer(self):
        return self._renderer

    @property
    def factor_sampler(self):
        return self._factor_sampler

    def __len__(self):
        return self.n_samples

    def __repr__(self):
        images = self._images
        if isinstance(images, LazyImages):
            storage = f"lazy ({images.description})"
        elif _is_memory_mapped(images):
            storage = "memory-mapped"
        else:
            storage = "in memory"
        factors = ", ".join(
            f"{factor_name}={size}" + (" (constant)" if size == 1 else "")
            for factor_name, size in zip(self._factor_names, self._factor_sizes, strict=True)
        )
        kind = "factor grid" if self._is_grid else "labelled set"
        return (
            f"GroundTruthDataset({self._name!r}, n_samples={self.n_samples}, "
            f"images={self.image_shape} {images.dtype} {storage},\n"
            f"  {kind}: {factors})"
        )

    # ------------------------------------------------------------------ labels
    @property
    def factor_classes(self):
        if self._factor_classes is None:
            # A grid's table is implied by the row numbers; build it once, on demand.
            table = np.empty((self._n_grid, self.n_factors), dtype=np.int64)
            rows = np.arange(self._n_grid, dtype=np.int64)
            for k, (stride, size) in enumerate(
                zip(self._strides, self._factor_sizes, strict=True)
            ):
                table[:, k] = (rows // stride) % size
            table.flags.writeable = False
            self._factor_classes = table
        return self._factor_classes

    @property
    def factor_values(self):
        classes = self.factor_classes
        values = np.empty(classes.shape, dtype=np.float64)
        for k, levels in enumerate(self._factor_levels):
            values[:, k] = levels[classes[:, k]]
        return values

    @property
    def varying_factors(self):
        """Column numbers of the factors with more than one class (those in ``y``)."""
        return tuple(k for k, size in enumerate(self._factor_sizes) if size > 1)

    @property
    def y_factor_names(self):
        """Names of the columns of ``y``."""
        return tuple(self._factor_names[k] for k in self.varying_factors)

    @property
    def X(self):
        return self._images

    @property
    def y(self):
        return np.ascontiguousarray(self.factor_classes[:, list(self.varying_factors)])

    # ------------------------------------------------------------------ index <-> factors
    def _check_factors(self, factors, what="factors"):
        """Return ``factors`` as an int64 (n, n_factors) table with classes in range."""
        return check_factor_table(factors, self._factor_names, self._factor_sizes, what)

    def _lookup(self, classes):
        """Sorted keys of the labelled rows, built once: (sorted keys, row order)."""
        if self._key_index is None:
            keys = self.factor_classes @ self._strides
            order = np.argsort(keys, kind="stable")
            self._key_index = (keys[order], order)
        sorted_keys, order = self._key_index
        keys = classes @ self._strides
        first = np.searchsorted(sorted_keys, keys, side="left")
        last = np.searchsorted(sorted_keys, keys, side="right")
        missing = np.flatnonzero(first == last)
        if missing.size:
            row = int(missing[0])
            combination = dict(zip(self._factor_names, classes[row].tolist(), strict=True))
            raise ValueError(
                f"no image of this dataset has the factor classes {combination} (row {row} "
                f"of factors; {missing.size} of {len(classes)} rows are missing). The "
                "dataset is a labelled set, not the full grid: draw factors with "
                "sample_factors(), which only returns combinations it holds"
            )
        return first, last, order

    def factors_to_index(self, factors):
        """Return the row of each factor-class combination.

        A grid computes the rows by index arithmetic; a labelled set looks them up
        and returns the first row holding each combination.

        Parameters
        ----------
        factors : array-like of int of shape (n, n_factors)
            Factor classes, one combination per row.

        Returns
        -------
        indices : ndarray of int64 of shape (n,)
            Row numbers into ``images``.

        Raises
        ------
        ValueError
            If a class is out of range, or (labelled sets) no row has a combination.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_dvae.datasets import GroundTruthDataset
        >>> dataset = GroundTruthDataset(np.zeros((6, 1)), factor_sizes=[2, 3])
        >>> dataset.factors_to_index([[1, 0], [0, 2]]).tolist()
        [3, 2]
        """
        classes = self._check_factors(factors)
        if self._is_grid:
            return classes @ self._strides
        first, _, order = self._lookup(classes)
        return order[first]

    def index_to_factors(self, indices):
        """Return the factor classes of the rows ``indices``.

        Parameters
        ----------
        indices : array-like of int of shape (n,)
            Row numbers into ``images``.

        Returns
        -------
        factors : ndarray of int64 of shape (n, n_factors)
            Factor classes of those rows.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_dvae.datasets import GroundTruthDataset
        >>> dataset = GroundTruthDataset(np.zeros((6, 1)), factor_sizes=[2, 3])
        >>> dataset.index_to_factors([3, 2]).tolist()
        [[1, 0], [0, 2]]
        """
        indices = np.asarray(indices)
        if indices.ndim != 1 or not (
            indices.size == 0 or np.issubdtype(indices.dtype, np.integer)
        ):
            raise ValueError(f"indices must be a 1-D array of integers, got {indices!r}")
        indices = indices.astype(np.int64)
        bad = np.flatnonzero((indices < 0) | (indices >= self.n_samples))
        if bad.size:
            raise ValueError(
                f"row index {int(indices[bad[0]])} is out of range for a dataset of "
                f"{self.n_samples} rows"
            )
        if self._is_grid:
            return np.stack(
                [
                    (indices // stride) % size
                    for stride, size in zip(self._strides, self._factor_sizes, strict=True)
                ],
                axis=1,
            ).reshape(len(indices), self.n_factors)
        return self.factor_classes[indices]

    # ------------------------------------------------------------------ sampling
    def sample_factors(self, n, random_state=None):
        """Draw ``n`` factor-class combinations.

        A grid draws each factor uniformly and independently; a dataset with a
        ``factor_sampler`` draws from it (e.g. correlated factors); any other
        labelled set draws its own rows uniformly, so every combination returned
        has an image.

        Parameters
        ----------
        n : int
            Number of combinations.
        random_state : int, RandomState instance or None, default=None
            Seed or generator, as in scikit-learn.

        Returns
        -------
        factors : ndarray of int64 of shape (n, n_factors)
            Factor classes.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_dvae.datasets import GroundTruthDataset
        >>> dataset = GroundTruthDataset(np.zeros((6, 1)), factor_sizes=[2, 3])
        >>> dataset.sample_factors(4, random_state=0).shape
        (4, 2)
        """
        n = _check_count(n)
        rng = check_random_state(random_state)
        if self._factor_sampler is not None:
            return self._check_factors(self._factor_sampler(n, rng), "factor_sampler output")
        if self._is_grid:
            return np.stack(
                [rng.randint(0, size, size=n) for size in self._factor_sizes], axis=1
            ).astype(np.int64)
        if self.n_samples == 0:
            raise ValueError("cannot sample factors from an empty dataset")
        return self.factor_classes[rng.randint(0, self.n_samples, size=n)].copy()

    def sample_observations_from_factors(self, factors, random_state=None):
        """Return one image for each factor-class combination.

        A grid finds the rows by index arithmetic; a labelled set with a renderer
        renders the images; any other labelled set picks, uniformly at random, one
        of its rows that have each combination.

        Parameters
        ----------
        factors : array-like of int of shape (n, n_factors)
            Factor classes, one combination per row.
        random_state : int, RandomState instance or None, default=None
            Seed or generator for choosing among rows with equal factors.

        Returns
        -------
        observations : ndarray of shape (n,) + image_shape
            The images, in the dataset's dtype (uint8 for this package's datasets).

        Raises
        ------
        ValueError
            If a class is out of range, or a labelled set has no row with a
            combination.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_dvae.datasets import GroundTruthDataset
        >>> dataset = GroundTruthDataset(np.arange(6)[:, None], factor_sizes=[2, 3])
        >>> dataset.sample_observations_from_factors([[1, 2], [0, 0]]).ravel().tolist()
        [5, 0]
        """
        classes = self._check_factors(factors)
        if self._is_grid:
            return self._take(classes @ self._strides)
        if self._renderer is not None:
            return np.asarray(self._renderer(classes))
        first, last, order = self._lookup(classes)
        rng = check_random_state(random_state)
        # Uniform choice among the rows sharing each combination.
        pick = first + np.floor(rng.random_sample(len(classes)) * (last - first)).astype(np.int64)
        return self._take(order[pick])

    def sample(self, n, random_state=None):
        """Draw ``n`` factor combinations and their images.

        Parameters
        ----------
        n : int
            Number of samples.
        random_state : int, RandomState instance or None, default=None
            Seed or generator, as in scikit-learn.

        Returns
        -------
        factors : ndarray of int64 of shape (n, n_factors)
            Factor classes.
        observations : ndarray of shape (n,) + image_shape
            Their images.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_dvae.datasets import GroundTruthDataset
        >>> dataset = GroundTruthDataset(np.arange(6)[:, None], factor_sizes=[2, 3])
        >>> factors, observations = dataset.sample(3, random_state=0)
        >>> bool((observations.ravel() == dataset.factors_to_index(factors)).all())
        True
        """
        rng = check_random_state(random_state)
        factors = self.sample_factors(n, rng)
        return factors, self.sample_observations_from_factors(factors, rng)

    def _take(self, indices):
        if isinstance(self._images, LazyImages):
            return self._images.take(indices)
        # np.asarray drops the memmap subclass: callers get plain arrays.
        return np.asarray(self._images[indices])

    # ------------------------------------------------------------------ subsets
    def subset(self, indices):
        """Return the rows ``indices`` as a new labelled `GroundTruthDataset`.

        Factor names, sizes and levels, the renderer and the factor sampler are
        kept. Lazy images stay lazy; a slice of an in-memory array is a view;
        other in-memory selections are copied.

        Parameters
        ----------
        indices : array-like of int, boolean mask or slice
            Rows to keep, in this order.

        Returns
        -------
        dataset : GroundTruthDataset
            The selected rows.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_dvae.datasets import GroundTruthDataset
        >>> dataset = GroundTruthDataset(np.arange(6)[:, None], factor_sizes=[2, 3])
        >>> part = dataset.subset([5, 0])
        >>> part.factor_classes.tolist(), part.images.ravel().tolist()
        ([[1, 2], [0, 0]], [5, 0])
        """
        if isinstance(indices, numbers.Integral):
            raise TypeError(
                "a dataset is subset with a slice, an integer array or a boolean mask; "
                f"use dataset[[{indices}]] for one row or dataset.images[{indices}] for "
                "its image"
            )
        if isinstance(indices, slice):
            rows = np.arange(*indices.indices(self.n_samples), dtype=np.int64)
        else:
            rows = np.asarray(indices)
            if rows.dtype == bool:
                if rows.shape != (self.n_samples,):
                    raise ValueError(
                        f"boolean mask of shape {rows.shape} does not match {self.n_samples} rows"
                    )
                rows = np.flatnonzero(rows)
            elif rows.ndim != 1 or not (rows.size == 0 or np.issubdtype(rows.dtype, np.integer)):
                raise ValueError(
                    "indices must be a slice, a 1-D integer array or a boolean mask, "
                    f"got {indices!r}"
                )
            rows = rows.astype(np.int64)
            out_of_range = (rows < -self.n_samples) | (rows >= self.n_samples)
            if out_of_range.any():
                raise ValueError(
                    f"row index {int(rows[out_of_range][0])} is out of range for a dataset "
                    f"of {self.n_samples} rows"
                )
            rows = np.where(rows < 0, rows + self.n_samples, rows)
        if isinstance(self._images, LazyImages):
            images = self._images.subset(rows)
        elif isinstance(indices, slice):
            images = self._images[indices]
        else:
            images = np.asarray(self._images[rows])
        return GroundTruthDataset(
            images,
            self.factor_classes[rows],
            factor_names=self._factor_names,
            factor_levels=self._factor_levels,
            name=self._name,
            renderer=self._renderer,
            factor_sampler=self._factor_sampler,
        )

    def __getitem__(self, indices):
        return self.subset(indices)

    def close(self):
        """Close the file that lazy images are read from, if any."""
        if isinstance(self._images, LazyImages):
            self._images.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


# ---------------------------------------------------------------------- helpers
def check_factor_table(classes, factor_names, factor_sizes, what):
    """Return ``classes`` as an int64 (n, n_factors) table, or raise naming the problem.

    Every error names ``what``, and a class out of range also its factor, column, row
    and the valid classes.
    """
    table = _as_class_table(classes, what)
    if table.shape[1] != len(factor_sizes):
        raise ValueError(
            f"{what} must have one column per factor ({len(factor_sizes)}: "
            f"{', '.join(factor_names)}), got shape {table.shape}"
        )
    for k, size in enumerate(factor_sizes):
        column = table[:, k]
        bad = np.flatnonzero((column < 0) | (column >= size))
        if bad.size:
            row = int(bad[0])
            raise ValueError(
                f"{what}: factor {factor_names[k]!r} (column {k}) has class "
                f"{int(column[row])} at row {row}; its valid classes are 0..{size - 1}"
            )
    return table


def _is_memory_mapped(array):
    """Whether an array's data lie in a mapped file (a fancy-indexed copy does not)."""
    while isinstance(array, np.ndarray):
        if isinstance(array, np.memmap) and getattr(array, "_mmap", None) is not None:
            return True
        array = array.base
    return False


def _as_image_array(images):
    if isinstance(images, np.ndarray | LazyImages):
        array = images
    elif type(images).__module__.startswith("h5py"):
        from ._lazy import H5RowReader

        array = LazyImages(
            H5RowReader(images.file.filename, images.name, file=images.file),
            images.shape,
            images.dtype,
            f"HDF5 {images.file.filename}:{images.name}",
        )
    else:
        array = np.asarray(images)
    if array.ndim < 2:
        raise ValueError(
            "images must have one row per sample and at least one more axis, got shape "
            f"{tuple(array.shape)}"
        )
    return array


def _as_class_table(classes, what):
    table = np.asarray(classes)
    if table.ndim != 2:
        raise ValueError(
            f"{what} must be a 2-D array (n_samples, n_factors) of factor classes, got "
            f"shape {table.shape}"
        )
    if table.size and not np.issubdtype(table.dtype, np.integer):
        if not np.issubdtype(table.dtype, np.number):
            raise TypeError(f"{what} must hold integer factor classes, got dtype {table.dtype}")
        if not np.all(np.isfinite(table)) or not np.all(table == np.round(table)):
            raise ValueError(f"{what} must hold integer factor classes, got non-integer values")
    return table.astype(np.int64, copy=False)


def _resolve_factor_spec(factor_classes, factor_sizes, factor_levels):
    if factor_levels is not None:
        levels = tuple(np.asarray(level, dtype=np.float64).ravel() for level in factor_levels)
        for level in levels:
            level.flags.writeable = False
        sizes = tuple(len(level) for level in levels)
        if factor_sizes is not None and tuple(int(s) for s in factor_sizes) != sizes:
            raise ValueError(
                f"factor_sizes {tuple(factor_sizes)} disagree with the lengths of "
                f"factor_levels {sizes}"
            )
    else:
        if factor_sizes is None:
            if factor_classes is None:
                raise ValueError(
                    "give factor_sizes or factor_levels (or factor_classes to infer them)"
                )
            if factor_classes.size and factor_classes.min() < 0:
                raise ValueError("factor_classes must be non-negative")
            sizes = tuple(
                int(size)
                for size in (
                    factor_classes.max(axis=0) + 1
                    if len(factor_classes)
                    else np.ones(factor_classes.shape[1], dtype=np.int64)
                )
            )
        else:
            sizes = tuple(factor_sizes)
        levels = []
        for size in sizes:
            level = np.arange(size, dtype=np.float64)
            level.flags.writeable = False
            levels.append(level)
        levels = tuple(levels)
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
            raise ValueError(f"every factor needs at least one class, got sizes {sizes}")
    sizes = tuple(int(size) for size in sizes)
    if factor_classes is not None and factor_classes.shape[1] != len(sizes):
        raise ValueError(
            f"factor_classes has {factor_classes.shape[1]} columns but {len(sizes)} factors "
            "are described"
        )
    return sizes, levels


def _grid_size(sizes):
    total = 1
    for size in sizes:
        total *= size
    if total >= 2**62:
        raise ValueError(f"a factor grid of {total} combinations is too large to index")
    return total


def _grid_strides(sizes):
    strides = np.ones(len(sizes), dtype=np.int64)
    for k in range(len(sizes) - 2, -1, -1):
        strides[k] = strides[k + 1] * sizes[k + 1]
    return strides
