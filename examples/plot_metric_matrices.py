"""
What the metrics look at: votes, importances, mutual information
================================================================

Each disentanglement metric summarises a latents x factors matrix in one number, and
``return_details=True`` returns that matrix:

- the **FactorVAE score** (:ref:`metric_factor_vae`) holds one factor fixed over a
  batch and votes for the latent that varies least; ``"eval_votes"`` counts the
  votes of each latent for each factor;
- **DCI** (:ref:`metric_dci`) predicts each factor from all latents with boosted
  trees; ``"importance_matrix"`` holds each latent's importance for each factor;
- **MIG** (:ref:`metric_mig`) takes the gap between the two latents that share the
  most information with a factor; ``"mutual_information"`` is that information.

A disentangled code has one strong cell per row and per column.
:func:`~sklearn_dvae.plotting.plot_metric_matrix` draws the matrices, first for a
code whose answer is known, then for a small model trained in a few seconds.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from sklearn_dvae import BetaVAE
from sklearn_dvae.datasets import make_dsprites
from sklearn_dvae.metrics import dci_score, factor_vae_score, mig_score
from sklearn_dvae.plotting import plot_metric_matrix

# The tests run every example with SKLEARN_DVAE_EXAMPLES_QUICK=1, for a few steps.
QUICK = os.environ.get("SKLEARN_DVAE_EXAMPLES_QUICK") == "1"

# dSprites squares at every other position, averaged over 2x2 blocks to 32x32:
# three factors, scale (6 values), posX and posY (16 each).
dataset = make_dsprites(
    subset={"shape": [0], "orientation": [0], "posX": range(0, 32, 2), "posY": range(0, 32, 2)}
)
X = dataset.X.reshape(-1, 32, 2, 32, 2).mean(axis=(2, 4), dtype=np.float32)
y = dataset.y


def metric_matrices(Z, title):
    """Score Z three ways, print the scores and draw the three matrices."""
    votes = factor_vae_score(
        Z,
        y,
        n_train=2000,
        n_eval=1000,
        n_variance_estimate=1536,
        random_state=0,
        return_details=True,
    )
    dci = dci_score(Z, y, n_train=1000, n_test=500, random_state=0, return_details=True)
    mig = mig_score(Z, y, random_state=0, return_details=True)
    print(
        f"{title}: FactorVAE score {votes['score']:.3f}, DCI disentanglement "
        f"{dci['disentanglement']:.3f} (completeness {dci['completeness']:.3f}), "
        f"MIG {mig['score']:.3f}"
    )
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), layout="constrained")
    for ax, matrix, label, details in (
        (axes[0], votes["eval_votes"], "votes", votes),
        (axes[1], dci["importance_matrix"], "importance", dci),
        (axes[2], mig["mutual_information"], "mutual information (nats)", mig),
    ):
        names = [dataset.y_factor_names[k] for k in details["factor_indices"]]
        plot_metric_matrix(matrix, factor_names=names, value_label=label, ax=ax)
    axes[0].set_title(f"FactorVAE score {votes['score']:.2f}")
    axes[1].set_title(f"DCI disentanglement {dci['disentanglement']:.2f}")
    axes[2].set_title(f"MIG {mig['score']:.2f}")
    fig.suptitle(title)
    return fig


# %%
# A code with a known answer
# --------------------------
# Latents 0 to 2 are the three factors with a little noise, latents 3 and 4 are
# noise alone: the ideal a model aims at. The votes and importances sit on the
# diagonal; MIG is lower than the other two because a factor's mutual information
# with its own noisy latent is below the factor's entropy (the gap is divided by it).
rng = np.random.default_rng(0)
ideal = np.column_stack([y + 0.3 * rng.standard_normal(y.shape), rng.standard_normal((len(y), 2))])
metric_matrices(ideal, "one latent per factor, plus two noise latents")

# %%
# A trained model
# ---------------
# A beta-VAE trained for 1,500 steps (about 10 seconds on a laptop core).
vae = BetaVAE(
    beta=4.0,
    latent_dim=6,
    hidden_units=(128, 128),
    lr=1e-3,
    max_steps=50 if QUICK else 1500,
    random_state=0,
).fit(X)
Z = vae.transform(X)
print("KL of each latent to the prior (nats):", np.round(vae.latent_kl(X), 2))
print("standard deviation of each latent's code:", np.round(Z.std(axis=0), 2))
metric_matrices(Z, "BetaVAE(beta=4), 1,500 steps")

# %%
# The three scores disagree, and the matrices say why. The votes ask only which
# latent varies least while a factor is held fixed: each factor has a latent that
# wins most of its votes, so the FactorVAE score is high. DCI and MIG ask how much
# of a factor lives in one latent: the importances and the mutual information of
# a factor are spread over several latents (a column with more than one bright
# cell), so both stay low. A latent whose KL is near zero may still win votes: the
# score leaves out only the latents whose codes vary less than
# ``prune_threshold=0.05`` (their standard deviations are printed above), and
# scales the others by their spread.
