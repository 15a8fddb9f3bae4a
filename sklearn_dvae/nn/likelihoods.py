"""Negative log-likelihoods of the decoder, summed over features for each sample.

The reconstruction term of every model is the sum over pixels (or features) of
the negative log-likelihood, averaged over the batch by the caller. A per-pixel
mean would silently divide the term by the number of pixels and multiply every
regularisation weight (beta, gamma, lambda) by that number.
"""

import math

import torch.nn.functional as F


def bernoulli_nll(logits, x):
    """Bernoulli negative log-likelihood of ``x`` under decoder logits.

    Parameters
    ----------
    logits : torch.Tensor of shape (batch_size, ...)
        Decoder outputs before the sigmoid.
    x : torch.Tensor of the same shape
        Targets in [0, 1].

    Returns
    -------
    nll : torch.Tensor of shape (batch_size,)
        ``-log p(x | z)`` of each sample, summed over all other axes. Computed with
        ``binary_cross_entropy_with_logits`` so that it is stable and safe under
        mixed precision.

    Examples
    --------
    >>> import torch
    >>> from sklearn_dvae.nn import bernoulli_nll
    >>> round(bernoulli_nll(torch.zeros(1, 4), torch.ones(1, 4)).item(), 4)
    2.7726
    """
    per_element = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return per_element.flatten(1).sum(dim=1)


def gaussian_nll(mean, x, include_constant=False):
    """Negative log-likelihood of ``x`` under a unit-variance Gaussian decoder.

    Parameters
    ----------
    mean : torch.Tensor of shape (batch_size, ...)
        Decoder means.
    x : torch.Tensor of the same shape
        Targets.
    include_constant : bool, default=False
        Add ``0.5 * log(2 pi)`` per feature. Training drops it (it has no
        gradient); the ELBO reported by ``score`` includes it so that it is a
        true bound on the log-likelihood.

    Returns
    -------
    nll : torch.Tensor of shape (batch_size,)
        ``0.5 * sum (x - mean)^2`` (plus the constant when asked) of each sample.

    Examples
    --------
    >>> import torch
    >>> from sklearn_dvae.nn import gaussian_nll
    >>> gaussian_nll(torch.zeros(1, 2), torch.ones(1, 2)).item()
    1.0
    """
    nll = 0.5 * (x - mean).pow(2).flatten(1).sum(dim=1)
    if include_constant:
        nll = nll + 0.5 * math.log(2.0 * math.pi) * x[0].numel()
    return nll
