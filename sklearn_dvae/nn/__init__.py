"""Torch building blocks of the models: networks, loss modules, likelihoods, divergences."""

from .discriminator import Discriminator, permute_dims
from .divergences import gaussian_kl, kl_to_standard_normal
from .inverse_wishart import (
    chyvae_regularizer,
    expected_gaussian_kl_under_inverse_wishart,
    inverse_wishart_kl,
    multivariate_digamma,
    multivariate_lgamma,
    sample_inverse_wishart,
)
from .likelihoods import bernoulli_nll, gaussian_nll
from .losses import (
    AnnealedVAELoss,
    BetaTCVAELoss,
    BetaVAELoss,
    CHyVAELoss,
    DIPVAELoss,
    FactorVAELoss,
    VAELoss,
)
from .networks import ConvDecoder, ConvEncoder, MLPDecoder, MLPEncoder
from .total_correlation import (
    gaussian_log_density,
    log_q_pairs,
    mss_log_importance_weights,
    tc_decomposition,
)
from .vae import VAEModule, VAEOutput

__all__ = [
    "AnnealedVAELoss",
    "BetaTCVAELoss",
    "BetaVAELoss",
    "CHyVAELoss",
    "DIPVAELoss",
    "FactorVAELoss",
    "VAELoss",
    "ConvDecoder",
    "ConvEncoder",
    "Discriminator",
    "MLPDecoder",
    "MLPEncoder",
    "VAEModule",
    "VAEOutput",
    "bernoulli_nll",
    "chyvae_regularizer",
    "expected_gaussian_kl_under_inverse_wishart",
    "gaussian_kl",
    "gaussian_log_density",
    "gaussian_nll",
    "inverse_wishart_kl",
    "kl_to_standard_normal",
    "log_q_pairs",
    "mss_log_importance_weights",
    "multivariate_digamma",
    "multivariate_lgamma",
    "permute_dims",
    "sample_inverse_wishart",
    "tc_decomposition",
]
