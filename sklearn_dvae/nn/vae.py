"""The VAE module shared by all models: input preparation, encoder, sampling, decoder."""

from typing import NamedTuple

import torch
from torch import nn

from .divergences import gaussian_kl
from .likelihoods import bernoulli_nll, gaussian_nll
from .networks import build_networks


class VAEOutput(NamedTuple):
    """What one forward pass of `VAEModule` returns.

    Attributes
    ----------
    x : torch.Tensor
        The input batch as the networks see it: float32, scaled to the model's
        range, in channels-first layout.
    decoded : torch.Tensor
        Decoder output for the sampled ``z``: logits (Bernoulli) or means (Gaussian).
    mu, logvar : torch.Tensor of shape (batch_size, latent_dim)
        Parameters of the diagonal Gaussian posterior ``q(z|x)``.
    z : torch.Tensor of shape (batch_size, latent_dim)
        A reparameterised sample of ``q(z|x)``.
    """

    x: torch.Tensor
    decoded: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor


class VAEModule(nn.Module):
    """Encoder, reparameterised sampling and decoder of a VAE with a Gaussian posterior.

    Raw batches (uint8 or float, flat or image-shaped, channels first or last)
    are converted here, one batch at a time, so that a dataset is never copied
    whole to float.

    Parameters
    ----------
    sample_shape : tuple of int
        Shape of one sample as the networks see it: ``(n_features,)`` or
        ``(channels, height, width)``.
    latent_dim : int
        Number of latent dimensions.
    architecture : {"mlp", "conv"}
        Network family.
    likelihood : {"bernoulli", "gaussian"}
        Decoder likelihood.
    input_scale : float, default=1.0
        Factor applied to raw inputs (``1 / 255`` for uint8 images).
    channels_last : bool, default=False
        Whether raw image batches are ``(n, height, width, channels)``.
    hidden_units : tuple of int, default=(256, 256)
        Hidden widths of the MLP networks.

    Examples
    --------
    >>> import torch
    >>> from sklearn_dvae.nn import VAEModule
    >>> module = VAEModule((6,), latent_dim=2, architecture="mlp",
    ...                    likelihood="gaussian", hidden_units=(8,))
    >>> out = module(torch.zeros(4, 6))
    >>> tuple(out.z.shape), tuple(out.decoded.shape)
    ((4, 2), (4, 6))
    """

    def __init__(
        self,
        sample_shape,
        latent_dim,
        architecture,
        likelihood,
        input_scale=1.0,
        channels_last=False,
        hidden_units=(256, 256),
    ):
        super().__init__()
        self.sample_shape = tuple(sample_shape)
        self.latent_dim = latent_dim
        self.likelihood = likelihood
        self.input_scale = float(input_scale)
        self.channels_last = channels_last
        self.encoder, self.decoder = build_networks(
            architecture, self.sample_shape, latent_dim, hidden_units
        )

    def prepare(self, x):
        """Convert a raw batch to float32 in the networks' layout and range."""
        x = x.to(dtype=torch.float32)
        if self.input_scale != 1.0:
            x = x * self.input_scale
        if self.channels_last:
            x = x.permute(0, 3, 1, 2)
        return x.reshape(x.shape[0], *self.sample_shape)

    def encode(self, x):
        """Posterior parameters ``(mu, logvar)`` of a prepared batch."""
        return self.encoder(x)

    def decode(self, z):
        """Decoder output (logits or means) for latents ``z``."""
        return self.decoder(z)

    def mean_of(self, decoded):
        """Expected value of the likelihood given the decoder output, in model range."""
        if self.likelihood == "bernoulli":
            return torch.sigmoid(decoded)
        return decoded

    def to_raw_layout(self, x):
        """Undo `prepare`'s layout change and scale on a batch of model-range values."""
        if self.channels_last:
            x = x.permute(0, 2, 3, 1)
        if self.input_scale != 1.0:
            x = x / self.input_scale
        return x

    def reconstruction_nll(self, decoded, x, include_constant=False):
        """Per-sample negative log-likelihood of ``x``, summed over features."""
        if self.likelihood == "bernoulli":
            return bernoulli_nll(decoded, x)
        return gaussian_nll(decoded, x, include_constant=include_constant)

    @staticmethod
    def reparameterize(mu, logvar):
        """A draw of ``N(mu, exp(logvar))`` that is differentiable in ``mu`` and ``logvar``."""
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def forward(self, x):
        x = self.prepare(x)
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar)
        return VAEOutput(x, self.decode(z), mu, logvar, z)

    @staticmethod
    def kl_per_dimension(mu, logvar):
        """KL to the standard normal prior, per sample and latent dimension."""
        return gaussian_kl(mu, logvar)
