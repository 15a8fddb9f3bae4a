"""sklearn-dvae: disentangled variational autoencoders as scikit-learn estimators."""

# The estimators need torch; the metrics, datasets and model-selection helpers need only
# numpy and scikit-learn. Names are therefore imported on first access (PEP 562), so that
# `from sklearn_dvae.metrics import sap_score` (in a joblib or Dask worker, say) does not
# import torch. `import sklearn_dvae` followed by `sklearn_dvae.BetaVAE` works as usual.
import importlib

__version__ = "0.1.0.dev0"

_SUBMODULES = ("datasets", "metrics", "model_selection")
_NAMES = {
    "AnnealedVAE": ".models",
    "BetaTCVAE": ".models",
    "BetaVAE": ".models",
    "CHyVAE": ".models",
    "DIPVAE": ".models",
    "DisentangledVAE": "._base",
    "FactorVAE": ".models",
    "TrainingDivergedError": "._net",
    "VAENet": "._net",
}

__all__ = sorted(_NAMES) + ["__version__"]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name], __name__), name)
        globals()[name] = value  # later accesses skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES) | set(_NAMES))
