"""The ``compile`` option: torch.compile'd training gives the eager model up to rounding."""

import pickle
import shutil

import numpy as np
import pytest
import torch
from skorch.callbacks import LRScheduler

from sklearn_dvae import AnnealedVAE, BetaVAE, CHyVAE, FactorVAE

pytestmark = [
    pytest.mark.filterwarnings(
        "ignore:`torch.jit.script_method` is deprecated:DeprecationWarning"
    ),
    pytest.mark.skipif(
        shutil.which("g++") is None and shutil.which("c++") is None,
        reason="torch.compile on the CPU needs a C++ compiler",
    ),
]


def _data():
    rng = np.random.default_rng(0)
    return rng.random((96, 6)).astype(np.float32)


def _losses(model):
    return np.array([row["train_loss"] for row in model.history_])


@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: BetaVAE(beta=2.0, **kw),
        lambda **kw: FactorVAE(gamma=5.0, discriminator_hidden_units=(8,), **kw),
    ],
    ids=["BetaVAE", "FactorVAE"],
)
def test_compiled_training_follows_the_eager_run(make):
    X = _data()
    kwargs = {"latent_dim": 2, "hidden_units": (16,), "batch_size": 16, "max_epochs": 2}
    eager = make(random_state=0, **kwargs).fit(X)
    compiled = make(random_state=0, compile=True, **kwargs).fit(X)
    # Same batches, same noise (drawn as in eager mode), same updates up to rounding.
    np.testing.assert_allclose(_losses(compiled), _losses(eager), rtol=1e-4)
    np.testing.assert_allclose(compiled.transform(X), eager.transform(X), atol=1e-4)
    # The plain module is kept: its parameters are the trained ones.
    assert not isinstance(compiled.net_.module_, torch._dynamo.eval_frame.OptimizedModule)


def test_a_compiled_model_pickles_and_trains_on():
    X = _data()
    model = BetaVAE(
        latent_dim=2, hidden_units=(16,), batch_size=16, max_epochs=1, random_state=0,
        compile="default",
    ).fit(X)  # fmt: skip
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone.transform(X), model.transform(X))
    clone.partial_fit(X)
    model.partial_fit(X)
    np.testing.assert_allclose(_losses(clone), _losses(model), rtol=1e-5)


def test_an_unknown_compile_mode_is_rejected_before_fitting():
    model = BetaVAE(compile="fastest")
    with pytest.raises(ValueError, match="compile"):
        model.fit(_data())
    assert not hasattr(model, "net_")


@pytest.mark.slow  # compiling the conv network takes about 10 s on the CPU
def test_compiled_channels_last_conv_training_follows_the_eager_run():
    # memory_format="channels_last" (see test_memory_format.py) under torch.compile.
    X = (np.random.default_rng(0).random((64, 64, 64)) > 0.9).astype(np.uint8)
    kwargs = {"latent_dim": 4, "batch_size": 16, "max_epochs": 1, "random_state": 0, "lr": 1e-4}
    eager = BetaVAE(**kwargs).fit(X)
    compiled = BetaVAE(compile=True, memory_format="channels_last", **kwargs).fit(X)
    np.testing.assert_allclose(_losses(compiled), _losses(eager), rtol=1e-4)
    np.testing.assert_allclose(compiled.transform(X), eager.transform(X), atol=1e-4)
    weight = compiled.net_.module_.encoder.net[2].weight
    assert weight.is_contiguous(memory_format=torch.channels_last)


# ------------------------------------------------------- compile="cuda-graph"
@pytest.mark.parametrize(
    "model, message",
    [
        (AnnealedVAE(compile="cuda-graph"), "not supported by AnnealedVAE: its loss changes"),
        (CHyVAE(compile="cuda-graph"), "not supported by CHyVAE: its inverse-Wishart"),
        (BetaVAE(compile="cuda-graph", precision="bfloat16"), "needs precision='float32'"),
        (
            BetaVAE(compile="cuda-graph", optimizer=torch.optim.LBFGS),
            "needs an optimizer with a 'capturable' option",
        ),
        (
            BetaVAE(compile="cuda-graph", callbacks=[("lr", LRScheduler())]),
            "cannot follow a learning-rate schedule",
        ),
    ],
    ids=["annealed", "chyvae", "bfloat16", "lbfgs", "lr-schedule"],
)
def test_cuda_graph_rejects_what_a_captured_step_cannot_do(model, message):
    with pytest.raises(ValueError, match=message):
        model.fit(_data())
    assert not hasattr(model, "net_")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the fallback without a GPU")
def test_cuda_graph_without_a_gpu_warns_and_trains_eagerly():
    X = _data()
    kwargs = {"latent_dim": 2, "hidden_units": (16,), "batch_size": 16, "max_epochs": 2}
    eager = BetaVAE(random_state=0, **kwargs).fit(X)
    with pytest.warns(UserWarning, match="needs a CUDA device; training on 'cpu' runs eagerly"):
        graphed = BetaVAE(random_state=0, compile="cuda-graph", **kwargs).fit(X)
    np.testing.assert_array_equal(_losses(graphed), _losses(eager))
    assert (
        "capturable" not in graphed.net_.optimizer_.defaults
        or not (graphed.net_.optimizer_.defaults["capturable"])
    )
