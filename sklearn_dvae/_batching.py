"""Batches of the training data: in-memory arrays indexed a batch at a time, data read on demand.

skorch's default ``DataLoader`` fetches samples one by one and collates them; the
net iterates in-memory arrays and arrays read on demand (h5py datasets, lazy
images) with `ArrayBatches` instead, and keeps an in-memory array on the GPU when
it fits (`copy_to_device`), so that no batch crosses the host-device link twice.
"""

import numpy as np
import scipy.sparse
import torch
from skorch.dataset import Dataset
from torch.utils.data import Subset


class ArrayBatches:
    """Mini-batches of an in-memory array, indexed a whole batch at a time.

    skorch's default ``DataLoader`` fetches samples one by one and collates
    them; indexing the array once per batch is much faster for images and
    keeps uint8 data uint8 until the module converts it. With ``device`` set,
    the whole array is copied to that device once (as it is, e.g. uint8) and
    batches are gathered there: no per-batch host-to-device copies.

    Parameters
    ----------
    X : ndarray
        The data (any dtype the module accepts).
    batch_size : int
        Samples per batch.
    shuffle : bool
        Draw a new permutation (from torch's global CPU generator, which the
        net seeds per epoch) each time the iterator is started. The order is
        drawn on the CPU whatever the device, so both paths see the same batches.
    indices : ndarray of int or None
        Rows of ``X`` to iterate over (a train/validation split), or all rows.
    min_batch_size : int, default=1
        Drop a trailing batch smaller than this (unless it is the only one):
        models with batch statistics cannot use a batch of one sample.
    device : str, torch.device or None, default=None
        Keep the data on this device and index it there; None indexes the
        host array and leaves moving each batch to skorch.
    """

    def __init__(self, X, batch_size, shuffle, indices=None, min_batch_size=1, device=None):
        self.X = X
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.indices = None if indices is None else np.asarray(indices)
        self.min_batch_size = min_batch_size
        self.device = device
        self._resident = None

    def _n_rows(self):
        return len(self.X) if self.indices is None else len(self.indices)

    def __len__(self):
        n = self._n_rows()
        n_batches = -(-n // self.batch_size)
        trailing = n - (n_batches - 1) * self.batch_size
        if n_batches > 1 and trailing < self.min_batch_size:
            n_batches -= 1
        return n_batches

    def _order(self):
        n = self._n_rows()
        order = torch.randperm(n).numpy() if self.shuffle else np.arange(n)
        return order if self.indices is None else self.indices[order]

    def __iter__(self):
        if self.device is not None:
            yield from self._iter_resident()
            return
        order = self._order()
        for batch_index in range(len(self)):
            rows = order[batch_index * self.batch_size : (batch_index + 1) * self.batch_size]
            if not self.shuffle:
                # Contiguous slices avoid a gather on the evaluation path.
                rows = slice(int(rows[0]), int(rows[-1]) + 1) if _is_contiguous(rows) else rows
            yield to_tensor_batch(read_rows(self.X, rows)), None

    def _iter_resident(self):
        if self._resident is None:
            # One copy of the data, in its own dtype, for all epochs of this fit.
            self._resident = copy_to_device(self.X, self.device)
        order = torch.from_numpy(self._order()).to(self.device)
        for batch_index in range(len(self)):
            rows = order[batch_index * self.batch_size : (batch_index + 1) * self.batch_size]
            yield self._resident.index_select(0, rows), None


def is_lazy_array(X):
    """Whether ``X`` is an array-like read on demand (h5py dataset, LazyImages, ...)."""
    return (
        not isinstance(X, np.ndarray)
        and not scipy.sparse.issparse(X)
        and all(hasattr(X, name) for name in ("shape", "dtype", "ndim", "__getitem__"))
        and not hasattr(X, "__array_namespace__")
        and not hasattr(X, "iloc")
        and not isinstance(X, torch.Tensor)
    )


def read_rows(X, rows):
    """Rows of an array or an array-like read on demand, in the order asked for.

    h5py reads only increasing, unique indices: read those, then reorder.
    """
    if isinstance(X, np.ndarray) or isinstance(rows, slice):
        return np.asarray(X[rows])
    rows = np.asarray(rows)
    unique, inverse = np.unique(rows, return_inverse=True)
    return np.asarray(X[unique])[inverse]


def sample_rows(X, n_rows=1024):
    """Up to ``n_rows`` rows spread evenly over ``X`` (the whole of ``X`` if smaller)."""
    if len(X) <= n_rows:
        return np.asarray(X[:])
    return read_rows(X, np.linspace(0, len(X) - 1, n_rows).astype(np.int64))


def value_range(X):
    """``(min, max)`` of an in-memory array, or of a sample of rows of a lazy one."""
    values = sample_rows(X) if is_lazy_array(X) else X
    return float(values.min()), float(values.max())


def copy_to_device(array, device, chunk_bytes=64 << 20):
    """Copy an array (possibly a read-only memmap) to a device in chunks of host memory.

    Copying chunk by chunk bounds the extra host memory by ``chunk_bytes``
    where a single transfer of a read-only array would first copy it whole.
    """
    dtype = torch.from_numpy(np.empty(0, dtype=array.dtype)).dtype
    out = torch.empty(array.shape, dtype=dtype, device=device)
    rows_per_chunk = max(1, chunk_bytes // max(1, array[:1].nbytes))
    for start in range(0, len(array), rows_per_chunk):
        chunk = to_tensor_batch(array[start : start + rows_per_chunk])
        out[start : start + len(chunk)].copy_(chunk)
    return out


def to_tensor_batch(array):
    """A CPU tensor of a batch, sharing memory unless the array is read-only."""
    array = np.ascontiguousarray(array)
    if not array.flags.writeable:
        # torch cannot wrap read-only memory (e.g. a read-only memmap) safely.
        array = array.copy()
    return torch.from_numpy(array)


def _is_contiguous(rows):
    return len(rows) > 0 and rows[-1] - rows[0] == len(rows) - 1 and np.all(np.diff(rows) == 1)


def as_array_view(dataset):
    """Return ``(array, row_indices)`` if ``dataset`` wraps an in-memory ndarray."""
    indices = None
    if isinstance(dataset, Subset):
        indices = np.asarray(dataset.indices)
        dataset = dataset.dataset
    if isinstance(dataset, Dataset) and (
        isinstance(dataset.X, np.ndarray) or is_lazy_array(dataset.X)
    ):
        return dataset.X, indices
    return None, None
