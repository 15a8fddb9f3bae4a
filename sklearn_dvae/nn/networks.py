"""Encoder and decoder networks: an MLP for vectors, the standard conv net for images.

Encoders output the raw parameters of the posterior (see `VAEModule` for the
contract that every encoder and decoder, built in or your own, follows).
The convolutional pair is the architecture of the large-scale study of Locatello
et al. (ICML 2019): four 4x4 stride-2 convolutions (32, 32, 64, 64 channels),
a dense layer of 256 units, and a dense layer of ``2 * latent_dim`` outputs; the
decoder mirrors it with transposed convolutions. The study used 64x64 images; the
same layers take any image whose height and width are multiples of 16 (32x32,
128x128, ...), the dense layer then reading ``64 * (height / 16) * (width / 16)``
values.
"""

import copy
import inspect
import numbers

from torch import nn

#: Names of the built-in network families.
BUILT_IN_NETWORKS = ("mlp", "conv")


def conv_grid(image_size):
    """Height and width of the conv networks' last feature map for images of ``image_size``.

    Parameters
    ----------
    image_size : int or tuple of int
        Side of square images, or ``(height, width)``.

    Returns
    -------
    grid : tuple of int
        ``(height // 16, width // 16)``.

    Raises
    ------
    ValueError
        If a side is not a positive multiple of 16.

    Examples
    --------
    >>> from sklearn_dvae.nn.networks import conv_grid
    >>> conv_grid(64), conv_grid((32, 128))
    ((4, 4), (2, 8))
    """
    if isinstance(image_size, numbers.Integral):
        image_size = (image_size, image_size)
    height, width = (int(side) for side in image_size)
    if any(side < 16 or side % 16 for side in (height, width)):
        raise ValueError(
            "The conv network halves the image four times: it takes images whose height and "
            f"width are multiples of 16 (32x32, 64x64, 128x128, ...), got {height}x{width}. "
            "Use encoder='mlp' or a network of your own (encoder=/decoder= an nn.Module)."
        )
    return height // 16, width // 16


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
    """Convolutional encoder for images (Locatello et al., 2019, on 64x64).

    Parameters
    ----------
    n_channels : int
        Input channels (1 for dSprites, 3 for 3D Shapes).
    n_outputs : int
        Number of posterior parameters (``2 * latent_dim`` for a diagonal
        Gaussian).
    image_size : int or tuple of int, default=64
        Side of the square input images, or ``(height, width)``; each a
        multiple of 16.

    Examples
    --------
    >>> import torch
    >>> from sklearn_dvae.nn import ConvEncoder
    >>> tuple(ConvEncoder(1, 20)(torch.zeros(2, 1, 64, 64)).shape)
    (2, 20)
    """

    def __init__(self, n_channels, n_outputs, image_size=64):
        super().__init__()
        grid_height, grid_width = conv_grid(image_size)
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
            nn.Linear(64 * grid_height * grid_width, 256),
            nn.ReLU(),
            nn.Linear(256, n_outputs),
        )

    def forward(self, x):
        """Raw posterior parameters of a batch of images.

        Parameters
        ----------
        x : torch.Tensor of shape (batch_size, n_channels, height, width), dtype float32
            Prepared images, channels first.

        Returns
        -------
        params : torch.Tensor of shape (batch_size, n_outputs)
            Unconstrained outputs of the last linear layer (no activation).
        """
        return self.net(x)


class ConvDecoder(nn.Module):
    """Transposed-convolution decoder to images, the mirror of `ConvEncoder`.

    Parameters
    ----------
    latent_dim : int
        Number of latent dimensions.
    n_channels : int
        Output channels.
    image_size : int or tuple of int, default=64
        Side of the square output images, or ``(height, width)``; each a
        multiple of 16.

    Examples
    --------
    >>> import torch
    >>> from sklearn_dvae.nn import ConvDecoder
    >>> tuple(ConvDecoder(10, 1)(torch.zeros(2, 10)).shape)
    (2, 1, 64, 64)
    """

    def __init__(self, latent_dim, n_channels, image_size=64):
        super().__init__()
        grid_height, grid_width = conv_grid(image_size)
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 256),
            nn.ReLU(),
            nn.Linear(256, 64 * grid_height * grid_width),
            nn.ReLU(),
            nn.Unflatten(1, (64, grid_height, grid_width)),
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
        decoded : torch.Tensor of shape (batch_size, n_channels, height, width)
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
    encoder = build_network(
        architecture,
        "encoder",
        sample_shape=sample_shape,
        latent_dim=latent_dim,
        n_outputs=n_encoder_outputs,
        hidden_units=hidden_units,
    )
    decoder = build_network(
        architecture,
        "decoder",
        sample_shape=sample_shape,
        latent_dim=latent_dim,
        n_outputs=n_encoder_outputs,
        hidden_units=hidden_units,
    )
    return encoder, decoder


def build_network(spec, role, *, sample_shape, latent_dim, n_outputs, hidden_units, kwargs=None):
    """Build the encoder or the decoder from its specification.

    Parameters
    ----------
    spec : {"mlp", "conv"}, nn.Module subclass or nn.Module instance
        A built-in family; a class, called with ``kwargs`` (plus ``latent_dim``,
        ``n_outputs`` and ``input_shape`` for an encoder, ``latent_dim`` and
        ``output_shape`` for a decoder, each only when its constructor has an
        argument of that name that ``kwargs`` does not set); or an instance,
        used as it is (re-created from its class with ``kwargs`` when some are
        given, as skorch does with ``module__*``).
    role : {"encoder", "decoder"}
    sample_shape : tuple of int
        One sample as the networks see it: ``(n_features,)`` or
        ``(channels, height, width)``.
    latent_dim : int
    n_outputs : int
        Number of posterior parameters an encoder outputs.
    hidden_units : tuple of int
        Hidden widths of the built-in MLP.
    kwargs : dict or None, default=None
        The ``encoder__*`` or ``decoder__*`` keywords, without the prefix.

    Returns
    -------
    network : torch.nn.Module

    Examples
    --------
    >>> from torch import nn
    >>> from sklearn_dvae.nn.networks import build_network
    >>> build_network(nn.Linear, "decoder", sample_shape=(6,), latent_dim=2, n_outputs=4,
    ...               hidden_units=(), kwargs={"in_features": 2, "out_features": 6})
    Linear(in_features=2, out_features=6, bias=True)
    """
    kwargs = dict(kwargs or {})
    if isinstance(spec, str):
        if kwargs:
            raise ValueError(
                f"{role}__* keywords ({', '.join(sorted(kwargs))}) configure a network of "
                f"your own; {role}={spec!r} takes none (its hidden widths are hidden_units)."
            )
        return _built_in(spec, role, sample_shape, latent_dim, n_outputs, hidden_units)
    if isinstance(spec, nn.Module):
        if not kwargs:
            return spec
        spec = type(spec)
    if not (isinstance(spec, type) and issubclass(spec, nn.Module)):
        raise TypeError(
            f"{role} must be 'mlp', 'conv', or a torch.nn.Module class or instance, got {spec!r}."
        )
    known = (
        {"latent_dim": latent_dim, "n_outputs": n_outputs, "input_shape": tuple(sample_shape)}
        if role == "encoder"
        else {"latent_dim": latent_dim, "output_shape": tuple(sample_shape)}
    )
    accepted = inspect.signature(spec).parameters
    for name, value in known.items():
        if name in accepted and name not in kwargs:
            kwargs[name] = value
    return spec(**kwargs)


def _built_in(family, role, sample_shape, latent_dim, n_outputs, hidden_units):
    if family == "conv":
        if len(sample_shape) != 3:
            raise ValueError(
                f"The conv network needs images, got samples of shape {tuple(sample_shape)}."
            )
        n_channels, height, width = sample_shape
        if role == "encoder":
            return ConvEncoder(n_channels, n_outputs, (height, width))
        return ConvDecoder(latent_dim, n_channels, (height, width))
    if family != "mlp":
        raise ValueError(f"Unknown network family {family!r}: use 'mlp' or 'conv'.")
    if role == "encoder":
        n_features = 1
        for size in sample_shape:
            n_features *= size
        return MLPEncoder(n_features, n_outputs, hidden_units)
    return MLPDecoder(latent_dim, sample_shape, hidden_units)


def network_name(network):
    """How an error message names a network: its class name.

    Parameters
    ----------
    network : torch.nn.Module or class

    Returns
    -------
    name : str
    """
    return network.__name__ if isinstance(network, type) else type(network).__name__


def copy_network_spec(spec):
    """A private copy of a network instance (so that training never changes the user's object).

    Parameters
    ----------
    spec : str, class or torch.nn.Module

    Returns
    -------
    spec : str, class or torch.nn.Module
        A deep copy of an instance; anything else unchanged.
    """
    return copy.deepcopy(spec) if isinstance(spec, nn.Module) else spec


__all__ = [
    "BUILT_IN_NETWORKS",
    "ConvDecoder",
    "ConvEncoder",
    "MLPDecoder",
    "MLPEncoder",
    "build_network",
    "build_networks",
    "conv_grid",
]
