"""The disentangling models, one module each."""

from .beta_vae import AnnealedVAE, BetaVAE
from .dip_vae import DIPVAE
from .factor_vae import FactorVAE

__all__ = ["AnnealedVAE", "BetaVAE", "DIPVAE", "FactorVAE"]
