"""dSprites: render it offline from its specification, or read the official files.

dSprites (Matthey, Higgins, Hassabis and Lerchner, 2017,
https://github.com/deepmind/dsprites-dataset) holds 737,280 binary 64x64 images of a
square, an ellipse or a heart at 6 scales, 40 orientations and 32 x 32 positions:
every combination once, in row-major order over (color, shape, scale, orientation,
posX, posY). The official files cannot be downloaded on every machine, so
`make_dsprites` renders the same images with the geometry measured on the official
frames (it reproduces the 320 reference frames of the dSprites GIF pixel for pixel),
and `load_dsprites` reads the official ``.npz`` or ``.hdf5`` when a user has it.

How the renderer is fast: every image row (64 pixels) is one 64-bit word, and a row of
a shape is a few runs of pixels between edge crossings. Which edges cross a row
depends on the row and the vertical position only, and where they cross on the
horizontal position only, so a block of (orientation, posX, posY) images is computed
with array operations on the band of rows the sprite can reach, then the words are
unpacked to bytes. Computing takes about 2 s for the full set; writing 3 GB of images
takes the rest.
"""

import hashlib
import os
import uuid
import warnings
import zipfile
import zlib

import numpy as np
from sklearn.utils._param_validation import validate_params

from ._base import GroundTruthDataset, check_factor_table, get_data_home
from ._download import FETCHER_PARAMETERS, OfficialFile, fetch_file
from ._files import check_data_file, file_format
from ._lazy import H5RowReader, LazyImages
from ._raster import ellipse_row_extent

__all__ = ["fetch_dsprites", "make_dsprites", "load_dsprites", "render_dsprites"]

FACTOR_NAMES = ("color", "shape", "scale", "orientation", "posX", "posY")
FACTOR_SIZES = (1, 3, 6, 40, 32, 32)
SHAPE_NAMES = ("square", "ellipse", "heart")
IMAGE_SIZE = 64
N_IMAGES = 737_280

NPZ_FILENAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
HDF5_FILENAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.hdf5"
_SOURCE = "https://github.com/deepmind/dsprites-dataset"
# The .hdf5 twin is the file TensorFlow Datasets downloads, with its size and SHA-256
# in tensorflow_datasets/datasets/dsprites/checksums.tsv; no digest of the .npz is
# published.
OFFICIAL_HDF5 = OfficialFile(
    HDF5_FILENAME,
    f"{_SOURCE}/raw/master/{HDF5_FILENAME}",
    sha256="729fa22e884c9c500e1f17415d580746b4c5894fbbb780a1319bbcfa39a745bb",
    size=28_024_106,
)

# Geometry measured on the official frames (see shared/data/README.md, "Renderer
# geometry"): it reproduces all 320 reference frames with 0 wrong pixels.
_SPRITE_OFFSET = 16.0  # centre x = 16 + 32 * posX pixels (posY likewise, downward)
_POSITION_SPAN = 32.0
_SQUARE_HALF_SIDE = 9.6
_ELLIPSE_SEMI_AXES = (12.7659, 7.2133)  # along u (horizontal at orientation 0), along v
_HEART_N_VERTICES = 150
_HEART_U_SCALE = 0.6
_HEART_V_SCALE = 0.66225
_HEART_V_OFFSET = -1.4395
# GPU rasterisers snap vertices to a sub-pixel grid; at 1/256 px this decides 8 of the
# reference frames' pixels, whose centres lie 0.00015 px inside an edge.
_VERTEX_SNAP = 256.0

# Bump when the rendered images change, so stale caches are rendered again.
_RENDER_VERSION = 1
# Rows of a cached file compared with a fresh rendering on every load (a few ms).
_CACHE_CHECK_ROWS = 61

# Rows per chunk of on-demand rendering; bounds the temporary arrays to tens of MB.
_RENDER_BATCH = 2048
# Orientations per block of grid rendering (block = orientations x posX x posY images).
_GRID_ORIENTATION_BLOCK = 5

_ROW_CENTRES = np.arange(IMAGE_SIZE) + 0.5
# _LOW_BITS[k] has the k lowest bits set, so a run of pixels [a, b) in a row is
# _LOW_BITS[b] & ~_LOW_BITS[a] (bit j = column j).
_LOW_BITS = np.array(
    [(1 << k) - 1 for k in range(IMAGE_SIZE)] + [2**IMAGE_SIZE - 1], dtype=np.uint64
)


def _official_levels():
    return (
        np.array([1.0]),
        np.array([1.0, 2.0, 3.0]),
        np.linspace(0.5, 1.0, 6),
        np.linspace(0.0, 2.0 * np.pi, 40),
        np.linspace(0.0, 1.0, 32),
        np.linspace(0.0, 1.0, 32),
    )


FACTOR_LEVELS = _official_levels()


def _heart_outline():
    t = 2.0 * np.pi * np.arange(_HEART_N_VERTICES) / _HEART_N_VERTICES
    x = 16.0 * np.sin(t) ** 3
    y = 13.0 * np.cos(t) - 5.0 * np.cos(2 * t) - 2.0 * np.cos(3 * t) - np.cos(4 * t)
    # The curve's y points up; image v points down, hence the minus (lobes up).
    return np.stack([_HEART_U_SCALE * x, -_HEART_V_SCALE * y + _HEART_V_OFFSET], axis=1)


def _square_outline():
    h = _SQUARE_HALF_SIDE
    return np.array([[-h, -h], [h, -h], [h, h], [-h, h]])


_OUTLINES = {0: _square_outline(), 2: _heart_outline()}


# ---------------------------------------------------------------------- rasterisation
def _row_bands(centre_y, reach):
    """Rows a sprite can touch: (m, ny, n_rows) row numbers, a band around each centre.

    Working on a band of about 2 * reach rows instead of all 64 halves the work:
    a sprite covers at most 28 rows.
    """
    n_rows = min(IMAGE_SIZE, int(np.ceil(2.0 * reach)) + 2)
    first = np.floor(centre_y - reach - 0.5).astype(np.intp)
    first = np.clip(first, 0, IMAGE_SIZE - n_rows)
    return first[..., None] + np.arange(n_rows)


def _polygon_row_words(outline, scale, angle, centre_x, centre_y):
    """Rasterise a polygon at many scales, angles and positions into row words.

    ``scale`` and ``angle`` have shape (m,); ``centre_x`` (m, nx) and ``centre_y``
    (m, ny) are the horizontal and vertical sprite centres of each item. Returns
    uint64 words of shape (m, nx, ny, 64): bit j of word i is pixel (i, j).

    A pixel is on iff an odd number of edge crossings of its row lie at or left of
    its centre; an edge crosses a row when one end is at or above the row centre and
    the other below (half-open, so shared vertices count once).
    """
    n_items = len(scale)
    n_vertices = len(outline)
    n_x, n_y = centre_x.shape[1], centre_y.shape[1]
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    u, v = outline[:, 0], outline[:, 1]
    offset_x = scale[:, None] * (cos * u + sin * v)
    offset_y = scale[:, None] * (-sin * u + cos * v)
    # x depends on posX only and y on posY only, even after snapping: the crossings
    # are found once per (posY, row) and evaluated for every posX.
    xs = np.round((centre_x[:, :, None] + offset_x[:, None, :]) * _VERTEX_SNAP) / _VERTEX_SNAP
    ys = np.round((centre_y[:, :, None] + offset_y[:, None, :]) * _VERTEX_SNAP) / _VERTEX_SNAP
    reach = np.abs(offset_y).max(initial=0.0) + 1.0 / _VERTEX_SNAP
    rows = _row_bands(centre_y, reach)  # (m, ny, band)
    row_centres = rows + 0.5
    n_band = rows.shape[-1]
    below = ys[:, :, None, :] <= row_centres[..., None]
    crosses = below != np.roll(below, -1, axis=-1)  # (m, ny, band, vertices)
    n_crossings = int(crosses.sum(axis=-1, dtype=np.int16).max()) if crosses.size else 0
    words = np.zeros((n_items, n_y, IMAGE_SIZE, n_x), dtype=np.uint64)
    if n_crossings == 0:
        return words.transpose(0, 3, 1, 2)

    # Gather the crossing edges of each (item, posY, row) into n_crossings slots;
    # unused slots point at an extra vertex far to the right, so they pair up into
    # empty runs without masking the large arrays below.
    item, pos_y, band_row, edge = np.nonzero(crosses)
    slot = (np.cumsum(crosses, axis=-1, dtype=np.int16) - 1)[item, pos_y, band_row, edge]
    edges = np.full((n_items, n_y, n_band, n_crossings), n_vertices, dtype=np.intp)
    edges[item, pos_y, band_row, slot] = edge
    valid = edges < n_vertices
    edges_next = np.where(valid, (edges + 1) % n_vertices, n_vertices)

    item_index = np.arange(n_items)[:, None, None, None]
    y_index = np.arange(n_y)[None, :, None, None]
    ys_padded = np.concatenate([ys, np.zeros((n_items, n_y, 1))], axis=-1)
    y_start = ys_padded[item_index, y_index, edges]
    y_stop = ys_padded[item_index, y_index, edges_next]
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(valid, (row_centres[..., None] - y_start) / (y_stop - y_start), 0.0)
    # The vertex axis comes before posX, so each gather copies a row of nx values.
    xs_by_vertex = np.concatenate(
        [xs.transpose(0, 2, 1), np.full((n_items, 1, n_x), 4.0 * IMAGE_SIZE)], axis=1
    )  # (m, vertices + 1, nx); the extra vertex lies far right of the image
    x_start = xs_by_vertex[item_index, edges]  # (m, ny, band, slots, nx)
    x_stop = xs_by_vertex[item_index, edges_next]
    crossing_x = x_start + fraction[..., None] * (x_stop - x_start)
    # First column whose centre (j + 0.5) is at or right of each crossing.
    column = np.clip(np.ceil(crossing_x - 0.5), 0, IMAGE_SIZE).astype(np.intp)
    # Sort the few slots with an odd-even transposition network: elementwise
    # minimum/maximum beat np.sort and reductions along a short axis.
    for sweep in range(n_crossings):
        for i in range(sweep % 2, n_crossings - 1, 2):
            left, right = column[:, :, :, i].copy(), column[:, :, :, i + 1]
            np.minimum(left, right, out=column[:, :, :, i])
            np.maximum(left, right, out=column[:, :, :, i + 1])
    band_words = np.zeros(column.shape[:3] + (n_x,), dtype=np.uint64)
    for first in range(0, n_crossings, 2):
        band_words |= _LOW_BITS[column[:, :, :, first + 1]] & ~_LOW_BITS[column[:, :, :, first]]
    np.put_along_axis(
        words, np.broadcast_to(rows[..., None], band_words.shape), band_words, axis=2
    )
    return words.transpose(0, 3, 1, 2)


def _ellipse_row_words(scale, angle, centre_x, centre_y):
    """Rasterise the dSprites ellipse; same arguments and output as the polygon case.

    The run of pixels of each row lies between the ellipse's extent on that row,
    which depends on posY only; posX shifts it.
    """
    dy = _ROW_CENTRES - centre_y[:, :, None]  # (m, ny, 64)
    left, right, has_run = ellipse_row_extent(
        dy,
        np.cos(angle)[:, None, None],
        np.sin(angle)[:, None, None],
        *_ELLIPSE_SEMI_AXES,
        scale[:, None, None],
    )
    x = centre_x[:, :, None, None]
    start = np.clip(np.ceil(x + left[:, None] - 0.5), 0, IMAGE_SIZE).astype(np.intp)
    stop = np.clip(np.floor(x + right[:, None] - 0.5) + 1, 0, IMAGE_SIZE).astype(np.intp)
    has_run = np.broadcast_to(has_run[:, None], start.shape)
    stop = np.where(has_run, np.maximum(stop, start), start)
    return _LOW_BITS[stop] & ~_LOW_BITS[start]


def _row_words(shape_class, scale, angle, centre_x, centre_y):
    if shape_class == 1:
        return _ellipse_row_words(scale, angle, centre_x, centre_y)
    return _polygon_row_words(_OUTLINES[shape_class], scale, angle, centre_x, centre_y)


def _words_to_images(words):
    """Unpack uint64 row words (..., 64) into uint8 0/1 images (..., 64, 64)."""
    words = np.ascontiguousarray(words, dtype="<u8")
    pixels = np.unpackbits(words.view(np.uint8), axis=-1, bitorder="little")
    return pixels.reshape(words.shape[:-1] + (IMAGE_SIZE, IMAGE_SIZE))


def _sprite_centres(position_classes):
    return _SPRITE_OFFSET + _POSITION_SPAN * FACTOR_LEVELS[4][position_classes]


def _render_classes(classes):
    """Render official class rows (n, 6), already checked, into (n, 64, 64) uint8."""
    images = np.zeros((len(classes), IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    for start in range(0, len(classes), _RENDER_BATCH):
        batch = classes[start : start + _RENDER_BATCH]
        for shape_class in np.unique(batch[:, 1]):
            rows = np.flatnonzero(batch[:, 1] == shape_class)
            words = _row_words(
                int(shape_class),
                FACTOR_LEVELS[2][batch[rows, 2]],
                FACTOR_LEVELS[3][batch[rows, 3]],
                _sprite_centres(batch[rows, 4])[:, None],
                _sprite_centres(batch[rows, 5])[:, None],
            )
            images[start + rows] = _words_to_images(words[:, 0, 0])
    return images


def _render_grid(selection, out):
    """Render the grid of the selected official classes (row-major) into ``out``."""
    _, shapes, scales, orientations, positions_x, positions_y = selection
    centre_x = _sprite_centres(positions_x)
    centre_y = _sprite_centres(positions_y)
    block_rows = len(positions_x) * len(positions_y)
    row = 0
    for shape_class in shapes:
        for scale_class in scales:
            for first in range(0, len(orientations), _GRID_ORIENTATION_BLOCK):
                block = orientations[first : first + _GRID_ORIENTATION_BLOCK]
                m = len(block)
                words = _row_words(
                    int(shape_class),
                    np.full(m, FACTOR_LEVELS[2][scale_class]),
                    FACTOR_LEVELS[3][block],
                    np.broadcast_to(centre_x, (m, len(centre_x))),
                    np.broadcast_to(centre_y, (m, len(centre_y))),
                )
                n_rows = m * block_rows
                out[row : row + n_rows] = _words_to_images(words.reshape(n_rows, IMAGE_SIZE))
                row += n_rows
    return out


def render_dsprites(factor_classes):
    """Render dSprites images for any official factor classes.

    Parameters
    ----------
    factor_classes : array-like of int of shape (n, 6)
        Official class indices (the ``latents_classes`` of the official file):
        color 0; shape 0 square, 1 ellipse, 2 heart; scale 0..5; orientation 0..39;
        posX, posY 0..31.

    Returns
    -------
    images : ndarray of uint8 of shape (n, 64, 64)
        Binary images with values 0 and 1, as in the official file.

    Raises
    ------
    ValueError
        If the shape of ``factor_classes`` is wrong or a class is out of range.

    See Also
    --------
    make_dsprites : The whole grid (or a subset of it) as a dataset.

    Examples
    --------
    >>> from sklearn_dvae.datasets import render_dsprites
    >>> images = render_dsprites([[0, 0, 5, 0, 0, 0], [0, 2, 0, 0, 31, 31]])
    >>> images.shape, images.dtype
    ((2, 64, 64), dtype('uint8'))
    >>> images.sum(axis=(1, 2)).tolist()  # a square at scale 1, a heart at scale 0.5
    [400, 58]
    """
    classes = check_factor_table(factor_classes, FACTOR_NAMES, FACTOR_SIZES, "factor_classes")
    return _render_classes(classes)


class _DSpritesRenderer:
    """Renders a dataset's factor classes; ``selection`` maps them to official classes."""

    def __init__(self, selection):
        self.selection = tuple(np.asarray(chosen, dtype=np.int64) for chosen in selection)

    def official_classes(self, classes):
        return np.stack(
            [chosen[classes[:, k]] for k, chosen in enumerate(self.selection)], axis=1
        ).reshape(len(classes), len(FACTOR_NAMES))

    def __call__(self, classes):
        return _render_classes(self.official_classes(np.asarray(classes, dtype=np.int64)))


class _DSpritesGridReader:
    """Row reader of a lazily rendered grid: rows -> factor classes -> images."""

    def __init__(self, selection):
        self.renderer = _DSpritesRenderer(selection)
        sizes = [len(chosen) for chosen in self.renderer.selection]
        self.strides = np.cumprod([1] + sizes[:0:-1])[::-1]
        self.sizes = np.array(sizes)

    def __call__(self, rows):
        classes = (np.asarray(rows, dtype=np.int64)[:, None] // self.strides) % self.sizes
        return self.renderer(classes)


# ---------------------------------------------------------------------- the dataset
def _parse_subset(subset):
    selection = [np.arange(size, dtype=np.int64) for size in FACTOR_SIZES]
    if subset is None:
        return selection
    if not hasattr(subset, "items"):
        raise TypeError(
            "subset must be a dict mapping factor names to class indices, e.g. "
            f"{{'posX': range(0, 32, 2)}}, got {subset!r}"
        )
    for factor_name, chosen in subset.items():
        if factor_name not in FACTOR_NAMES:
            raise ValueError(
                f"subset names an unknown factor {factor_name!r}; the dSprites factors are "
                f"{', '.join(FACTOR_NAMES)}"
            )
        k = FACTOR_NAMES.index(factor_name)
        chosen = np.asarray(list(chosen) if isinstance(chosen, range) else chosen)
        if chosen.ndim == 0:
            chosen = chosen.reshape(1)
        if chosen.ndim != 1 or chosen.size == 0:
            raise ValueError(
                f"subset[{factor_name!r}] must be a non-empty 1-D list of class indices, "
                f"got {chosen.tolist()!r}"
            )
        if not np.issubdtype(chosen.dtype, np.integer):
            raise ValueError(
                f"subset[{factor_name!r}] must hold integer class indices, got {chosen.tolist()!r}"
            )
        bad = chosen[(chosen < 0) | (chosen >= FACTOR_SIZES[k])]
        if bad.size:
            raise ValueError(
                f"subset[{factor_name!r}] has class {int(bad[0])}; the valid classes of "
                f"{factor_name!r} are 0..{FACTOR_SIZES[k] - 1}"
            )
        selection[k] = np.unique(chosen).astype(np.int64)
    return selection


def _dataset_from_selection(images, selection, name):
    return GroundTruthDataset(
        images,
        factor_names=FACTOR_NAMES,
        factor_levels=[
            levels[chosen] for levels, chosen in zip(FACTOR_LEVELS, selection, strict=True)
        ],
        name=name,
        renderer=_DSpritesRenderer(selection),
    )


def _cache_path(selection, data_home=None):
    """File that caches the rendering of ``selection``: one name per factor subset."""
    folder = get_data_home(data_home) / "dsprites"
    stem = f"dsprites_rendered_v{_RENDER_VERSION}"
    if any(len(chosen) != size for chosen, size in zip(selection, FACTOR_SIZES, strict=True)):
        digest = hashlib.sha256()
        for chosen in selection:
            digest.update(np.asarray(chosen, dtype="<i8").tobytes() + b"|")
        stem += "_subset_" + digest.hexdigest()[:16]
    return folder / f"{stem}.npy"


def _load_cache(path, selection, n_rows):
    """Return the cached images memory-mapped, or None (with a warning) if unusable."""
    try:
        images = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as error:
        reason = f"it cannot be read: {error}"
    else:
        if images.shape != (n_rows, IMAGE_SIZE, IMAGE_SIZE) or images.dtype != np.uint8:
            reason = f"it holds {images.shape} {images.dtype}"
        else:
            # A spot check against fresh rendering catches damaged files and files
            # written by another version of the renderer.
            rows = np.unique(np.linspace(0, n_rows - 1, _CACHE_CHECK_ROWS).astype(np.int64))
            if np.array_equal(np.asarray(images[rows]), _DSpritesGridReader(selection)(rows)):
                return images
            reason = "its images differ from this renderer's"
        del images
    warnings.warn(
        f"the dSprites cache {str(path)!r} is not usable ({reason}); rendering it again",
        stacklevel=3,
    )
    return None


def _cached_render(selection, n_rows, data_home):
    path = _cache_path(selection, data_home)
    if path.is_file():
        images = _load_cache(path, selection, n_rows)
        if images is not None:
            return images
    path.parent.mkdir(parents=True, exist_ok=True)
    # Render into a private file, then rename: an interrupted run or a concurrent
    # process never leaves a half-written file under the cache name.
    partial = path.parent / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.partial"
    try:
        out = np.lib.format.open_memmap(
            partial, mode="w+", dtype=np.uint8, shape=(n_rows, IMAGE_SIZE, IMAGE_SIZE)
        )
        _render_grid(selection, out)
        out.flush()
        del out
        os.replace(partial, path)
    finally:
        if partial.exists():
            partial.unlink()
    return np.load(path, mmap_mode="r", allow_pickle=False)


def make_dsprites(*, subset=None, lazy=False, cache=None, data_home=None):
    """Render dSprites from its specification, as a factor-grid dataset.

    The images match the official dSprites frames (the renderer reproduces the 320
    frames of the official GIF with no wrong pixel): binary 64x64 uint8 images
    with values 0 and 1, in the official row order (row-major over color, shape,
    scale, orientation, posX, posY; posY fastest).

    The full set (737,280 images, 3.0 GB as uint8) renders in about ten seconds and
    is cached on disk as a ``.npy`` file that later calls memory-map in well under
    a second. A subset of factor classes renders in memory (it takes a fraction of
    that time), unless ``cache=True``.

    Parameters
    ----------
    subset : dict of str to array-like of int, default=None
        Official class indices to keep for some factors, e.g.
        ``{"posX": range(0, 32, 2), "posY": range(0, 32, 2)}`` for every other
        position or ``{"orientation": [0, 10, 20, 30]}``. Unnamed factors keep all
        their classes. The dataset is the grid of the kept classes, whose classes
        are renumbered from 0 (``factor_levels`` keeps the official values).
    lazy : bool, default=False
        Render nothing now: ``images`` is a `LazyImages` that renders the rows
        that are indexed, so sampling observations needs no full rendering.
    cache : bool or None, default=None
        True: memory-map the cached file of this subset (a read-only array),
        rendering it into the cache first if needed. False: render into memory and
        leave the disk alone. None: cache the full set only. Ignored when ``lazy``.
        A cached file is spot-checked against fresh rendering when loaded and
        rendered again, with a warning, if it is damaged or stale.
    data_home : str or path-like, default=None
        Cache folder; see `get_data_home` (environment variable
        ``SKLEARN_DVAE_DATA``, else ``~/.cache/sklearn_dvae``).

    Returns
    -------
    dataset : GroundTruthDataset
        Factors ``color`` (1 class, constant: left out of ``y``), ``shape`` (3),
        ``scale`` (6), ``orientation`` (40), ``posX`` (32), ``posY`` (32), with the
        official values as ``factor_levels``. Its renderer also draws observations
        for any factor classes once the dataset is subset.

    Raises
    ------
    ValueError
        If ``subset`` names an unknown factor or a class out of range.

    See Also
    --------
    load_dsprites : Read the official files instead.
    render_dsprites : Render images for given official factor classes.

    Notes
    -----
    Geometry (pixel (i, j) is on iff its centre (j + 0.5, i + 0.5) lies inside the
    shape): the sprite centre is at (16 + 32 posX, 16 + 32 posY) pixels, posY
    increasing downward; a local point (u, v) at scale s and angle t lands at
    s (cos t u + sin t v, -sin t u + cos t v) from it (counter-clockwise as
    displayed). The square has half-side 9.6 s; the ellipse semi-axes 12.7659 s
    (horizontal at t = 0) and 7.2133 s; the heart is the 150-vertex polygon of
    x = 16 sin^3 w, y = 13 cos w - 5 cos 2w - 2 cos 3w - cos 4w at u = 0.6 x,
    v = -0.66225 y - 1.4395. Polygon vertices are snapped to 1/256 pixel, as the GPU
    that drew the official images does. Orientation classes 0 and 39 (0 and 2 pi)
    give the same image.

    The official frames cannot tell whether posY = 0 is the top or the bottom row;
    this renderer puts it at the top. Pixel values are 0 and 1, as in the official
    file, not 0 and 255.

    Examples
    --------
    >>> from sklearn_dvae.datasets import make_dsprites
    >>> corners = [0, 31]
    >>> dataset = make_dsprites(subset={"orientation": [0, 10], "posX": corners, "posY": corners})
    >>> dataset
    GroundTruthDataset('dSprites (rendered)', n_samples=144, images=(64, 64) uint8 in memory,
      factor grid: color=1 (constant), shape=3, scale=6, orientation=2, posX=2, posY=2)
    >>> dataset.y_factor_names
    ('shape', 'scale', 'orientation', 'posX', 'posY')
    >>> lazy = make_dsprites(lazy=True)  # nothing rendered yet
    >>> len(lazy), int(lazy.images[737_279].sum())  # renders one heart
    (737280, 222)
    """
    selection = _parse_subset(subset)
    n_rows = int(np.prod([len(chosen) for chosen in selection]))
    name = "dSprites (rendered)"
    if lazy:
        images = LazyImages(
            _DSpritesGridReader(selection),
            (n_rows, IMAGE_SIZE, IMAGE_SIZE),
            np.uint8,
            "rendered on demand",
        )
    elif cache or (cache is None and n_rows == N_IMAGES):
        images = _cached_render(selection, n_rows, data_home)
    else:
        images = np.empty((n_rows, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
        _render_grid(selection, images)
    return _dataset_from_selection(images, selection, name)


# ---------------------------------------------------------------------- official files
_ARRAY_KEYS = ("imgs", "latents_classes", "latents_values")


def _corrupt_file_error(path, error):
    return ValueError(
        f"the dSprites file {str(path)!r} is truncated or corrupted and cannot be read "
        f"({type(error).__name__}: {error}). Download it again from {_SOURCE}."
    )


def _read_npz(path):
    try:
        # allow_pickle=False: the archive's "metadata" entry is a pickle that a crafted
        # file could use to run code. It is never read; names and sizes come from the
        # specification instead.
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as error:
        raise _corrupt_file_error(path, error) from None
    with archive:
        missing = [key for key in _ARRAY_KEYS if key not in archive.files]
        if missing:
            raise ValueError(
                f"the dSprites file {str(path)!r} lacks the arrays {missing} (it holds "
                f"{sorted(archive.files)}); the official .npz holds {list(_ARRAY_KEYS)} "
                "and metadata"
            )
        arrays = []
        for key in _ARRAY_KEYS:
            try:
                arrays.append(archive[key])
            except ValueError as error:
                if "allow_pickle" in str(error):
                    raise ValueError(
                        f"the dSprites file {str(path)!r} stores {key!r} as pickled Python "
                        "objects, which are not read (unpickling can run code); the "
                        f"official {key!r} is a plain numeric array"
                    ) from None
                raise _corrupt_file_error(path, error) from None
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
                raise _corrupt_file_error(path, error) from None
    return arrays


def _read_hdf5(path, in_memory):
    import h5py

    try:
        file = h5py.File(path, "r")
    except OSError as error:
        raise _corrupt_file_error(path, error) from None
    try:
        # The official .hdf5 keeps the labels in a "latents" group; accept flat names too.
        candidates = {
            "imgs": ("imgs",),
            "latents_classes": ("latents/classes", "latents_classes"),
            "latents_values": ("latents/values", "latents_values"),
        }
        found = {}
        for key, names in candidates.items():
            for name in names:
                if isinstance(file.get(name), h5py.Dataset):
                    found[key] = name
                    break
        missing = [" or ".join(candidates[key]) for key in _ARRAY_KEYS if key not in found]
        if missing:
            present = []
            file.visit(present.append)
            raise ValueError(
                f"the dSprites file {str(path)!r} lacks the datasets {missing} (it holds "
                f"{present}); the official .hdf5 holds imgs, latents/classes and "
                "latents/values"
            )
        images = file[found["imgs"]]
        try:
            classes = file[found["latents_classes"]][()]
            values = file[found["latents_values"]][()]
            if in_memory:
                images = images[()]
            else:
                _check_shapes(path, images, classes, values)
                images = LazyImages(
                    H5RowReader(path, found["imgs"], file=file),
                    images.shape,
                    images.dtype,
                    f"HDF5 {path}",
                )
        except OSError as error:
            raise _corrupt_file_error(path, error) from None
    except BaseException:
        file.close()
        raise
    if in_memory:
        file.close()
    return images, classes, values


def _check_shapes(path, images, classes, values):
    n = images.shape[0] if len(images.shape) else 0
    problems = []
    if tuple(images.shape[1:]) != (IMAGE_SIZE, IMAGE_SIZE) or len(images.shape) != 3:
        problems.append(f"imgs has shape {tuple(images.shape)}, expected (n, 64, 64)")
    if images.dtype != np.uint8:
        problems.append(f"imgs has dtype {images.dtype}, expected uint8")
    for key, array in (("latents_classes", classes), ("latents_values", values)):
        if array.shape != (n, len(FACTOR_NAMES)):
            problems.append(f"{key} has shape {array.shape}, expected ({n}, 6)")
    if classes.dtype.kind not in "iu":
        problems.append(f"latents_classes has dtype {classes.dtype}, expected integers")
    if values.dtype.kind != "f":
        problems.append(f"latents_values has dtype {values.dtype}, expected floats")
    if problems:
        raise ValueError(
            f"the dSprites file {str(path)!r} does not have the official layout: "
            + "; ".join(problems)
        )


def _check_labels(path, classes, values):
    what = f"latents_classes of the dSprites file {str(path)!r}"
    check_factor_table(classes, FACTOR_NAMES, FACTOR_SIZES, what)
    for k in range(len(FACTOR_SIZES)):
        expected = FACTOR_LEVELS[k][classes[:, k]]
        bad = np.flatnonzero(~np.isclose(values[:, k], expected, rtol=0.0, atol=1e-6))
        if bad.size:
            row = int(bad[0])
            raise ValueError(
                f"the dSprites file {str(path)!r} has latents_values "
                f"{float(values[row, k])!r} for factor {FACTOR_NAMES[k]!r} at row {row}, "
                f"where class {int(classes[row, k])} means {float(expected[row])!r} in the "
                f"dSprites specification ({bad.size} rows disagree)"
            )


def load_dsprites(path, *, in_memory=None):
    """Read the official dSprites file (``.npz`` or ``.hdf5``) as a dataset.

    Nothing is downloaded (`fetch_dsprites` downloads the file). The ``.npz``
    archive's pickled ``metadata`` entry is never unpickled (a crafted file could
    run code through it): arrays are read with ``allow_pickle=False`` and factor
    names, sizes and values come from the dSprites specification, against which
    the file's labels are checked.

    Parameters
    ----------
    path : str or path-like
        The file ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`` or ``.hdf5``
        from https://github.com/deepmind/dsprites-dataset, or a folder holding it.
        The format is recognised from the file's first bytes.
    in_memory : bool, default=None
        HDF5 only: True reads all images into memory (3.0 GB for the full file);
        False or None leaves them on disk, read when indexed. An ``.npz`` archive
        is always read into memory (compressed archive members cannot be read in
        parts).

    Returns
    -------
    dataset : GroundTruthDataset
        uint8 images with values 0 and 1, and the six factors of `make_dsprites`.
        The full official file is a factor grid; a file with fewer rows is a
        labelled set.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path`` (the message says where to get it).
    ValueError
        If the file is truncated or corrupted, lacks the official arrays, has
        other shapes or dtypes, or holds labels outside the specification.

    See Also
    --------
    make_dsprites : Render the same dataset without the file.

    Examples
    --------
    A small file in the official ``.npz`` layout stands in for the real one here:

    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn_dvae.datasets import load_dsprites, render_dsprites
    >>> classes = np.array([[0, 0, 5, 0, 0, 0], [0, 2, 1, 3, 7, 9]])
    >>> values = np.array([[1, 1, 1.0, 0, 0, 0], [1, 3, 0.6, 3 * 2 * np.pi / 39, 7 / 31, 9 / 31]])
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = os.path.join(folder.name, "dsprites.npz")
    >>> np.savez_compressed(path, imgs=render_dsprites(classes), latents_classes=classes,
    ...                     latents_values=values)
    >>> dataset = load_dsprites(path)
    >>> dataset.factor_classes.tolist() == classes.tolist(), dataset.images.dtype
    (True, dtype('uint8'))
    >>> folder.cleanup()
    """
    path = check_data_file(
        path,
        dataset="dSprites",
        official_names=(NPZ_FILENAME, HDF5_FILENAME),
        source=_SOURCE,
        function="load_dsprites",
        fetcher="fetch_dsprites",
    )
    kind = file_format(path)
    if kind == "npz":
        images, classes, values = _read_npz(path)
    elif kind == "hdf5":
        images, classes, values = _read_hdf5(path, in_memory)
    else:
        raise ValueError(
            f"{str(path)!r} is neither an .npz archive nor an HDF5 file (by its first "
            f"bytes); the official dSprites files are {NPZ_FILENAME} and {HDF5_FILENAME} "
            f"from {_SOURCE}"
        )
    _check_shapes(path, images, classes, values)
    classes = classes.astype(np.int64, copy=False)
    _check_labels(path, classes, values)
    return GroundTruthDataset(
        images,
        classes,
        factor_names=FACTOR_NAMES,
        factor_levels=FACTOR_LEVELS,
        name="dSprites",
    )


@validate_params(
    {
        **FETCHER_PARAMETERS,
        "in_memory": ["boolean", None],
    },
    prefer_skip_nested_validation=True,
)
def fetch_dsprites(
    *,
    data_home=None,
    download_if_missing=True,
    base_url=None,
    sha256=None,
    progress=True,
    in_memory=None,
):
    """Download the official dSprites file (if needed) and read it with `load_dsprites`.

    The official ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.hdf5`` (28 MB) is
    downloaded into ``<data_home>/dsprites`` and verified against its published
    SHA-256 digest. A copy of the ``.hdf5`` or of the ``.npz`` twin already there is
    used as it is. `make_dsprites` renders the same images without any file.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data folder; see `get_data_home` (environment variable
        ``SKLEARN_DVAE_DATA``, else ``~/.cache/sklearn_dvae``).
    download_if_missing : bool, default=True
        False raises FileNotFoundError instead of downloading a missing file.
    base_url : str, default=None
        Where to download the file from instead of
        https://github.com/deepmind/dsprites-dataset/raw/master (a mirror, or a local
        server): ``<base_url>/dsprites_ndarray_co1sh3sc6or40x32y32_64x64.hdf5``. None
        uses the environment variable ``SKLEARN_DVAE_BASE_URL`` if set.
    sha256 : str, default=None
        SHA-256 digest to check the download against, for another file than the
        official one; None checks the official digest.
    progress : bool, default=True
        Show a progress bar (tqdm) while downloading.
    in_memory : bool, default=None
        Passed to `load_dsprites`: the ``.hdf5`` images stay on disk unless True.

    Returns
    -------
    dataset : GroundTruthDataset
        The dataset `load_dsprites` reads from the file.

    Raises
    ------
    OSError
        If the download fails (no network, an HTTP error, a transfer interrupted
        again and again, a checksum that does not match): the message names the
        URL and where to put the file by hand.
    FileNotFoundError
        If the file is missing and ``download_if_missing`` is False.

    See Also
    --------
    load_dsprites : Read a file that is already on disk.
    make_dsprites : Render the same images without the file.

    Notes
    -----
    The official digest is the one TensorFlow Datasets publishes for this file.
    The download is written under a temporary name and renamed once verified; an
    interrupted download resumes where it stopped.

    Examples
    --------
    >>> from sklearn_dvae.datasets import fetch_dsprites
    >>> dataset = fetch_dsprites()  # doctest: +SKIP
    """
    folder = get_data_home(data_home) / "dsprites"
    if (folder / NPZ_FILENAME).is_file() and not (folder / HDF5_FILENAME).is_file():
        return load_dsprites(folder / NPZ_FILENAME, in_memory=in_memory)
    path = fetch_file(
        OFFICIAL_HDF5,
        folder,
        base_url=base_url,
        sha256=sha256,
        download_if_missing=download_if_missing,
        progress=progress,
        function="fetch_dsprites",
    )
    return load_dsprites(path, in_memory=in_memory)
