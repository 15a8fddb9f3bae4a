"""FactorVAE's discriminator and the per-dimension permutation it is trained against."""

import torch
from torch import nn


class Discriminator(nn.Module):
    """MLP that tells codes of ``q(z)`` (logit 0) from permuted codes (logit 1).

    Kim & Mnih (2018) use 6 hidden layers of 1000 units with LeakyReLU(0.2)
    and 2 outputs; the density-ratio estimate of the total correlation is
    ``logit_0 - logit_1``.

    Parameters
    ----------
    latent_dim : int
        Size of the codes.
    hidden_units : tuple of int, default=(1000,) * 6
        Widths of the hidden layers.

    Examples
    --------
    >>> import torch
    >>> from sklearn_dvae.nn import Discriminator
    >>> tuple(Discriminator(3, (8, 8))(torch.zeros(5, 3)).shape)
    (5, 2)
    """

    def __init__(self, latent_dim, hidden_units=(1000,) * 6):
        super().__init__()
        layers = []
        width = latent_dim
        for units in hidden_units:
            layers += [nn.Linear(width, units), nn.LeakyReLU(0.2)]
            width = units
        layers.append(nn.Linear(width, 2))
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        """Logits of the two classes for a batch of codes.

        Parameters
        ----------
        z : torch.Tensor of shape (batch_size, latent_dim)
            Codes, drawn from ``q(z)`` or permuted with `permute_dims`.

        Returns
        -------
        logits : torch.Tensor of shape (batch_size, 2)
            Unnormalised scores of class 0 (a code of ``q(z)``) and class 1 (a
            permuted code); ``logits[:, 0] - logits[:, 1]`` estimates
            ``log q(z) - log prod_j q(z_j)``.
        """
        return self.net(z)


def permute_dims(z, generator=None):
    """Shuffle each latent dimension independently across the batch.

    The result is a sample of the product of the marginals ``prod_j q(z_j)``:
    every column keeps its values (its multiset) but the joint is broken.
    Shuffling the coordinates within each sample instead, as some public code
    does, is not a sample of that distribution.

    Parameters
    ----------
    z : torch.Tensor of shape (batch_size, latent_dim)
    generator : torch.Generator or None, default=None
        Draws the permutations (torch's global generator when None).

    Returns
    -------
    z_permuted : torch.Tensor of shape (batch_size, latent_dim)

    Examples
    --------
    >>> import torch
    >>> from sklearn_dvae.nn import permute_dims
    >>> z = torch.arange(12.0).reshape(4, 3)
    >>> torch.equal(permute_dims(z).sort(dim=0).values, z)
    True
    """
    order = torch.argsort(
        torch.rand(
            z.shape,
            generator=generator,
            device=z.device if generator is None else generator.device,
        ).to(z.device),
        dim=0,
    )
    return torch.gather(z, 0, order)
