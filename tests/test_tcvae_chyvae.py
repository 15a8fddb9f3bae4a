"""beta-TCVAE and CHyVAE as estimators: their objectives, sampling and bad input."""

import pickle

import numpy as np
import pytest
import torch

from sklearn_dvae import BetaTCVAE, CHyVAE
from sklearn_dvae.nn import chyvae_regularizer, tc_decomposition

SMALL = dict(latent_dim=3, hidden_units=(16,), max_epochs=2, random_state=0)


@pytest.mark.parametrize("estimator", ["mws", "mss"])
def test_beta_tcvae_loss_weights_each_kl_component(tabular_unit_data, estimator):
    vae = BetaTCVAE(beta=6.0, alpha=2.0, gamma=3.0, estimator=estimator, **SMALL)
    vae.fit(tabular_unit_data)
    assert vae.dataset_size_ == 300
    torch.manual_seed(0)
    out = vae.net_.module_(torch.from_numpy(tabular_unit_data[:64]))
    loss, terms = vae.net_.criterion_(out)
    expected = tc_decomposition(out.z, out.mu, out.logvar, 300, estimator=estimator)
    for name in ("mutual_information", "total_correlation", "dimension_wise_kl"):
        assert terms[name].item() == pytest.approx(expected[name].item(), rel=1e-6)
    weighted = (
        2.0 * expected["mutual_information"]
        + 6.0 * expected["total_correlation"]
        + 3.0 * expected["dimension_wise_kl"]
    )
    assert loss.item() == pytest.approx((terms["reconstruction"] + weighted).item(), rel=1e-5)


def test_beta_tcvae_terms_add_up_to_a_kl_estimate(tabular_unit_data):
    vae = BetaTCVAE(sampling="mss", **SMALL).fit(tabular_unit_data)
    history = vae.history_[-1]
    total = sum(
        history[f"train_{name}"]
        for name in ("mutual_information", "total_correlation", "dimension_wise_kl")
    )
    # A one-sample Monte-Carlo estimate of the closed-form KL, averaged over an epoch.
    assert total == pytest.approx(history["train_kl"], abs=0.5)


def test_beta_tcvae_uses_the_given_dataset_size(tabular_unit_data):
    vae = BetaTCVAE(dataset_size=100_000, **SMALL).fit(tabular_unit_data)
    assert vae.dataset_size_ == 100_000


def test_chyvae_loss_is_reconstruction_plus_hyperprior_terms(tabular_unit_data):
    vae = CHyVAE(nu=20.0, **SMALL).fit(tabular_unit_data)
    assert vae.net_.module_.posterior == "full"
    torch.manual_seed(0)
    out = vae.net_.module_(torch.from_numpy(tabular_unit_data[:32]))
    loss, terms = vae.net_.criterion_(out)
    expected = chyvae_regularizer(out.mu, out.scale_tril, out.z, 20.0)
    assert terms["gaussian_kl"].item() == pytest.approx(expected["gaussian_kl"].mean().item())
    assert terms["inverse_wishart_kl"].item() == pytest.approx(
        expected["inverse_wishart_kl"].mean().item()
    )
    total = terms["reconstruction"] + terms["gaussian_kl"] + terms["inverse_wishart_kl"]
    assert loss.item() == pytest.approx(total.item(), rel=1e-6)


def test_chyvae_transform_sample_score_and_pickle(tabular_unit_data):
    vae = CHyVAE(nu=20.0, **SMALL).fit(tabular_unit_data)
    assert vae.transform(tabular_unit_data).shape == (300, 3)
    draws = vae.sample(5, random_state=0)
    assert draws.shape == (5, 8)
    np.testing.assert_array_equal(draws, vae.sample(5, random_state=0))
    assert np.isfinite(vae.score(tabular_unit_data))
    loaded = pickle.loads(pickle.dumps(vae))
    np.testing.assert_array_equal(
        loaded.transform(tabular_unit_data), vae.transform(tabular_unit_data)
    )


def test_chyvae_prior_draws_have_identity_covariance(tabular_unit_data):
    vae = CHyVAE(nu=8.0, **SMALL).fit(tabular_unit_data)
    Z = vae.net_.criterion_.sample_prior(100_000, 3, np.random.RandomState(0))
    # E[z z^T] = E[Sigma] = Psi / (nu - d - 1) = I; the heavy tails of small nu
    # make the estimate noisier than a Gaussian's.
    np.testing.assert_allclose(np.cov(Z, rowvar=False), np.eye(3), atol=0.05)


@pytest.mark.parametrize(
    "model, message",
    [
        (CHyVAE(nu=4.0, latent_dim=3), r"nu must exceed latent_dim \+ 1 = 4"),
        (CHyVAE(nu=-1.0), "'nu' parameter of CHyVAE must be a float"),
        (BetaTCVAE(beta=-1.0), "'beta' parameter of BetaTCVAE must be a float"),
        (BetaTCVAE(estimator="exact"), "'estimator' parameter of BetaTCVAE must be a str"),
        (BetaTCVAE(batch_size=1), "BetaTCVAE needs batch statistics: batch_size must be"),
        (BetaTCVAE(dataset_size=10, batch_size=64), r"dataset_size \(10\) must be at least"),
    ],
)
def test_invalid_hyperparameters_are_rejected(model, message, tabular_unit_data):
    with pytest.raises(ValueError, match=message):
        model.fit(tabular_unit_data)
