"""Closed-form divergences between the encoder's posterior and the prior."""


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
