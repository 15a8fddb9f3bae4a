"""A new model defined here: a VAE with an L1 penalty on its codes ("Adding a model" page)."""

import numbers

import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import Interval
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_dvae import DisentangledVAE
from sklearn_dvae.nn import VAELoss


# ---------------------------------------------------------------- the whole model
class L1VAELoss(VAELoss):
    """``reconstruction + KL + l1 * sum_j |mu_j|`` (batch means)."""

    term_names = ("reconstruction", "kl", "l1")

    def __init__(self, l1=1.0, likelihood="bernoulli"):
        super().__init__(likelihood=likelihood)
        self.l1 = l1

    def regularizer(self, output, kl):
        l1 = output.mu.abs().sum(dim=1).mean()
        return kl + self.l1 * l1, {"l1": l1}


class L1VAE(DisentangledVAE):
    """A VAE whose posterior means are pushed towards 0 by an L1 penalty of weight ``l1``."""

    _parameter_constraints = {
        **DisentangledVAE._parameter_constraints,
        "l1": [Interval(numbers.Real, 0, None, closed="left")],
    }
    _loss_class = L1VAELoss

    def __init__(self, l1=1.0, **kwargs):
        super().__init__(**kwargs)
        self.l1 = l1


# ---------------------------------------------------------------- its tests
SMALL = dict(latent_dim=2, hidden_units=(8,), max_epochs=2, random_state=0)


@parametrize_with_checks([L1VAE(l1=0.5, **SMALL)])
def test_the_new_model_passes_scikit_learns_checks(estimator, check):
    check(estimator)


def test_the_new_model_has_every_parameter_of_the_base():
    params = L1VAE().get_params()
    assert params["l1"] == 1.0 and params["latent_dim"] == 10 and params["lr"] == 1e-3


def test_the_new_loss_is_what_it_says(tabular_unit_data):
    vae = L1VAE(l1=3.0, **SMALL).fit(tabular_unit_data)
    out = vae.net_.module_(torch.from_numpy(tabular_unit_data[:32]))
    loss, terms = vae.net_.criterion_(out)
    mu = out.mu.detach().double().numpy()
    assert terms["l1"].item() == pytest.approx(np.abs(mu).sum(axis=1).mean(), rel=1e-5)
    expected = terms["reconstruction"] + terms["kl"] + 3.0 * terms["l1"]
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert "train_l1" in vae.history_[-1]


def test_the_penalty_shrinks_the_codes_and_follows_set_params(tabular_unit_data):
    kwargs = {**SMALL, "hidden_units": (16,), "max_epochs": 30}
    free = L1VAE(l1=0.0, **kwargs).fit(tabular_unit_data)
    shrunk = L1VAE(l1=20.0, **kwargs).fit(tabular_unit_data)
    assert (
        np.abs(shrunk.transform(tabular_unit_data)).mean()
        < 0.5 * np.abs(free.transform(tabular_unit_data)).mean()
    )
    shrunk.set_params(l1=0.0).partial_fit(tabular_unit_data, epochs=1)
    assert shrunk.net_.criterion_.l1 == 0.0
