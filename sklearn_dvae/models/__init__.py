"""The disentangling models, one module each."""

from .beta_tcvae import BetaTCVAE
from .beta_vae import AnnealedVAE, BetaVAE
from .chyvae import CHyVAE
from .dip_vae import DIPVAE
from .factor_vae import FactorVAE

__all__ = ["AnnealedVAE", "BetaTCVAE", "BetaVAE", "CHyVAE", "DIPVAE", "FactorVAE"]
