"""Data read on demand (h5py datasets, LazyImages) trains without being loaded whole."""

import h5py
import numpy as np
import pytest

from sklearn_dvae import BetaVAE, FactorVAE
from sklearn_dvae.datasets import LazyImages

SMALL = dict(latent_dim=2, hidden_units=(16,), max_epochs=2, random_state=0)


@pytest.fixture
def h5_images(tmp_path, small_images):
    path = tmp_path / "images.h5"
    with h5py.File(path, "w") as f:
        f["images"] = small_images
    with h5py.File(path, "r") as f:
        yield f["images"]


@pytest.mark.parametrize("model", [BetaVAE, FactorVAE])
def test_h5py_dataset_trains_exactly_like_the_array(h5_images, small_images, model):
    extra = dict(discriminator_hidden_units=(8,)) if model is FactorVAE else {}
    lazy = model(**SMALL, **extra).fit(h5_images)
    eager = model(**SMALL, **extra).fit(small_images)
    np.testing.assert_array_equal(lazy.history_[:, "train_loss"], eager.history_[:, "train_loss"])
    np.testing.assert_array_equal(lazy.transform(h5_images), eager.transform(small_images))
    assert lazy.input_scale_ == pytest.approx(1 / 255)


class _CountingReader:
    def __init__(self, data):
        self.data, self.rows_read = data, 0

    def __call__(self, rows):
        self.rows_read += len(rows)
        return self.data[rows]


def test_setting_up_reads_only_a_sample_of_rows():
    data = (np.random.default_rng(0).random((20_000, 8, 8)) > 0.5).astype(np.uint8)
    reader = _CountingReader(data)
    images = LazyImages(reader, data.shape)
    vae = BetaVAE(**SMALL).initialize(images)
    assert vae.input_scale_ == 1.0 and vae.sample_shape_ == (1, 8, 8)
    # Value checks look at two samples of 1,024 rows, a tenth of the data here, and
    # the networks' contract check runs them once on two rows.
    assert reader.rows_read <= 2048 + 2


def test_lazy_input_is_checked_like_an_array(h5_images, tmp_path):
    vae = BetaVAE(**SMALL).fit(h5_images)
    with pytest.raises(ValueError, match="X has 8 features, but BetaVAE is expecting 16"):
        vae.transform(LazyImages(lambda rows: np.zeros((len(rows), 8, 8), np.uint8), (4, 8, 8)))
    bad = np.random.default_rng(0).random((50, 6)).astype(np.float32)
    bad[10, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        BetaVAE(**SMALL).fit(LazyImages(lambda rows: bad[rows], bad.shape, dtype=np.float32))
    strings = LazyImages(lambda rows: np.zeros((len(rows), 3), np.int64), (5, 3), dtype=np.int64)
    with pytest.raises(TypeError, match="uint8, float32 or float64"):
        BetaVAE(**SMALL).fit(strings)
