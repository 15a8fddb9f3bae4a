"""Each loss term against an independent numpy computation."""

import numpy as np
import pytest
import torch

from sklearn_dvae import AnnealedVAE, BetaVAE
from sklearn_dvae.nn import bernoulli_nll, gaussian_kl, gaussian_nll


def test_gaussian_kl_matches_closed_form_in_numpy():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(5, 4))
    logvar = rng.normal(size=(5, 4))
    sigma2 = np.exp(logvar)
    expected = 0.5 * (mu**2 + sigma2 - np.log(sigma2) - 1.0)
    got = gaussian_kl(torch.tensor(mu), torch.tensor(logvar)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_gaussian_kl_matches_monte_carlo():
    # KL(q || p) = E_q[log q(z) - log p(z)] for one 1-D Gaussian, by sampling.
    mu, logvar = 0.7, np.log(0.3)
    sigma = np.exp(0.5 * logvar)
    z = np.random.default_rng(1).normal(mu, sigma, size=400_000)
    log_q = -0.5 * ((z - mu) / sigma) ** 2 - np.log(sigma)
    log_p = -0.5 * z**2
    monte_carlo = np.mean(log_q - log_p)
    exact = gaussian_kl(torch.tensor([[mu]]), torch.tensor([[logvar]])).item()
    assert exact == pytest.approx(monte_carlo, abs=5e-3)


def test_bernoulli_nll_is_summed_over_pixels_not_averaged():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 1, 4, 4))
    x = (rng.random((3, 1, 4, 4)) > 0.5).astype(float)
    p = 1.0 / (1.0 + np.exp(-logits))
    expected = -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(3, -1).sum(axis=1)
    got = bernoulli_nll(torch.tensor(logits), torch.tensor(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_gaussian_nll_with_and_without_constant():
    rng = np.random.default_rng(0)
    mean, x = rng.normal(size=(2, 6)), rng.normal(size=(2, 6))
    half_sse = 0.5 * ((x - mean) ** 2).sum(axis=1)
    np.testing.assert_allclose(
        gaussian_nll(torch.tensor(mean), torch.tensor(x)).numpy(), half_sse, rtol=1e-12
    )
    with_constant = gaussian_nll(torch.tensor(mean), torch.tensor(x), include_constant=True)
    np.testing.assert_allclose(
        with_constant.numpy(), half_sse + 3.0 * np.log(2 * np.pi), rtol=1e-12
    )


def _numpy_terms(vae, X_batch):
    """Recompute a batch's reconstruction and KL in numpy from the module's own outputs."""
    module = vae.net_.module_
    torch.manual_seed(0)
    out = module(torch.from_numpy(X_batch))
    x = out.x.detach().numpy().reshape(len(X_batch), -1)
    logits = out.decoded.detach().numpy().reshape(len(X_batch), -1)
    mu, logvar = out.mu.detach().numpy(), out.logvar.detach().numpy()
    p = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    reconstruction = -(x * np.log(p) + (1 - x) * np.log1p(-p)).sum(axis=1).mean()
    kl = (0.5 * (mu**2 + np.exp(logvar) - logvar - 1)).sum(axis=1).mean()
    return out, reconstruction, kl


def test_beta_vae_loss_is_reconstruction_plus_beta_times_kl(small_images):
    vae = BetaVAE(beta=4.0, latent_dim=3, hidden_units=(16,), max_epochs=1, random_state=0)
    vae.fit(small_images)
    out, reconstruction, kl = _numpy_terms(vae, small_images[:32])
    loss, terms = vae.net_.criterion_(out)
    assert terms["reconstruction"].item() == pytest.approx(reconstruction, rel=1e-5)
    assert terms["kl"].item() == pytest.approx(kl, rel=1e-5)
    assert loss.item() == pytest.approx(reconstruction + 4.0 * kl, rel=1e-5)
    # Summed over the 256 pixels: a per-pixel mean would be ~256 times smaller.
    assert terms["reconstruction"].item() > 256 * 0.05


def test_annealed_vae_capacity_schedule_and_loss(small_images):
    vae = AnnealedVAE(
        gamma=100.0,
        c_max=10.0,
        iteration_threshold=40,
        latent_dim=3,
        hidden_units=(16,),
        max_epochs=1,
        random_state=0,
    ).fit(small_images)
    assert [vae.capacity(t) for t in (0, 20, 40, 400)] == [0.0, 5.0, 10.0, 10.0]
    out, reconstruction, kl = _numpy_terms(vae, small_images[:32])
    vae.net_.criterion_.training_step = 20
    loss, terms = vae.net_.criterion_(out)
    assert terms["capacity"].item() == 5.0
    assert loss.item() == pytest.approx(reconstruction + 100.0 * abs(kl - 5.0), rel=1e-5)


def test_score_samples_matches_a_numpy_elbo_at_zero_noise_limit(tabular_unit_data):
    # With a near-deterministic posterior the ELBO is -nll(decode(mu)) - KL.
    vae = BetaVAE(latent_dim=2, hidden_units=(16,), max_epochs=1, random_state=0)
    vae.fit(tabular_unit_data)
    module = vae.net_.module_
    with torch.no_grad():
        for layer in (module.encoder.net[-1],):
            layer.bias[2:] = -30.0  # logvar -> -30: sigma ~ 3e-7
            layer.weight[2:] = 0.0
    X = tabular_unit_data[:10]
    with torch.no_grad():
        mu, logvar = module.encode(module.prepare(torch.from_numpy(X)))
        p = torch.sigmoid(module.decode(mu)).double().numpy()
    mu, logvar = mu.double().numpy(), logvar.double().numpy()
    nll = -(X * np.log(p) + (1 - X) * np.log1p(-p)).sum(axis=1)
    kl = (0.5 * (mu**2 + np.exp(logvar) - logvar - 1)).sum(axis=1)
    np.testing.assert_allclose(vae.score_samples(X), -(nll + kl), rtol=1e-5)


def _full_covariance_module():
    torch.manual_seed(0)
    from sklearn_dvae.nn import VAEModule

    return VAEModule(
        (6,),
        latent_dim=3,
        encoder="mlp",
        likelihood="gaussian",
        hidden_units=(8,),
        posterior="full",
    )


def test_full_covariance_posterior_has_a_valid_cholesky_factor():
    module = _full_covariance_module()
    x = torch.randn(5, 6)
    mu, logvar, scale_tril = module.encode_distribution(x)
    assert torch.equal(scale_tril, torch.tril(scale_tril))
    assert torch.all(torch.diagonal(scale_tril, dim1=1, dim2=2) > 0)
    covariance = scale_tril @ scale_tril.transpose(1, 2)
    np.testing.assert_allclose(
        logvar.exp().detach(), torch.diagonal(covariance, dim1=1, dim2=2).detach(), rtol=1e-5
    )


def test_full_covariance_kl_matches_numpy():
    module = _full_covariance_module()
    out = module(torch.randn(4, 6))
    got = module.kl_to_standard_normal(out).detach().double().numpy()
    for i in range(4):
        L = out.scale_tril[i].detach().double().numpy()
        S, m = L @ L.T, out.mu[i].detach().double().numpy()
        expected = 0.5 * (np.trace(S) + m @ m - 3 - np.linalg.slogdet(S)[1])
        assert got[i] == pytest.approx(expected, rel=1e-4)


def test_full_covariance_samples_have_the_posterior_covariance():
    module = _full_covariance_module()
    mu, logvar, scale_tril = module.encode_distribution(torch.randn(1, 6))
    torch.manual_seed(1)
    n = 200_000
    z = module.reparameterize(mu.expand(n, 3), logvar.expand(n, 3), scale_tril.expand(n, 3, 3))
    expected = (scale_tril[0] @ scale_tril[0].T).detach().numpy()
    np.testing.assert_allclose(np.cov(z.detach().numpy(), rowvar=False), expected, atol=0.02)
