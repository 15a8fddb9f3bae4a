"""The GPU paths: resident data, the speed options and CPU agreement on a CUDA device.

Skipped without a GPU (see conftest.py). On the GPU, cuDNN convolutions run in
TF32 by default and some of their backward kernels add in a varying order, so
runs agree with each other up to that rounding rather than bit for bit.
"""

import pickle

import numpy as np
import pytest
import torch

from sklearn_dvae import BetaVAE, FactorVAE

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated"),
]

CONV = dict(latent_dim=4, batch_size=32, max_epochs=2, lr=1e-3, random_state=0, device="cuda")


@pytest.fixture(autouse=True)
def deterministic_cudnn():
    """cuDNN's deterministic kernels, so that a run differs from another only by the option.

    With its default kernels some convolution gradients add in a varying order
    and two identical seeded runs drift apart by about 0.4% of the loss in the
    second epoch (measured on an H100).
    """
    before = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    yield
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before


def _images(n=256):
    """Binary 64x64 images of a square at a random place, as uint8."""
    rng = np.random.default_rng(0)
    images = np.zeros((n, 64, 64), dtype=np.uint8)
    for image, (row, col) in zip(images, rng.integers(0, 48, size=(n, 2)), strict=True):
        image[row : row + 16, col : col + 16] = 1
    return images


def _losses(model):
    return np.array([row["train_loss"] for row in model.history_])


def _step_losses(model):
    return np.array([b["train_loss"] for epoch in model.history_ for b in epoch["batches"]])


def _assert_runs_agree(fast, default, X):
    """Two seeded runs that differ only by a speed option agree up to rounding growth.

    Rounding differences (TF32 convolutions, reordered sums, bfloat16 aside) start
    near 1e-5 of the loss and grow as training goes on (training is chaotic):
    step losses within 1%, codes within 5% of their norm after 16 steps.
    """
    np.testing.assert_allclose(_step_losses(fast)[:4], _step_losses(default)[:4], rtol=1e-3)
    np.testing.assert_allclose(_step_losses(fast), _step_losses(default), rtol=1e-2)
    Z_fast, Z_default = fast.transform(X), default.transform(X)
    assert np.linalg.norm(Z_fast - Z_default) < 5e-2 * np.linalg.norm(Z_default)


MODELS = [
    pytest.param(lambda **kw: BetaVAE(beta=4.0, **kw), id="BetaVAE"),
    pytest.param(
        lambda **kw: FactorVAE(gamma=10.0, discriminator_hidden_units=(32,), **kw),
        id="FactorVAE",
    ),
]


@pytest.mark.parametrize("make", MODELS)
def test_resident_data_trains_like_host_batches_on_the_gpu(make):
    X = _images()
    host = make(**CONV).initialize(X)
    host.net_.resident_data = False
    host.partial_fit(X, epochs=2)
    resident = make(**CONV).fit(X)  # "auto" keeps this small set on the device
    assert next(resident.net_.module_.parameters()).is_cuda
    np.testing.assert_allclose(_losses(resident), _losses(host), rtol=1e-5)
    np.testing.assert_allclose(resident.transform(X), host.transform(X), atol=1e-5)


def test_the_resident_copy_is_uint8_not_float():
    X = _images(16384)  # 64 MB as uint8, 256 MB as float32
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    BetaVAE(**{**CONV, "max_epochs": 1}).fit(X)
    grown = torch.cuda.max_memory_allocated() - before
    # The uint8 copy, the network, Adam's state, activations at batch 32 and
    # cuDNN's workspace (about 40 MB in all beside a 8 MB set, measured on an
    # H100); one float32 copy of the set alone would be 4x its size.
    assert grown < 2 * X.nbytes


def test_gpu_codes_agree_with_the_same_weights_on_the_cpu(monkeypatch):
    X = _images()
    model = BetaVAE(**CONV).fit(X)
    on_gpu = model.transform(X)
    payload = pickle.dumps(model)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="not available"):
        cpu = pickle.loads(payload)  # loads onto the CPU
    assert not next(cpu.net_.module_.parameters()).is_cuda
    # TF32 convolutions on the GPU round to about 1e-3 of the activations.
    np.testing.assert_allclose(cpu.transform(X), on_gpu, atol=5e-3, rtol=5e-3)


@pytest.mark.parametrize("make", MODELS)
def test_bfloat16_on_the_gpu_stays_within_tolerance_of_float32(make):
    X = _images()
    exact = make(**CONV).fit(X)
    fast = make(precision="bfloat16", **CONV).fit(X)
    np.testing.assert_allclose(_losses(fast), _losses(exact), rtol=0.03)
    assert fast.transform(X).dtype == np.float32


@pytest.mark.parametrize("make", MODELS)
def test_channels_last_on_the_gpu_follows_the_default_run(make):
    X = _images()
    default = make(**CONV).fit(X)
    fast = make(memory_format="channels_last", **CONV).fit(X)
    _assert_runs_agree(fast, default, X)


@pytest.mark.parametrize("mode", ["default", "reduce-overhead"])
@pytest.mark.parametrize("make", MODELS)
def test_compiled_training_on_the_gpu_follows_the_eager_run(make, mode):
    # "reduce-overhead" replays the training step as a CUDA graph.
    X = _images()
    eager = make(**CONV).fit(X)
    compiled = make(compile=mode, **CONV).fit(X)
    _assert_runs_agree(compiled, eager, X)
    clone = pickle.loads(pickle.dumps(compiled))
    np.testing.assert_allclose(clone.transform(X), compiled.transform(X), atol=1e-6)
    clone.partial_fit(X, epochs=1)
    assert np.isfinite(_losses(clone)).all()


# ------------------------------------------------------- compile="cuda-graph"
@pytest.mark.parametrize("make", MODELS)
def test_a_captured_step_trains_like_the_eager_step(make):
    X = _images()
    eager = make(**CONV).fit(X)
    graphed = make(compile="cuda-graph", **CONV).fit(X)
    state = graphed.net_.__dict__["_captured_step"]
    assert state.graph is not None
    assert graphed.training_steps_ == eager.training_steps_ > state.warmup + 1
    steps_graphed, steps_eager = _step_losses(graphed), _step_losses(eager)
    # The three warm-up steps run eagerly: the same noise, the same losses.
    np.testing.assert_allclose(steps_graphed[:3], steps_eager[:3], rtol=1e-4)
    # Then the graph draws its own noise (same distribution): close, not equal.
    assert np.isfinite(steps_graphed).all()
    np.testing.assert_allclose(_losses(graphed), _losses(eager), rtol=0.05)
    # A seeded graphed run is reproducible.
    again = make(compile="cuda-graph", **CONV).fit(X)
    np.testing.assert_allclose(_step_losses(again), steps_graphed, rtol=1e-5)


def test_a_captured_step_draws_new_noise_at_every_replay():
    # One image repeated and a negligible learning rate: the loss moves only with the noise.
    X = np.repeat(_images(1), 256, axis=0)
    model = BetaVAE(compile="cuda-graph", **{**CONV, "lr": 1e-12}).fit(X)
    losses = _step_losses(model)[4:]  # the replays
    assert len(np.unique(losses)) == len(losses)


def test_a_captured_step_runs_an_odd_last_batch_eagerly_and_pickles():
    X = _images(272)  # 8 batches of 32 and one of 16 per epoch
    model = BetaVAE(compile="cuda-graph", **CONV).fit(X)
    assert model.training_steps_ == 18
    assert np.isfinite(_step_losses(model)).all()
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(clone.transform(X), model.transform(X), atol=1e-6)
    clone.partial_fit(X, epochs=1)  # captured again after its own warm-up
    assert clone.training_steps_ == 27 and np.isfinite(_step_losses(clone)).all()


def test_a_captured_fused_step_trains_like_the_eager_fused_step(monkeypatch):
    from sklearn_dvae import _fused
    from sklearn_dvae.model_selection import fit_fused

    replays = []
    replay = _fused._FusedGraph.replay

    def counting(self, x, noise):
        replays.append(len(self.run.active))
        return replay(self, x, noise)

    monkeypatch.setattr(_fused._FusedGraph, "replay", counting)
    rng = np.random.default_rng(0)
    X = rng.random((640, 32)).astype(np.float32)  # 10 batches of 64 per epoch
    kwargs = dict(latent_dim=4, hidden_units=(64, 64), batch_size=64, max_epochs=3)
    settings = [{"beta": beta, "random_state": seed} for seed, beta in enumerate((1, 2, 4, 8))]
    eager = fit_fused(BetaVAE(device="cuda", **kwargs), settings, X)
    assert not replays
    graphed = fit_fused(BetaVAE(device="cuda", compile="cuda-graph", **kwargs), settings, X)
    assert replays == [4] * (30 - 3)  # all but the three warm-up steps
    for one, other in zip(graphed, eager, strict=True):
        assert one.training_steps_ == other.training_steps_ == 30
        # The same batches and noise (the members' host generators), so the same run
        # up to the rounding of the GPU's kernels.
        np.testing.assert_allclose(_step_losses(one), _step_losses(other), rtol=1e-4)
        np.testing.assert_allclose(one.transform(X), other.transform(X), atol=1e-3)
