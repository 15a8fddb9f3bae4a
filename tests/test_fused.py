"""Fused training: K models as one computation, each equal to its standalone fit."""

import pickle
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, KFold

from sklearn_dvae import DIPVAE, AnnealedVAE, BetaTCVAE, BetaVAE, CHyVAE, FactorVAE
from sklearn_dvae import _fused as fused_module
from sklearn_dvae._fused import fusion_key, plan_groups, unfusable_reason
from sklearn_dvae.metrics import make_disentanglement_scorer, mig_score
from sklearn_dvae.model_selection import FusedGridSearchCV, fit_fused
from sklearn_dvae.nn import BetaVAELoss

BASE = dict(latent_dim=3, hidden_units=(16,), batch_size=50, max_epochs=40)
FAMILIES = {
    "BetaVAE": (lambda: BetaVAE(**BASE), "beta", (1.0, 4.0)),
    "AnnealedVAE": (
        lambda: AnnealedVAE(gamma=10.0, iteration_threshold=100, **BASE),
        "c_max",
        (2.0, 5.0),
    ),
    "FactorVAE": (
        lambda: FactorVAE(discriminator_hidden_units=(16, 16), **BASE),
        "gamma",
        (5.0, 20.0),
    ),
    "DIPVAE": (lambda: DIPVAE(dip_type="i", **BASE), "lambda_od", (1.0, 10.0)),
    "BetaTCVAE": (lambda: BetaTCVAE(**BASE), "beta", (1.0, 6.0)),
    "CHyVAE": (lambda: CHyVAE(**BASE), "nu", (10.0, 50.0)),
}


def _step_losses(model):
    return np.array([b["train_loss"] for epoch in model.history_ for b in epoch["batches"]])


@pytest.mark.parametrize("family", FAMILIES)
def test_a_fused_member_follows_its_standalone_fit(tabular_unit_data, family):
    make, name, values = FAMILIES[family]
    settings = [{name: value, "random_state": seed} for seed, value in enumerate(values)]
    fused = fit_fused(make(), settings, tabular_unit_data, max_fused=4)
    for model, setting in zip(fused, settings, strict=True):
        alone = make().set_params(**setting).fit(tabular_unit_data)
        assert model.training_steps_ == alone.training_steps_ >= 120
        # Batched kernels round differently: the same run up to float32 rounding
        # after hundreds of steps (measured: about 2e-7 relative).
        np.testing.assert_allclose(_step_losses(model), _step_losses(alone), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(
            model.transform(tabular_unit_data), alone.transform(tabular_unit_data), atol=1e-5
        )
        for key in ("train_loss", "train_kl", "training_steps"):
            np.testing.assert_allclose(
                model.history_[:, key], alone.history_[:, key], rtol=1e-5, atol=1e-6
            )
        for a, b in zip(
            model.net_.optimizer_.state.values(), alone.net_.optimizer_.state.values(), strict=True
        ):
            np.testing.assert_allclose(
                a["exp_avg_sq"].numpy(), b["exp_avg_sq"].numpy(), rtol=1e-3, atol=1e-12
            )


def test_fused_members_train_on_and_pickle_like_standalone_models(tabular_unit_data):
    settings = [{"beta": b, "random_state": 0} for b in (1.0, 2.0, 4.0)]
    make = FAMILIES["BetaVAE"][0]
    fused = fit_fused(make().set_params(max_epochs=5), settings, tabular_unit_data)
    for model, setting in zip(fused, settings, strict=True):
        alone = make().set_params(max_epochs=5, **setting).fit(tabular_unit_data)
        loaded = pickle.loads(pickle.dumps(model))
        np.testing.assert_array_equal(
            loaded.transform(tabular_unit_data), model.transform(tabular_unit_data)
        )
        loaded.partial_fit(tabular_unit_data, epochs=2)
        alone.partial_fit(tabular_unit_data, epochs=2)
        np.testing.assert_allclose(
            loaded.transform(tabular_unit_data), alone.transform(tabular_unit_data), atol=1e-5
        )


class NaNAtStepLoss(BetaVAELoss):
    """beta-VAE whose loss becomes NaN from optimizer step ``nan_step`` on (0: never)."""

    def __init__(self, nan_step=0, beta=1.0, likelihood="bernoulli"):
        super().__init__(beta=beta, likelihood=likelihood)
        self.nan_step = nan_step

    def regularizer(self, output, kl):
        penalty, terms = super().regularizer(output, kl)
        if self.nan_step and self.training_step >= self.nan_step:
            penalty = penalty * float("nan")
        return penalty, terms


class DivergingVAE(BetaVAE):
    """A BetaVAE that diverges at step ``nan_step`` (a fault to inject)."""

    _loss_class = NaNAtStepLoss

    def __init__(self, nan_step=0, **kwargs):
        super().__init__(**kwargs)
        self.nan_step = nan_step


def test_a_diverging_member_does_not_sink_its_group(tabular_unit_data):
    settings = [
        {"beta": 1.0, "random_state": 0},
        {"beta": 2.0, "random_state": 0, "nan_step": 7},
        {"beta": 4.0, "random_state": 1},
    ]
    kwargs = {**BASE, "max_epochs": 5}
    with pytest.warns(UserWarning, match="1 of 3 fits failed: setting 1: TrainingDivergedError"):
        fused = fit_fused(DivergingVAE(**kwargs), settings, tabular_unit_data, errors="warn")
    failed = fused[1]
    assert failed.training_steps_ == 7 and failed.history_[-1]["diverged"]
    reference = DivergingVAE(**{**kwargs, **settings[1], "nan_step": 0, "max_steps": 7})
    np.testing.assert_allclose(
        failed.transform(tabular_unit_data),
        reference.fit(tabular_unit_data).transform(tabular_unit_data),
        atol=1e-5,
    )
    for i in (0, 2):
        alone = DivergingVAE(**kwargs, **settings[i]).fit(tabular_unit_data)
        np.testing.assert_allclose(_step_losses(fused[i]), _step_losses(alone), rtol=1e-5)
    with pytest.raises(Exception, match="non-finite"):
        fit_fused(DivergingVAE(**kwargs), settings, tabular_unit_data)


def test_fused_grid_search_gives_grid_search_results(tabular_unit_data):
    scorer = make_disentanglement_scorer(mig_score)
    factors = np.random.default_rng(0).integers(0, 3, size=(len(tabular_unit_data), 2))
    grid = {"beta": [1.0, 4.0], "random_state": [0, 1]}
    kwargs = dict(
        cv=KFold(3, shuffle=True, random_state=0),
        scoring={"mig": scorer, "elbo": lambda estimator, X, y: estimator.score(X)},
        refit="mig",
        return_train_score=True,
    )
    model = BetaVAE(**{**BASE, "max_epochs": 10})
    fused = FusedGridSearchCV(model, grid, **kwargs).fit(tabular_unit_data, factors)
    plain = GridSearchCV(model, grid, **kwargs).fit(tabular_unit_data, factors)
    assert set(fused.cv_results_) == set(plain.cv_results_)
    for key in ("mean_test_mig", "mean_train_mig", "split0_test_mig", "mean_test_elbo"):
        np.testing.assert_allclose(fused.cv_results_[key], plain.cv_results_[key], atol=1e-4)
    assert fused.cv_results_["params"] == plain.cv_results_["params"]
    assert fused.best_params_ == plain.best_params_
    assert fused.n_splits_ == plain.n_splits_ == 3
    np.testing.assert_allclose(
        fused.best_estimator_.transform(tabular_unit_data),
        plain.best_estimator_.transform(tabular_unit_data),
    )


def test_fused_grid_search_with_the_default_score_and_a_failed_candidate(tabular_unit_data):
    grid = {"nan_step": [0, 2]}
    search = FusedGridSearchCV(DivergingVAE(**{**BASE, "max_epochs": 3}), grid, cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(tabular_unit_data)
    scores = search.cv_results_["mean_test_score"]
    assert np.isfinite(scores[0]) and np.isnan(scores[1])
    assert search.best_params_ == {"nan_step": 0}


def test_settings_that_cannot_be_fused_form_groups_of_their_own(tabular_unit_data):
    a = BetaVAE(beta=1.0, **BASE)
    assert fusion_key(a) == fusion_key(BetaVAE(beta=8.0, random_state=3, **BASE))
    assert fusion_key(a) != fusion_key(BetaVAE(beta=1.0, **{**BASE, "latent_dim": 4}))
    assert fusion_key(a) != fusion_key(BetaVAE(beta=1.0, lr=1e-4, **BASE))
    assert fusion_key(a) != fusion_key(DIPVAE(**BASE))
    assert unfusable_reason(BetaVAE(callbacks=[object()])) is not None
    assert plan_groups([a] * 5, tabular_unit_data, 2) == [[0, 1], [2, 3], [4]]
    # A grid over latent_dim trains each width as its own group, fused within it.
    fits = fit_fused(
        BetaVAE(**{**BASE, "max_epochs": 2}),
        [{"latent_dim": d, "random_state": s} for d in (2, 3) for s in (0, 1)],
        tabular_unit_data,
    )
    assert [m.transform(tabular_unit_data).shape[1] for m in fits] == [2, 2, 3, 3]


def test_auto_group_size_fuses_small_networks_and_not_conv_ones_on_the_cpu(tabular_unit_data):
    assert plan_groups([BetaVAE(**BASE)] * 3, tabular_unit_data, "auto") == [[0, 1, 2]]
    images = np.zeros((8, 64, 64), dtype=np.uint8)
    images[:, 10:20, 10:20] = 1
    assert plan_groups([BetaVAE(encoder="conv", **BASE)] * 3, images, "auto") == [[0], [1], [2]]


def test_bad_arguments_are_refused(tabular_unit_data):
    with pytest.raises(ValueError, match="max_fused"):
        fit_fused(BetaVAE(**BASE), [{}], tabular_unit_data, max_fused=0)
    with pytest.raises(ValueError, match="errors"):
        fit_fused(BetaVAE(**BASE), [{}], tabular_unit_data, errors="ignore")
    with pytest.raises(ValueError, match="settings is empty"):
        fit_fused(BetaVAE(**BASE), [], tabular_unit_data)


def test_a_pipeline_is_searched_candidate_by_candidate(tabular_unit_data):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler

    pipeline = make_pipeline(MinMaxScaler(), BetaVAE(**{**BASE, "max_epochs": 2}))
    grid = {"betavae__beta": [1.0, 2.0]}
    fused = FusedGridSearchCV(pipeline, grid, cv=2).fit(tabular_unit_data)
    plain = GridSearchCV(pipeline, grid, cv=2).fit(tabular_unit_data)
    np.testing.assert_allclose(
        fused.cv_results_["mean_test_score"], plain.cv_results_["mean_test_score"], rtol=1e-6
    )


# -- the captured fused step (compile="cuda-graph" on a GPU) ---------------------------
# Without a GPU, the graph is emulated: "capturing" keeps the step's body and every
# "replay" runs it eagerly. Everything but CUDA's capture itself runs as on a GPU:
# the warm-up, the static inputs, the copy of the state taken before the update, the
# checks after it, and the eager steps of an epoch's last, smaller batch.


@pytest.fixture
def emulated_graphs(monkeypatch):
    """Fused runs take the captured-step path on the CPU; returns the replay count."""
    replays = []

    def capture(self, body):
        def replay():
            replays.append(len(self.run.active))
            body()

        return SimpleNamespace(replay=replay)

    monkeypatch.setattr(fused_module, "_wants_graph", lambda net: net.batches_per_step == 1)
    monkeypatch.setattr(fused_module._FusedGraph, "capture", capture)
    return replays


def _state_arrays(model):
    (state,) = [s for s in model.net_.optimizer_.state.values()][:1]
    return {key: np.asarray(value) for key, value in state.items()}


@pytest.mark.parametrize("family", ["BetaVAE", "DIPVAE", "BetaTCVAE"])
def test_the_captured_fused_step_is_the_eager_fused_step(
    tabular_unit_data, family, monkeypatch, emulated_graphs
):
    make, name, values = FAMILIES[family]
    settings = [{name: value, "random_state": seed} for seed, value in enumerate(values)]
    # 300 rows in batches of 40: 7 full batches and a last one of 20 per epoch.
    model = make().set_params(max_epochs=4, batch_size=40)
    captured = fit_fused(model, settings, tabular_unit_data)
    # The first epoch: 3 eager warm-up steps, 4 replays, the last batch eagerly; then 7
    # replays and the last batch per epoch.
    assert emulated_graphs == [len(settings)] * (4 + 7 * 3)
    monkeypatch.setattr(fused_module, "_wants_graph", lambda net: False)
    eager = fit_fused(model, settings, tabular_unit_data)
    for one, other in zip(captured, eager, strict=True):
        assert one.training_steps_ == other.training_steps_ == 32
        np.testing.assert_array_equal(_step_losses(one), _step_losses(other))
        np.testing.assert_array_equal(
            one.transform(tabular_unit_data), other.transform(tabular_unit_data)
        )
        for key, value in _state_arrays(one).items():
            np.testing.assert_array_equal(value, _state_arrays(other)[key])


def test_a_member_failing_in_a_captured_step_leaves_with_its_state_before_it(
    tabular_unit_data, monkeypatch, emulated_graphs
):
    settings = [
        {"beta": 1.0, "random_state": 0},
        {"beta": 2.0, "random_state": 0, "nan_step": 9},
        {"beta": 4.0, "random_state": 1},
    ]
    model = DivergingVAE(**{**BASE, "max_epochs": 3})
    with pytest.warns(UserWarning, match="1 of 3 fits failed"):
        captured = fit_fused(model, settings, tabular_unit_data, errors="warn")
    # 6 steps per epoch: 3 eager warm-up steps, then steps 4 to 10 replay with 3
    # members (member 1 fails in the 10th); after 3 more eager steps the other two
    # replay the last 5 steps in a graph of their own.
    assert emulated_graphs == [3] * 7 + [2] * 5
    monkeypatch.setattr(fused_module, "_wants_graph", lambda net: False)
    with pytest.warns(UserWarning, match="1 of 3 fits failed"):
        eager = fit_fused(model, settings, tabular_unit_data, errors="warn")
    failed = captured[1]
    assert failed.training_steps_ == eager[1].training_steps_ == 9
    assert failed.history_[-1]["diverged"]
    for one, other in zip(captured, eager, strict=True):
        np.testing.assert_array_equal(_step_losses(one), _step_losses(other))
        np.testing.assert_array_equal(
            one.transform(tabular_unit_data), other.transform(tabular_unit_data)
        )
        for key, value in _state_arrays(one).items():
            np.testing.assert_array_equal(value, _state_arrays(other)[key])
