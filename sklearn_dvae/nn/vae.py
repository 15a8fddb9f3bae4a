"""The VAE module shared by all models: input preparation, encoder, sampling, decoder."""

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .divergences import gaussian_kl
from .likelihoods import bernoulli_nll, gaussian_nll
from .networks import build_networks

# Smallest standard deviation on the diagonal of a full-covariance posterior's
# Cholesky factor: keeps log-determinants and triangular solves finite.
_MIN_SCALE = 1e-4


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
        Means and log marginal variances of the posterior ``q(z|x)``.
    z : torch.Tensor of shape (batch_size, latent_dim)
        A reparameterised sample of ``q(z|x)``.
    scale_tril : torch.Tensor of shape (batch_size, latent_dim, latent_dim) or None
        Cholesky factor of the posterior covariance for a full-covariance
        posterior; None for a diagonal one.

    Examples
    --------
    >>> import torch
    >>> from sklearn_dvae.nn import VAEModule
    >>> module = VAEModule((6,), latent_dim=2, architecture="mlp",
    ...                    likelihood="gaussian", hidden_units=(8,))
    >>> out = module(torch.zeros(4, 6))
    >>> out.scale_tril is None, tuple(out.mu.shape)
    (True, (4, 2))
    """

    x: torch.Tensor
    decoded: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor
    scale_tril: torch.Tensor | None = None


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
    posterior : {"diagonal", "full"}, default="diagonal"
        ``N(mu, diag(exp(logvar)))``, or ``N(mu, L L^T)`` with ``L``
        lower-triangular with a positive diagonal (CHyVAE).

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
        posterior="diagonal",
    ):
        super().__init__()
        self.sample_shape = tuple(sample_shape)
        self.latent_dim = latent_dim
        self.likelihood = likelihood
        self.input_scale = float(input_scale)
        self.channels_last = channels_last
        self.posterior = posterior
        if posterior == "full":
            n_outputs = latent_dim + latent_dim * (latent_dim + 1) // 2
        else:
            n_outputs = 2 * latent_dim
        self.encoder, self.decoder = build_networks(
            architecture, self.sample_shape, latent_dim, hidden_units, n_outputs
        )
        self.register_buffer(
            "_tril_indices", torch.tril_indices(latent_dim, latent_dim), persistent=False
        )

    def prepare(self, x):
        """Convert a raw batch to float32 in the networks' layout and range."""
        x = x.to(dtype=torch.float32)
        if self.input_scale != 1.0:
            x = x * self.input_scale
        if self.channels_last:
            x = x.permute(0, 3, 1, 2)
        return x.reshape(x.shape[0], *self.sample_shape)

    def encode_distribution(self, x):
        """Posterior ``(mu, logvar, scale_tril)`` of a prepared batch.

        ``logvar`` holds the log marginal variances; ``scale_tril`` is None for
        a diagonal posterior.
        """
        raw = self.encoder(x)
        d = self.latent_dim
        mu = raw[:, :d]
        if self.posterior == "diagonal":
            return mu, raw[:, d:], None
        rows, cols = self._tril_indices
        scale_tril = raw.new_zeros(raw.shape[0], d, d)
        scale_tril[:, rows, cols] = raw[:, d:]
        diagonal = F.softplus(torch.diagonal(scale_tril, dim1=1, dim2=2)) + _MIN_SCALE
        scale_tril = torch.tril(scale_tril, diagonal=-1) + torch.diag_embed(diagonal)
        logvar = torch.log(scale_tril.pow(2).sum(dim=2))
        return mu, logvar, scale_tril

    def encode(self, x):
        """Posterior means and log marginal variances ``(mu, logvar)`` of a prepared batch."""
        mu, logvar, _ = self.encode_distribution(x)
        return mu, logvar

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
    def reparameterize(mu, logvar, scale_tril=None, noise=None):
        """A draw of the posterior, differentiable in its parameters.

        ``noise`` (standard normal, broadcastable to ``mu``) is drawn when None.
        """
        if noise is None:
            noise = torch.randn_like(mu)
        if scale_tril is None:
            return mu + noise * torch.exp(0.5 * logvar)
        noise = noise.expand_as(mu)
        return mu + (scale_tril @ noise.unsqueeze(-1)).squeeze(-1)

    def forward(self, x):
        x = self.prepare(x)
        mu, logvar, scale_tril = self.encode_distribution(x)
        z = self.reparameterize(mu, logvar, scale_tril)
        return VAEOutput(x, self.decode(z), mu, logvar, z, scale_tril)

    @staticmethod
    def kl_to_standard_normal(output):
        """``KL(q(z|x) || N(0, I))`` of each sample, shape (batch_size,)."""
        if output.scale_tril is None:
            return gaussian_kl(output.mu, output.logvar).sum(dim=1)
        scale_tril, mu = output.scale_tril, output.mu
        trace = scale_tril.pow(2).sum(dim=(1, 2))
        log_det = 2.0 * torch.log(torch.diagonal(scale_tril, dim1=1, dim2=2)).sum(dim=1)
        return 0.5 * (trace + mu.pow(2).sum(dim=1) - mu.shape[1] - log_det)
