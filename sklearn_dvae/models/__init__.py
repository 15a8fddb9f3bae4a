"""The disentangling models, one module each."""

from .beta_vae import AnnealedVAE, BetaVAE

__all__ = ["AnnealedVAE", "BetaVAE"]
