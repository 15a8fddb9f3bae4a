"""Networks of your own: a CNN on 28x28 images through fit, pickle, search; wrong ones refused."""

import pickle

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from torch import nn

from sklearn_dvae import BetaVAE, CHyVAE, FactorVAE
from sklearn_dvae.nn import VAEModule

FAST = dict(latent_dim=2, batch_size=32, max_epochs=1, random_state=0)


class SmallCNNEncoder(nn.Module):
    """Two stride-2 convolutions for 28x28 images, then the posterior's parameters."""

    def __init__(self, n_outputs, channels=8):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, channels, 4, stride=2, padding=1),  # 14x14
            nn.ReLU(),
            nn.Conv2d(channels, channels, 4, stride=2, padding=1),  # 7x7
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(channels * 7 * 7, n_outputs),
        )

    def forward(self, x):
        return self.net(x)


class SmallCNNDecoder(nn.Module):
    """The mirror of `SmallCNNEncoder`: latents to 28x28 logits."""

    def __init__(self, latent_dim, channels=8):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, channels * 7 * 7),
            nn.ReLU(),
            nn.Unflatten(1, (channels, 7, 7)),
            nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(channels, 1, 4, stride=2, padding=1),
        )

    def forward(self, z):
        return self.net(z)


@pytest.fixture(scope="module")
def squares():
    """128 images of 28x28 holding a 7x7 square at a random place, uint8 0/255."""
    rng = np.random.default_rng(0)
    images = np.zeros((128, 28, 28), dtype=np.uint8)
    for image, (row, col) in zip(images, rng.integers(0, 21, size=(128, 2)), strict=True):
        image[row : row + 7, col : col + 7] = 255
    return images


def _cnn(**kwargs):
    return BetaVAE(encoder=SmallCNNEncoder, decoder=SmallCNNDecoder, **FAST, **kwargs)


def test_a_cnn_of_your_own_fits_transforms_and_decodes(squares):
    vae = _cnn(encoder__channels=4).fit(squares)
    assert isinstance(vae.net_.module_.encoder, SmallCNNEncoder)
    assert vae.net_.module_.encoder.net[0].out_channels == 4
    assert (vae.encoder_, vae.decoder_) == ("custom", "custom")
    Z = vae.transform(squares)
    assert Z.shape == (128, 2) and Z.dtype == np.float32
    decoded = vae.inverse_transform(Z[:5])
    assert decoded.shape == (5, 28, 28)
    # uint8 grey levels: the decoded means come back in 0..255.
    assert 0.0 <= decoded.min() and decoded.max() <= 255.0
    assert np.isfinite(vae.score(squares))


def test_the_networks_get_latent_dim_and_n_outputs_when_they_take_them(squares):
    vae = _cnn().set_params(latent_dim=3).fit(squares)
    assert vae.net_.module_.encoder.net[-1].out_features == 6  # means and log-variances
    assert vae.net_.module_.decoder.net[0].in_features == 3


def test_a_cnn_of_your_own_pickles_and_trains_on(squares, tmp_path):
    vae = _cnn().fit(squares)
    for loaded in (
        pickle.loads(pickle.dumps(vae)),
        joblib.load(joblib.dump(vae, tmp_path / "vae.joblib")[0]),
    ):
        np.testing.assert_array_equal(loaded.transform(squares), vae.transform(squares))
    loaded.partial_fit(squares)
    vae.partial_fit(squares)
    np.testing.assert_array_equal(loaded.transform(squares), vae.transform(squares))


def test_grid_search_over_an_encoder_keyword(squares):
    search = GridSearchCV(_cnn(), {"encoder__channels": [2, 4]}, cv=2).fit(squares)
    assert search.best_params_["encoder__channels"] in (2, 4)
    best = search.best_estimator_
    assert (
        best.net_.module_.encoder.net[0].out_channels == search.best_params_["encoder__channels"]
    )
    assert set(search.cv_results_["param_encoder__channels"]) == {2, 4}


def test_routed_keywords_round_trip_through_get_params_set_params_and_clone():
    vae = BetaVAE(encoder=SmallCNNEncoder, encoder__channels=4, optimizer__weight_decay=1e-4)
    assert vae.get_params()["encoder__channels"] == 4
    vae.set_params(encoder__channels=6, decoder__channels=6)
    copy = clone(vae)
    assert copy.get_params()["encoder__channels"] == 6
    assert copy.get_params()["decoder__channels"] == 6
    assert copy.get_params()["optimizer__weight_decay"] == 1e-4
    with pytest.raises(TypeError, match="unexpected keyword argument.*lattent_dim"):
        BetaVAE(lattent_dim=3)


def test_an_encoder_instance_is_the_starting_point_and_is_not_changed(squares):
    torch.manual_seed(0)
    encoder = SmallCNNEncoder(n_outputs=4)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    vae = BetaVAE(encoder=encoder, decoder=SmallCNNDecoder(latent_dim=2), **FAST)
    first = vae.fit(squares).transform(squares)
    for name, value in encoder.state_dict().items():
        assert torch.equal(value, before[name]), name  # fit trained a copy
    np.testing.assert_array_equal(vae.fit(squares).transform(squares), first)


def test_builtin_networks_take_no_routed_keywords(squares):
    with pytest.raises(ValueError, match=r"encoder__\* keywords \(channels\).*encoder='auto'"):
        BetaVAE(encoder__channels=4, **FAST).fit(squares)


def test_an_optimizer_of_your_choice_with_its_options(squares):
    vae = _cnn(
        optimizer=torch.optim.SGD, optimizer__momentum=0.9, optimizer__weight_decay=1e-3
    ).fit(squares)
    group = vae.net_.optimizer_.param_groups[0]
    assert isinstance(vae.net_.optimizer_, torch.optim.SGD)
    assert (group["momentum"], group["weight_decay"], group["lr"]) == (0.9, 1e-3, 1e-3)


def test_the_conv_network_takes_sides_that_are_multiples_of_16():
    for side in (16, 32, 64, 128):
        module = VAEModule((3, side, side), latent_dim=4, encoder="conv")
        out = module(torch.rand(2, 3, side, side))
        assert out.decoded.shape == (2, 3, side, side)
    rectangle = VAEModule((1, 32, 96), latent_dim=4, encoder="conv")
    assert rectangle(torch.rand(2, 1, 32, 96)).decoded.shape == (2, 1, 32, 96)


def test_the_conv_network_fits_32x32_images():
    X = (np.random.default_rng(0).random((64, 32, 32)) > 0.8).astype(np.uint8)
    vae = BetaVAE(encoder="conv", **FAST).fit(X)
    assert vae.encoder_ == "conv" and vae.inverse_transform(vae.transform(X[:3])).shape == (
        3,
        32,
        32,
    )


# ---------------------------------------------------------------- wrong networks
class WidthEncoder(nn.Module):
    """Returns ``width`` outputs per sample (the contract asks 2 * latent_dim)."""

    def __init__(self, width):
        super().__init__()
        self.linear = nn.Linear(28 * 28, width)

    def forward(self, x):
        return self.linear(x.flatten(1))


class PairEncoder(WidthEncoder):
    """Returns (means, log-variances) with one column too many in the second."""

    def forward(self, x):
        out = super().forward(x)
        return out[:, :2], out[:, 2:]


class StackedEncoder(WidthEncoder):
    """Returns (n, 2, latent_dim): the right values, the wrong shape."""

    def forward(self, x):
        return super().forward(x).reshape(len(x), 2, -1)


class ImageDecoder(nn.Module):
    """Decodes to images of ``side`` x ``side``."""

    def __init__(self, side):
        super().__init__()
        self.side = side
        self.linear = nn.Linear(2, side * side)

    def forward(self, z):
        return self.linear(z).reshape(len(z), 1, self.side, self.side)


class PairDecoder(ImageDecoder):
    """Returns (logits, something else): a decoder returns one tensor."""

    def forward(self, z):
        return super().forward(z), z


@pytest.mark.parametrize(
    "model, message",
    [
        (
            BetaVAE(encoder=WidthEncoder(2), decoder=ImageDecoder(28), **FAST),
            r"encoder WidthEncoder must return .* a tensor of shape \(2, 4\) \(the means, "
            r"then the log-variances.*it returned \(2, 2\)",
        ),
        (
            BetaVAE(encoder=WidthEncoder(4), decoder=ImageDecoder(32), **FAST),
            r"decoder ImageDecoder must return the likelihood's logits .* a tensor of shape "
            r"\(2, 1, 28, 28\) \(or \(2, 784\)\); it returned \(2, 1, 32, 32\)",
        ),
        (
            CHyVAE(nu=10.0, encoder=WidthEncoder(4), decoder=ImageDecoder(28), **FAST),
            r"a tensor of shape \(2, 5\) \(the means, then the lower triangle of the "
            r"Cholesky factor.*it returned \(2, 4\)",
        ),
        (
            BetaVAE(encoder=PairEncoder(5), decoder=ImageDecoder(28), **FAST),
            r"pair of tensors of shapes \(2, 2\) and \(2, 2\); it returned a sequence of "
            r"\[\(2, 2\), \(2, 3\)\]",
        ),
        (
            BetaVAE(encoder=StackedEncoder(4), decoder=ImageDecoder(28), **FAST),
            r"a tensor of shape \(2, 4\) .*it returned \(2, 2, 2\)",
        ),
        (
            BetaVAE(encoder=WidthEncoder(4), decoder=PairDecoder(28), **FAST),
            r"decoder PairDecoder must return .*\(2, 1, 28, 28\).*it returned tuple",
        ),
        (
            FactorVAE(
                encoder=SmallCNNEncoder(n_outputs=4),
                decoder=SmallCNNDecoder(latent_dim=2),
                discriminator_hidden_units=(8,),
                **{**FAST, "latent_dim": 3},
            ),
            r"encoder SmallCNNEncoder must return .*\(2, 6\).*it returned \(2, 4\)",
        ),
    ],
    ids=[
        "encoder-width",
        "decoder-image-shape",
        "diagonal-parameters-for-a-full-posterior",
        "encoder-pair-shapes",
        "encoder-rank",
        "decoder-returns-a-pair",
        "latent-dim-mismatch",
    ],
)
def test_a_network_that_breaks_the_contract_is_refused_at_fit(squares, model, message):
    with pytest.raises(ValueError, match=message):
        model.fit(squares)
    assert not hasattr(model, "net_")


def test_a_network_that_fails_on_its_input_is_named_with_the_input_shape(squares):
    # A CNN built for 32x32 images meets 28x28 ones: its linear layer's size is wrong.
    class For32(SmallCNNEncoder):
        def __init__(self, n_outputs):
            super().__init__(n_outputs)
            self.net[-1] = nn.Linear(8 * 8 * 8, n_outputs)

    vae = BetaVAE(encoder=For32, decoder=SmallCNNDecoder, **FAST)
    with pytest.raises(
        ValueError, match=r"encoder For32 failed on a batch of shape \(2, 1, 28, 28\)"
    ):
        vae.fit(squares)


def test_a_custom_encoder_needs_a_decoder_module_when_built_directly():
    with pytest.raises(ValueError, match="needs a decoder too"):
        VAEModule((4,), latent_dim=2, encoder=WidthEncoder(4))


def test_a_class_that_is_not_a_module_is_refused(squares):
    with pytest.raises(ValueError, match="encoder must be .* torch.nn.Module class"):
        BetaVAE(encoder=dict, **FAST).fit(squares)
