"""Training behaviour: the loss falls, beta trades KL for reconstruction, runs are safe."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback, Checkpoint

from sklearn_dvae import AnnealedVAE, BetaVAE, TrainingDivergedError

SMALL = dict(latent_dim=3, hidden_units=(32,), random_state=0)


def test_training_lowers_the_loss(small_images):
    vae = BetaVAE(max_epochs=15, lr=3e-3, **SMALL).fit(small_images)
    losses = vae.history_[:, "train_loss"]
    assert losses[-1] < 0.8 * losses[0]
    for name in ("train_reconstruction", "train_kl"):
        assert len(vae.history_[:, name]) == 15


def test_larger_beta_lowers_kl_and_raises_reconstruction(small_images):
    fits = {
        beta: BetaVAE(beta=beta, max_epochs=15, lr=3e-3, **SMALL).fit(small_images)
        for beta in (1.0, 16.0)
    }
    kl = {beta: fit.history_[-1, "train_kl"] for beta, fit in fits.items()}
    recon = {beta: fit.history_[-1, "train_reconstruction"] for beta, fit in fits.items()}
    assert kl[16.0] < kl[1.0]
    assert recon[16.0] > recon[1.0]


def test_partial_fit_and_warm_start_keep_counting_steps(small_images):
    vae = BetaVAE(max_epochs=2, batch_size=50, **SMALL)
    vae.partial_fit(small_images)
    assert vae.training_steps_ == 8
    vae.partial_fit(small_images, epochs=1)
    assert vae.training_steps_ == 12 and len(vae.history_) == 3
    vae.set_params(warm_start=True).fit(small_images)
    assert vae.training_steps_ == 20 and len(vae.history_) == 5
    vae.set_params(warm_start=False).fit(small_images)
    assert vae.training_steps_ == 8 and len(vae.history_) == 2


class _NaNAfter(Callback):
    """Make the regulariser return NaN once ``steps`` optimizer steps were taken."""

    def __init__(self, steps):
        self.steps = steps

    def on_batch_end(self, net, training=False, **kwargs):
        if training and net.training_steps_ == self.steps:
            self.snapshot = {k: v.clone() for k, v in net.module_.state_dict().items()}
            net.criterion_.beta = float("nan")


def test_non_finite_loss_stops_with_a_clear_error_and_keeps_parameters(small_images):
    poison = _NaNAfter(steps=5)
    vae = BetaVAE(max_epochs=3, batch_size=50, callbacks=[poison], **SMALL)
    with pytest.raises(
        TrainingDivergedError, match=r"epoch 2, step 6: loss = nan.*No update was applied"
    ):
        vae.fit(small_images)
    for name, value in vae.net_.module_.state_dict().items():
        assert torch.equal(value, poison.snapshot[name]), name
    # The estimator is still usable.
    assert np.all(np.isfinite(vae.transform(small_images)))


class _Interrupt(Callback):
    def on_batch_end(self, net, training=False, **kwargs):
        if training and net.training_steps_ == 3:
            raise KeyboardInterrupt


def test_keyboard_interrupt_leaves_a_usable_estimator(small_images):
    vae = BetaVAE(max_epochs=5, batch_size=50, callbacks=[_Interrupt()], **SMALL)
    vae.fit(small_images)
    assert vae.training_steps_ == 3
    assert vae.transform(small_images).shape == (200, 3)


@pytest.mark.parametrize("model", [BetaVAE, AnnealedVAE])
def test_resuming_from_a_checkpoint_continues_exactly(small_images, tmp_path, model):
    params = dict(max_epochs=4, batch_size=50, lr=3e-3, **SMALL)
    if model is AnnealedVAE:
        params.update(gamma=10.0, c_max=5.0, iteration_threshold=12)
    checkpoint = Checkpoint(
        monitor=lambda net: len(net.history) == 2, dirname=str(tmp_path), load_best=False
    )
    uninterrupted = model(callbacks=[checkpoint], **params).fit(small_images)

    resumed = model(**params).initialize(small_images)
    resumed.load_params(checkpoint=checkpoint)
    assert resumed.training_steps_ == 8
    resumed.partial_fit(small_images, epochs=2)

    np.testing.assert_allclose(
        resumed.history_[:, "train_loss"], uninterrupted.history_[:, "train_loss"], rtol=1e-6
    )
    if model is AnnealedVAE:
        assert (
            resumed.history_[-1, "train_capacity"] == uninterrupted.history_[-1, "train_capacity"]
        )
    np.testing.assert_allclose(
        resumed.transform(small_images), uninterrupted.transform(small_images), atol=1e-6
    )


def test_validation_split_records_validation_terms(small_images):
    from skorch.dataset import ValidSplit

    vae = BetaVAE(max_epochs=2, train_split=ValidSplit(4), **SMALL).fit(small_images)
    assert np.isfinite(vae.history_[-1, "valid_loss"])
    assert np.isfinite(vae.history_[-1, "valid_kl"])
    assert (
        sum(b["train_batch_size"] for b in vae.history_[-1, "batches"] if "train_batch_size" in b)
        == 150
    )
    # 150 training rows in batches of 64: 3 steps an epoch. Validation batches never
    # advance the step counter that schedules (AnnealedVAE's capacity) read.
    assert vae.training_steps_ == 2 * 3


def test_uint8_images_are_not_copied_to_float(monkeypatch):
    import tracemalloc

    images = (np.random.default_rng(0).random((4000, 32, 32)) > 0.5).astype(np.uint8)
    vae = BetaVAE(latent_dim=2, hidden_units=(8,), max_epochs=1, batch_size=500, random_state=0)
    tracemalloc.start()
    vae.fit(images)
    vae.transform(images)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # A float32 copy would be 4x the data (16 MB), a float64 copy 8x.
    assert peak < 1.0 * images.nbytes


def test_device_resident_batches_train_exactly_like_host_batches(small_images):
    # The GPU fast path (data copied to the device once, batches gathered there)
    # exercised on the CPU: same batches, same losses as host-side indexing.
    params = dict(max_epochs=3, batch_size=48, lr=3e-3, **SMALL)
    host = BetaVAE(**params).fit(small_images)
    resident = BetaVAE(**params).initialize(small_images)
    resident.net_.resident_data = True
    resident.partial_fit(small_images)
    np.testing.assert_array_equal(
        resident.history_[:, "train_loss"], host.history_[:, "train_loss"]
    )
    np.testing.assert_array_equal(resident.transform(small_images), host.transform(small_images))


def test_copy_to_device_handles_read_only_memmaps(tmp_path):
    from sklearn_dvae._batching import copy_to_device

    data = np.arange(5 * 4 * 4, dtype=np.uint8).reshape(5, 4, 4)
    np.save(tmp_path / "data.npy", data)
    mapped = np.load(tmp_path / "data.npy", mmap_mode="r")
    copied = copy_to_device(mapped, "cpu", chunk_bytes=20)  # one row (16 bytes) per chunk
    assert copied.dtype == torch.uint8
    np.testing.assert_array_equal(copied.numpy(), data)


@pytest.mark.parametrize("model", [BetaVAE, AnnealedVAE])
def test_bfloat16_autocast_stays_within_tolerance_of_float32(small_images, model):
    params = dict(max_epochs=4, batch_size=50, lr=3e-3, **SMALL)
    exact = model(**params).fit(small_images)
    fast = model(precision="bfloat16", **params).fit(small_images)
    np.testing.assert_allclose(
        fast.history_[:, "train_loss"], exact.history_[:, "train_loss"], rtol=0.02
    )
    # The two runs' codes drift apart (training is chaotic) but fit equally well.
    assert fast.transform(small_images).dtype == np.float32
    assert fast.score(small_images) == pytest.approx(exact.score(small_images), rel=0.02)
