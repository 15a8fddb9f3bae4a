"""Experiment tracking: traversal images every N epochs, and skorch's loggers on this history."""

import numbers
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.base import clone
from skorch.callbacks import Callback

from sklearn_dvae import BetaVAE
from sklearn_dvae.callbacks import TraversalImageLogger

VALUES = [-2.0, 0.0, 2.0]
LATENT_DIM = 3


@pytest.fixture(scope="module")
def images():
    """A 2x2 square at each of the 7 x 7 places of an 8x8 image: two factors."""
    X = np.zeros((49, 8, 8), dtype=np.float32)
    for index, image in enumerate(X):
        row, col = divmod(index, 7)
        image[row : row + 2, col : col + 2] = 1.0
    return X


def _vae(callbacks, max_epochs=4):
    return BetaVAE(
        latent_dim=LATENT_DIM,
        hidden_units=(32,),
        lr=1e-2,
        batch_size=8,
        max_epochs=max_epochs,
        random_state=0,
        callbacks=callbacks,
    )


def _recorder():
    logged = {}

    def record(image, epoch):
        logged[epoch] = image

    return logged, record


def test_images_are_handed_to_the_function_every_n_epochs(images):
    logged, record = _recorder()
    logger = TraversalImageLogger(images[:16], record, every=2, values=VALUES)
    _vae([logger], max_epochs=5).fit(images)
    assert sorted(logged) == [2, 4]
    assert logger.epochs_logged_ == [2, 4]
    for image in logged.values():
        # 3 latents x 3 values of 8x8 cells, with 1-pixel lines around each cell.
        assert image.shape == (3 * 9 + 1, 3 * 9 + 1, 3)
        assert image.dtype == np.uint8


def test_nothing_is_decoded_on_the_epochs_in_between(images, monkeypatch):
    calls = []
    original = TraversalImageLogger.traversal_image

    def counting(self, net):
        calls.append(len(net.history))
        return original(self, net)

    monkeypatch.setattr(TraversalImageLogger, "traversal_image", counting)
    logged, record = _recorder()
    _vae([TraversalImageLogger(images[:16], record, every=3)], max_epochs=7).fit(images)
    assert calls == [3, 6]
    assert sorted(logged) == [3, 6]


def test_a_directory_receives_one_png_per_logged_epoch(images, tmp_path):
    image_module = pytest.importorskip("PIL.Image")
    logged, record = _recorder()
    loggers = [
        TraversalImageLogger(images[:16], record, every=2),
        TraversalImageLogger(images[:16], tmp_path / "traversals", every=2, tag="z"),
    ]
    _vae(loggers, max_epochs=4).fit(images)
    files = sorted(p.name for p in (tmp_path / "traversals").iterdir())
    assert files == ["z_epoch0002.png", "z_epoch0004.png"]
    for epoch in (2, 4):
        with image_module.open(tmp_path / "traversals" / f"z_epoch{epoch:04d}.png") as png:
            assert png.mode == "RGB"
            np.testing.assert_array_equal(np.asarray(png), logged[epoch])


class _FakeSummaryWriter:
    """Records add_image calls as torch.utils.tensorboard.SummaryWriter receives them."""

    def __init__(self):
        self.calls = []

    def add_image(self, tag, img_tensor, global_step=None, dataformats="CHW"):
        self.calls.append((tag, img_tensor.shape, img_tensor.dtype, global_step, dataformats))


def test_a_summary_writer_gets_each_image_with_the_epoch_as_its_step(images):
    writer = _FakeSummaryWriter()
    logger = TraversalImageLogger(images[:16], writer, every=2, values=VALUES, n_latents=2)
    _vae([logger], max_epochs=4).fit(images)
    shape = (2 * 9 + 1, 3 * 9 + 1, 3)
    assert writer.calls == [
        ("latent_traversals", shape, np.uint8, 2, "HWC"),
        ("latent_traversals", shape, np.uint8, 4, "HWC"),
    ]


def test_the_cells_are_the_fitted_models_decoded_traversals(images):
    logger = TraversalImageLogger(images[:32], lambda image, epoch: None, values=VALUES)
    vae = _vae([logger], max_epochs=3).fit(images)
    image = logger.traversal_image(vae.net_)

    X = images[:32]
    Z = vae.transform(X)
    order = np.argsort(-vae.latent_kl(X), kind="stable")
    reference = np.argmin(((Z - np.median(Z, axis=0)) ** 2).sum(axis=1))
    codes = np.repeat(Z[[reference]], len(order) * len(VALUES), axis=0)
    for row, latent in enumerate(order):
        codes[row * len(VALUES) : (row + 1) * len(VALUES), latent] = VALUES
    expected = np.rint(np.clip(vae.inverse_transform(codes), 0, 1) * 255)
    for index, cell in enumerate(expected):
        row, col = divmod(index, len(VALUES))
        shown = image[1 + row * 9 : 9 + row * 9, 1 + col * 9 : 9 + col * 9]
        np.testing.assert_allclose(shown[..., 0], cell, atol=1)
        assert (shown == shown[..., :1]).all()  # grey: the three channels are equal


def test_training_is_the_same_with_and_without_the_logger(images):
    class ModeProbe(Callback):
        def on_epoch_end(self, net, **kwargs):
            self.modes = [*getattr(self, "modes", []), net.module_.training]

    probe = ModeProbe()
    logger = TraversalImageLogger(images[:16], lambda image, epoch: None)
    logged = _vae([logger, probe], max_epochs=3).fit(images)
    plain = _vae(None, max_epochs=3).fit(images)
    np.testing.assert_array_equal(logged.transform(images), plain.transform(images))
    assert probe.modes == [True, True, True]  # back in training mode after each image


def test_colour_images_keep_their_channels():
    rng = np.random.default_rng(1)
    X = rng.integers(0, 256, size=(48, 8, 8, 3), dtype=np.uint8)  # channels last, uint8
    logged, record = _recorder()
    _vae([TraversalImageLogger(X[:8], record, values=VALUES)], max_epochs=1).fit(X)
    assert logged[1].shape == (3 * 9 + 1, 3 * 9 + 1, 3)
    assert not (logged[1][..., 0] == logged[1][..., 1]).all()


def test_flat_features_are_shown_in_the_given_image_shape(images):
    X = images.reshape(len(images), 64)
    logged, record = _recorder()
    logger = TraversalImageLogger(X[:8], record, values=VALUES, image_shape=(4, 16))
    _vae([logger], max_epochs=2).fit(X)
    assert logged[2].shape == (3 * 5 + 1, 3 * 17 + 1, 3)


def test_flat_features_without_a_square_shape_are_refused_with_the_fix(images):
    X = images.reshape(len(images), 64)[:, :60]
    logger = TraversalImageLogger(X[:8], lambda image, epoch: None)
    with pytest.raises(ValueError, match="pass image_shape"):
        _vae([logger], max_epochs=1).fit(X)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"every": 0}, "every must be a positive integer"),
        ({"n_latents": 0}, "n_latents must be None or a positive integer"),
        ({"values": []}, "values must be a non-empty 1-D array"),
        ({"reference": 99}, "reference must be None or a row index of X"),
        ({"writer": 42}, "writer must be a function"),
    ],
)
def test_bad_settings_stop_fit_before_the_first_step(images, settings, message):
    settings = {"X": images[:16], "writer": lambda image, epoch: None, **settings}
    vae = _vae([TraversalImageLogger(**settings)])
    with pytest.raises(ValueError, match=message):
        vae.fit(images)
    assert not hasattr(vae, "history_") or len(vae.history_) == 0


def test_an_estimator_with_the_logger_clones_for_a_search(images, tmp_path):
    vae = _vae([TraversalImageLogger(images[:16], tmp_path, every=2)])
    copy = clone(vae)
    assert copy.callbacks[0] is not vae.callbacks[0]
    assert copy.callbacks[0].get_params()["every"] == 2
    copy.fit(images)
    assert copy.callbacks[0].epochs_logged_ == [2, 4]


def test_tensorboard_receives_the_loss_terms_and_the_images(images, tmp_path):
    tensorboard = pytest.importorskip("torch.utils.tensorboard")
    from skorch.callbacks import TensorBoard

    writer = tensorboard.SummaryWriter(log_dir=str(tmp_path))
    callbacks = [
        TraversalImageLogger(images[:16], writer, every=2),
        TensorBoard(writer),  # closes the writer after training
    ]
    _vae(callbacks, max_epochs=2).fit(images)
    assert list(tmp_path.glob("events.out.tfevents.*"))


# skorch's MlflowLogger and WandbLogger take the run (and MLflow's client) as objects,
# so the stand-ins below check what this package's history hands them without MLflow
# or W&B installed.
class _FakeMlflowClient:
    def __init__(self):
        self.metrics, self.artifacts = [], []

    def log_metric(self, run_id, key, value, step=None):
        self.metrics.append((key, value, step))

    def log_artifact(self, run_id, path):
        self.artifacts.append(Path(path).name)

    def set_terminated(self, run_id):
        pass


def test_mlflow_logger_gets_numbers_once_the_per_latent_kls_are_ignored(images):
    from skorch.callbacks import MlflowLogger

    client = _FakeMlflowClient()
    run = SimpleNamespace(info=SimpleNamespace(run_id="run"))
    logger = MlflowLogger(run, client, keys_ignored=["train_kl_per_latent"])
    _vae([logger], max_epochs=2).fit(images)
    assert {"train_loss", "train_reconstruction", "train_kl"} <= {k for k, _, _ in client.metrics}
    # MLflow's metrics are numbers: a list (the per-latent KLs) would be refused.
    assert all(isinstance(value, numbers.Real) for _, value, _ in client.metrics)
    assert {step for _, _, step in client.metrics} == {1, 2}
    assert client.artifacts == ["params.pth", "optimizer.pth", "criterion.pth", "history.json"]


class _FakeWandbRun:
    def __init__(self, directory):
        self.dir, self.logged = str(directory), []

    def watch(self, module):
        self.watched = module

    def log(self, values):
        self.logged.append(values)


def test_wandb_logger_logs_each_epoch_of_the_history(images, tmp_path):
    from skorch.callbacks import WandbLogger

    run = _FakeWandbRun(tmp_path)
    # Without a validation split: save_model reads valid_loss_best, which is not there.
    vae = _vae([WandbLogger(run, save_model=False)], max_epochs=3).fit(images)
    assert [values["train_loss"] for values in run.logged] == list(vae.history_[:, "train_loss"])
    assert run.watched is vae.net_.module_


def test_wandb_logger_saves_the_best_model_with_a_validation_split(images, tmp_path):
    from skorch.callbacks import WandbLogger

    run = _FakeWandbRun(tmp_path)
    vae = _vae([WandbLogger(run)], max_epochs=2)
    vae.set_params(validation_fraction=0.25).fit(images)
    assert "valid_loss" in run.logged[-1]
    assert (tmp_path / "best_model.pth").is_file()
