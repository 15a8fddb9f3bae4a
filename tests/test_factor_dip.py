"""FactorVAE and DIP-VAE: each regulariser against an independent computation and in action."""

import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.base import clone

from sklearn_dvae import DIPVAE, BetaVAE, FactorVAE
from sklearn_dvae.models.dip_vae import dip_covariance, dip_penalty_terms
from sklearn_dvae.nn import Discriminator, permute_dims

TINY_D = dict(discriminator_hidden_units=(16, 16))


# ----------------------------------------------------------------------------- DIP-VAE
@pytest.mark.parametrize("dip_type", ["i", "ii"])
def test_dip_covariance_matches_numpy(dip_type):
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(50, 4)) @ rng.normal(size=(4, 4)) + 3.0
    logvar = rng.normal(size=(50, 4))
    expected = np.cov(mu, rowvar=False, bias=True)
    if dip_type == "ii":
        expected = expected + np.diag(np.exp(logvar).mean(axis=0))
    got = dip_covariance(torch.tensor(mu), torch.tensor(logvar), dip_type).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_dip_penalty_terms_by_hand():
    C = np.array([[2.0, 0.3, -0.1], [0.3, 0.5, 0.2], [-0.1, 0.2, 1.0]])
    off_diagonal, diagonal = dip_penalty_terms(torch.tensor(C))
    assert off_diagonal.item() == pytest.approx(2 * (0.3**2 + 0.1**2 + 0.2**2))
    assert diagonal.item() == pytest.approx((2.0 - 1) ** 2 + (0.5 - 1) ** 2 + 0.0)


@pytest.mark.parametrize("dip_type, expected", [("i", 50.0), ("ii", 5.0)])
def test_dip_default_diagonal_weight_follows_the_paper(dip_type, expected):
    assert DIPVAE(lambda_od=5.0, dip_type=dip_type).effective_lambda_d() == expected
    assert DIPVAE(lambda_od=5.0, lambda_d=2.0, dip_type=dip_type).effective_lambda_d() == 2.0


def test_dip_vae_loss_adds_the_weighted_penalty(tabular_unit_data):
    vae = DIPVAE(
        lambda_od=3.0,
        lambda_d=7.0,
        dip_type="ii",
        latent_dim=3,
        hidden_units=(16,),
        max_epochs=1,
        random_state=0,
    ).fit(tabular_unit_data)
    module = vae.net_.module_
    out = module(torch.from_numpy(tabular_unit_data[:64]))
    loss, terms = vae.net_.criterion_(out)
    mu, logvar = out.mu.detach().double().numpy(), out.logvar.detach().double().numpy()
    C = np.cov(mu, rowvar=False, bias=True) + np.diag(np.exp(logvar).mean(axis=0))
    off = (C**2).sum() - (np.diag(C) ** 2).sum()
    diag = ((np.diag(C) - 1) ** 2).sum()
    assert terms["dip_off_diagonal"].item() == pytest.approx(off, rel=1e-4)
    assert terms["dip_diagonal"].item() == pytest.approx(diag, rel=1e-4)
    expected = terms["reconstruction"] + terms["kl"] + 3.0 * off + 7.0 * diag
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


@pytest.fixture(scope="module")
def three_factor_data():
    rng = np.random.default_rng(0)
    factors = rng.uniform(-1, 1, (1024, 3))
    return (1 / (1 + np.exp(-(factors @ rng.normal(size=(3, 32)) * 2)))).astype(np.float32)


def _off_diagonal(matrix):
    return (matrix**2).sum() - (np.diag(matrix) ** 2).sum()


def test_dip_vae_ii_lowers_the_off_diagonal_covariance_of_the_means(three_factor_data):
    common = dict(latent_dim=4, hidden_units=(64,), lr=3e-3, max_epochs=10, random_state=0)
    vae = BetaVAE(**common).fit(three_factor_data).transform(three_factor_data)
    dip = DIPVAE(lambda_od=10.0, dip_type="ii", **common).fit(three_factor_data)
    dip_means = dip.transform(three_factor_data)
    vae_off = _off_diagonal(np.cov(vae, rowvar=False, bias=True))
    dip_off = _off_diagonal(np.cov(dip_means, rowvar=False, bias=True))
    assert dip_off < 0.1 * vae_off


def test_dip_vae_i_lowers_the_correlation_of_the_means(three_factor_data):
    common = dict(latent_dim=4, hidden_units=(64,), lr=3e-3, max_epochs=10, random_state=0)
    vae = BetaVAE(**common).fit(three_factor_data).transform(three_factor_data)
    dip = DIPVAE(lambda_od=10.0, dip_type="i", **common).fit(three_factor_data)
    dip_means = dip.transform(three_factor_data)
    assert _off_diagonal(np.corrcoef(dip_means, rowvar=False)) < 0.85 * _off_diagonal(
        np.corrcoef(vae, rowvar=False)
    )


# ----------------------------------------------------------------------------- FactorVAE
def test_permutation_keeps_each_column_and_breaks_the_joint():
    torch.manual_seed(0)
    base = torch.randn(4096, 1)
    z = torch.cat([base, base + 0.1 * torch.randn(4096, 1), torch.randn(4096, 1)], dim=1)
    permuted = permute_dims(z)
    assert torch.equal(permuted.sort(dim=0).values, z.sort(dim=0).values)
    assert np.corrcoef(z.numpy(), rowvar=False)[0, 1] > 0.99
    assert abs(np.corrcoef(permuted.numpy(), rowvar=False)[0, 1]) < 0.05
    # Not a within-sample shuffle: rows are not permutations of the original rows.
    assert not torch.equal(permuted.sort(dim=1).values, z.sort(dim=1).values)


@pytest.fixture
def factor_vae(tabular_unit_data):
    return FactorVAE(
        gamma=10.0, latent_dim=3, hidden_units=(16,), max_epochs=1, random_state=0, **TINY_D
    ).fit(tabular_unit_data)


def test_vae_optimizer_excludes_the_discriminator(factor_vae):
    net = factor_vae.net_
    vae_params = {id(p) for group in net.optimizer_.param_groups for p in group["params"]}
    disc_params = {
        id(p) for group in net.optimizer_discriminator_.param_groups for p in group["params"]
    }
    assert vae_params == {id(p) for p in net.module_.parameters()}
    assert disc_params == {id(p) for p in net.discriminator_.parameters()}
    assert not vae_params & disc_params


def test_discriminator_loss_does_not_reach_the_encoder(factor_vae, tabular_unit_data):
    net = factor_vae.net_
    batch = torch.from_numpy(tabular_unit_data[:64])
    output = net.module_(batch[:32])
    for p in net.module_.parameters():
        p.grad = None
    before = [p.clone() for p in net.discriminator_.parameters()]
    net.auxiliary_backward(batch[32:], output)
    net.auxiliary_update()
    assert all(p.grad is None for p in net.module_.parameters())
    after = net.discriminator_.parameters()
    assert all(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_discriminator_is_frozen_for_the_vae_gradient(factor_vae, tabular_unit_data):
    net = factor_vae.net_
    net.module_.zero_grad(set_to_none=True)
    net.criterion_.zero_grad(set_to_none=True)
    loss, terms = net.criterion_(net.module_(torch.from_numpy(tabular_unit_data[:32])))
    assert terms["tc"].requires_grad  # the TC estimate does reach the encoder
    loss.backward()
    assert all(p.grad is None for p in net.discriminator_.parameters())
    assert all(p.grad is not None for p in net.module_.encoder.parameters())


def test_tc_estimate_is_logit_real_minus_logit_permuted(factor_vae, tabular_unit_data):
    discriminator = factor_vae.net_.discriminator_
    last = discriminator.net[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor([1.5, -0.5]))
    out = factor_vae.net_.module_(torch.from_numpy(tabular_unit_data[:32]))
    loss, terms = factor_vae.net_.criterion_(out)
    assert terms["tc"].item() == pytest.approx(2.0)
    expected = terms["reconstruction"] + terms["kl"] + 10.0 * 2.0
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_one_step_updates_both_networks_with_two_batches(tabular_unit_data):
    vae = FactorVAE(
        gamma=10.0,
        latent_dim=3,
        hidden_units=(16,),
        max_epochs=1,
        batch_size=16,
        random_state=0,
        **TINY_D,
    ).initialize(tabular_unit_data)
    net = vae.net_
    before_vae = [p.clone() for p in net.module_.parameters()]
    before_disc = [p.clone() for p in net.discriminator_.parameters()]
    batch = (torch.from_numpy(tabular_unit_data[:32]), None)
    net.history.new_epoch()
    net.history.new_batch()
    net.train_step(batch)
    assert all(
        not torch.equal(a, b) for a, b in zip(before_vae, net.module_.parameters(), strict=True)
    )
    assert all(
        not torch.equal(a, b)
        for a, b in zip(before_disc, net.discriminator_.parameters(), strict=True)
    )
    assert net.training_steps_ == 1
    # 300 rows in steps of 2 x 16: 9 steps per epoch, the 12-row remainder is kept.
    vae.partial_fit(tabular_unit_data, epochs=1)
    assert vae.training_steps_ == 1 + 10


def test_history_records_tc_and_discriminator_accuracy(factor_vae):
    last = factor_vae.history_[-1]
    assert np.isfinite(last["train_tc"]) and np.isfinite(last["train_discriminator_loss"])
    assert 0.0 <= last["train_discriminator_accuracy"] <= 1.0


@pytest.fixture(scope="module")
def diamond_data():
    # Two independent uniform factors seen through directions (f1 + f2, (f1 - f2) / 2):
    # a VAE's PCA-like axes are then dependent, while the factors are independent.
    rng = np.random.default_rng(0)
    factors = rng.uniform(-1, 1, (2048, 2))
    mixed = factors @ np.array([[1.0, 0.5], [1.0, -0.5]])
    return (1 / (1 + np.exp(-(mixed @ rng.normal(size=(2, 32)) * 2)))).astype(np.float32)


def _sampled_codes(model, X):
    module = model.net_.module_
    with torch.no_grad():
        mu, logvar = module.encode(module.prepare(torch.from_numpy(X)))
        torch.manual_seed(0)
        return module.reparameterize(mu, logvar)


def _fresh_discriminator_tc(z, steps=500):
    """TC of codes estimated by a new discriminator trained on them (independent of training)."""
    torch.manual_seed(0)
    discriminator = Discriminator(z.shape[1], (64, 64))
    optimizer = torch.optim.Adam(discriminator.parameters(), lr=1e-3)
    train, test = z[:1536], z[1536:]
    zeros, ones = torch.zeros(128, dtype=torch.long), torch.ones(128, dtype=torch.long)
    for _ in range(steps):
        real = train[torch.randint(0, len(train), (128,))]
        permuted = permute_dims(train[torch.randint(0, len(train), (128,))])
        loss = F.cross_entropy(discriminator(real), zeros) + F.cross_entropy(
            discriminator(permuted), ones
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        logits = discriminator(test)
    return (logits[:, 0] - logits[:, 1]).mean().item()


def test_factor_vae_lowers_the_total_correlation_of_its_codes(diamond_data):
    common = dict(latent_dim=2, hidden_units=(64,), lr=3e-3, max_epochs=20, random_state=0)
    vae = BetaVAE(**common).fit(diamond_data)
    factor = FactorVAE(
        gamma=10.0, discriminator_hidden_units=(64, 64), discriminator_lr=1e-3, **common
    ).fit(diamond_data)
    tc_vae = _fresh_discriminator_tc(_sampled_codes(vae, diamond_data))
    tc_factor = _fresh_discriminator_tc(_sampled_codes(factor, diamond_data))
    assert tc_factor < tc_vae - 0.01


def test_factor_vae_pickles_with_both_modules_and_optimizers(factor_vae, tabular_unit_data):
    loaded = pickle.loads(pickle.dumps(factor_vae))
    for name in ("discriminator_", "optimizer_discriminator_", "module_", "optimizer_"):
        original, restored = getattr(factor_vae.net_, name), getattr(loaded.net_, name)
        for (key, a), b in zip(
            original.state_dict().items(), restored.state_dict().values(), strict=True
        ):
            if torch.is_tensor(a):
                assert torch.equal(a, b), (name, key)
    np.testing.assert_array_equal(
        loaded.transform(tabular_unit_data), factor_vae.transform(tabular_unit_data)
    )
    loaded.partial_fit(tabular_unit_data, epochs=1)
    assert loaded.training_steps_ == 2 * factor_vae.training_steps_


def test_factor_vae_clone_and_set_params():
    vae = FactorVAE(gamma=20.0, discriminator_betas=(0.5, 0.9))
    copy = clone(vae).set_params(gamma=40.0)
    assert copy.gamma == 40.0 and vae.gamma == 20.0
    assert copy.get_params()["discriminator_betas"] == (0.5, 0.9)


@pytest.mark.gpu
def test_factor_vae_fitted_on_cuda_unpickles_on_cpu(tabular_unit_data, monkeypatch):
    vae = FactorVAE(
        gamma=10.0,
        latent_dim=3,
        hidden_units=(16,),
        max_epochs=1,
        device="cuda",
        random_state=0,
        **TINY_D,
    ).fit(tabular_unit_data)
    payload = pickle.dumps(vae)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="not available"):
        loaded = pickle.loads(payload)
    assert not next(loaded.net_.discriminator_.parameters()).is_cuda
    loaded.partial_fit(tabular_unit_data, epochs=1)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "model, message",
    [
        (FactorVAE(gamma=-1.0), "'gamma' parameter of FactorVAE must be a float"),
        (FactorVAE(discriminator_betas=(0.5, 1.5)), "discriminator_betas must be two numbers"),
        (FactorVAE(discriminator_hidden_units=(8, 0)), "discriminator_hidden_units must be"),
        (DIPVAE(lambda_od=-1.0), "'lambda_od' parameter of DIPVAE must be a float"),
        (DIPVAE(lambda_d=-2.0), "'lambda_d' parameter of DIPVAE must be"),
        (DIPVAE(dip_type="iii"), "'dip_type' parameter of DIPVAE must be a str among"),
        (DIPVAE(batch_size=1), "DIPVAE needs batch statistics: batch_size must be at least 2"),
        (FactorVAE(batch_size=1), "FactorVAE needs batch statistics: batch_size must be"),
    ],
)
def test_invalid_hyperparameters_are_rejected(model, message, tabular_unit_data):
    with pytest.raises(ValueError, match=message):
        model.fit(tabular_unit_data)


def test_factor_vae_needs_two_batches_worth_of_samples():
    with pytest.raises(ValueError, match="FactorVAE needs at least 4 samples"):
        FactorVAE(latent_dim=2, **TINY_D).fit(np.random.default_rng(0).random((3, 4)))
