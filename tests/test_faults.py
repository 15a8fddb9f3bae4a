"""Fault injection: after a divergence, an interruption or a bad file, the model is whole.

Each fault is injected at a chosen step; the guarantee checked afterwards is the one the
"Reliability" page of the documentation states: parameters, optimizer states (the
discriminator's too), step counter and history are those of the last completed step, the
error says so, and training goes on from there.
"""

import copy
import os
import signal

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback, Checkpoint

from sklearn_dvae import (
    DIPVAE,
    AnnealedVAE,
    BetaTCVAE,
    BetaVAE,
    CHyVAE,
    FactorVAE,
    TrainingDivergedError,
)

SMALL = dict(latent_dim=3, hidden_units=(16,), batch_size=50, max_epochs=3, random_state=0)
MODELS = {
    "BetaVAE": lambda **kw: BetaVAE(beta=2.0, **kw),
    "AnnealedVAE": lambda **kw: AnnealedVAE(gamma=10.0, c_max=5.0, iteration_threshold=20, **kw),
    "FactorVAE": lambda **kw: FactorVAE(gamma=5.0, discriminator_hidden_units=(16,), **kw),
    "DIPVAE": lambda **kw: DIPVAE(lambda_od=5.0, **kw),
    "BetaTCVAE": lambda **kw: BetaTCVAE(beta=4.0, **kw),
    "CHyVAE": lambda **kw: CHyVAE(nu=10.0, **kw),
}


def _state(net):
    """Every tensor that training changes, copied."""
    states = {"module": net.module_.state_dict(), "criterion": net.criterion_.state_dict()}
    for name in net._optimizers:
        states[name] = getattr(net, name + "_").state_dict()
    return copy.deepcopy(states), net.training_steps_


def _assert_same_state(a, b):
    (states_a, steps_a), (states_b, steps_b) = a, b
    assert steps_a == steps_b
    for part in states_a:
        flat_a, flat_b = _flatten(states_a[part]), _flatten(states_b[part])
        assert flat_a.keys() == flat_b.keys(), part
        for key in flat_a:
            if torch.is_tensor(flat_a[key]):
                assert torch.equal(flat_a[key], flat_b[key]), (part, key)
            else:
                assert flat_a[key] == flat_b[key], (part, key)


def _flatten(tree, prefix=""):
    if isinstance(tree, dict):
        out = {}
        for key, value in tree.items():
            out.update(_flatten(value, f"{prefix}/{key}"))
        return out
    if isinstance(tree, list | tuple):
        out = {}
        for i, value in enumerate(tree):
            out.update(_flatten(value, f"{prefix}/{i}"))
        return out
    return {prefix: tree}


class _Fault(Callback):
    """Snapshot the model after step ``step - 1``, then inject ``fault`` into step ``step``.

    ``fault(net)`` returns a function that takes the fault away again.
    """

    def __init__(self, step, fault):
        self.step, self.fault = step, fault

    def on_batch_end(self, net, training=False, **kwargs):
        if training and net.training_steps_ == self.step - 1:
            self.snapshot = _state(net)
            self.undo = self.fault(net)


def _replace_method(net, name, make):
    original = getattr(net.criterion_, name)
    net.criterion_.__dict__[name] = make(original)
    return lambda: net.criterion_.__dict__.pop(name)


def _nan_loss(net):
    def make(regularizer):
        def poisoned(output, kl):
            penalty, terms = regularizer(output, kl)
            return penalty * float("nan"), terms

        return poisoned

    return _replace_method(net, "regularizer", make)


def _nan_gradient(net):
    first = next(net.module_.parameters())
    return first.register_hook(lambda grad: grad * float("nan")).remove


def _nan_discriminator_loss(net):
    def make(discriminator_loss):
        def poisoned(z, z_other):
            loss, accuracy = discriminator_loss(z, z_other)
            return loss * float("nan"), accuracy

        return poisoned

    return _replace_method(net, "discriminator_loss", make)


def _failed_cholesky(net):
    def make(_):
        def fails(output):
            raise torch.linalg.LinAlgError("linalg.cholesky: the factorization failed")

        return fails

    return _replace_method(net, "hyperprior_terms", make)


def _cases():
    for name in MODELS:
        yield name, "nan-loss", _nan_loss, r"loss = nan"
        yield name, "nan-gradient", _nan_gradient, r"gradient norm = nan"
    yield "FactorVAE", "nan-discriminator-loss", _nan_discriminator_loss, r"discriminator_loss"
    yield "CHyVAE", "failed-cholesky", _failed_cholesky, r"linear algebra failed.*cholesky"


@pytest.mark.parametrize(
    "name, fault, message",
    [(n, f, m) for n, _, f, m in _cases()],
    ids=[f"{n}-{k}" for n, k, _, _ in _cases()],
)
def test_a_divergence_leaves_the_model_of_the_last_good_step(
    tabular_unit_data, name, fault, message
):
    injector = _Fault(step=5, fault=fault)
    model = MODELS[name](callbacks=[injector], **SMALL)
    with pytest.raises(
        TrainingDivergedError,
        match=message + ".*(No update was applied|are those from before this step)",
    ):
        model.fit(tabular_unit_data)
    _assert_same_state(_state(model.net_), injector.snapshot)
    steps_per_epoch = 3 if name == "FactorVAE" else 6  # 300 rows in batches of 50 (x2)
    row = model.history_[-1]
    assert row["diverged"] and row["training_steps"] == 4
    assert row["train_batch_count"] == 4 % steps_per_epoch
    assert all("train_loss" in batch for batch in row["batches"])
    assert all(p.grad is None for p in model.net_.module_.parameters())
    # The model is usable and trains on from its last good step once the fault is gone.
    assert np.isfinite(model.transform(tabular_unit_data)).all()
    injector.undo()
    model.set_params(callbacks=None).partial_fit(tabular_unit_data, epochs=1)
    assert model.training_steps_ == 4 + steps_per_epoch
    assert np.isfinite(model.history_[-1]["train_loss"])


# ------------------------------------------------------------------ interruptions
class _CtrlC(Callback):
    """Send SIGINT to this process in the middle of step ``step`` (before its backward)."""

    def __init__(self, step):
        self.step = step

    def on_batch_begin(self, net, training=False, **kwargs):
        if training and net.training_steps_ == self.step - 1:
            os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_stops_fit_after_the_current_step_and_propagates(tabular_unit_data):
    model = BetaVAE(callbacks=[_CtrlC(step=5)], **SMALL)
    with pytest.raises(KeyboardInterrupt, match="after step 5"):
        model.fit(tabular_unit_data)
    # The interrupted step completed: the model equals a run of exactly 5 steps.
    reference = BetaVAE(max_steps=5, **{**SMALL, "max_epochs": 3}).fit(tabular_unit_data)
    assert model.training_steps_ == 5
    np.testing.assert_array_equal(
        model.transform(tabular_unit_data), reference.transform(tabular_unit_data)
    )
    row = model.history_[-1]
    assert row["interrupted"] and row["train_batch_count"] == 5 and row["training_steps"] == 5
    # Training goes on; the interrupted epoch stays marked in the history.
    model.set_params(callbacks=None).partial_fit(tabular_unit_data, epochs=1)
    assert model.training_steps_ == 11 and model.history_[-2]["interrupted"]


def test_ctrl_c_in_partial_fit_propagates(tabular_unit_data):
    model = BetaVAE(**SMALL).fit(tabular_unit_data)
    model.set_params(callbacks=[_CtrlC(step=model.training_steps_ + 2)])
    with pytest.raises(KeyboardInterrupt):
        model.partial_fit(tabular_unit_data)
    assert model.training_steps_ == 18 + 2


def test_ctrl_c_stops_a_search_instead_of_scoring_a_cut_short_fit(tabular_unit_data):
    search = GridSearchCV(BetaVAE(callbacks=[_CtrlC(step=3)], **SMALL), {"beta": [1.0, 2.0]}, cv=2)
    with pytest.raises(KeyboardInterrupt):
        search.fit(tabular_unit_data)
    assert not hasattr(search, "cv_results_")


def test_the_default_sigint_handler_is_restored_after_training(tabular_unit_data):
    before = signal.getsignal(signal.SIGINT)
    BetaVAE(**SMALL).fit(tabular_unit_data)
    assert signal.getsignal(signal.SIGINT) is before


class _StopRequest(Callback):
    """A callback that ends training the skorch way (as EarlyStopping does)."""

    def on_epoch_end(self, net, **kwargs):
        raise KeyboardInterrupt


def test_a_callback_that_stops_training_ends_fit_normally(tabular_unit_data):
    model = BetaVAE(callbacks=[_StopRequest()], **SMALL).fit(tabular_unit_data)
    assert model.training_steps_ == 6 and len(model.history_) == 1


# ------------------------------------------------------------------ bad files
@pytest.mark.parametrize("part", ["f_params", "f_optimizer", "f_criterion", "f_history"])
@pytest.mark.parametrize("damage", ["truncated", "garbage", "code"])
def test_a_bad_parameter_file_changes_nothing_and_says_so(
    tabular_unit_data, tmp_path, part, damage
):
    model = FactorVAE(discriminator_hidden_units=(8,), **SMALL).fit(tabular_unit_data)
    files = {
        key: tmp_path / f"{key}.bin"
        for key in ("f_params", "f_optimizer", "f_criterion", "f_history")
    }
    model.save_params(**files)
    path = files[part]
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a parameter file" * 10)
    else:

        class Runs:
            def __reduce__(self):
                return (os.system, ("echo pwned",))

        torch.save({"weight": Runs()}, path)
    other = FactorVAE(discriminator_hidden_units=(8,), **{**SMALL, "random_state": 1}).fit(
        tabular_unit_data
    )
    before = _state(other.net_)
    history = copy.deepcopy(other.history_)
    with pytest.raises(ValueError, match="could not load.*model is unchanged") as error:
        other.load_params(**files)
    assert "weights_only=False" not in str(error.value).replace(
        "torch.load(weights_only=False)", ""
    )
    _assert_same_state(_state(other.net_), before)
    assert other.history_ == history


def test_parameters_of_another_shape_are_refused_and_change_nothing(tabular_unit_data, tmp_path):
    small = BetaVAE(**SMALL).fit(tabular_unit_data)
    small.save_params(f_params=tmp_path / "params.pt")
    wide = BetaVAE(**{**SMALL, "hidden_units": (32,)}).fit(tabular_unit_data)
    before = _state(wide.net_)
    with pytest.raises(ValueError, match="does not fit this model"):
        wide.load_params(f_params=tmp_path / "params.pt")
    _assert_same_state(_state(wide.net_), before)


def test_factor_vae_resumes_its_discriminator_from_a_default_checkpoint(
    tabular_unit_data, tmp_path
):
    checkpoint = Checkpoint(monitor=None, dirname=str(tmp_path))  # skorch's default files
    model = FactorVAE(discriminator_hidden_units=(8,), callbacks=[checkpoint], **SMALL)
    model.fit(tabular_unit_data)
    resumed = FactorVAE(discriminator_hidden_units=(8,), **SMALL).initialize(tabular_unit_data)
    with pytest.warns(UserWarning, match="its optimizer .f_optimizer_discriminator."):
        resumed.load_params(checkpoint=checkpoint)
    for a, b in zip(
        resumed.net_.discriminator_.parameters(),
        model.net_.discriminator_.parameters(),
        strict=True,
    ):
        assert torch.equal(a, b)
