"""Encoder and decoder networks: an MLP for vectors, the standard conv net for 64x64 images.

Encoders output the raw parameters of the posterior (see `VAEModule`).
The convolutional pair is the architecture of the large-scale study of Locatello
et al. (ICML 2019): four 4x4 stride-2 convolutions (32, 32, 64, 64 channels),
a dense layer of 256 units, and a dense layer of ``2 * latent_dim`` outputs; the
decoder mirrors it with transposed convolutions.
"""

from torch import nn


class MLPEncoder(nn.Module):
    """Fully connected encoder returning the raw parameters of the posterior.

    Parameters
    ----------
    n_features : int
        Size of the flattened input.
    n_outputs : int
        Number of posterior parameters (``2 * latent_dim`` for a diagonal
        Gaussian: means then log-variances).
    hidden_units : tuple of int
        Widths of the hidden ReLU layers.

    Examples
    --------
    >>> import torch
    >>> from sklearn_dvae.nn import MLPEncoder
    >>> tuple(MLPEncoder(8, 4, (16,))(torch.zeros(3, 8)).shape)
    (3, 4)
    """

    def __init__(self, n_features, n_outputs, hidden_units=(256, 256)):
        super().__init__()
        layers = []
        width = n_features
        for units in hidden_units:
            layers += [nn.Linear(width, units), nn.ReLU()]
            width = units
        layers.append(nn.Linear(width, n_outputs))
        self.net = nn.Sequential(nn.Flatten(), *layers)

    def forward(self, x):
        """Raw posterior parameters of a batch.

        Parameters
        ----------
        x : torch.Tensor of shape (batch_size, ...), dtype float32
            Prepared inputs; all axes after the first are flattened, so they must
            hold ``n_features`` values per sample.

        Returns
        -------
        params : torch.Tensor of shape (batch_size, n_outputs)
            Unconstrained outputs of the last linear layer (no activation).
        """
        return self.net(x)


class MLPDecoder(nn.Module):
    """Fully connected decoder from latents to the likelihood's parameters.

    Parameters
    ----------
    latent_dim : int
        Number of latent dimensions.
    output_shape : tuple of int
        Shape of one decoded sample (features, or channels x height x width).
    hidden_units : tuple of int
        Widths of the hidden ReLU layers, listed as for the encoder (they are
        used in reverse order).

    Examples
    --------
    >>> import torch
    >>> from sklearn_dvae.nn import MLPDecoder
    >>> tuple(MLPDecoder(2, (1, 4, 4), (16,))(torch.zeros(3, 2)).shape)
    (3, 1, 4, 4)
    """

    def __init__(self, latent_dim, output_shape, hidden_units=(256, 256)):
        super().__init__()
        self.output_shape = tuple(output_shape)
        n_outputs = 1
        for size in self.output_shape:
            n_outputs *= size
        layers = []
        width = latent_dim
        for units in reversed(tuple(hidden_units)):
            layers += [nn.Linear(width, units), nn.ReLU()]
            width = units
        layers.append(nn.Linear(width, n_outputs))
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        """Likelihood parameters of a batch of latents.

        Parameters
        ----------
        z : torch.Tensor of shape (batch_size, latent_dim), dtype float32
            Latent codes.

        Returns
        -------
        decoded : torch.Tensor of shape (batch_size, *output_shape)
            Outputs of the last linear layer (no activation), reshaped to the
            sample shape: logits for a Bernoulli likelihood, means for a Gaussian.
        """
        return self.net(z).view(z.shape[0], *self.output_shape)


class ConvEncoder(nn.Module):
    """Convolutional encoder for 64x64 images (Locatello et al., 2019).

    Parameters
    ----------
    n_channels : int
        Input channels (1 for dSprites, 3 for 3D Shapes).
    n_outputs : int
        Number of posterior parameters (``2 * latent_dim`` for a diagonal
        Gaussian).

    Examples
    --------
    >>> import torch
    >>> from sklearn_dvae.nn import ConvEncoder
    >>> tuple(ConvEncoder(1, 20)(torch.zeros(2, 1, 64, 64)).shape)
    (2, 20)
    """

    def __init__(self, n_channels, n_outputs):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(n_channels, 32, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 32, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(64, 64, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, 256),
            nn.ReLU(),
            nn.Linear(256, n_outputs),
        )

    def forward(self, x):
        """Raw posterior parameters of a batch of images.

        Parameters
        ----------
        x : torch.Tensor of shape (batch_size, n_channels, 64, 64), dtype float32
            Prepared images, channels first.

        Returns
        -------
        params : torch.Tensor of shape (batch_size, n_outputs)
            Unconstrained outputs of the last linear layer (no activation).
        """
        return self.net(x)


class ConvDecoder(nn.Module):
    """Transposed-convolution decoder to 64x64 images, the mirror of `ConvEncoder`.

    Parameters
    ----------
    latent_dim : int
        Number of latent dimensions.
    n_channels : int
        Output channels.

    Examples
    --------
    >>> import torch
    >>> from sklearn_dvae.nn import ConvDecoder
    >>> tuple(ConvDecoder(10, 1)(torch.zeros(2, 10)).shape)
    (2, 1, 64, 64)
    """

    def __init__(self, latent_dim, n_channels):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 256),
            nn.ReLU(),
            nn.Linear(256, 64 * 4 * 4),
            nn.ReLU(),
            nn.Unflatten(1, (64, 4, 4)),
            nn.ConvTranspose2d(64, 64, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(32, 32, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(32, n_channels, 4, stride=2, padding=1),
        )

    def forward(self, z):
        """Likelihood parameters of a batch of latents, as images.

        Parameters
        ----------
        z : torch.Tensor of shape (batch_size, latent_dim), dtype float32
            Latent codes.

        Returns
        -------
        decoded : torch.Tensor of shape (batch_size, n_channels, 64, 64)
            Outputs of the last transposed convolution (no activation): logits
            for a Bernoulli likelihood, means for a Gaussian.
        """
        return self.net(z)


def build_networks(architecture, sample_shape, latent_dim, hidden_units, n_encoder_outputs):
    """Return ``(encoder, decoder)`` for the resolved architecture name.

    Parameters
    ----------
    architecture : {"mlp", "conv"}
        Resolved network family.
    sample_shape : tuple of int
        Shape of one sample as the networks see it: ``(n_features,)`` or
        ``(channels, height, width)``.
    latent_dim : int
        Number of latent dimensions.
    hidden_units : tuple of int
        Hidden widths of the MLP (ignored by the conv networks).
    n_encoder_outputs : int
        Number of posterior parameters the encoder outputs.

    Returns
    -------
    encoder, decoder : torch.nn.Module
    """
    if architecture == "conv":
        n_channels = sample_shape[0]
        return ConvEncoder(n_channels, n_encoder_outputs), ConvDecoder(latent_dim, n_channels)
    n_features = 1
    for size in sample_shape:
        n_features *= size
    encoder = MLPEncoder(n_features, n_encoder_outputs, hidden_units)
    decoder = MLPDecoder(latent_dim, sample_shape, hidden_units)
    return encoder, decoder


__all__ = ["ConvDecoder", "ConvEncoder", "MLPDecoder", "MLPEncoder", "build_networks"]
