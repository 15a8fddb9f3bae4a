"""Keep parallel fits from oversubscribing the CPU: cap torch's threads in workers."""

import os
from contextlib import contextmanager

import torch


def _thread_budget():
    """The thread budget a parallel backend gave this process, or None.

    joblib's process workers and Dask's nanny-spawned workers set
    ``OMP_NUM_THREADS`` (to ``cores // n_jobs`` and 1 respectively). torch reads
    it only when it starts, so a worker that inherited an initialised torch
    (fork) or changed the variable later would still use every core.
    """
    value = os.environ.get("OMP_NUM_THREADS", "")
    try:
        budget = int(value)
    except ValueError:
        return None
    return budget if budget > 0 else None


@contextmanager
def limited_torch_threads():
    """Cap torch's intra-op threads at the process's budget for the duration of a block.

    Examples
    --------
    >>> from sklearn_dvae._parallel import limited_torch_threads
    >>> with limited_torch_threads():
    ...     pass
    """
    budget = _thread_budget()
    current = torch.get_num_threads()
    if budget is None or budget >= current:
        yield
        return
    torch.set_num_threads(budget)
    try:
        yield
    finally:
        torch.set_num_threads(current)
