"""Image arrays that stay on disk (or unrendered) until rows are indexed.

`LazyImages` is the read-only array-like that `load_shapes3d`, `load_dsprites` (for
HDF5 files) and ``make_dsprites(lazy=True)`` put in a dataset's ``images``. It reads
only the rows that are asked for, keeps their dtype (uint8), and can be pickled
(it reopens its file by path), so joblib workers can share it.
"""

import numbers
import os
import threading

import numpy as np

__all__ = ["LazyImages"]

# Materialising reads this many rows at a time: a few tens of MB for 64x64x3 images.
_MATERIALISE_ROWS = 4096


class LazyImages:
    """Read-only array of images whose rows are read or rendered only when indexed.

    Indexing with an integer, a slice, an integer array or a boolean mask along the
    first axis returns a NumPy array of those rows (further indices in a tuple apply
    to that array). ``np.asarray(images)`` reads everything, in chunks.

    Parameters
    ----------
    reader : callable
        ``reader(indices)`` takes a 1-D int64 array of row numbers (any order,
        repeats allowed) and returns an array of shape ``(len(indices),) + shape[1:]``.
        It must be picklable for the images to be sent to other processes.
    shape : tuple of int
        Shape of the whole array; ``shape[0]`` is the number of rows.
    dtype : dtype, default=np.uint8
        Data type of the rows ``reader`` returns.
    description : str, default="lazy"
        Where the rows come from, shown by ``repr``.

    Attributes
    ----------
    shape : tuple of int
        Shape of the whole array.
    dtype : numpy.dtype
        Data type of the images.
    ndim : int
        Number of dimensions.

    See Also
    --------
    GroundTruthDataset : Keeps lazy or in-memory images with their factors.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae.datasets import LazyImages
    >>> data = np.arange(24, dtype=np.uint8).reshape(6, 2, 2)
    >>> images = LazyImages(lambda rows: data[rows], data.shape, description="demo")
    >>> images
    LazyImages(shape=(6, 2, 2), dtype=uint8, demo)
    >>> images[[4, 1]][:, 0, 0].tolist()
    [16, 4]
    >>> images[2:4].shape
    (2, 2, 2)
    """

    def __init__(self, reader, shape, dtype=np.uint8, description="lazy"):
        self._reader = reader
        self.shape = tuple(int(size) for size in shape)
        self.dtype = np.dtype(dtype)
        self.description = description

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape))

    @property
    def nbytes(self):
        """Bytes the whole array would take in memory (nothing is read)."""
        return self.size * self.dtype.itemsize

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        return f"LazyImages(shape={self.shape}, dtype={self.dtype}, {self.description})"

    def _row_indices(self, key):
        """Turn a first-axis key into a 1-D int64 array of rows, checking bounds."""
        n_rows = self.shape[0]
        if isinstance(key, slice):
            return np.arange(*key.indices(n_rows), dtype=np.int64)
        rows = np.asarray(key)
        if rows.dtype == bool:
            if rows.shape != (n_rows,):
                raise IndexError(
                    f"boolean index of shape {rows.shape} does not match {n_rows} rows"
                )
            return np.flatnonzero(rows).astype(np.int64)
        if rows.ndim != 1 or not (rows.size == 0 or np.issubdtype(rows.dtype, np.integer)):
            raise IndexError(
                "LazyImages rows are indexed by an integer, a slice, a 1-D integer array "
                f"or a boolean mask, got {key!r}"
            )
        rows = rows.astype(np.int64)
        if rows.size and (rows.min() < -n_rows or rows.max() >= n_rows):
            bad = rows[(rows < -n_rows) | (rows >= n_rows)][0]
            raise IndexError(f"row index {bad} is out of bounds for {n_rows} rows")
        return np.where(rows < 0, rows + n_rows, rows)

    def take(self, indices):
        """Return the rows ``indices`` (a 1-D integer array) as a NumPy array.

        Parameters
        ----------
        indices : array-like of int
            Row numbers, in any order, repeats allowed.

        Returns
        -------
        rows : ndarray of shape (len(indices),) + shape[1:]
            The rows, in the order asked for.
        """
        rows = self._row_indices(indices)
        if rows.size == 0:
            return np.empty((0,) + self.shape[1:], dtype=self.dtype)
        return np.asarray(self._reader(rows), dtype=self.dtype)

    def __getitem__(self, key):
        rest = ()
        if isinstance(key, tuple):
            key, rest = (key[0], key[1:]) if key else (slice(None), ())
        if key is Ellipsis:
            return np.asarray(self)[(Ellipsis,) + rest]
        if isinstance(key, numbers.Integral):
            n_rows = self.shape[0]
            if not -n_rows <= key < n_rows:
                raise IndexError(f"row index {key} is out of bounds for {n_rows} rows")
            result = self.take([key])[0]
        else:
            result = self.take(key)
            if rest:
                rest = (slice(None),) + rest
        return result[rest] if rest else result

    def __array__(self, dtype=None, copy=None):
        if copy is False:
            raise ValueError("LazyImages cannot be viewed as an array without reading it")
        out = np.empty(self.shape, dtype=self.dtype)
        for start in range(0, self.shape[0], _MATERIALISE_ROWS):
            stop = min(start + _MATERIALISE_ROWS, self.shape[0])
            out[start:stop] = self._reader(np.arange(start, stop, dtype=np.int64))
        return out if dtype is None else out.astype(dtype, copy=False)

    def subset(self, indices):
        """Return a `LazyImages` over the rows ``indices``, still unread.

        Parameters
        ----------
        indices : array-like of int, slice or boolean mask
            Rows to keep, in this order.

        Returns
        -------
        images : LazyImages
            Lazy view of those rows.
        """
        rows = self._row_indices(indices)
        return LazyImages(
            _RowSubset(self._reader, rows),
            (len(rows),) + self.shape[1:],
            self.dtype,
            self.description,
        )

    def close(self):
        """Close the file behind the images, if any (it reopens when indexed again)."""
        close = getattr(self._reader, "close", None)
        if close is not None:
            close()


class _RowSubset:
    """Reader of a subset of another reader's rows (picklable, unlike a closure)."""

    def __init__(self, reader, rows):
        self.reader = reader
        self.rows = rows

    def __call__(self, indices):
        return self.reader(self.rows[indices])

    def close(self):
        close = getattr(self.reader, "close", None)
        if close is not None:
            close()


class H5RowReader:
    """Reads rows of one dataset of an HDF5 file, opening the file on first use.

    h5py file handles cannot be pickled, so the reader pickles the path and reopens
    it in the receiving process; a reader built on an open file object cannot be.

    Parameters
    ----------
    source : str, path-like or binary file object
        The HDF5 file.
    name : str
        Path of the dataset inside the file, e.g. ``"images"``.
    file : h5py.File, optional
        An already open handle on ``source``, reused instead of opening it again.
    """

    def __init__(self, source, name, file=None):
        self.source = source
        self.name = name
        self._file = file
        self._lock = threading.Lock()

    def _dataset(self):
        if self._file is None or not self._file.id.valid:
            import h5py

            self._file = h5py.File(self.source, "r")
        return self._file[self.name]

    def __call__(self, indices):
        indices = np.asarray(indices, dtype=np.int64)
        unique, inverse = np.unique(indices, return_inverse=True)
        # HDF5 selections must be increasing; a contiguous run is read as one slice,
        # which is far faster than a point selection.
        with self._lock:
            dataset = self._dataset()
            if unique[-1] - unique[0] + 1 == len(unique):
                rows = dataset[int(unique[0]) : int(unique[-1]) + 1]
            else:
                rows = dataset[unique]
        return rows[inverse]

    def close(self):
        if self._file is not None and self._file.id.valid:
            self._file.close()
        self._file = None

    def __getstate__(self):
        if not isinstance(self.source, str | os.PathLike):
            raise TypeError(
                f"cannot pickle images read from the file object {self.source!r}: "
                "load the dataset from a path to send it to other processes"
            )
        return {"source": os.fspath(self.source), "name": self.name}

    def __setstate__(self, state):
        self.source = state["source"]
        self.name = state["name"]
        self._file = None
        self._lock = threading.Lock()
