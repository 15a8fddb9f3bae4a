"""
A network of your own: a small CNN on 28x28 images
==================================================

The built-in networks are an MLP and the convolutional network of the large-scale
study (images whose sides are multiples of 16). Any other architecture is a
``torch.nn.Module`` passed as ``encoder=`` and ``decoder=``, with its constructor's
keywords routed as ``encoder__*`` and ``decoder__*``, the way skorch routes
``module__*``. Here a two-layer CNN learns 28x28 images of a square that moves over
the image: two factors of variation, its row and its column.

The contract: the encoder maps a batch of shape ``(n, 1, 28, 28)`` to the posterior's
parameters, ``(n, 2 * latent_dim)`` (means, then log-variances); the decoder maps
latents ``(n, latent_dim)`` to logits of shape ``(n, 1, 28, 28)``. ``fit`` checks both
with one forward pass before training.
"""

# %%
# The networks
# ------------
# ``n_outputs`` and ``latent_dim`` are filled in by the estimator, because the
# constructors have arguments of those names; ``channels`` is ours to set.
import os

import numpy as np
from sklearn.model_selection import GridSearchCV, KFold
from torch import nn

from sklearn_dvae import BetaVAE
from sklearn_dvae.metrics import mig_score
from sklearn_dvae.plotting import plot_latent_traversals, plot_reconstructions

# The tests run every example with SKLEARN_DVAE_EXAMPLES_QUICK=1, for a few steps.
QUICK = os.environ.get("SKLEARN_DVAE_EXAMPLES_QUICK") == "1"


class SmallCNNEncoder(nn.Module):
    def __init__(self, n_outputs, channels=16):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, channels, 4, stride=2, padding=1),  # 14x14
            nn.ReLU(),
            nn.Conv2d(channels, 2 * channels, 4, stride=2, padding=1),  # 7x7
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(2 * channels * 7 * 7, n_outputs),
        )

    def forward(self, x):
        return self.net(x)


class SmallCNNDecoder(nn.Module):
    def __init__(self, latent_dim, channels=16):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 2 * channels * 7 * 7),
            nn.ReLU(),
            nn.Unflatten(1, (2 * channels, 7, 7)),
            nn.ConvTranspose2d(2 * channels, channels, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(channels, 1, 4, stride=2, padding=1),
        )

    def forward(self, z):
        return self.net(z)


# %%
# The data: a 6x6 square at every one of 23 x 23 places
# -----------------------------------------------------
rows, cols = np.meshgrid(np.arange(23), np.arange(23), indexing="ij")
X = np.zeros((rows.size, 28, 28), dtype=np.uint8)
for image, row, col in zip(X, rows.ravel(), cols.ravel(), strict=True):
    image[row : row + 6, col : col + 6] = 255
factors = np.column_stack([rows.ravel(), cols.ravel()])
print(X.shape, X.dtype)

# %%
# Fit, transform, decode
# ----------------------
vae = BetaVAE(
    beta=4.0,
    latent_dim=4,
    encoder=SmallCNNEncoder,
    decoder=SmallCNNDecoder,
    encoder__channels=16,
    decoder__channels=16,
    max_epochs=2 if QUICK else 30,
    random_state=0,
).fit(X)
Z = vae.transform(X)
print("codes:", Z.shape, Z.dtype)
print("KL per latent over the last epoch (nats):", vae.history_[-1]["train_kl_per_latent"])
# How far each factor has a latent of its own: 1 is one latent per factor, 0 none.
print(f"MIG: {mig_score(Z, factors):.3f}")

# %%
plot_reconstructions(vae, X, n=8, random_state=0)

# %%
# Each row sweeps one latent, the one with the largest KL first. A disentangled
# model would move the square along one axis per row; this small, unsearched one
# mixes them, which is what the metrics and a search over ``beta`` are for.
plot_latent_traversals(vae, X, n_latents=4)

# %%
# Searching the network's own keywords
# ------------------------------------
# ``encoder__channels`` is a parameter like any other: ``GridSearchCV`` clones the
# estimator with each value (here scored by the evidence lower bound, ``score``).
# Trained on half of the images for the same 30 epochs, the narrow candidates
# collapse to the prior (their codes carry nothing); ``fit`` says so with a
# ``ConvergenceWarning`` naming each latent's KL.
search = GridSearchCV(
    vae,
    {"encoder__channels": [4, 16], "decoder__channels": [4, 16]},
    cv=KFold(2, shuffle=True, random_state=0),
).fit(X)
for params, score in zip(
    search.cv_results_["params"], search.cv_results_["mean_test_score"], strict=True
):
    print(params, f"test ELBO {score:.1f}")
print("best:", search.best_params_)
