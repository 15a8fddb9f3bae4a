"""sklearn-dvae: disentangled variational autoencoders as scikit-learn estimators."""

from ._base import DisentangledVAE
from ._net import TrainingDivergedError, VAENet
from .models import DIPVAE, AnnealedVAE, BetaTCVAE, BetaVAE, CHyVAE, FactorVAE

__version__ = "0.1.0.dev0"

__all__ = [
    "AnnealedVAE",
    "BetaTCVAE",
    "BetaVAE",
    "CHyVAE",
    "DIPVAE",
    "DisentangledVAE",
    "FactorVAE",
    "TrainingDivergedError",
    "VAENet",
    "__version__",
]
