"""One source of truth for the net's settings, the budget in steps, validation and collapse."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from skorch.callbacks import Callback, Checkpoint, EarlyStopping, EpochScoring

from sklearn_dvae import BetaTCVAE, BetaVAE, FactorVAE
from sklearn_dvae.nn import VAEModule

SMALL = dict(latent_dim=2, hidden_units=(8,), batch_size=50, max_epochs=1, random_state=0)


class _Counter(Callback):
    def initialize(self):
        self.batches = 0
        return self

    def on_batch_end(self, net, training=False, **kwargs):
        self.batches += training


# ------------------------------------------------------------------ one source of truth
def test_callbacks_set_after_fit_are_called_by_partial_fit(small_images):
    vae = BetaVAE(**SMALL).fit(small_images)
    counter = _Counter()
    vae.set_params(callbacks=[counter]).partial_fit(small_images)
    assert counter.batches == 4


def test_settings_changed_with_set_params_reach_the_net_before_partial_fit(small_images):
    vae = BetaVAE(beta=1.0, **SMALL).fit(small_images)
    vae.set_params(
        beta=8.0,
        lr=5e-4,
        batch_size=40,
        precision="bfloat16",
        optimizer__weight_decay=1e-3,
        verbose=0,
    )
    vae.partial_fit(small_images)
    net = vae.net_
    assert net.criterion_.beta == 8.0 and net.criterion__beta == 8.0
    assert net.autocast_dtype == torch.bfloat16
    assert net.batch_size == 40 and vae.history_[-1]["train_batch_count"] == 5
    group = net.optimizer_.param_groups[0]
    assert (group["lr"], group["weight_decay"]) == (5e-4, 1e-3)


def test_factor_vae_discriminator_settings_reach_its_optimizer(tabular_unit_data):
    vae = FactorVAE(discriminator_hidden_units=(8,), **SMALL).fit(tabular_unit_data)
    vae.set_params(discriminator_lr=3e-4, discriminator_betas=(0.6, 0.95), gamma=2.0)
    vae.partial_fit(tabular_unit_data)
    group = vae.net_.optimizer_discriminator_.param_groups[0]
    assert group["lr"] == 3e-4 and group["betas"] == (0.6, 0.95)
    assert vae.net_.criterion_.gamma == 2.0


@pytest.mark.parametrize(
    "change",
    [
        {"latent_dim": 5},
        {"hidden_units": (16,)},
        {"encoder": "conv", "input_shape": (16, 16)},
        {"likelihood": "gaussian"},
        {"optimizer": torch.optim.SGD},
    ],
    ids=lambda change: ",".join(change),
)
def test_a_change_of_the_networks_is_refused_when_training_further(small_images, change):
    vae = BetaVAE(**SMALL).fit(small_images)
    steps = vae.training_steps_
    with pytest.raises(
        ValueError, match="cannot train its fitted networks further.*" + "|".join(change)
    ):
        vae.set_params(**change).partial_fit(small_images)
    with pytest.raises(ValueError, match="cannot train its fitted networks further"):
        vae.set_params(warm_start=True).fit(small_images)
    assert vae.training_steps_ == steps  # nothing was trained
    # Without warm_start, fit builds new networks from the current settings.
    vae.set_params(warm_start=False).fit(small_images.reshape(len(small_images), -1))
    assert vae.training_steps_ == 4


def test_setting_a_changed_parameter_back_allows_training_further(small_images):
    vae = BetaVAE(**SMALL).fit(small_images)
    vae.set_params(latent_dim=5)
    vae.set_params(latent_dim=2).partial_fit(small_images)
    assert vae.training_steps_ == 8


# ------------------------------------------------------------------ budget in steps
def test_max_steps_trains_exactly_that_many_steps_across_epochs(small_images):
    vae = BetaVAE(**{**SMALL, "max_epochs": 100}, max_steps=10).fit(small_images)
    # 4 batches per epoch: epochs of 4, 4 and 2 steps.
    assert vae.training_steps_ == 10
    assert vae.history_[:, "train_batch_count"] == [4, 4, 2]
    vae.partial_fit(small_images)
    assert vae.training_steps_ == 20
    vae.partial_fit(small_images, epochs=1)  # explicit epochs win
    assert vae.training_steps_ == 24


def test_max_steps_counts_factor_vae_steps_of_two_batches(tabular_unit_data):
    vae = FactorVAE(discriminator_hidden_units=(8,), max_steps=7, **SMALL).fit(tabular_unit_data)
    assert vae.training_steps_ == 7


def test_the_history_keeps_at_most_a_hundred_batch_records_per_epoch(tabular_unit_data):
    vae = BetaVAE(**{**SMALL, "batch_size": 2}).fit(tabular_unit_data)
    batches = vae.history_[-1]["batches"]
    assert vae.history_[-1]["train_batch_count"] == 150
    assert len(batches) == 100
    # The epoch's means are those of all 150 batches, not of the kept ones.
    assert vae.history_[-1]["train_loss"] != pytest.approx(
        np.mean([b["train_loss"] for b in batches])
    )


def test_verbose_fits_show_a_progress_bar_over_the_steps(small_images, capsys):
    BetaVAE(**{**SMALL, "verbose": 1}, max_steps=6).fit(small_images)
    captured = capsys.readouterr()
    assert "6/6" in captured.err  # tqdm's bar, over the run's steps
    assert "train_loss" in captured.out  # skorch's table


def test_quiet_fits_print_nothing(small_images, capsys):
    BetaVAE(**SMALL).fit(small_images)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


# ------------------------------------------------------------------ validation
def test_early_stopping_stops_a_run_on_the_validation_loss(tabular_unit_data):
    vae = BetaVAE(
        **{**SMALL, "max_epochs": 200, "lr": 0.05},
        validation_fraction=0.2,
        callbacks=[EarlyStopping(patience=3)],
    ).fit(tabular_unit_data)
    assert len(vae.history_) < 200
    assert all("valid_loss" in row and "valid_kl" in row for row in vae.history_)
    # 240 training rows (4 batches of 50 or fewer), 60 held out.
    assert vae.history_[-1]["train_batch_count"] == 5


def test_epoch_scoring_on_the_validation_data(tabular_unit_data):
    def mean_code(net, X, y=None):
        with torch.no_grad():
            module = net.module_
            return float(module.encode(module.prepare(torch.as_tensor(X)))[0].mean())

    scoring = EpochScoring(mean_code, name="valid_mean_code", use_caching=False)
    vae = BetaVAE(**{**SMALL, "max_epochs": 2}, validation_fraction=0.2, callbacks=[scoring])
    vae.fit(tabular_unit_data)
    assert all(np.isfinite(row["valid_mean_code"]) for row in vae.history_)


@pytest.mark.parametrize(
    "callback, monitored",
    [
        (EarlyStopping(), "valid_loss"),
        (Checkpoint(dirname="unused"), "valid_loss_best"),
        (EpochScoring(lambda net, X, y: 0.0, name="score", use_caching=False), "validation"),
    ],
    ids=["EarlyStopping", "Checkpoint", "EpochScoring"],
)
def test_a_callback_that_needs_validation_without_a_split_gets_a_clear_error(
    tabular_unit_data, callback, monitored
):
    vae = BetaVAE(**SMALL, callbacks=[callback])
    with pytest.raises(ValueError, match=f"monitors .*{monitored}.*validation_fraction"):
        vae.fit(tabular_unit_data)
    assert not hasattr(vae, "net_")
    # Monitoring a training value needs no split.
    BetaVAE(**SMALL, callbacks=[EarlyStopping(monitor="train_loss")]).fit(tabular_unit_data)


def test_epoch_scoring_that_caches_outputs_is_refused(tabular_unit_data):
    scoring = EpochScoring(lambda net, X, y: 0.0, on_train=True)
    with pytest.raises(ValueError, match="use_caching=False"):
        BetaVAE(**SMALL, callbacks=[scoring]).fit(tabular_unit_data)


def test_validation_fraction_and_train_split_are_exclusive(tabular_unit_data):
    from skorch.dataset import ValidSplit

    vae = BetaVAE(**SMALL, validation_fraction=0.2, train_split=ValidSplit(5))
    with pytest.raises(ValueError, match="train_split or validation_fraction, not both"):
        vae.fit(tabular_unit_data)


# ------------------------------------------------------------------ defaults and collapse
@pytest.fixture(scope="module")
def digits():
    return (load_digits().data / 16.0).astype(np.float32)


def _latent_kl(vae, X):
    module = vae.net_.module_
    with torch.no_grad():
        mu, logvar = module.encode(module.prepare(torch.from_numpy(X)))
    return (0.5 * (mu**2 + logvar.exp() - logvar - 1)).mean(0).numpy()


def test_default_beta_vae_learns_several_latents_of_digits_without_warning(digits):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        vae = BetaVAE(random_state=0).fit(digits)
    kl = _latent_kl(vae, digits)
    assert (kl > 0.1).sum() >= 3, kl
    # The history's per-latent KL (the warning's diagnostic) agrees with a fresh pass.
    np.testing.assert_allclose(vae.history_[-1]["train_kl_per_latent"], kl, atol=0.05)


def test_a_collapsed_fit_warns_with_the_kls_and_what_to_try(digits):
    with pytest.warns(
        ConvergenceWarning, match=r"collapsed to the prior.*below 0.05 nats .*\[.*e-0.*lower beta"
    ):
        BetaVAE(beta=50.0, random_state=0).fit(digits)


# ------------------------------------------------------------------ renamed parameters
def test_beta_tcvae_estimator_is_renamed_sampling_with_a_future_warning(tabular_unit_data):
    new = BetaTCVAE(sampling="mss", **SMALL).fit(tabular_unit_data)
    with pytest.warns(FutureWarning, match="estimator=.*deprecated.*sampling='mss'"):
        old = BetaTCVAE(estimator="mss", **SMALL).fit(tabular_unit_data)
    assert old.net_.criterion_.sampling == "mss"
    np.testing.assert_array_equal(
        old.transform(tabular_unit_data), new.transform(tabular_unit_data)
    )


def test_vae_module_architecture_is_renamed_encoder_with_a_future_warning():
    with pytest.warns(FutureWarning, match="architecture=.*deprecated"):
        module = VAEModule((4,), latent_dim=2, architecture="mlp", hidden_units=(8,))
    assert type(module.encoder).__name__ == "MLPEncoder"
