"""CorrelatedEllipses: the CHyVAE paper's dataset of one ellipse with correlated factors.

Ansari and Soh, "Hyperprior Induced Unsupervised Disentanglement of Latent
Representations", AAAI 2019 (https://arxiv.org/abs/1809.04497). Each grey-level 64x64
image shows one filled ellipse whose four factors (x, y, scale, rotation) are drawn
jointly, correlated within (x, y) and within (scale, rotation), to test whether a
model disentangles factors that are not independent.

Rendering follows the authors' recipe (draw on a 256x256 canvas, average 4x4 blocks
down to 64x64) without drawing the large canvas: each canvas row of an ellipse is one
run of pixels, and the grey level of an output pixel is the count of covered canvas
pixels in its 4x4 block, computed from the runs.
"""

import numbers

import numpy as np
from sklearn.utils import check_random_state

from ._base import GroundTruthDataset
from ._raster import ellipse_row_extent

__all__ = ["make_correlated_ellipses"]

FACTOR_NAMES = ("x", "y", "scale", "rotation")
FACTOR_LEVELS = (
    np.linspace(0.0, 1.0, 32),
    np.linspace(0.0, 1.0, 32),
    np.linspace(0.5, 1.0, 6),
    np.linspace(0.0, 360.0, 40),  # degrees
)
IMAGE_SIZE = 64
_CANVAS_SIZE = 256
_BLOCK = _CANVAS_SIZE // IMAGE_SIZE  # 4x4 canvas pixels per image pixel
_CENTRE_OFFSET = 50.0  # centre = 156 * value + 50 canvas pixels, for x and y
_CENTRE_SPAN = 156.0
_SEMI_AXES = (50.0, 25.0)  # canvas pixels at scale 1; the major axis along x
# An ellipse spans at most 2 * 50 canvas pixels; a window of 28 image pixels
# (112 canvas pixels) placed 56 canvas pixels before its centre always holds it.
_WINDOW = 28
_WINDOW_LEAD = 56.0
_RENDER_BATCH = 4096


class _CorrelatedFactorSampler:
    """Draws factor classes from the CorrelatedEllipses generative model."""

    def __init__(self, correlation):
        self.correlation = correlation

    def __call__(self, n, random_state=None):
        rng = check_random_state(random_state)
        rho = self.correlation
        z = rng.standard_normal(size=(n, 4))
        # Correlation rho within (x, y) and within (scale, rotation): block-diagonal C.
        z[:, 1] = rho * z[:, 0] + np.sqrt(1.0 - rho**2) * z[:, 1]
        z[:, 3] = rho * z[:, 2] + np.sqrt(1.0 - rho**2) * z[:, 3]
        u = (np.clip(z, -1.0, 1.0) + 1.0) / 2.0
        # Floor-quantise u in [0, 1] onto each factor's levels (u = 1 is the last one).
        n_steps = np.array([len(levels) - 1 for levels in FACTOR_LEVELS])
        classes = np.floor(u * n_steps).astype(np.int64)
        return np.minimum(classes, n_steps)


def _ellipse_runs(centre_x, centre_y, scale, angle, row_centres):
    """Column runs [start, stop) of each canvas row of rotated ellipses (closed set).

    ``row_centres`` has shape (n, rows); the others (n,). Rows the ellipse misses
    get start == stop.
    """
    left, right, has_run = ellipse_row_extent(
        row_centres - centre_y[:, None],
        np.cos(angle)[:, None],
        np.sin(angle)[:, None],
        *_SEMI_AXES,
        scale[:, None],
    )
    x = centre_x[:, None]
    start = np.ceil(x + left - 0.5)
    stop = np.floor(x + right - 0.5) + 1.0
    stop = np.where(has_run, np.maximum(stop, start), start)
    return start, stop


class _EllipseRenderer:
    """Renders CorrelatedEllipses images (uint8 grey levels) from factor classes."""

    def __call__(self, classes):
        classes = np.asarray(classes, dtype=np.int64)
        images = np.zeros((len(classes), IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
        for first in range(0, len(classes), _RENDER_BATCH):
            batch = classes[first : first + _RENDER_BATCH]
            self._render_batch(batch, images[first : first + _RENDER_BATCH])
        return images

    @staticmethod
    def _render_batch(classes, out):
        n = len(classes)
        centre_x = _CENTRE_SPAN * FACTOR_LEVELS[0][classes[:, 0]] + _CENTRE_OFFSET
        centre_y = _CENTRE_SPAN * FACTOR_LEVELS[1][classes[:, 1]] + _CENTRE_OFFSET
        scale = FACTOR_LEVELS[2][classes[:, 2]]
        angle = np.deg2rad(FACTOR_LEVELS[3][classes[:, 3]])

        def window_start(centre):
            first = np.floor((centre - _WINDOW_LEAD) / _BLOCK).astype(np.int64)
            return np.clip(first, 0, IMAGE_SIZE - _WINDOW)

        row0, col0 = window_start(centre_y), window_start(centre_x)
        canvas_rows = _BLOCK * row0[:, None] + np.arange(_WINDOW * _BLOCK)
        start, stop = _ellipse_runs(centre_x, centre_y, scale, angle, canvas_rows + 0.5)
        # Runs relative to the window's first canvas column, clipped to the window.
        offset = (_BLOCK * col0)[:, None]
        start = np.clip(start - offset, 0, _WINDOW * _BLOCK).astype(np.int16)
        stop = np.clip(stop - offset, 0, _WINDOW * _BLOCK).astype(np.int16)
        # Covered canvas pixels of each row left of each block boundary, then per block.
        boundaries = (_BLOCK * np.arange(_WINDOW + 1)).astype(np.int16)
        covered = np.clip(boundaries, start[..., None], stop[..., None]) - start[..., None]
        per_block = np.diff(covered, axis=-1)  # (n, canvas rows, window columns)
        counts = per_block.reshape(n, _WINDOW, _BLOCK, _WINDOW).sum(axis=2, dtype=np.int32)
        # Mean of 16 canvas pixels of value 0 or 255, rounded to the nearest level.
        grey = ((counts * 255 + _BLOCK * _BLOCK // 2) // (_BLOCK * _BLOCK)).astype(np.uint8)
        rows = row0[:, None, None] + np.arange(_WINDOW)[None, :, None]
        cols = col0[:, None, None] + np.arange(_WINDOW)[None, None, :]
        out[np.arange(n)[:, None, None], rows, cols] = grey


def make_correlated_ellipses(n_samples=200_000, *, correlation=0.5, random_state=None):
    """Draw the CorrelatedEllipses dataset: one grey-level ellipse, correlated factors.

    Factors are drawn jointly: z ~ N(0, C) with C block-diagonal, correlation
    ``correlation`` within (x, y) and within (scale, rotation); u = (clip(z, -1, 1)
    + 1) / 2; each factor is u floor-quantised onto its levels. The ellipse is
    drawn filled (255) on a 256x256 canvas with centre (156 x + 50, 156 y + 50),
    semi-axes (50 s, 25 s) and the major axis rotated counter-clockwise from
    horizontal, then averaged over 4x4 blocks down to 64x64 grey levels.

    Parameters
    ----------
    n_samples : int, default=200_000
        Number of images (the paper uses 200,000: 0.8 GB as uint8).
    correlation : float, default=0.5
        Correlation of the Gaussian draws within (x, y) and within
        (scale, rotation); in (-1, 1). 0 gives independent factors.
    random_state : int, RandomState instance or None, default=None
        Seed or generator, as in scikit-learn.

    Returns
    -------
    dataset : GroundTruthDataset
        uint8 images of shape (n_samples, 64, 64) with values in [0, 255];
        factors ``x`` (32 classes, values in [0, 1]), ``y`` (32), ``scale`` (6,
        values 0.5..1) and ``rotation`` (40, degrees 0..360). It is a labelled set
        with a renderer: ``sample_observations_from_factors`` renders any factor
        classes, and ``sample_factors`` draws from the correlated model.

    See Also
    --------
    GroundTruthDataset : The returned object.

    Notes
    -----
    About 16% of each factor's mass sits at each end of its range, where the
    clipping puts it, so the sample correlation of the quantised factors is a
    little below ``correlation``. Metrics that hold one factor fixed should draw
    joint factors with ``sample_factors``, overwrite that factor, and render with
    ``sample_observations_from_factors``: this breaks its correlation with the
    others, as in the paper. Rotation classes 0 and 39 (0 and 360 degrees), and
    rotations 180 degrees apart, give the same ellipse.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae.datasets import make_correlated_ellipses
    >>> dataset = make_correlated_ellipses(n_samples=500, random_state=0)
    >>> dataset.images.shape, dataset.images.dtype
    ((500, 64, 64), dtype('uint8'))
    >>> dataset.factor_names
    ('x', 'y', 'scale', 'rotation')
    >>> x, y = dataset.factor_values[:, 0], dataset.factor_values[:, 1]
    >>> bool(np.corrcoef(x, y)[0, 1] > 0.3)
    True
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    if not isinstance(correlation, numbers.Real) or not -1.0 < correlation < 1.0:
        raise ValueError(f"correlation must be a number in (-1, 1), got {correlation!r}")
    rng = check_random_state(random_state)
    sampler = _CorrelatedFactorSampler(float(correlation))
    renderer = _EllipseRenderer()
    classes = sampler(int(n_samples), rng)
    return GroundTruthDataset(
        renderer(classes),
        classes,
        factor_names=FACTOR_NAMES,
        factor_levels=FACTOR_LEVELS,
        name="CorrelatedEllipses",
        renderer=renderer,
        factor_sampler=sampler,
    )
