"""The VAE module shared by all models: input preparation, encoder, sampling, decoder."""

import math
import warnings
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .divergences import kl_to_standard_normal
from .likelihoods import bernoulli_nll, gaussian_nll
from .networks import build_network

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
    >>> module = VAEModule((6,), latent_dim=2, likelihood="gaussian", hidden_units=(8,))
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

    **The network contract.** The encoder maps a prepared batch of shape
    ``(n, *sample_shape)`` (float32, channels first) to the posterior's
    parameters: for a diagonal posterior a tensor of shape ``(n, 2 * latent_dim)``,
    the means then the log-variances ``log sigma^2``; for a full-covariance
    posterior (CHyVAE) a tensor of shape ``(n, latent_dim + latent_dim *
    (latent_dim + 1) / 2)``, the means then the lower triangle of the Cholesky
    factor row by row, whose diagonal goes through a softplus. It may instead
    return a pair ``(means, rest)`` that concatenates to that tensor. The decoder
    maps latents of shape ``(n, latent_dim)`` to a tensor of shape
    ``(n, *sample_shape)`` (or ``(n, prod(sample_shape))``, reshaped): the
    logits of a Bernoulli likelihood, or the means of a unit-variance Gaussian.
    `check_networks` checks both on a batch.

    Parameters
    ----------
    sample_shape : tuple of int
        Shape of one sample as the networks see it: ``(n_features,)`` or
        ``(channels, height, width)``.
    latent_dim : int
        Number of latent dimensions.
    encoder : {"mlp", "conv"}, nn.Module subclass or instance, default="mlp"
        The encoder: a built-in family (``"conv"`` for images whose sides are
        multiples of 16), a class (called with ``encoder_kwargs``, see
        `~sklearn_dvae.nn.networks.build_network`) or an instance, used as it is.
    likelihood : {"bernoulli", "gaussian"}, default="bernoulli"
        Decoder likelihood (used by `mean_of`).
    input_scale : float, default=1.0
        Factor applied to raw inputs (``1 / 255`` for uint8 images).
    channels_last : bool, default=False
        Whether raw image batches are ``(n, height, width, channels)``.
    hidden_units : tuple of int, default=(256, 256)
        Hidden widths of the built-in MLP networks.
    posterior : {"diagonal", "full"}, default="diagonal"
        ``N(mu, diag(exp(logvar)))``, or ``N(mu, L L^T)`` with ``L``
        lower-triangular with a positive diagonal (CHyVAE).
    memory_format : {"contiguous", "channels_last"}, default="contiguous"
        Memory format of convolutional networks: ``"channels_last"`` stores
        their 4-D weights as ``torch.channels_last`` and `prepare` returns image
        batches in that format (same shapes, same values). Ignored by the
        built-in MLP. Unrelated to ``channels_last``, the layout of the raw data.
    decoder : {"mlp", "conv"}, nn.Module subclass or instance, or None, default=None
        The decoder, as ``encoder``; None mirrors a built-in encoder.
    encoder_kwargs, decoder_kwargs : dict or None, default=None
        Keyword arguments of an encoder or decoder class.
    architecture : {"mlp", "conv"} or None, default=None
        Deprecated alias of ``encoder`` (with a mirrored decoder).

    Examples
    --------
    >>> import torch
    >>> from sklearn_dvae.nn import VAEModule
    >>> module = VAEModule((6,), latent_dim=2, encoder="mlp",
    ...                    likelihood="gaussian", hidden_units=(8,))
    >>> out = module(torch.zeros(4, 6))
    >>> tuple(out.z.shape), tuple(out.decoded.shape)
    ((4, 2), (4, 6))
    """

    #: Whether the conv weights and prepared batches are ``torch.channels_last``
    #: (a class default, so that modules pickled before the option existed load).
    _channels_last_memory = False

    def __init__(
        self,
        sample_shape,
        latent_dim,
        encoder="mlp",
        likelihood="bernoulli",
        input_scale=1.0,
        channels_last=False,
        hidden_units=(256, 256),
        posterior="diagonal",
        memory_format="contiguous",
        *,
        decoder=None,
        encoder_kwargs=None,
        decoder_kwargs=None,
        architecture=None,
    ):
        super().__init__()
        if architecture is not None:
            warnings.warn(
                "VAEModule(architecture=...) is deprecated and will be removed in 0.3; "
                "use encoder=... (the decoder mirrors a built-in encoder).",
                FutureWarning,
                stacklevel=2,
            )
            encoder = architecture
        if memory_format not in ("contiguous", "channels_last"):
            raise ValueError(
                f"memory_format must be 'contiguous' or 'channels_last', got {memory_format!r}."
            )
        if posterior not in ("diagonal", "full"):
            raise ValueError(f"posterior must be 'diagonal' or 'full', got {posterior!r}.")
        if decoder is None:
            if not isinstance(encoder, str):
                raise ValueError(
                    "A network of your own as encoder needs a decoder too: pass decoder=."
                )
            decoder = encoder
        self.sample_shape = tuple(sample_shape)
        self.latent_dim = latent_dim
        self.likelihood = likelihood
        self.input_scale = float(input_scale)
        self.channels_last = channels_last
        self.posterior = posterior
        self.n_posterior_parameters = n_posterior_parameters(latent_dim, posterior)
        shared = {
            "sample_shape": self.sample_shape,
            "latent_dim": latent_dim,
            "n_outputs": self.n_posterior_parameters,
            "hidden_units": tuple(hidden_units),
        }
        self.encoder = build_network(encoder, "encoder", kwargs=encoder_kwargs, **shared)
        self.decoder = build_network(decoder, "decoder", kwargs=decoder_kwargs, **shared)
        self.register_buffer("_tril_gather", _tril_gather(latent_dim), persistent=False)
        self.memory_format = memory_format
        if memory_format == "channels_last" and len(self.sample_shape) == 3 and encoder != "mlp":
            self._channels_last_memory = True
            # Only 4-D (conv) weights change format; Module.to keeps the
            # Parameter objects (and the initial values drawn above).
            self.to(memory_format=torch.channels_last)

    def prepare(self, x):
        """Convert a raw batch to float32 in the networks' layout and range.

        Parameters
        ----------
        x : torch.Tensor of shape (batch_size, ...)
            A raw batch of any real or integer dtype (e.g. uint8 images): flat,
            image-shaped, or ``(batch_size, height, width, channels)`` when
            ``channels_last``.

        Returns
        -------
        x : torch.Tensor of shape (batch_size, *sample_shape), dtype float32
            The batch multiplied by ``input_scale``, channels first; stored as
            ``torch.channels_last`` when the module's ``memory_format`` is
            ``"channels_last"`` and its networks are convolutional.
        """
        x = x.to(dtype=torch.float32)
        if self.input_scale != 1.0:
            x = x * self.input_scale
        if self.channels_last:
            x = x.permute(0, 3, 1, 2)
        x = x.reshape(x.shape[0], *self.sample_shape)
        if self._channels_last_memory:
            # A no-op for (n, h, w, c) data, whose permuted view already is.
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def encode_distribution(self, x):
        """Posterior ``(mu, logvar, scale_tril)`` of a prepared batch.

        The encoder outputs the means, then either the log-variances (diagonal
        posterior) or the lower triangle of the Cholesky factor, row by row, whose
        diagonal goes through a softplus (plus 1e-4) to be positive (full posterior).

        Parameters
        ----------
        x : torch.Tensor of shape (batch_size, *sample_shape), dtype float32
            A batch returned by `prepare`.

        Returns
        -------
        mu : torch.Tensor of shape (batch_size, latent_dim)
            Posterior means.
        logvar : torch.Tensor of shape (batch_size, latent_dim)
            Log marginal variances (for a full posterior, the logs of the
            diagonal of ``L L^T``).
        scale_tril : torch.Tensor of shape (batch_size, latent_dim, latent_dim) or None
            Lower-triangular Cholesky factor ``L`` of the posterior covariance;
            None for a diagonal posterior.
        """
        raw = self.encoder(x)
        if isinstance(raw, (tuple, list)):
            raw = torch.cat(tuple(raw), dim=1)
        d = self.latent_dim
        mu = raw[:, :d]
        if self.posterior == "diagonal":
            return mu, raw[:, d:], None
        # Place the row-major lower triangle by gathering from [0, entries...]: no
        # in-place write, so that the same code runs batched under torch.func.vmap.
        gather = getattr(self, "_tril_gather", None)
        if gather is None:  # a module pickled before this buffer existed
            gather = _tril_gather(d).to(raw.device)
        padded = torch.cat([torch.zeros_like(raw[:, :1]), raw[:, d:]], dim=1)
        scale_tril = padded[:, gather].reshape(raw.shape[0], d, d)
        diagonal = F.softplus(torch.diagonal(scale_tril, dim1=1, dim2=2)) + _MIN_SCALE
        scale_tril = torch.tril(scale_tril, diagonal=-1) + torch.diag_embed(diagonal)
        logvar = torch.log(scale_tril.pow(2).sum(dim=2))
        return mu, logvar, scale_tril

    def encode(self, x):
        """Posterior means and log marginal variances ``(mu, logvar)`` of a prepared batch.

        `encode_distribution` without the Cholesky factor.

        Parameters
        ----------
        x : torch.Tensor of shape (batch_size, *sample_shape), dtype float32
            A batch returned by `prepare`.

        Returns
        -------
        mu, logvar : torch.Tensor of shape (batch_size, latent_dim)
            Posterior means and log marginal variances.
        """
        mu, logvar, _ = self.encode_distribution(x)
        return mu, logvar

    def decode(self, z):
        """Decoder output (logits or means) for latents ``z``.

        Parameters
        ----------
        z : torch.Tensor of shape (batch_size, latent_dim), dtype float32
            Latent codes.

        Returns
        -------
        decoded : torch.Tensor of shape (batch_size, *sample_shape)
            Logits of a Bernoulli likelihood or means of a Gaussian one, in the
            networks' layout; see `mean_of` for the expected observation.
        """
        decoded = self.decoder(z)
        if decoded.dim() == 2 and len(self.sample_shape) > 1:
            decoded = decoded.reshape(decoded.shape[0], *self.sample_shape)
        return decoded

    def mean_of(self, decoded):
        """Expected value of the likelihood given the decoder output, in model range.

        Parameters
        ----------
        decoded : torch.Tensor of shape (batch_size, *sample_shape)
            Output of `decode`.

        Returns
        -------
        mean : torch.Tensor of the same shape
            ``sigmoid(decoded)`` (probabilities in [0, 1]) for a Bernoulli
            likelihood; ``decoded`` itself for a Gaussian one.
        """
        if self.likelihood == "bernoulli":
            return torch.sigmoid(decoded)
        return decoded

    def to_raw_layout(self, x):
        """Undo `prepare`'s layout change and scale on a batch of model-range values.

        Parameters
        ----------
        x : torch.Tensor of shape (batch_size, *sample_shape)
            Values in the networks' layout and range, e.g. from `mean_of`.

        Returns
        -------
        x_raw : torch.Tensor
            ``x`` divided by ``input_scale`` (e.g. back to 0-255 for uint8
            images), permuted to ``(batch_size, height, width, channels)`` when
            ``channels_last``. The dtype is unchanged (no rounding); reshaping
            to a flat or channel-less raw layout is left to the caller.
        """
        if self.channels_last:
            x = x.permute(0, 2, 3, 1)
        if self.input_scale != 1.0:
            x = x / self.input_scale
        return x

    def reconstruction_nll(self, decoded, x, include_constant=False):
        """Per-sample negative log-likelihood of ``x``, summed over features.

        Parameters
        ----------
        decoded : torch.Tensor of shape (batch_size, *sample_shape)
            Output of `decode`.
        x : torch.Tensor of shape (batch_size, *sample_shape)
            The prepared batch (``VAEOutput.x``).
        include_constant : bool, default=False
            Gaussian likelihood only: add ``0.5 * log(2 pi)`` per feature (see
            `gaussian_nll`). Ignored by the Bernoulli likelihood.

        Returns
        -------
        nll : torch.Tensor of shape (batch_size,)
            ``-log p(x | z)`` of each sample (`bernoulli_nll` or `gaussian_nll`).
        """
        if self.likelihood == "bernoulli":
            return bernoulli_nll(decoded, x)
        return gaussian_nll(decoded, x, include_constant=include_constant)

    @staticmethod
    def reparameterize(mu, logvar, scale_tril=None, noise=None):
        """A draw of the posterior, differentiable in its parameters.

        Parameters
        ----------
        mu : torch.Tensor of shape (batch_size, latent_dim)
            Posterior means.
        logvar : torch.Tensor of shape (batch_size, latent_dim)
            Posterior log-variances; unused when ``scale_tril`` is given.
        scale_tril : torch.Tensor of shape (batch_size, latent_dim, latent_dim), default=None
            Cholesky factor of a full-covariance posterior, or None for a
            diagonal one.
        noise : torch.Tensor broadcastable to ``mu``, default=None
            Standard-normal noise to use (e.g. one vector of shape
            ``(latent_dim,)`` shared by the batch); drawn with
            ``torch.randn_like(mu)`` when None.

        Returns
        -------
        z : torch.Tensor of shape (batch_size, latent_dim)
            ``mu + noise * exp(logvar / 2)``, or ``mu + scale_tril @ noise``.
        """
        if noise is None:
            noise = torch.randn_like(mu)
        if scale_tril is None:
            return mu + noise * torch.exp(0.5 * logvar)
        noise = noise.expand_as(mu)
        return mu + (scale_tril @ noise.unsqueeze(-1)).squeeze(-1)

    def forward(self, x, noise=None):
        """Prepare, encode, draw one ``z`` per sample and decode it.

        Parameters
        ----------
        x : torch.Tensor of shape (batch_size, ...)
            A raw batch (see `prepare`).
        noise : torch.Tensor of shape (batch_size, latent_dim) or None, default=None
            The standard-normal draws of the reparameterisation (see
            `reparameterize`); None draws them from torch's generator.

        Returns
        -------
        output : VAEOutput
            The prepared batch, the decoder output for the draw, the posterior
            parameters and the draw itself.
        """
        x = self.prepare(x)
        mu, logvar, scale_tril = self.encode_distribution(x)
        z = self.reparameterize(mu, logvar, scale_tril, noise=noise)
        return VAEOutput(x, self.decode(z), mu, logvar, z, scale_tril)

    @staticmethod
    def kl_to_standard_normal(output):
        """``KL(q(z|x) || N(0, I))`` of each sample, shape (batch_size,).

        Parameters
        ----------
        output : VAEOutput
            A forward pass's output; its ``mu``, ``logvar`` and ``scale_tril``
            are used.

        Returns
        -------
        kl : torch.Tensor of shape (batch_size,)
            The divergence of each sample's posterior, summed over the latent
            dimensions (closed form, for a diagonal or a full covariance).
        """
        return kl_to_standard_normal(output.mu, output.logvar, output.scale_tril)

    @torch.no_grad()
    def check_networks(self, x, encoder_name="encoder", decoder_name="decoder"):
        """Run the encoder and the decoder once and check their outputs against the contract.

        Parameters
        ----------
        x : torch.Tensor of shape (n, ...)
            A few raw samples (see `prepare`).
        encoder_name, decoder_name : str
            How the error messages name the networks (e.g. their class names).

        Raises
        ------
        ValueError
            If a network fails on its input or returns an output of another shape
            than the contract's; the message names the network, the expected
            shape and the actual one.
        """
        x = self.prepare(x)
        n, d, n_params = x.shape[0], self.latent_dim, self.n_posterior_parameters
        meaning = (
            "the means, then the log-variances"
            if self.posterior == "diagonal"
            else "the means, then the lower triangle of the Cholesky factor, row by row"
        )
        raw = _run_network(self.encoder, x, "encoder", encoder_name)
        shapes = (
            [tuple(part.shape) if torch.is_tensor(part) else type(part).__name__ for part in raw]
            if isinstance(raw, (tuple, list))
            else None
        )
        if shapes is not None:
            ok = (
                len(raw) == 2
                and all(torch.is_tensor(part) and part.dim() == 2 for part in raw)
                and shapes[0] == (n, d)
                and shapes[1] == (n, n_params - d)
            )
            actual = f"a sequence of {shapes}"
        else:
            ok = torch.is_tensor(raw) and tuple(raw.shape) == (n, n_params)
            actual = tuple(raw.shape) if torch.is_tensor(raw) else type(raw).__name__
        if not ok:
            raise ValueError(
                f"The encoder {encoder_name} must return the posterior's parameters for a "
                f"batch of shape {tuple(x.shape)}: a tensor of shape {(n, n_params)} "
                f"({meaning}, for latent_dim={d}) or a pair of tensors of shapes {(n, d)} "
                f"and {(n, n_params - d)}; it returned {actual}."
            )
        z = torch.zeros(n, d, dtype=x.dtype, device=x.device)
        decoded = _run_network(self.decoder, z, "decoder", decoder_name)
        expected = (n, *self.sample_shape)
        flat = (n, math.prod(self.sample_shape))
        actual = tuple(decoded.shape) if torch.is_tensor(decoded) else type(decoded).__name__
        if actual not in (expected, flat):
            what = "logits" if self.likelihood == "bernoulli" else "means"
            raise ValueError(
                f"The decoder {decoder_name} must return the likelihood's {what} for latents "
                f"of shape {(n, d)}: a tensor of shape {expected}"
                + (f" (or {flat})" if flat != expected else "")
                + f"; it returned {actual}."
            )
        for name, out in (("encoder", raw), ("decoder", decoded)):
            parts = out if isinstance(out, (tuple, list)) else (out,)
            if not all(part.is_floating_point() for part in parts):
                raise ValueError(
                    f"The {name} {encoder_name if name == 'encoder' else decoder_name} must "
                    f"return floating-point tensors, got {[str(p.dtype) for p in parts]}."
                )


def _tril_gather(d):
    """Where each entry of a d x d matrix finds its value in ``[0, lower-triangle entries]``."""
    rows, cols = torch.tril_indices(d, d)
    gather = torch.zeros(d * d, dtype=torch.long)
    gather[rows * d + cols] = torch.arange(1, len(rows) + 1)
    return gather


def n_posterior_parameters(latent_dim, posterior):
    """Number of posterior parameters an encoder outputs.

    Parameters
    ----------
    latent_dim : int
    posterior : {"diagonal", "full"}

    Returns
    -------
    n : int
        ``2 * latent_dim`` (means and log-variances), or ``latent_dim +
        latent_dim * (latent_dim + 1) / 2`` (means and a Cholesky factor).

    Examples
    --------
    >>> from sklearn_dvae.nn.vae import n_posterior_parameters
    >>> n_posterior_parameters(10, "diagonal"), n_posterior_parameters(10, "full")
    (20, 65)
    """
    if posterior == "full":
        return latent_dim + latent_dim * (latent_dim + 1) // 2
    return 2 * latent_dim


def _run_network(network, inputs, role, name):
    try:
        return network(inputs)
    except Exception as error:  # a user's network: report what it was given
        raise ValueError(
            f"The {role} {name} failed on a batch of shape {tuple(inputs.shape)} "
            f"({'prepared samples' if role == 'encoder' else 'latents'}): "
            f"{type(error).__name__}: {error}"
        ) from error
