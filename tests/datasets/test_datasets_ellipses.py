"""CorrelatedEllipses: factor correlations, grey levels, rendering, resampling."""

import numpy as np
import pytest

from sklearn_dvae.datasets import make_correlated_ellipses


@pytest.fixture(scope="module")
def ellipses():
    return make_correlated_ellipses(n_samples=6000, random_state=0)


def brute_force_render(classes):
    """Draw each ellipse on a 256x256 canvas pixel by pixel, then average 4x4 blocks."""
    x = np.linspace(0, 1, 32)[classes[:, 0]]
    y = np.linspace(0, 1, 32)[classes[:, 1]]
    scale = np.linspace(0.5, 1, 6)[classes[:, 2]]
    angle = np.deg2rad(np.linspace(0, 360, 40)[classes[:, 3]])
    rows, cols = np.indices((256, 256)) + 0.5
    images = []
    for cx, cy, s, t in zip(156 * x + 50, 156 * y + 50, scale, angle, strict=True):
        dx, dy = cols - cx, rows - cy
        u = np.cos(t) * dx - np.sin(t) * dy
        v = np.sin(t) * dx + np.cos(t) * dy
        canvas = ((u / (50 * s)) ** 2 + (v / (25 * s)) ** 2 <= 1.0).astype(np.int64) * 255
        block_mean = canvas.reshape(64, 4, 64, 4).sum(axis=(1, 3)) / 16
        images.append(np.floor(block_mean + 0.5).astype(np.uint8))
    return np.stack(images)


def test_images_are_uint8_grey_levels_in_0_255(ellipses):
    images = ellipses.images
    assert images.shape == (6000, 64, 64) and images.dtype == np.uint8
    levels = np.unique(images)
    assert levels[0] == 0 and levels[-1] == 255
    # Edges are grey: block averages of 16 canvas pixels, not just black and white.
    assert len(levels) == 17
    assert set(levels.tolist()) == {int(np.floor(255 * k / 16 + 0.5)) for k in range(17)}


def test_x_y_and_scale_rotation_are_correlated_and_other_pairs_are_not(ellipses):
    correlation = np.corrcoef(ellipses.factor_values.T)
    # Clipping at +-1 and quantising lower 0.5 a little (about 0.47 for x and y).
    assert 0.42 < correlation[0, 1] < 0.52
    assert 0.40 < correlation[2, 3] < 0.52
    for i, j in [(0, 2), (0, 3), (1, 2), (1, 3)]:
        assert abs(correlation[i, j]) < 0.05, (i, j, correlation[i, j])


def test_clipping_puts_about_a_sixth_of_the_mass_at_each_end(ellipses):
    # P(z > 1) = 0.159: only u = 1 reaches the last class; the first class holds
    # the clipped mass at u = 0 plus its own bin.
    for k, size in enumerate(ellipses.factor_sizes):
        classes = ellipses.factor_classes[:, k]
        assert 0.14 < np.mean(classes == size - 1) < 0.18
        assert np.mean(classes == 0) > 0.15


def test_zero_correlation_gives_independent_factors():
    dataset = make_correlated_ellipses(n_samples=6000, correlation=0.0, random_state=1)
    correlation = np.corrcoef(dataset.factor_values.T)
    assert np.abs(correlation[np.triu_indices(4, 1)]).max() < 0.05


def test_factors_and_images_are_reproducible():
    first = make_correlated_ellipses(n_samples=50, random_state=7)
    second = make_correlated_ellipses(n_samples=50, random_state=7)
    assert np.array_equal(first.factor_classes, second.factor_classes)
    assert np.array_equal(first.images, second.images)
    assert first.factor_names == ("x", "y", "scale", "rotation")
    assert first.factor_sizes == (32, 32, 6, 40)


def test_renderer_equals_drawing_the_256_canvas_pixel_by_pixel(ellipses):
    corners = np.array([[0, 0, 5, 0], [31, 31, 5, 13], [31, 0, 5, 27], [0, 31, 5, 9]])
    classes = np.concatenate([corners, ellipses.factor_classes[:36]])
    assert np.array_equal(ellipses.renderer(classes), brute_force_render(classes))


def test_ellipse_sits_at_its_x_y_and_turns_counter_clockwise():
    dataset = make_correlated_ellipses(n_samples=1, random_state=0)
    classes = np.array([[10, 20, 3, 0], [10, 20, 3, 13]])  # rotation 0 and 120 degrees
    images = dataset.sample_observations_from_factors(classes).astype(float)
    rows, cols = np.indices((64, 64)) + 0.5
    for image in images:
        mass = image.sum()
        assert (image * cols).sum() / mass == pytest.approx((156 * 10 / 31 + 50) / 4, abs=0.05)
        assert (image * rows).sum() / mass == pytest.approx((156 * 20 / 31 + 50) / 4, abs=0.05)
    # At 120 degrees counter-clockwise (as displayed) the major axis points up-left.
    image = images[1]
    dx = cols - (image * cols).sum() / image.sum()
    dy = rows - (image * rows).sum() / image.sum()
    assert (image * dx * dy).sum() > 0  # x and y grow together: the up-left/down-right diagonal


def test_holding_one_factor_fixed_renders_the_overwritten_factors(ellipses):
    factors = ellipses.sample_factors(3000, random_state=2)
    assert np.corrcoef(factors[:, 0], factors[:, 1])[0, 1] > 0.4
    factors[:, 0] = 12  # the metric's fixed factor, after the joint draw
    observations = ellipses.sample_observations_from_factors(factors[:20])
    assert np.array_equal(observations, brute_force_render(factors[:20]))
    assert np.corrcoef(factors[:, 2], factors[:, 3])[0, 1] > 0.4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_samples": 0}, "positive integer"),
        ({"n_samples": 2.5}, "positive integer"),
        ({"n_samples": 10, "correlation": 1.0}, r"in \(-1, 1\)"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_correlated_ellipses(**kwargs)
