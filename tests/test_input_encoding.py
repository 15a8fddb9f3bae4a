"""The encoding of fit's input is remembered: later input is converted or refused, not misread."""

import re
import warnings

import h5py
import numpy as np
import pytest

from sklearn_dvae import BetaVAE, FactorVAE
from sklearn_dvae.datasets import LazyImages

SMALL = dict(latent_dim=2, hidden_units=(16,), max_epochs=2, random_state=0)


@pytest.fixture(scope="module")
def binary_images():
    """200 binary 8x8 images as uint8 0/1 (dSprites' official encoding)."""
    return (np.random.default_rng(0).random((200, 8, 8)) > 0.7).astype(np.uint8)


@pytest.fixture(scope="module")
def grey_images():
    return np.random.default_rng(1).integers(0, 256, size=(200, 8, 8)).astype(np.uint8)


def test_float_fit_scores_the_same_images_given_as_uint8(grey_images):
    as_float = grey_images.astype(np.float32) / 255
    vae = BetaVAE(**SMALL).fit(as_float)
    np.testing.assert_allclose(vae.score(grey_images), vae.score(as_float), rtol=1e-6)
    np.testing.assert_allclose(vae.transform(grey_images), vae.transform(as_float), atol=1e-6)


def test_binary_fit_reads_0_255_images_as_0_1(binary_images):
    vae = BetaVAE(**SMALL).fit(binary_images)
    assert vae.input_scale_ == 1.0
    as_255 = binary_images * np.uint8(255)
    np.testing.assert_allclose(vae.score(as_255), vae.score(binary_images), rtol=1e-6)
    np.testing.assert_array_equal(vae.transform(as_255), vae.transform(binary_images))


def test_uint8_fit_transforms_the_float_version_alike(grey_images):
    vae = BetaVAE(**SMALL).fit(grey_images)
    for as_float in (grey_images / 255.0, grey_images.astype(np.float32)):  # [0, 1] or 0-255
        np.testing.assert_allclose(vae.transform(as_float), vae.transform(grey_images), atol=1e-6)


def test_a_stray_value_in_0_1_images_is_not_read_silently_as_grey_levels(binary_images):
    stray = binary_images.copy()
    stray[0, 0, 0] = 2
    with pytest.warns(UserWarning, match=r"ranges over \[0, 2\].*grey levels.*np.minimum"):
        BetaVAE(**SMALL).fit(stray)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        BetaVAE(**SMALL).fit(binary_images)


def test_a_bernoulli_model_refuses_values_outside_0_1(binary_images):
    vae = BetaVAE(**SMALL).fit(binary_images.astype(np.float32))
    for method in (vae.transform, vae.score):
        with pytest.raises(ValueError, match=r"ranges over \[0, 7\].*outside \[0, 1\].*Bernoulli"):
            method(binary_images.astype(np.float32) * 7)


def test_huge_inputs_get_a_clear_error_instead_of_nan(grey_images):
    vae = BetaVAE(likelihood="gaussian", **SMALL).fit(grey_images.astype(np.float32))
    assert np.isfinite(vae.score(grey_images.astype(np.float32)))
    with pytest.raises(ValueError, match="not finite for 4 sample.*too large"):
        vae.score(np.full((4, 8, 8), 1e20, dtype=np.float32))
    with pytest.raises(ValueError, match="NaN or infinity.*float32"):
        vae.score(np.full((4, 8, 8), 1e300))


def test_training_further_needs_the_encoding_of_fit(binary_images):
    vae = BetaVAE(**SMALL).fit(binary_images)
    with pytest.raises(ValueError, match="holds uint8 grey levels 0-255.*fitted on 0/1 uint8"):
        vae.partial_fit(binary_images * np.uint8(255))
    assert vae.training_steps_ == 8


# ------------------------------------------------------------------ data read on demand
def _lazy(array):
    return LazyImages(lambda rows: array[rows], array.shape, dtype=array.dtype)


def test_lazy_rows_outside_the_sample_stop_a_bernoulli_fit_at_the_step_that_reads_them():
    # 4,000 rows in [0, 1]; rows the 1,024-row sample skips hold 50.
    data = np.random.default_rng(0).random((4000, 4)).astype(np.float32)
    data[1] = 50.0  # rows 0, 3, 7, ... are sampled at the door (1,024 evenly spaced)
    vae = BetaVAE(**SMALL, batch_size=500)
    with pytest.raises(
        ValueError, match=r"ranges over .*50.*outside \[0, 1\].*likelihood='gaussian'"
    ) as error:
        vae.fit(_lazy(data))
    step = int(re.search(r"step (\d+)", str(error.value)).group(1))
    assert vae.training_steps_ == step - 1  # the step that read the row was not applied
    assert vae.history_[-1]["failed"]


def test_lazy_rows_with_nan_are_refused_by_transform_and_score(binary_images):
    vae = BetaVAE(**SMALL).fit(binary_images.astype(np.float32))
    data = np.tile(binary_images.astype(np.float32), (15, 1, 1))  # 3,000 rows
    data[1] = np.nan  # not among the 1,024 rows sampled at the door
    lazy = _lazy(data)
    for method in (vae.transform, vae.score):
        with pytest.raises(ValueError, match="NaN or infinity"):
            method(lazy)


def test_a_closed_hdf5_dataset_gets_a_clear_error(tmp_path, binary_images):
    vae = BetaVAE(**SMALL).fit(binary_images)
    with h5py.File(tmp_path / "x.h5", "w") as f:
        dataset = f.create_dataset("images", data=binary_images)
    with pytest.raises(ValueError, match="cannot be read.*closed HDF5 file"):
        vae.transform(dataset)
    with pytest.raises(ValueError, match="cannot be read.*closed HDF5 file"):
        FactorVAE(**SMALL).fit(dataset)
