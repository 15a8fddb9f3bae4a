"""The scikit-learn contract: clone, params, pipelines, pickling, shapes and scales."""

import io
import pickle

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler

from sklearn_dvae import BetaVAE

SMALL = dict(latent_dim=2, hidden_units=(16,), max_epochs=2, random_state=0)


def test_clone_and_params_round_trip():
    vae = BetaVAE(beta=4.0, **SMALL)
    params = vae.get_params()
    assert params["beta"] == 4.0 and params["latent_dim"] == 2
    copy = clone(vae)
    assert copy.get_params() == params
    copy.set_params(beta=8.0)
    assert copy.beta == 8.0 and vae.beta == 4.0


def test_set_params_then_refit_uses_new_beta(tabular_unit_data):
    vae = BetaVAE(beta=1.0, **SMALL).fit(tabular_unit_data)
    kl_beta_1 = vae.history_[-1, "train_kl"]
    vae.set_params(beta=50.0, max_epochs=20).fit(tabular_unit_data)
    assert vae.history_[-1, "train_kl"] < kl_beta_1


def test_pipeline_with_scaler_and_classifier():
    # 64 features driven by 2 factors; the label is one factor's side.
    rng = np.random.default_rng(1)
    factors = rng.random((300, 2))
    X = factors @ rng.normal(size=(2, 64)) * 10 + rng.normal(size=(300, 64)) * 0.1
    y = (factors[:, 0] > 0.5).astype(int)
    pipe = Pipeline(
        [
            ("scale", MinMaxScaler()),
            (
                "vae",
                BetaVAE(latent_dim=2, hidden_units=(32,), max_epochs=60, lr=3e-3, random_state=0),
            ),
            ("clf", LogisticRegression()),
        ]
    )
    pipe.fit(X.astype(np.float32), y)
    assert pipe.named_steps["vae"].likelihood_ == "bernoulli"
    assert pipe.predict(X).shape == (300,)
    assert pipe.score(X, y) > 0.8


@pytest.mark.parametrize("dumper", ["pickle", "joblib"])
def test_pickle_round_trip_reproduces_transform(tabular_unit_data, dumper):
    vae = BetaVAE(**SMALL).fit(tabular_unit_data)
    buffer = io.BytesIO()
    if dumper == "pickle":
        pickle.dump(vae, buffer)
        buffer.seek(0)
        loaded = pickle.load(buffer)
    else:
        joblib.dump(vae, buffer)
        buffer.seek(0)
        loaded = joblib.load(buffer)
    np.testing.assert_array_equal(
        loaded.transform(tabular_unit_data), vae.transform(tabular_unit_data)
    )
    assert loaded.score(tabular_unit_data) == vae.score(tabular_unit_data)
    # The unpickled estimator can keep training.
    loaded.partial_fit(tabular_unit_data, epochs=1)
    assert loaded.training_steps_ == vae.training_steps_ + 5


def test_cuda_labelled_net_unpickles_on_cpu(tabular_unit_data):
    # A net saved on a GPU machine records device="cuda"; on a CPU-only machine
    # skorch maps it to the CPU. Simulate the record without a GPU.
    if torch.cuda.is_available():
        pytest.skip("simulates a CPU-only machine; see the GPU test for the real case")
    vae = BetaVAE(**SMALL).fit(tabular_unit_data)
    vae.net_.device = "cuda"
    vae.device_ = "cuda"
    with pytest.warns(UserWarning, match="not available"):
        loaded = pickle.loads(pickle.dumps(vae))
    assert loaded.device_ == "cpu" and str(loaded.net_.device) == "cpu"
    np.testing.assert_array_equal(
        loaded.transform(tabular_unit_data),
        BetaVAE(**SMALL).fit(tabular_unit_data).transform(tabular_unit_data),
    )


@pytest.mark.gpu
def test_fit_on_cuda_then_load_on_cpu(tabular_unit_data, monkeypatch):
    vae = BetaVAE(device="cuda", **SMALL).fit(tabular_unit_data)
    assert next(vae.net_.module_.parameters()).is_cuda
    payload = pickle.dumps(vae)
    expected = vae.transform(tabular_unit_data)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="not available"):
        loaded = pickle.loads(payload)
    assert not next(loaded.net_.module_.parameters()).is_cuda
    np.testing.assert_allclose(loaded.transform(tabular_unit_data), expected, atol=1e-5)


def test_device_auto_picks_cpu_without_gpu(tabular_unit_data):
    vae = BetaVAE(**SMALL).fit(tabular_unit_data)
    assert vae.device_ == ("cuda" if torch.cuda.is_available() else "cpu")


def test_same_random_state_gives_identical_transform(tabular_unit_data):
    first = BetaVAE(**SMALL).fit(tabular_unit_data).transform(tabular_unit_data)
    second = BetaVAE(**SMALL).fit(tabular_unit_data).transform(tabular_unit_data)
    np.testing.assert_array_equal(first, second)
    other = BetaVAE(**{**SMALL, "random_state": 1}).fit(tabular_unit_data)
    assert not np.array_equal(other.transform(tabular_unit_data), first)


def test_fit_leaves_torch_global_rng_untouched(tabular_unit_data):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    BetaVAE(**SMALL).fit(tabular_unit_data)
    assert torch.equal(torch.rand(3), expected)


def test_transform_outputs_and_feature_names(tabular_unit_data):
    vae = BetaVAE(**SMALL).fit(tabular_unit_data)
    Z = vae.transform(tabular_unit_data)
    assert Z.shape == (300, 2) and Z.dtype == np.float32
    assert list(vae.get_feature_names_out()) == ["betavae0", "betavae1"]


def test_uint8_images_decode_back_in_their_own_shape_and_scale(small_images):
    vae = BetaVAE(**SMALL).fit(small_images)
    assert vae.likelihood_ == "bernoulli" and vae.input_scale_ == pytest.approx(1 / 255)
    decoded = vae.inverse_transform(vae.transform(small_images[:5]))
    assert decoded.shape == (5, 16, 16)
    assert decoded.min() >= 0.0 and decoded.max() <= 255.0 and decoded.max() > 1.0
    assert vae.sample(4, random_state=0).shape == (4, 16, 16)
    np.testing.assert_array_equal(vae.sample(4, random_state=0), vae.sample(4, random_state=0))


def test_flat_rows_with_input_shape_are_images(small_images):
    flat = small_images.reshape(len(small_images), -1)
    vae = BetaVAE(input_shape=(1, 16, 16), **SMALL).fit(flat)
    assert vae.sample_shape_ == (1, 16, 16)
    assert vae.inverse_transform(vae.transform(flat[:3])).shape == (3, 256)


def test_channels_first_and_channels_last_images_are_the_same_model(small_images):
    rgb_first = np.repeat(small_images[:, None], 3, axis=1)
    rgb_last = np.ascontiguousarray(np.moveaxis(rgb_first, 1, -1))
    first = BetaVAE(**SMALL).fit(rgb_first)
    last = BetaVAE(**SMALL).fit(rgb_last)
    assert first.sample_shape_ == last.sample_shape_ == (3, 16, 16)
    np.testing.assert_allclose(first.transform(rgb_first), last.transform(rgb_last), atol=1e-6)
    assert last.inverse_transform(last.transform(rgb_last[:2])).shape == (2, 16, 16, 3)


def test_auto_encoder_picks_conv_for_64x64_images():
    rng = np.random.default_rng(0)
    images = (rng.random((8, 64, 64)) > 0.9).astype(np.uint8)
    vae = BetaVAE(latent_dim=3, max_epochs=1, batch_size=4, random_state=0).fit(images)
    assert vae.encoder_ == "conv" and vae.sample_shape_ == (1, 64, 64)
    assert vae.transform(images).shape == (8, 3)
    assert vae.inverse_transform(np.zeros((2, 3))).shape == (2, 64, 64)


def test_gaussian_likelihood_is_chosen_for_unbounded_data():
    X = np.random.default_rng(0).normal(size=(100, 4))
    vae = BetaVAE(**SMALL).fit(X)
    assert vae.likelihood_ == "gaussian"
    assert vae.transform(X).dtype == np.float32


def test_score_is_mean_of_score_samples_and_order_invariant(tabular_unit_data):
    vae = BetaVAE(**SMALL).fit(tabular_unit_data)
    per_sample = vae.score_samples(tabular_unit_data)
    assert vae.score(tabular_unit_data) == pytest.approx(per_sample.mean())
    order = np.random.default_rng(0).permutation(len(tabular_unit_data))
    np.testing.assert_allclose(
        vae.score_samples(tabular_unit_data[order]), per_sample[order], rtol=1e-6
    )


def test_binary_uint8_images_of_zeros_and_ones_are_not_rescaled(small_images):
    # The official dSprites arrays hold 0/1, not 0/255.
    binary = (small_images > 0).astype(np.uint8)
    vae = BetaVAE(**SMALL).fit(binary)
    assert vae.input_scale_ == 1.0 and vae.likelihood_ == "bernoulli"
    decoded = vae.inverse_transform(vae.transform(binary[:5]))
    assert decoded.max() <= 1.0
    grey = BetaVAE(**SMALL).fit(small_images)
    np.testing.assert_allclose(vae.transform(binary), grey.transform(small_images), atol=1e-5)
