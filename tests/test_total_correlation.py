"""Tests of the beta-TCVAE minibatch estimators against scipy, slow loops and exact enumeration."""

import itertools
import math

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.special import logsumexp

from sklearn_dvae.nn.total_correlation import (
    gaussian_log_density,
    log_q_pairs,
    mss_log_importance_weights,
    tc_decomposition,
)


def _posteriors(batch, d, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(batch, d, generator=g, dtype=dtype)
    logvar = torch.empty(batch, d, dtype=dtype).uniform_(-2.0, 0.5, generator=g)
    z = mu + (0.5 * logvar).exp() * torch.randn(batch, d, generator=g, dtype=dtype)
    return z, mu, logvar


def _gaussian_codes(n, d, posterior_var, rho, seed):
    """Codes whose aggregate posterior is N(0, R), R unit-diagonal with correlations ``rho``.

    ``mu_n ~ N(0, R - s^2 I)`` and ``q(z|x_n) = N(mu_n, s^2 I)``, so ``z ~ N(0, R)``, whose
    total correlation is ``-0.5 log det R`` (``-0.5 log(1 - rho^2)`` for ``d = 2``).
    """
    g = torch.Generator().manual_seed(seed)
    cov_mu = np.full((d, d), rho) + (1.0 - rho - posterior_var) * np.eye(d)
    chol = torch.linalg.cholesky(torch.tensor(cov_mu))
    mu = torch.randn(n, d, generator=g, dtype=torch.float64) @ chol.T
    logvar = torch.full((n, d), math.log(posterior_var), dtype=torch.float64)
    z = mu + math.sqrt(posterior_var) * torch.randn(n, d, generator=g, dtype=torch.float64)
    return z, mu, logvar


def _scipy_log_q(z_point, mu, logvar):
    """(N,) log q(z_point | x_n) for every posterior n, with scipy."""
    return stats.norm.logpdf(z_point, loc=mu, scale=np.exp(0.5 * logvar)).sum(-1)


# ------------------------------------------------------------------------ densities


def test_gaussian_log_density_matches_scipy():
    rng = np.random.default_rng(0)
    z, mu, logvar = rng.normal(size=(3, 50, 4))
    got = gaussian_log_density(torch.tensor(z), torch.tensor(mu), torch.tensor(logvar))
    expected = stats.norm.logpdf(z, loc=mu, scale=np.exp(0.5 * logvar))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_log_q_pairs_matches_a_double_loop():
    z, mu, logvar = _posteriors(5, 3, seed=1)
    got = log_q_pairs(z, mu, logvar)
    assert got.shape == (5, 5, 3)
    for i in range(5):
        for j in range(5):
            expected = stats.norm.logpdf(z[i], loc=mu[j], scale=np.exp(0.5 * logvar[j].numpy()))
            np.testing.assert_allclose(got[i, j].numpy(), expected, rtol=1e-12)


# --------------------------------------------------------------------------- weights


def test_mss_weight_matrix_has_the_paper_weights_on_the_diagonal():
    batch, n = 6, 100
    log_w = mss_log_importance_weights(batch, n, dtype=torch.float64)
    w = log_w.exp().numpy()
    np.testing.assert_allclose(np.diag(w), 1.0 / n, rtol=1e-12)
    off = w[~np.eye(batch, dtype=bool)]
    np.testing.assert_allclose(off, (n - 1) / (n * (batch - 1)), rtol=1e-12)
    np.testing.assert_allclose(logsumexp(log_w.numpy(), axis=1), 0.0, atol=1e-12)
    # The public copies assign 1/N with a stride of B (rtqichen/beta-tcvae, disentangling-vae
    # #58, pythae), which fills column 0: here every row has 1/N at its own index only.
    assert np.argmin(w, axis=1).tolist() == list(range(batch))
    assert np.allclose(w[1:, 0], (n - 1) / (n * (batch - 1)))
    # With the whole dataset as the batch, every weight is 1/N.
    np.testing.assert_allclose(mss_log_importance_weights(7, 7).exp().numpy(), 1 / 7, rtol=1e-6)


def test_mss_weight_matrix_dtype_and_errors():
    assert mss_log_importance_weights(3, 10).dtype == torch.get_default_dtype()
    assert mss_log_importance_weights(3, 10, dtype=torch.float64).dtype == torch.float64
    with pytest.raises(ValueError, match="at least 2"):
        mss_log_importance_weights(1, 10)
    with pytest.raises(ValueError, match="at least the batch size"):
        mss_log_importance_weights(5, 4)
    with pytest.raises(ValueError, match="batch_size must be an integer"):
        mss_log_importance_weights(2.0, 4)


# ------------------------------------------------------------- estimators, exactly


def test_mss_with_the_whole_dataset_as_batch_is_the_exact_aggregate_posterior():
    n, d = 12, 3
    z, mu, logvar = _posteriors(n, d, seed=2)
    terms = tc_decomposition(z, mu, logvar, dataset_size=n, estimator="mss")
    zn, mun, lvn = z.numpy(), mu.numpy(), logvar.numpy()
    exact_qz = [logsumexp(_scipy_log_q(zn[i], mun, lvn)) - np.log(n) for i in range(n)]
    exact_prod = [
        sum(
            logsumexp(stats.norm.logpdf(zn[i, k], mun[:, k], np.exp(0.5 * lvn[:, k]))) - np.log(n)
            for k in range(d)
        )
        for i in range(n)
    ]
    np.testing.assert_allclose(terms["log_qz"].numpy(), exact_qz, rtol=1e-12)
    np.testing.assert_allclose(terms["log_prod_qzj"].numpy(), exact_prod, rtol=1e-12)
    log_qzx = [_scipy_log_q(zn[i], mun[i : i + 1], lvn[i : i + 1])[0] for i in range(n)]
    np.testing.assert_allclose(terms["log_qz_given_x"].numpy(), log_qzx, rtol=1e-12)
    log_pz = stats.norm.logpdf(zn).sum(-1)
    np.testing.assert_allclose(terms["log_pz"].numpy(), log_pz, rtol=1e-12)


def test_mws_matches_its_formula_computed_by_a_slow_loop():
    batch, d, n = 7, 3, 1000
    z, mu, logvar = _posteriors(batch, d, seed=3)
    terms = tc_decomposition(z, mu, logvar, dataset_size=n, estimator="mws")
    for i in range(batch):
        joint, marginal = [], [[] for _ in range(d)]
        for j in range(batch):
            total = 0.0
            for k in range(d):
                var = math.exp(logvar[j, k].item())
                lp = -0.5 * (
                    math.log(2 * math.pi * var) + (z[i, k].item() - mu[j, k].item()) ** 2 / var
                )
                marginal[k].append(lp)
                total += lp
            joint.append(total)
        log_qz = logsumexp(joint) - math.log(n * batch)
        log_prod = sum(logsumexp(m) - math.log(n * batch) for m in marginal)
        assert terms["log_qz"][i].item() == pytest.approx(log_qz, rel=1e-12)
        assert terms["log_prod_qzj"][i].item() == pytest.approx(log_prod, rel=1e-12)


@pytest.mark.parametrize("estimator", ["mws", "mss"])
def test_decomposition_adds_up_to_the_one_sample_kl(estimator):
    z, mu, logvar = _posteriors(16, 5, seed=4)
    terms = tc_decomposition(z, mu, logvar, dataset_size=5000, estimator=estimator)
    total = terms["mutual_information"] + terms["total_correlation"] + terms["dimension_wise_kl"]
    kl = (terms["log_qz_given_x"] - terms["log_pz"]).mean()
    torch.testing.assert_close(total, kl, rtol=1e-12, atol=1e-12)
    for key in ["log_qz_given_x", "log_qz", "log_prod_qzj", "log_pz"]:
        assert terms[key].shape == (16,)
    for key in ["mutual_information", "total_correlation", "dimension_wise_kl"]:
        assert terms[key].shape == ()


def _expected_batch_estimate(z_i, i, mu, logvar, batch, estimator):
    """Exact expectation of exp(estimated log q(z_i)) over the batches that hold point i.

    The other B - 1 batch elements are a uniform subset of the other N - 1 points; every
    such subset is enumerated. Returns the expected estimate and the true q(z_i).
    """
    n = mu.shape[0]
    others = [m for m in range(n) if m != i]
    estimates = []
    for rest in itertools.combinations(others, batch - 1):
        idx = torch.tensor([i, *rest])
        z_batch = mu[idx].clone()
        z_batch[0] = z_i  # only row 0's estimate is used; the other rows' z do not matter
        terms = tc_decomposition(z_batch, mu[idx], logvar[idx], n, estimator)
        estimates.append(terms["log_qz"][0].exp().item())
    true_qz = math.exp(
        logsumexp(_scipy_log_q(z_i.numpy(), mu.numpy(), logvar.numpy())) - np.log(n)
    )
    return float(np.mean(estimates)), true_qz


def test_mss_is_unbiased_and_mws_is_not_by_exact_enumeration():
    n, batch, d = 7, 3, 2
    _, mu, logvar = _posteriors(n, d, seed=5)
    for i, z_i in [(0, mu[0] + 0.1), (3, torch.tensor([0.5, -1.0], dtype=torch.float64))]:
        mss, true_qz = _expected_batch_estimate(z_i, i, mu, logvar, batch, "mss")
        assert mss == pytest.approx(true_qz, rel=1e-12)
        mws, _ = _expected_batch_estimate(z_i, i, mu, logvar, batch, "mws")
        q = np.exp(_scipy_log_q(z_i.numpy(), mu.numpy(), logvar.numpy()))
        own, rest = q[i], q.sum() - q[i]
        expected_mws = own / (n * batch) + (batch - 1) / (n * batch * (n - 1)) * rest
        assert mws == pytest.approx(expected_mws, rel=1e-12)
        assert true_qz / batch > mws  # MWS underestimates q(z) by more than a factor B here


def test_mws_is_low_by_log_n_when_every_posterior_is_the_prior():
    batch, d, n = 32, 4, 60_000
    g = torch.Generator().manual_seed(6)
    z = torch.randn(batch, d, generator=g, dtype=torch.float64)
    zeros = torch.zeros(batch, d, dtype=torch.float64)
    mws = tc_decomposition(z, zeros, zeros, dataset_size=n, estimator="mws")
    mss = tc_decomposition(z, zeros, zeros, dataset_size=n, estimator="mss")
    torch.testing.assert_close(mss["log_qz"], mss["log_pz"])  # q(z) = p(z) exactly
    torch.testing.assert_close(mws["log_qz"], mws["log_pz"] - math.log(n))
    torch.testing.assert_close(mws["log_prod_qzj"], mws["log_pz"] - d * math.log(n))
    torch.testing.assert_close(
        mws["total_correlation"], torch.tensor((d - 1) * math.log(n), dtype=torch.float64)
    )
    torch.testing.assert_close(mss["total_correlation"], torch.tensor(0.0, dtype=torch.float64))


def test_mws_with_the_whole_dataset_as_batch_is_exact_minus_log_n():
    n, d = 20, 3
    z, mu, logvar = _posteriors(n, d, seed=7)
    mws = tc_decomposition(z, mu, logvar, dataset_size=n, estimator="mws")
    mss = tc_decomposition(z, mu, logvar, dataset_size=n, estimator="mss")
    torch.testing.assert_close(mws["log_qz"], mss["log_qz"] - math.log(n))
    torch.testing.assert_close(mws["log_prod_qzj"], mss["log_prod_qzj"] - d * math.log(n))
    torch.testing.assert_close(
        mws["total_correlation"] - mss["total_correlation"],
        torch.tensor((d - 1) * math.log(n), dtype=torch.float64),
    )


# --------------------------------------------------- total correlation, statistically

# N = B = 1024, d = 2, posterior variance 0.1; the aggregate posterior is exactly N(0, R).
# Over 100 seeds, MSS's TC was 0.010 +- 0.004 (SD) for independent codes and 0.511 +- 0.026
# for rho = 0.8 (analytic -0.5 log(1 - 0.64) = 0.511); the small positive bias of the
# independent case comes from the finite mixture including each sample's own posterior.
# Tolerances: 5 SD around the analytic value (plus the observed 0.01 bias).
N_CODES = 1024
POSTERIOR_VAR = 0.1
RHO = 0.8


def test_mss_total_correlation_near_zero_for_independent_codes():
    z, mu, logvar = _gaussian_codes(N_CODES, 2, POSTERIOR_VAR, 0.0, seed=0)
    tc = tc_decomposition(z, mu, logvar, N_CODES, estimator="mss")["total_correlation"].item()
    assert abs(tc) < 0.01 + 5 * 0.004


def test_mss_total_correlation_matches_the_gaussian_value_for_correlated_codes():
    z, mu, logvar = _gaussian_codes(N_CODES, 2, POSTERIOR_VAR, RHO, seed=0)
    tc = tc_decomposition(z, mu, logvar, N_CODES, estimator="mss")["total_correlation"].item()
    assert tc == pytest.approx(-0.5 * math.log(1 - RHO**2), abs=5 * 0.026)


def test_mws_total_correlation_larger_for_correlated_than_independent_codes():
    tcs = []
    for rho in [0.0, RHO]:
        z, mu, logvar = _gaussian_codes(N_CODES, 2, POSTERIOR_VAR, rho, seed=1)
        tcs.append(tc_decomposition(z, mu, logvar, 60_000, estimator="mws")["total_correlation"])
    # Both carry the same shift (about log N, see the Notes); the difference is the TC, 0.51.
    assert (tcs[1] - tcs[0]).item() > 0.51 - 5 * 0.026


# ------------------------------------------------------------- dtypes, gradients, errors


@pytest.mark.parametrize("estimator", ["mws", "mss"])
def test_float32_matches_float64_and_gradients_flow(estimator):
    z, mu, logvar = _posteriors(64, 10, seed=8)
    t64 = tc_decomposition(z, mu, logvar, 50_000, estimator=estimator)
    z32, mu32, lv32 = (t.float().requires_grad_() for t in (z, mu, logvar))
    t32 = tc_decomposition(z32, mu32, lv32, 50_000, estimator=estimator)
    for key, value in t32.items():
        assert value.dtype == torch.float32
        torch.testing.assert_close(value.double(), t64[key], rtol=1e-5, atol=1e-4)
    (t32["mutual_information"] + 6.0 * t32["total_correlation"]).backward()
    for t in (z32, mu32, lv32):
        assert t.grad is not None and bool(torch.isfinite(t.grad).all())


def test_bad_input_raises():
    z, mu, logvar = _posteriors(4, 3, seed=9)
    with pytest.raises(ValueError, match="at least 2 codes"):
        tc_decomposition(z[:1], mu[:1], logvar[:1], 100)
    with pytest.raises(ValueError, match="at least the batch size"):
        tc_decomposition(z, mu, logvar, 3)
    for bad in [100.0, True, "100", None]:
        with pytest.raises(ValueError, match="dataset_size must be an integer"):
            tc_decomposition(z, mu, logvar, bad)
    tc_decomposition(z, mu, logvar, np.int64(100))  # numpy integers are fine
    with pytest.raises(ValueError, match="estimator must be"):
        tc_decomposition(z, mu, logvar, 100, estimator="MWS-dlib")
    with pytest.raises(ValueError, match="same shape"):
        tc_decomposition(z, mu[:, :2], logvar, 100)
    with pytest.raises(ValueError, match="same shape"):
        log_q_pairs(z, mu, logvar[:3])
    with pytest.raises(ValueError, match="z must have shape"):
        tc_decomposition(z[0], mu[0], logvar[0], 100)
