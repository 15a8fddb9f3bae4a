"""Sampling of rows that share a factor's value, in bounded memory, for the intervention metrics.

The beta-VAE and FactorVAE scores need batches in which one factor is held fixed while
the others vary. disentanglement_lib draws fresh factors from the generative model and
re-encodes new observations for every batch; here the representation of a labelled pool
is computed once and the batches are drawn from the pool's rows that share the held
factor's value, with replacement within the group. When the pool is an i.i.d. sample of
the data, a row drawn uniformly from the group of value ``v`` is a draw from the
conditional distribution given ``factor = v``, which is what the generator provides.
"""

import numpy as np

__all__ = ["FactorGroups", "MEMORY_BUDGET", "check_memory", "draws_per_chunk"]

# Points (beta-VAE) and votes (FactorVAE) are drawn with replacement, so the pool does
# not bound how many a call may ask for; memory does. The budget is far above what the
# published sizes need; a request beyond it is refused before anything is allocated.
MEMORY_BUDGET = 4 * 2**30
# Points or votes are drawn in chunks of MAX_CHUNK, or fewer where a chunk's batch rows
# would take more than CHUNK_BYTES: wide codes and large batches take more, smaller
# chunks instead of more memory.
MAX_CHUNK = 2048
CHUNK_BYTES = 2**28


def bytes_per_batch_row(n_latents):
    """Peak bytes that one drawn batch row takes while its chunk is processed.

    Its row indices and the random numbers that pick them (about six int64 or float64
    values), and three copies of its latents (the gathered rows, their difference or
    scaled copy).
    """
    return 8 * (3 * n_latents + 6)


def draws_per_chunk(batch_size, n_latents):
    """Points or votes drawn together: ``MAX_CHUNK``, fewer to stay within ``CHUNK_BYTES``."""
    fitting = CHUNK_BYTES // (batch_size * bytes_per_batch_row(n_latents))
    return int(max(1, min(MAX_CHUNK, fitting)))


def check_memory(*, metric, n_train, n_eval, batch_size, n_latents, bytes_per_draw, drawn):
    """Raise a ``ValueError`` if the draws would take more than ``MEMORY_BUDGET``.

    ``bytes_per_draw`` is what each point or vote keeps to the end (a feature vector
    and a label, or a held factor and an anchor row); one chunk of batch rows comes on
    top. ``drawn`` names the draws in the message ("points", "votes").
    """
    chunk = min(draws_per_chunk(batch_size, n_latents), max(n_train, n_eval))
    needed = (n_train + n_eval) * bytes_per_draw
    needed += chunk * batch_size * bytes_per_batch_row(n_latents)
    if needed > MEMORY_BUDGET:
        raise ValueError(
            f"{metric}: n_train={n_train}, n_eval={n_eval} and batch_size={batch_size} on "
            f"{n_latents} latents would need about {needed / 2**30:,.1f} GiB for the "
            f"{drawn} drawn, more than the {MEMORY_BUDGET // 2**30} GiB allowed; lower "
            "n_train, n_eval or batch_size."
        )


class FactorGroups:
    """Rows of a pool grouped by the value of each factor.

    Parameters
    ----------
    codes : ndarray of shape (n_samples, n_factors), int
        Class code of each row for each factor, in ``0 .. n_classes[j] - 1``.
    n_classes : ndarray of shape (n_factors,)
        Number of classes of each factor.

    Notes
    -----
    The row indices of all factors, each sorted by class, are stored end to end in one
    array ``rows_by_class``; ``group_start[j, c]`` and ``group_size[j, c]`` locate the
    rows of factor ``j`` with class ``c``. Drawing ``u`` uniform in ``[0, 1)`` and taking
    ``rows_by_class[start + floor(u * size)]`` samples the group with replacement, for
    any number of (factor, class) pairs at once.
    """

    def __init__(self, codes, n_classes):
        self.codes = np.asarray(codes)
        n_samples, n_factors = self.codes.shape
        max_classes = int(np.max(n_classes))
        self.rows_by_class = np.empty(n_samples * n_factors, dtype=np.int64)
        self.group_start = np.zeros((n_factors, max_classes), dtype=np.int64)
        self.group_size = np.zeros((n_factors, max_classes), dtype=np.int64)
        # Codes of at most 65,536 classes fit 16 bits, for which numpy's stable sort is a
        # radix sort: linear in the number of rows, which matters for large pools.
        small = np.uint16 if max_classes <= 65536 else np.int64
        for j in range(n_factors):
            order = np.argsort(self.codes[:, j].astype(small), kind="stable")
            sizes = np.bincount(self.codes[:, j], minlength=max_classes)
            self.rows_by_class[j * n_samples : (j + 1) * n_samples] = order
            self.group_size[j] = sizes
            self.group_start[j] = j * n_samples + np.concatenate(([0], np.cumsum(sizes)[:-1]))
        self.n_samples = n_samples
        self.n_factors = n_factors

    def same_value_rows(self, factor, anchor_rows, size, random_state):
        """Rows sharing ``factor``'s value with each anchor row, drawn with replacement.

        Parameters
        ----------
        factor : ndarray of shape (n_draws,) or (n_draws, k), int
            Index of the factor held fixed, one per anchor row.
        anchor_rows : ndarray, same shape as ``factor``
            Rows whose value of ``factor`` is held.
        size : int or None
            Number of rows to draw per anchor (a trailing axis of that length), or None
            for one row per anchor (no extra axis).
        random_state : numpy.random.RandomState

        Returns
        -------
        rows : ndarray of int
            Shape ``factor.shape + (size,)``, or ``factor.shape`` when ``size`` is None.
        """
        factor = np.asarray(factor)
        value = self.codes[anchor_rows, factor]
        start = self.group_start[factor, value]
        count = self.group_size[factor, value]
        if size is not None:
            start = start[..., np.newaxis]
            count = count[..., np.newaxis]
            shape = factor.shape + (size,)
        else:
            shape = factor.shape
        offset = (random_state.random_sample(shape) * count).astype(np.int64)
        # Guard against u * count rounding up to count for u just below 1.
        np.minimum(offset, count - 1, out=offset)
        return self.rows_by_class[start + offset]
