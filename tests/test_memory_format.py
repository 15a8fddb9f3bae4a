"""The ``memory_format`` option: channels-last conv networks give the default model."""

import os
import pickle

import numpy as np
import pytest
import torch

from sklearn_dvae import BetaVAE, FactorVAE
from sklearn_dvae.nn import VAEModule

# lr 1e-4 (the study's): rounding differences between kernels then stay at 1e-5.
CONV = {"latent_dim": 4, "batch_size": 16, "max_epochs": 2, "random_state": 0, "lr": 1e-4}


def _images(n=128):
    """Binary 64x64 single-channel images, as uint8 (the conv network's input)."""
    return (np.random.default_rng(0).random((n, 64, 64)) > 0.9).astype(np.uint8)


def _losses(model):
    return np.array([row["train_loss"] for row in model.history_])


def _conv_weights(model):
    return [
        layer.weight
        for layer in model.net_.module_.modules()
        if isinstance(layer, torch.nn.Conv2d | torch.nn.ConvTranspose2d)
    ]


@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: BetaVAE(beta=2.0, **kw),
        lambda **kw: FactorVAE(gamma=5.0, discriminator_hidden_units=(8,), **kw),
    ],
    ids=["BetaVAE", "FactorVAE"],
)
def test_channels_last_training_follows_the_default_run(make):
    X = _images()
    default = make(**CONV).fit(X)
    fast = make(memory_format="channels_last", **CONV).fit(X)
    # Same batches, same noise, same updates up to the kernels' rounding.
    np.testing.assert_allclose(_losses(fast), _losses(default), rtol=1e-4)
    np.testing.assert_allclose(fast.transform(X), default.transform(X), atol=1e-4)
    Z = default.transform(X[:8])
    decoded = fast.inverse_transform(Z)
    assert decoded.flags.c_contiguous
    np.testing.assert_allclose(decoded, default.inverse_transform(Z), atol=1e-4)
    np.testing.assert_allclose(fast.score_samples(X[:8]), default.score_samples(X[:8]), rtol=1e-5)
    # The conv weights really are channels-last (those with one input channel are
    # both formats at once); the default leaves them as they were.
    weights = _conv_weights(fast)
    assert len(weights) == 8
    assert all(w.is_contiguous(memory_format=torch.channels_last) for w in weights)
    assert sum(not w.is_contiguous() for w in weights) == 6
    assert all(w.is_contiguous() for w in _conv_weights(default))


def test_prepared_image_batches_are_channels_last():
    # Three channels, so that the two formats differ (one channel is both).
    kwargs = {"latent_dim": 2, "encoder": "conv", "likelihood": "bernoulli"}
    raw = torch.zeros(2, 3, 64, 64, dtype=torch.uint8)
    module = VAEModule((3, 64, 64), memory_format="channels_last", **kwargs)
    x = module.prepare(raw)
    assert x.shape == (2, 3, 64, 64)
    assert x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    assert VAEModule((3, 64, 64), **kwargs).prepare(raw).is_contiguous()
    # (n, h, w, c) data: the permuted view already is channels-last.
    nhwc = VAEModule((3, 64, 64), channels_last=True, memory_format="channels_last", **kwargs)
    x = nhwc.prepare(raw.permute(0, 2, 3, 1).contiguous())
    assert x.is_contiguous(memory_format=torch.channels_last)


def test_a_channels_last_model_pickles_saves_and_trains_on(tmp_path):
    X = _images(64)
    model = BetaVAE(memory_format="channels_last", **CONV).fit(X)
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone.transform(X), model.transform(X))
    assert all(w.is_contiguous(memory_format=torch.channels_last) for w in _conv_weights(clone))

    params = os.fspath(tmp_path / "params.pt")
    optimizer = os.fspath(tmp_path / "optimizer.pt")
    model.save_params(f_params=params, f_optimizer=optimizer)
    loaded = BetaVAE(memory_format="channels_last", **CONV).initialize(X)
    loaded.load_params(f_params=params, f_optimizer=optimizer)
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))
    assert all(w.is_contiguous(memory_format=torch.channels_last) for w in _conv_weights(loaded))

    clone.partial_fit(X, epochs=1)
    model.partial_fit(X, epochs=1)
    np.testing.assert_allclose(_losses(clone), _losses(model), rtol=1e-5)
    np.testing.assert_array_equal(clone.transform(X), model.transform(X))


def test_channels_last_with_bfloat16():
    X = _images(64)
    kwargs = {**CONV, "max_epochs": 1, "precision": "bfloat16"}
    default = BetaVAE(**kwargs).fit(X)
    fast = BetaVAE(memory_format="channels_last", **kwargs).fit(X)
    np.testing.assert_allclose(_losses(fast), _losses(default), rtol=1e-3)
    np.testing.assert_allclose(fast.transform(X), default.transform(X), atol=1e-3)


@pytest.mark.parametrize("shape", [(96, 6), (96, 8, 8)], ids=["vectors", "small-images"])
def test_the_option_has_no_effect_on_mlp_networks(shape):
    X = np.random.default_rng(0).random(shape).astype(np.float32)
    kwargs = {"latent_dim": 2, "hidden_units": (16,), "batch_size": 16, "max_epochs": 2}
    default = BetaVAE(random_state=0, **kwargs).fit(X)
    model = BetaVAE(random_state=0, memory_format="channels_last", **kwargs).fit(X)
    assert model.encoder_ == "mlp"
    np.testing.assert_array_equal(_losses(model), _losses(default))
    np.testing.assert_array_equal(model.transform(X), default.transform(X))


def test_an_unknown_memory_format_is_rejected_before_fitting():
    model = BetaVAE(memory_format="nhwc")
    with pytest.raises(ValueError, match="memory_format"):
        model.fit(_images(32))
    assert not hasattr(model, "net_")
