"""Closed-form divergences between the encoder's posterior and the prior."""

import torch


def gaussian_kl(mu, logvar):
    """KL divergence from a diagonal Gaussian posterior to the standard normal prior.

    ``KL(N(mu, diag(sigma^2)) || N(0, I)) = 0.5 * sum_j (mu_j^2 + sigma_j^2 - log sigma_j^2 - 1)``
    with ``sigma^2 = exp(logvar)``, computed per latent dimension.

    Parameters
    ----------
    mu : torch.Tensor of shape (batch_size, latent_dim)
        Posterior means.
    logvar : torch.Tensor of shape (batch_size, latent_dim)
        Posterior log-variances, ``log sigma^2`` (not ``log sigma``).

    Returns
    -------
    kl : torch.Tensor of shape (batch_size, latent_dim)
        The divergence of each latent dimension of each sample; sum over the last
        axis for the KL of a sample.

    Examples
    --------
    >>> import torch
    >>> from sklearn_dvae.nn import gaussian_kl
    >>> gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3)).sum().item()
    0.0
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0)


def kl_to_standard_normal(mu, logvar, scale_tril=None):
    """``KL(q(z|x) || N(0, I))`` of each sample, for a diagonal or a full-covariance posterior.

    Parameters
    ----------
    mu : torch.Tensor of shape (batch_size, latent_dim)
        Posterior means.
    logvar : torch.Tensor of shape (batch_size, latent_dim)
        Posterior log-variances (used when ``scale_tril`` is None).
    scale_tril : torch.Tensor of shape (batch_size, latent_dim, latent_dim) or None
        Lower-triangular Cholesky factor ``L`` of a full covariance ``L L^T``.

    Returns
    -------
    kl : torch.Tensor of shape (batch_size,)
        The divergence of each sample's posterior, summed over the latent dimensions:
        ``0.5 * (tr(L L^T) + |mu|^2 - d - log det(L L^T))`` for a full covariance.

    Examples
    --------
    >>> import torch
    >>> from sklearn_dvae.nn.divergences import kl_to_standard_normal
    >>> mu, logvar = torch.zeros(2, 3), torch.zeros(2, 3)
    >>> kl_to_standard_normal(mu, logvar, torch.eye(3).expand(2, 3, 3)).tolist()
    [0.0, 0.0]
    """
    if scale_tril is None:
        return gaussian_kl(mu, logvar).sum(dim=1)
    trace = scale_tril.pow(2).sum(dim=(1, 2))
    log_det = 2.0 * torch.log(torch.diagonal(scale_tril, dim1=1, dim2=2)).sum(dim=1)
    return 0.5 * (trace + mu.pow(2).sum(dim=1) - mu.shape[1] - log_det)
