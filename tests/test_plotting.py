"""The plotting functions render headless, at the size asked, with something drawn."""

import importlib
import io
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")  # headless, whatever the environment would pick
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402

import sklearn_dvae.plotting  # noqa: E402
from sklearn_dvae import BetaVAE, FactorVAE  # noqa: E402
from sklearn_dvae.plotting import (  # noqa: E402
    latent_kl,
    plot_latent_traversals,
    plot_metric_matrix,
    plot_reconstructions,
    plot_samples,
    plot_search_results,
    plot_training_history,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def bars():
    """96 binary 12x12 images of a bar: a vertical position (6) and a length (2)."""
    rng = np.random.default_rng(0)
    images = np.zeros((96, 12, 12), dtype=np.uint8)
    positions, lengths = rng.integers(0, 6, 96), rng.integers(0, 2, 96)
    for i, (row, length) in enumerate(zip(positions, lengths, strict=True)):
        images[i, 2 * row : 2 * row + 2, 1 : 5 + 5 * length] = 1
    return images


@pytest.fixture(scope="module")
def fitted_vae(bars):
    return BetaVAE(
        latent_dim=3, hidden_units=(32,), lr=5e-3, batch_size=32, max_epochs=15, random_state=0
    ).fit(bars)


@pytest.fixture(scope="module")
def fitted_factor_vae(bars):
    return FactorVAE(
        gamma=5.0,
        latent_dim=3,
        hidden_units=(32,),
        discriminator_hidden_units=(16,),
        lr=5e-3,
        batch_size=16,
        max_epochs=3,
        random_state=0,
    ).fit(bars)


def render(fig, dpi=40):
    """The figure as an RGBA array, through a PNG file as a user would save it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    buffer.seek(0)
    assert buffer.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    return mpimg.imread(buffer, format="png")


def assert_png_of_size_and_not_blank(fig, figsize, dpi=40):
    image = render(fig, dpi)
    width, height = figsize
    assert image.shape[:2] == (round(height * dpi), round(width * dpi))
    colours = np.unique(image.reshape(-1, image.shape[-1]).round(2), axis=0)
    # A blank canvas has one colour; text, images and lines bring many.
    assert len(colours) > 10


def test_latent_traversals_render_at_the_requested_size(fitted_vae, bars):
    fig = plot_latent_traversals(fitted_vae, bars, figsize=(6, 3))
    assert_png_of_size_and_not_blank(fig, (6, 3))


def test_latent_traversals_have_one_row_per_latent_ordered_by_kl(fitted_vae, bars):
    values = [-2.0, 0.0, 2.0]
    fig = plot_latent_traversals(fitted_vae, bars, values=values)
    assert len(fig.axes) == 3 * len(values)
    row_labels = [fig.axes[row * len(values)].get_ylabel() for row in range(3)]
    order = np.argsort(-latent_kl(fitted_vae, bars))
    assert [label.split("\n")[0] for label in row_labels] == [f"z{i}" for i in order]
    assert [ax.get_title() for ax in fig.axes[: len(values)]] == ["-2", "+0", "+2"]


def test_latent_traversals_decode_the_values_into_the_chosen_latent(fitted_vae, bars):
    fig = plot_latent_traversals(
        fitted_vae, bars, values=[-2.0, 2.0], reference=5, n_latents=1, sort_by=None
    )
    code = fitted_vae.transform(bars[5:6]).repeat(2, axis=0)
    code[:, 0] = [-2.0, 2.0]
    expected = fitted_vae.inverse_transform(code)
    shown = [ax.get_images()[0].get_array() for ax in fig.axes]
    np.testing.assert_allclose(np.stack(shown), expected, rtol=1e-5)


def test_latent_traversals_of_another_transformer_sorted_by_variance(bars):
    from sklearn.decomposition import PCA

    flat = bars.reshape(len(bars), -1).astype(np.float32)
    pca = PCA(n_components=3).fit(flat)
    fig = plot_latent_traversals(
        pca, flat, values=[-1.0, 1.0], sort_by="variance", image_shape=(12, 12)
    )
    variance = pca.transform(flat).var(axis=0)
    assert fig.axes[0].get_ylabel() == f"z0\nvariance {variance[0]:.2f}"
    assert fig.axes[0].get_images()[0].get_array().shape == (12, 12)
    with pytest.raises(TypeError, match="model of this package"):
        plot_latent_traversals(pca, flat, image_shape=(12, 12))


def test_latent_kl_is_near_zero_for_a_collapsed_latent(bars):
    # beta=50 squeezes the posterior onto the prior: every latent carries ~0 nats.
    vae = BetaVAE(beta=50.0, latent_dim=2, hidden_units=(16,), max_epochs=5, random_state=0)
    kl = latent_kl(vae.fit(bars), bars)
    assert kl.shape == (2,)
    assert np.all(kl >= 0) and np.all(kl < 0.1)


def test_reconstructions_show_inputs_above_reconstructions(fitted_vae, bars):
    fig = plot_reconstructions(fitted_vae, bars, n=5, figsize=(5, 2))
    assert len(fig.axes) == 10
    np.testing.assert_array_equal(fig.axes[0].get_images()[0].get_array(), bars[0])
    assert_png_of_size_and_not_blank(fig, (5, 2))


def test_samples_from_a_model_and_from_images(fitted_vae, bars):
    from_model = plot_samples(fitted_vae, n=6, n_cols=3, random_state=0, figsize=(3, 2))
    assert_png_of_size_and_not_blank(from_model, (3, 2))
    from_images = plot_samples(bars, n=5, n_cols=3, title="bars", figsize=(3, 2.5))
    assert sum(ax.axison for ax in from_images.axes) == 5  # the sixth cell is empty
    assert_png_of_size_and_not_blank(from_images, (3, 2.5))


def test_samples_accept_channels_first_colour_images():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(4, 3, 8, 8), dtype=np.uint8)
    fig = plot_samples(images, n=4, figsize=(2, 2))
    assert fig.axes[0].get_images()[0].get_array().shape == (8, 8, 3)
    assert_png_of_size_and_not_blank(fig, (2, 2))


def test_metric_matrix_labels_latents_and_factors(fitted_vae):
    matrix = np.array([[0.9, 0.1], [0.2, 0.8], [0.0, 0.05]])
    fig = plot_metric_matrix(
        matrix, factor_names=["scale", "posX"], value_label="SVM accuracy", figsize=(4, 3)
    )
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["scale", "posX"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["z0", "z1", "z2"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("factor", "latent")
    assert "0.90" in [t.get_text() for t in ax.texts]
    assert fig.axes[1].get_ylabel() == "SVM accuracy"  # the colour bar
    assert_png_of_size_and_not_blank(fig, (4, 3))


def test_metric_matrix_writes_vote_counts_as_integers():
    fig = plot_metric_matrix(np.array([[120, 3], [0, 97]]))
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["0", "120", "3", "97"]


def test_training_history_has_a_panel_per_loss_term(fitted_factor_vae):
    fig = plot_training_history(fitted_factor_vae, figsize=(6, 4))
    titles = [ax.get_title() for ax in fig.axes if ax.axison]
    assert titles == [
        "loss",
        "reconstruction",
        "kl",
        "tc",
        "discriminator_loss",
        "discriminator_accuracy",
    ]
    epochs = fig.axes[0].get_lines()[0].get_xdata()
    np.testing.assert_array_equal(epochs, [1, 2, 3])
    assert_png_of_size_and_not_blank(fig, (6, 4))


def test_training_history_overlays_validation_terms(bars):
    from skorch.dataset import ValidSplit

    vae = BetaVAE(
        latent_dim=2, hidden_units=(16,), max_epochs=2, train_split=ValidSplit(4), random_state=0
    ).fit(bars)
    fig = plot_training_history(vae, terms=["kl"])
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.get_lines()] == ["train", "valid"]


def _cv_results():
    params, scores = [], []
    for beta, base in ((1.0, 0.5), (4.0, 0.7), (16.0, 0.6)):
        for seed, offset in enumerate((-0.05, 0.0, 0.05)):
            params.append({"beta": beta, "random_state": seed})
            scores.append(base + offset)
    return {"params": params, "mean_test_score": scores}


def test_search_results_plot_seed_means_with_their_spread():
    class FittedSearch:
        cv_results_ = _cv_results()

    fig = plot_search_results(FittedSearch(), "beta", figsize=(5, 3))
    ax = fig.axes[0]
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_xdata(), [1.0, 4.0, 16.0])
    np.testing.assert_allclose(line.get_ydata(), [0.5, 0.7, 0.6])
    # Error bars span +-1 standard deviation over the three seeds (0.05).
    (bars,) = ax.collections[:1]
    segments = bars.get_segments()
    np.testing.assert_allclose([s[1, 1] - s[0, 1] for s in segments], [0.1, 0.1, 0.1])
    assert ax.get_xscale() == "log"
    assert_png_of_size_and_not_blank(fig, (5, 3))


def test_search_results_draw_a_line_per_other_parameter_setting():
    cv_results = {
        "params": [
            {"gamma": g, "lr": lr, "random_state": s}
            for lr in (1e-3, 1e-4)
            for g in (10, 20)
            for s in (0, 1)
        ],
        "mean_test_factor_vae": [0.6, 0.7, 0.8, 0.9, 0.5, 0.5, 0.6, 0.6],
        "mean_test_mig": [0.1] * 8,
    }
    fig = plot_search_results(cv_results, "gamma", metric="factor_vae")
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["lr=0.001", "lr=0.0001"]
    assert ax.get_ylabel() == "factor_vae"


def test_bad_arguments_are_refused_with_clear_errors(fitted_vae, bars):
    with pytest.raises(NotFittedError):
        plot_latent_traversals(BetaVAE(), bars)
    with pytest.raises(ValueError, match="sort_by"):
        plot_latent_traversals(fitted_vae, bars, sort_by="size")
    with pytest.raises(ValueError, match="reference"):
        plot_latent_traversals(fitted_vae, bars, reference=len(bars))
    with pytest.raises(ValueError, match="2-D"):
        plot_metric_matrix(np.zeros(3))
    with pytest.raises(ValueError, match="factor names"):
        plot_metric_matrix(np.zeros((2, 2)), factor_names=["a"])
    with pytest.raises(ValueError, match="no parameter 'gamma'"):
        plot_search_results(_cv_results(), "gamma")
    with pytest.raises(ValueError, match="unknown terms"):
        plot_training_history(fitted_vae, terms=["tc"])
    with pytest.raises(ValueError, match="image_shape"):
        plot_samples(np.zeros((2, 7)))


def test_the_package_imports_without_matplotlib_and_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    plotting = importlib.reload(sklearn_dvae.plotting)
    with pytest.raises(ImportError, match=r"pip install sklearn-dvae\[plot\]"):
        plotting.plot_metric_matrix(np.eye(2))
    monkeypatch.undo()
    importlib.reload(sklearn_dvae.plotting)
