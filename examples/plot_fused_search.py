"""
Many models as one computation: the fused search
================================================

:class:`~sklearn_dvae.model_selection.FusedGridSearchCV` is ``GridSearchCV`` whose
candidates train together: the candidates of a fold that differ only in the loss's
hyperparameters and the seed are built as their own ``fit`` would build them, then
their parameters are stacked and one batched forward and backward pass and one
optimizer step train them all (:ref:`parallel_search`). Changing the class name is
the only edit to a script.

Here the same grid (beta x seed, two folds) runs through both classes. A fused
member computes its standalone fit's steps in another order, so the two differ by
float32 rounding, which training amplifies step after step: the two searches score
their candidates closely, not identically (the largest difference is printed below).
The fused search takes less time: one small network's step on a CPU is mostly
per-operation overhead, which the fused step pays once for all its members.
"""

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, KFold

from sklearn_dvae import BetaVAE
from sklearn_dvae.datasets import make_dsprites
from sklearn_dvae.model_selection import FusedGridSearchCV
from sklearn_dvae.plotting import plot_search_results

# The tests run every example with SKLEARN_DVAE_EXAMPLES_QUICK=1, for a few steps.
QUICK = os.environ.get("SKLEARN_DVAE_EXAMPLES_QUICK") == "1"

# dSprites squares at every other position, averaged over 4x4 blocks to 16x16.
dataset = make_dsprites(
    subset={"shape": [0], "orientation": [0], "posX": range(0, 32, 2), "posY": range(0, 32, 2)}
)
X = dataset.X.reshape(-1, 16, 4, 16, 4).mean(axis=(2, 4), dtype=np.float32)

model = BetaVAE(latent_dim=6, hidden_units=(64, 64), lr=2e-3, max_steps=10 if QUICK else 400)
grid = {"beta": [0.5, 2.0], "random_state": [0, 1, 2]}
cv = KFold(2, shuffle=True, random_state=0)

# %%
# The same search, twice
# ----------------------
# Scored by the models' own ``score`` (the evidence lower bound on the held-out
# fold), with no refit: only the comparison matters here.
searches, seconds = {}, {}
for search_class in (GridSearchCV, FusedGridSearchCV):
    start = time.perf_counter()
    searches[search_class.__name__] = search_class(model, grid, cv=cv, refit=False).fit(X)
    seconds[search_class.__name__] = time.perf_counter() - start

plain = searches["GridSearchCV"].cv_results_["mean_test_score"]
fused = searches["FusedGridSearchCV"].cv_results_["mean_test_score"]
for params, one, other in zip(
    searches["GridSearchCV"].cv_results_["params"], plain, fused, strict=True
):
    print(params, f"GridSearchCV {one:.5f}  FusedGridSearchCV {other:.5f}")
print(f"largest difference: {np.max(np.abs(plain - fused)):.2e} nats")
for name, elapsed in seconds.items():
    print(f"{name}: {elapsed:.1f} s")

# %%
# Both searches' results, side by side
# ------------------------------------
fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True, layout="constrained")
for ax, (name, search) in zip(axes, searches.items(), strict=True):
    plot_search_results(search, "beta", ax=ax, log_scale=False)
    ax.set_title(f"{name}: {seconds[name]:.1f} s")

# %%
# On a GPU ``max_fused="auto"`` fuses up to 64 members. On a CPU fusing pays only
# for small fully connected networks like this one; convolutional networks and
# larger ones train one after the other, as ``GridSearchCV`` would train them.
