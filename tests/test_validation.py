"""Bad input gets a clear error that names the problem, before anything changes."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from sklearn_dvae import AnnealedVAE, BetaVAE

SMALL = dict(latent_dim=2, hidden_units=(8,), max_epochs=1, random_state=0)


@pytest.fixture
def fitted(tabular_unit_data):
    return BetaVAE(**SMALL).fit(tabular_unit_data)


@pytest.mark.parametrize("bad_value", [np.nan, np.inf])
def test_non_finite_input_is_rejected(tabular_unit_data, bad_value):
    X = tabular_unit_data.copy()
    X[3, 1] = bad_value
    with pytest.raises(ValueError, match="NaN|infinity"):
        BetaVAE(**SMALL).fit(X)


def test_empty_input_is_rejected():
    with pytest.raises(ValueError, match="0 sample"):
        BetaVAE(**SMALL).fit(np.zeros((0, 4), dtype=np.float32))


def test_single_sample_is_rejected():
    with pytest.raises(ValueError, match="1 sample"):
        BetaVAE(**SMALL).fit(np.zeros((1, 4), dtype=np.float32))


def test_one_dimensional_input_is_rejected():
    with pytest.raises(ValueError, match="1-D array"):
        BetaVAE(**SMALL).fit(np.zeros(10, dtype=np.float32))


def test_transform_before_fit_raises_not_fitted():
    for method in ("transform", "inverse_transform", "score", "sample"):
        with pytest.raises(NotFittedError):
            arg = 3 if method == "sample" else np.zeros((3, 2), dtype=np.float32)
            getattr(BetaVAE(**SMALL), method)(arg)


def test_wrong_feature_count_at_transform(fitted):
    with pytest.raises(ValueError, match="X has 5 features, but BetaVAE is expecting 8"):
        fitted.transform(np.zeros((3, 5), dtype=np.float32))


def test_wrong_image_shape_at_transform(small_images):
    vae = BetaVAE(**SMALL).fit(small_images)
    with pytest.raises(ValueError, match=r"shape \(16, 12\).*fitted on samples of shape"):
        vae.transform(np.zeros((3, 16, 12), dtype=np.uint8))


def test_inverse_transform_checks_latent_width(fitted):
    with pytest.raises(ValueError, match=r"latents of shape \(n_samples, 2\)"):
        fitted.inverse_transform(np.zeros((3, 3)))


def test_bernoulli_likelihood_outside_unit_interval_is_rejected():
    X = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    with pytest.raises(ValueError, match=r"likelihood='bernoulli' needs values in \[0, 1\]"):
        BetaVAE(likelihood="bernoulli", **SMALL).fit(X)


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(beta=-1.0), "'beta' parameter of BetaVAE must be a float in the range"),
        (dict(latent_dim=0), "'latent_dim' parameter of BetaVAE must be an int in the range"),
        (dict(encoder="resnet"), "'encoder' parameter of BetaVAE must be a str among"),
        (dict(likelihood="poisson"), "'likelihood' parameter of BetaVAE must be a str among"),
        (dict(hidden_units=(8, -2)), "hidden_units must be a tuple of positive integers"),
        (dict(input_shape=(0, 4)), "input_shape must be"),
        (dict(lr=0.0), "'lr' parameter of BetaVAE must be a float in the range"),
    ],
)
def test_invalid_hyperparameters_are_rejected_at_fit(tabular_unit_data, params, message):
    vae = BetaVAE(**{**SMALL, **params})  # constructing never fails: validation is in fit
    with pytest.raises(ValueError, match=message):
        vae.fit(tabular_unit_data)


def test_invalid_annealing_threshold_is_rejected(tabular_unit_data):
    with pytest.raises(ValueError, match="iteration_threshold"):
        AnnealedVAE(iteration_threshold=0, **SMALL).fit(tabular_unit_data)


def test_conv_encoder_says_which_image_sizes_it_takes(small_images):
    # small_images are 16x16: four halvings leave 1x1, which the conv net accepts;
    # 28x28 (MNIST) is not a multiple of 16.
    images = np.zeros((8, 28, 28), dtype=np.uint8)
    with pytest.raises(ValueError, match="multiples of 16 .*got 28x28"):
        BetaVAE(encoder="conv", **SMALL).fit(images)


def test_conv_encoder_needs_images(tabular_unit_data):
    with pytest.raises(ValueError, match="encoder='conv' needs images"):
        BetaVAE(encoder="conv", **SMALL).fit(tabular_unit_data)


def test_input_shape_must_match_feature_count(tabular_unit_data):
    with pytest.raises(ValueError, match=r"input_shape=\(1, 3, 3\) holds 9 values"):
        BetaVAE(input_shape=(1, 3, 3), **SMALL).fit(tabular_unit_data)


def test_ambiguous_channel_axis_is_rejected():
    with pytest.raises(ValueError, match="Cannot tell the channel axis"):
        BetaVAE(**SMALL).fit(np.zeros((4, 5, 8, 8), dtype=np.uint8))


def test_failed_refit_leaves_a_fitted_estimator_unchanged(fitted, tabular_unit_data):
    before = fitted.transform(tabular_unit_data)
    net_before = fitted.net_
    bad = tabular_unit_data.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError):
        fitted.fit(bad)
    fitted.set_params(latent_dim=0)
    with pytest.raises(ValueError):
        fitted.fit(tabular_unit_data)
    with pytest.raises(ValueError):
        fitted.partial_fit(np.zeros((5, 3), dtype=np.float32))
    assert fitted.net_ is net_before
    np.testing.assert_array_equal(fitted.transform(tabular_unit_data), before)


def test_sample_rejects_non_positive_counts(fitted):
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        fitted.sample(0)


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks a machine without GPU")
@pytest.mark.parametrize(
    "device, message",
    [
        ("cuda", "needs a CUDA GPU"),
        ("cuda:7", "needs a CUDA GPU"),
        ("gpu9", "is not a torch device"),
        ("meta", "needs a device that holds data"),
    ],
)
def test_a_device_that_is_not_here_is_refused_before_fitting(tabular_unit_data, device, message):
    vae = BetaVAE(device=device, **SMALL)
    with pytest.raises(ValueError, match=message):
        vae.fit(tabular_unit_data)
    assert not hasattr(vae, "net_")


def test_inverse_transform_of_no_latents_is_a_clear_error(tabular_unit_data):
    vae = BetaVAE(**SMALL).fit(tabular_unit_data)
    with pytest.raises(ValueError, match=r"at least one latent code, got shape \(0, 2\)"):
        vae.inverse_transform(np.zeros((0, 2)))


def test_zero_epochs_is_refused_rather_than_returning_an_untrained_model(tabular_unit_data):
    with pytest.raises(ValueError, match="max_epochs"):
        BetaVAE(**{**SMALL, "max_epochs": 0}).fit(tabular_unit_data)
