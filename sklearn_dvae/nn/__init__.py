"""Torch building blocks of the models: networks, likelihoods and divergences."""

from .discriminator import Discriminator, permute_dims
from .divergences import gaussian_kl
from .likelihoods import bernoulli_nll, gaussian_nll
from .networks import ConvDecoder, ConvEncoder, MLPDecoder, MLPEncoder
from .vae import VAEModule, VAEOutput

__all__ = [
    "ConvDecoder",
    "ConvEncoder",
    "Discriminator",
    "MLPDecoder",
    "MLPEncoder",
    "VAEModule",
    "VAEOutput",
    "bernoulli_nll",
    "gaussian_kl",
    "gaussian_nll",
    "permute_dims",
]
