"""Color-, Noisy- and Scream-dSprites: the study's dSprites variants, rendered on demand.

Locatello et al. (ICML 2019, "Challenging Common Assumptions in the Unsupervised
Learning of Disentangled Representations") add three variants of dSprites, defined in
disentanglement_lib's ``data/ground_truth/dsprites.py``. Each keeps the five dSprites
factors and adds a random *nuisance* drawn for every observation:

- Color-dSprites: the sprite takes a colour drawn uniformly from [0.5, 1]^3 (RGB), on
  a black background;
- Noisy-dSprites: the background is uniform noise in [0, 1], drawn for every pixel and
  channel; the sprite stays white;
- Scream-dSprites: the background is a random 64x64 patch of a picture (Munch's *The
  Scream* in the study), averaged with a random colour; the sprite's pixels invert it.

The binary sprites come from this package's dSprites renderer (pixel-exact against the
official frames). The full variants would take 9.1 GB each as uint8 RGB, so images are
rendered when rows are indexed. A row's nuisance is drawn from NumPy's Philox generator
keyed by the dataset's seed and the row's official dSprites index, so an image is the
same however often, in whatever order and in whichever subset it is read.
"""

import os

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import validate_params

from ._base import GroundTruthDataset
from ._lazy import LazyImages
from ._resample import resize_lanczos
from .dsprites import FACTOR_LEVELS, FACTOR_NAMES, FACTOR_SIZES, IMAGE_SIZE, _parse_subset
from .dsprites import _render_classes as _render_official_classes

__all__ = ["make_color_dsprites", "make_noisy_dsprites", "make_scream_dsprites"]

# Row-major strides of the official grid: a row's official index is classes @ strides.
_OFFICIAL_STRIDES = np.cumprod((1,) + FACTOR_SIZES[:0:-1])[::-1].astype(np.int64)
# disentanglement_lib fits the Scream picture into 350 x 274 pixels (width x height).
_PICTURE_BOX = (350, 274)
_VARIANT_NAMES = {
    "color": "Color-dSprites",
    "noisy": "Noisy-dSprites",
    "scream": "Scream-dSprites",
}


def _to_uint8(values):
    """[0, 1] floats to uint8, rounding half up (the reference keeps the floats)."""
    return np.floor(values * 255.0 + 0.5).astype(np.uint8)


def _generator(seed, official_index):
    return np.random.Generator(
        np.random.Philox(key=np.array([seed, official_index], dtype=np.uint64))
    )


class _VariantRenderer:
    """Renders factor classes of a variant: the binary sprite, then its row's nuisance.

    ``selection`` maps the dataset's classes of each dSprites factor to official ones
    (the colour factor, absent from the dataset, is class 0).
    """

    def __init__(self, variant, selection, seed, picture=None):
        self.variant = variant
        self.selection = tuple(np.asarray(chosen, dtype=np.int64) for chosen in selection)
        self.seed = int(seed)
        self.picture = picture

    def __call__(self, classes):
        classes = np.asarray(classes, dtype=np.int64).reshape(-1, len(FACTOR_NAMES) - 1)
        official = np.zeros((len(classes), len(FACTOR_NAMES)), dtype=np.int64)
        for k, chosen in enumerate(self.selection[1:], start=1):
            official[:, k] = chosen[classes[:, k - 1]]
        sprites = _render_official_classes(official)
        indices = official @ _OFFICIAL_STRIDES
        return getattr(self, f"_{self.variant}")(sprites, indices)

    def _color(self, sprites, indices):
        # Reference: observation * uniform(0.5, 1, 3) per observation.
        colours = np.array([_generator(self.seed, i).uniform(0.5, 1.0, 3) for i in indices])
        colours = _to_uint8(colours.reshape(len(indices), 3))
        return sprites[..., None] * colours[:, None, None, :]

    def _noisy(self, sprites, indices):
        # Reference: minimum(observation + uniform(0, 1, (64, 64, 3)), 1). float32 draws
        # are as uniform as float64 ones once rounded to 256 levels, and cheaper.
        noise = np.empty((len(indices), IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.float32)
        for row, i in enumerate(indices):
            _generator(self.seed, i).random(dtype=np.float32, out=noise[row])
        return np.where(sprites[..., None] == 1, np.uint8(255), _to_uint8(noise))

    def _scream(self, sprites, indices):
        # Reference: a patch at randint(0, H - 64), randint(0, W - 64), averaged with
        # uniform(0, 1, 3); the sprite's pixels become 1 - background.
        height, width = self.picture.shape[:2]
        corners = np.empty((len(indices), 2), dtype=np.int64)
        tints = np.empty((len(indices), 3))
        for row, i in enumerate(indices):
            generator = _generator(self.seed, i)
            corners[row] = (
                generator.integers(0, height - IMAGE_SIZE),
                generator.integers(0, width - IMAGE_SIZE),
            )
            tints[row] = generator.random(3)
        offsets = np.arange(IMAGE_SIZE)
        patches = self.picture[
            (corners[:, 0, None] + offsets)[:, :, None],
            (corners[:, 1, None] + offsets)[:, None, :],
        ]
        background = (patches / 255.0 + tints[:, None, None, :]) / 2.0
        background = np.where(sprites[..., None] == 1, 1.0 - background, background)
        return _to_uint8(background)


class _VariantGridReader:
    """Row reader of a variant's grid: rows -> the dataset's factor classes -> images."""

    def __init__(self, renderer, sizes):
        self.renderer = renderer
        self.sizes = np.asarray(sizes, dtype=np.int64)
        self.strides = np.cumprod(np.r_[1, self.sizes[:0:-1]])[::-1]

    def __call__(self, rows):
        classes = (np.asarray(rows, dtype=np.int64)[:, None] // self.strides) % self.sizes
        return self.renderer(classes)


def _seed(random_state):
    return int(check_random_state(random_state).randint(0, np.iinfo(np.int64).max))


def _selection(subset, variant):
    if subset is not None and hasattr(subset, "items") and "color" in subset:
        raise ValueError(
            f"subset names 'color', which is not a factor of {_VARIANT_NAMES[variant]}: its "
            f"nuisance is drawn per image. The factors are {', '.join(FACTOR_NAMES[1:])}"
        )
    return _parse_subset(subset)


def _make_variant(variant, subset, random_state, picture=None):
    selection = _selection(subset, variant)
    renderer = _VariantRenderer(variant, selection, _seed(random_state), picture)
    sizes = [len(chosen) for chosen in selection[1:]]
    n_rows = int(np.prod(sizes))
    images = LazyImages(
        _VariantGridReader(renderer, sizes),
        (n_rows, IMAGE_SIZE, IMAGE_SIZE, 3),
        np.uint8,
        "rendered on demand",
    )
    return GroundTruthDataset(
        images,
        factor_names=FACTOR_NAMES[1:],
        factor_levels=[
            levels[chosen] for levels, chosen in zip(FACTOR_LEVELS[1:], selection[1:], strict=True)
        ],
        name=_VARIANT_NAMES[variant],
        renderer=renderer,
    )


_COMMON_PARAMETERS = {"subset": [dict, None], "random_state": ["random_state"]}


@validate_params(_COMMON_PARAMETERS, prefer_skip_nested_validation=True)
def make_color_dsprites(*, subset=None, random_state=None):
    """Color-dSprites: dSprites whose sprite has a random colour, rendered on demand.

    Every image is a dSprites sprite (from the pixel-exact renderer of
    `make_dsprites`) coloured with an RGB colour drawn uniformly from [0.5, 1]^3 for
    that image, on a black background, as in disentanglement_lib's ``ColorDSprites``.

    Parameters
    ----------
    subset : dict of str to array-like of int, default=None
        Official class indices to keep for some factors, as in `make_dsprites`
        (``"color"`` is not a factor here).
    random_state : int, RandomState instance or None, default=None
        Seed of the colours: the same seed gives the same images.

    Returns
    -------
    dataset : GroundTruthDataset
        A factor grid of uint8 RGB images of shape (n, 64, 64, 3), rendered when
        rows are indexed (a `LazyImages`); factors ``shape`` (3), ``scale`` (6),
        ``orientation`` (40), ``posX`` (32) and ``posY`` (32), as in the study.

    See Also
    --------
    make_noisy_dsprites : The sprite on a background of noise.
    make_scream_dsprites : The sprite on patches of a picture.
    make_dsprites : The binary dSprites.

    Notes
    -----
    Differences from disentanglement_lib: (1) the colour belongs to the image, not
    to the call: it is drawn from NumPy's Philox generator keyed by the seed and the
    image's official dSprites index, so an image looks the same each time it is
    read, in any subset, and ``X`` is a fixed dataset as estimators expect, where the
    reference draws a new colour each time it samples an observation; (2) the draws
    are NumPy's, not the reference's ``RandomState`` sequence (same distribution,
    other numbers); (3) images are stored as uint8, ``round(255 * value)``, not as
    floats in [0, 1] (an error of at most 0.5 / 255).

    References
    ----------
    Locatello, Bauer, Lucic, Raetsch, Gelly, Schoelkopf and Bachem, "Challenging
    Common Assumptions in the Unsupervised Learning of Disentangled
    Representations", ICML 2019.

    Examples
    --------
    >>> from sklearn_dvae.datasets import make_color_dsprites
    >>> dataset = make_color_dsprites(random_state=0)
    >>> dataset.images.shape, dataset.factor_sizes
    ((737280, 64, 64, 3), (3, 6, 40, 32, 32))
    >>> image = dataset.images[1000]  # rendered now
    >>> bool((image.max(axis=(0, 1)) >= 127).all()), int(image.min())
    (True, 0)
    """
    return _make_variant("color", subset, random_state)


@validate_params(_COMMON_PARAMETERS, prefer_skip_nested_validation=True)
def make_noisy_dsprites(*, subset=None, random_state=None):
    """Noisy-dSprites: a white dSprites sprite on uniform noise, rendered on demand.

    Every image is a dSprites sprite (from the pixel-exact renderer of
    `make_dsprites`) in white, on a background whose pixels and channels are drawn
    uniformly from [0, 1] for that image, as in disentanglement_lib's
    ``NoisyDSprites`` (``minimum(sprite + noise, 1)``).

    Parameters
    ----------
    subset : dict of str to array-like of int, default=None
        Official class indices to keep for some factors, as in `make_dsprites`
        (``"color"`` is not a factor here).
    random_state : int, RandomState instance or None, default=None
        Seed of the noise: the same seed gives the same images.

    Returns
    -------
    dataset : GroundTruthDataset
        A factor grid of uint8 RGB images of shape (n, 64, 64, 3), rendered when
        rows are indexed (a `LazyImages`); factors ``shape`` (3), ``scale`` (6),
        ``orientation`` (40), ``posX`` (32) and ``posY`` (32), as in the study.

    See Also
    --------
    make_color_dsprites : The sprite in a random colour.
    make_scream_dsprites : The sprite on patches of a picture.

    Notes
    -----
    The differences from disentanglement_lib are those of `make_color_dsprites`:
    the noise belongs to the image (Philox keyed by the seed and the official
    index), NumPy's draws, uint8 storage.

    Examples
    --------
    >>> from sklearn_dvae.datasets import make_noisy_dsprites
    >>> dataset = make_noisy_dsprites(subset={"shape": [2]}, random_state=0)
    >>> len(dataset), dataset.factor_names
    (245760, ('shape', 'scale', 'orientation', 'posX', 'posY'))
    >>> images = dataset.images[[0, 0]]
    >>> bool((images[0] == images[1]).all()), bool(images[0].std() > 50)
    (True, True)
    """
    return _make_variant("noisy", subset, random_state)


def _read_picture(picture):
    """The picture as a uint8 (H, W, 3) array, fitted into 350 x 274 as the reference does."""
    shown = repr(picture) if not isinstance(picture, str | os.PathLike) else repr(str(picture))
    fitted_size = None
    if isinstance(picture, str | os.PathLike):
        if not os.path.isfile(picture):
            raise FileNotFoundError(
                f"the picture {shown} does not exist; Scream-dSprites uses Munch's The Scream "
                "(https://upload.wikimedia.org/wikipedia/commons/f/f4/The_Scream.jpg in "
                "disentanglement_lib), or any picture of at least 65 x 65 pixels"
            )
        if str(picture).lower().endswith(".npy"):
            array = np.load(picture, allow_pickle=False)
        else:
            try:
                from PIL import Image
            except ImportError:
                raise ImportError(
                    f"reading the picture {shown} needs Pillow (pip install pillow); "
                    "without it, pass the picture as a uint8 NumPy array or a .npy file"
                ) from None
            try:
                with Image.open(picture) as image:
                    fitted_size = _fitted_size(image.size[1], image.size[0])
                    # Pillow's thumbnail, which the reference calls, lets a JPEG decoder
                    # shrink the picture by a power of two first.
                    image.draft("RGB", (fitted_size[1], fitted_size[0]))
                    array = np.asarray(image.convert("RGB"))
            except OSError as error:
                raise ValueError(f"the picture {shown} cannot be read: {error}") from None
    else:
        array = np.asarray(picture)
    if array.dtype != np.uint8 or not (
        array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))
    ):
        raise ValueError(
            f"the picture {shown} must be a uint8 image of shape (H, W), (H, W, 3) or "
            f"(H, W, 4), got {array.dtype} of shape {array.shape}"
        )
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    array = array[:, :, :3]
    height, width = fitted_size or _fitted_size(*array.shape[:2])
    if (height, width) != array.shape[:2]:
        array = resize_lanczos(array[None], height, width)[0]
    if height <= IMAGE_SIZE or width <= IMAGE_SIZE:
        raise ValueError(
            f"the picture {shown} is {height} x {width} pixels once fitted into "
            f"{_PICTURE_BOX[0]} x {_PICTURE_BOX[1]} (width x height); 64 x 64 patches need "
            f"at least {IMAGE_SIZE + 1} pixels each way"
        )
    array = np.ascontiguousarray(array)
    array.flags.writeable = False
    return array


def _fitted_size(height, width):
    """Size (height, width) in 350 x 274 keeping the aspect, as Pillow 5's thumbnail."""
    box_width, box_height = _PICTURE_BOX
    if width > box_width:
        height, width = int(max(height * box_width / width, 1)), box_width
    if height > box_height:
        height, width = box_height, int(max(width * box_height / height, 1))
    return height, width


@validate_params(
    {"picture": [str, os.PathLike, "array-like"], **_COMMON_PARAMETERS},
    prefer_skip_nested_validation=True,
)
def make_scream_dsprites(picture, *, subset=None, random_state=None):
    """Scream-dSprites: a dSprites sprite inverting a patch of a picture, rendered on demand.

    Every image is a random 64x64 patch of ``picture`` averaged with a random colour;
    the pixels of the dSprites sprite (from the pixel-exact renderer of
    `make_dsprites`) show ``1 - background`` instead, as in disentanglement_lib's
    ``ScreamDSprites``. The study used Munch's *The Scream*
    (https://upload.wikimedia.org/wikipedia/commons/f/f4/The_Scream.jpg); nothing is
    downloaded.

    Parameters
    ----------
    picture : str, path-like or array-like of uint8
        The picture: an image file (read with Pillow, ``pip install pillow``), a
        ``.npy`` file, or an array of shape (H, W), (H, W, 3) or (H, W, 4) (alpha
        is dropped). Like the reference, it is shrunk to fit in 350 x 274 pixels
        (width x height), keeping its aspect; it must then be at least 65 x 65.
    subset : dict of str to array-like of int, default=None
        Official class indices to keep for some factors, as in `make_dsprites`
        (``"color"`` is not a factor here).
    random_state : int, RandomState instance or None, default=None
        Seed of the patches and colours: the same seed gives the same images.

    Returns
    -------
    dataset : GroundTruthDataset
        A factor grid of uint8 RGB images of shape (n, 64, 64, 3), rendered when
        rows are indexed (a `LazyImages`); factors ``shape`` (3), ``scale`` (6),
        ``orientation`` (40), ``posX`` (32) and ``posY`` (32), as in the study.

    Raises
    ------
    FileNotFoundError
        If ``picture`` names no file.
    ValueError
        If the picture cannot be read, is not uint8 or is too small.

    See Also
    --------
    make_color_dsprites : The sprite in a random colour.
    make_noisy_dsprites : The sprite on a background of noise.

    Notes
    -----
    For every image, as the reference: a patch whose top-left corner is drawn with
    ``integers(0, H - 64)`` and ``integers(0, W - 64)`` (so the last row and column
    of corners are never drawn, as with ``randint`` there), a colour ``c`` uniform
    in [0, 1]^3, the background ``(patch / 255 + c) / 2``, and the sprite's pixels
    set to ``1 - background``.

    The picture is fitted as Pillow 5's ``thumbnail`` did in the reference (width
    first, then height, sizes truncated) and shrunk with Pillow's LANCZOS filter,
    reproduced here bit for bit without Pillow; a JPEG file is first decoded at a
    reduced scale as ``thumbnail`` lets Pillow do, so backgrounds can differ from
    the reference's by the JPEG decoder's version. The other differences are those
    of `make_color_dsprites`: the nuisance belongs to the image (Philox keyed by
    the seed and the official index), NumPy's draws, uint8 storage.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae.datasets import make_scream_dsprites
    >>> rng = np.random.default_rng(0)
    >>> picture = rng.integers(0, 256, size=(120, 100, 3), dtype=np.uint8)
    >>> dataset = make_scream_dsprites(picture, random_state=0)
    >>> dataset.images[[5, 6]].shape
    (2, 64, 64, 3)
    """
    return _make_variant("scream", subset, random_state, _read_picture(picture))
