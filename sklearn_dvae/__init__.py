"""sklearn-dvae: disentangled variational autoencoders as scikit-learn estimators."""

# Subpackages are attributes after `import sklearn_dvae`; their public names are
# imported from them (`from sklearn_dvae.metrics import sap_score`).
from . import datasets as datasets
from . import metrics as metrics
from . import model_selection as model_selection
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
