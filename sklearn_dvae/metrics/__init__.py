"""Disentanglement metrics on arrays of codes and factors, and scikit-learn scorers built on them.

Every metric is a function ``name_score(Z, factors, *, ..., random_state=None,
return_details=False)``: ``Z`` holds the representation of a labelled pool (one row per
sample), ``factors`` its ground-truth factors. The defaults follow the protocol of
Locatello et al. (ICML 2019), so values compare with the literature. ``udr_score``
needs no factors: it compares the codes of several models on the same inputs.
"""

from .beta_vae import beta_vae_score
from .dci import dci_from_importance_matrix, dci_score
from .factor_vae import factor_vae_score
from .irs import irs_score
from .mig import mig_score
from .modularity_explicitness import modularity_explicitness_score
from .sap import sap_score
from .scorers import (
    DisentanglementScorer,
    beta_vae_scorer,
    dci_scorer,
    factor_vae_scorer,
    get_scorer,
    get_scorer_names,
    make_disentanglement_scorer,
    make_multimetric_disentanglement_scorer,
    mig_scorer,
    sap_scorer,
)
from .udr import udr_score
from .unsupervised import (
    gaussian_total_correlation,
    gaussian_wasserstein_correlation,
    latent_mutual_info_score,
)

__all__ = [
    "beta_vae_score",
    "factor_vae_score",
    "sap_score",
    "mig_score",
    "dci_score",
    "dci_from_importance_matrix",
    "modularity_explicitness_score",
    "irs_score",
    "gaussian_total_correlation",
    "gaussian_wasserstein_correlation",
    "latent_mutual_info_score",
    "udr_score",
    "DisentanglementScorer",
    "make_disentanglement_scorer",
    "make_multimetric_disentanglement_scorer",
    "get_scorer",
    "get_scorer_names",
    "beta_vae_scorer",
    "factor_vae_scorer",
    "sap_scorer",
    "mig_scorer",
    "dci_scorer",
]
