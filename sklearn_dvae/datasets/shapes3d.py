"""3D Shapes: read the official ``3dshapes.h5`` lazily, keeping its images uint8.

3D Shapes (Burgess and Kim, 2018, https://github.com/deepmind/3d-shapes) holds
480,000 RGB 64x64 images of an object in a room, one for every combination of six
factors. The file is 5.9 GB of uint8 images; other libraries load it as 24 GB of
float32. Here only the labels (23 MB) are read at load time and checked against the
specification; images are read from disk when rows are indexed.
"""

import numpy as np
from sklearn.utils._param_validation import validate_params

from ._base import GroundTruthDataset, get_data_home
from ._download import FETCHER_PARAMETERS, OfficialFile, fetch_file
from ._files import check_data_file, file_format
from ._lazy import H5RowReader, LazyImages

__all__ = ["fetch_shapes3d", "load_shapes3d"]

FACTOR_NAMES = ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
FACTOR_SIZES = (10, 10, 10, 8, 4, 15)
SHAPE_NAMES = ("cube", "cylinder", "sphere", "capsule")
IMAGE_SHAPE = (64, 64, 3)
N_IMAGES = 480_000
FILENAME = "3dshapes.h5"
_SOURCE = (
    "https://github.com/deepmind/3d-shapes (the Google Cloud Storage bucket "
    "gs://3d-shapes, https://storage.googleapis.com/3d-shapes/3dshapes.h5)"
)
# Size and SHA-256 as published in TensorFlow Datasets' checksums of this file
# (tensorflow_datasets/datasets/shapes3d/checksums.tsv).
OFFICIAL_FILE = OfficialFile(
    FILENAME,
    f"https://storage.googleapis.com/3d-shapes/{FILENAME}",
    sha256="0a0f6ed98baff276a50f3a081a7434d788da63cb135a98189b2a5b5769be1785",
    size=267_573_662,
)
# Labels are stored as float64 values; this is far below every factor's step.
_LABEL_TOLERANCE = 1e-5


def _official_levels():
    hues = np.linspace(0.0, 1.0, 10, endpoint=False)
    return (
        hues,
        hues.copy(),
        hues.copy(),
        np.linspace(0.75, 1.25, 8),
        np.arange(4, dtype=np.float64),
        np.linspace(-30.0, 30.0, 15),
    )


FACTOR_LEVELS = _official_levels()


def _corrupt_file_error(path, error):
    return ValueError(
        f"the 3D Shapes file {path!r} is truncated or corrupted and cannot be read "
        f"({type(error).__name__}: {error}). Download it again from {_SOURCE}."
    )


def _labels_to_classes(path, labels):
    """Map label values to class indices, rejecting values outside the specification."""
    classes = np.empty(labels.shape, dtype=np.int64)
    for k, levels in enumerate(FACTOR_LEVELS):
        column = labels[:, k]
        midpoints = (levels[1:] + levels[:-1]) / 2.0
        classes[:, k] = np.searchsorted(midpoints, column)
        error = np.abs(column - levels[classes[:, k]])
        bad = np.flatnonzero(~(error <= _LABEL_TOLERANCE))  # also catches NaN
        if bad.size:
            row = int(bad[0])
            raise ValueError(
                f"the 3D Shapes file {path!r} has the label {float(column[row])!r} for factor "
                f"{FACTOR_NAMES[k]!r} at row {row}, which is none of its values in the "
                f"specification ({np.round(levels, 4).tolist()}); {bad.size} rows disagree"
            )
    return classes


def load_shapes3d(path, *, in_memory=False):
    """Read the official 3D Shapes file as a dataset, leaving the images on disk.

    Nothing is downloaded (`fetch_shapes3d` downloads the file). The labels are
    read and checked against the specification; the images stay in the HDF5 file
    (a `LazyImages`) and are read when rows are indexed, as uint8. Scale them to
    [0, 1] per batch, never as a whole (the full set would take 24 GB as float32).

    Parameters
    ----------
    path : str, path-like or binary file object
        The file ``3dshapes.h5`` from https://github.com/deepmind/3d-shapes, or a
        folder holding it. A dataset read from a file object cannot be pickled.
    in_memory : bool, default=False
        Read all images into memory now (5.9 GB for the full file).

    Returns
    -------
    dataset : GroundTruthDataset
        Images of shape (n, 64, 64, 3), uint8, channels last; factors
        ``floor_hue`` (10 classes), ``wall_hue`` (10), ``object_hue`` (10),
        ``scale`` (8), ``shape`` (4: cube, cylinder, sphere, capsule) and
        ``orientation`` (15, in degrees). The full official file is a factor
        grid (row = 48000 floor + 4800 wall + 480 object + 60 scale + 15 shape +
        orientation); a file with other rows is a labelled set.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path`` (the message says where to get it).
    ValueError
        If the file is truncated or corrupted, lacks ``images`` or ``labels``, has
        other shapes or dtypes, or holds labels outside the specification.

    See Also
    --------
    GroundTruthDataset : The returned object.

    Notes
    -----
    Close the file with ``dataset.close()`` (or use the dataset in a ``with``
    block); it reopens when images are indexed again. A dataset loaded from a
    path can be pickled and sent to joblib workers, which reopen the file.

    Examples
    --------
    A small file in the official layout stands in for the real one here:

    >>> import os, tempfile
    >>> import h5py
    >>> import numpy as np
    >>> from sklearn_dvae.datasets import load_shapes3d
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = os.path.join(folder.name, "3dshapes.h5")
    >>> labels = np.array([[0.0, 0.1, 0.2, 0.75, 3.0, -30.0], [0.9, 0.9, 0.9, 1.25, 0.0, 30.0]])
    >>> with h5py.File(path, "w") as file:
    ...     file["images"] = np.zeros((2, 64, 64, 3), dtype=np.uint8)
    ...     file["labels"] = labels
    >>> with load_shapes3d(path) as dataset:
    ...     print(dataset.factor_classes.tolist(), dataset.images[1].shape)
    [[0, 1, 2, 0, 3, 0], [9, 9, 9, 7, 0, 14]] (64, 64, 3)
    >>> folder.cleanup()
    """
    path = check_data_file(
        path,
        dataset="3D Shapes",
        official_names=(FILENAME,),
        source=_SOURCE,
        function="load_shapes3d",
        fetcher="fetch_shapes3d",
    )
    shown = str(path) if not hasattr(path, "read") else repr(path)
    if file_format(path) != "hdf5":
        raise ValueError(
            f"{shown!r} is not an HDF5 file (by its first bytes); the official 3D Shapes "
            f"file is {FILENAME} from {_SOURCE}"
        )

    import h5py

    try:
        file = h5py.File(path, "r")
    except OSError as error:
        raise _corrupt_file_error(shown, error) from None
    try:
        missing = [
            key for key in ("images", "labels") if not isinstance(file.get(key), h5py.Dataset)
        ]
        if missing:
            present = []
            file.visit(present.append)
            raise ValueError(
                f"the 3D Shapes file {shown!r} lacks the datasets {missing} (it holds "
                f"{present}); the official file holds images and labels"
            )
        images, labels = file["images"], file["labels"]
        n = images.shape[0] if images.ndim else 0
        problems = []
        if images.ndim != 4 or tuple(images.shape[1:]) != IMAGE_SHAPE:
            problems.append(f"images has shape {images.shape}, expected (n, 64, 64, 3)")
        if images.dtype != np.uint8:
            problems.append(f"images has dtype {images.dtype}, expected uint8")
        if labels.shape != (n, len(FACTOR_NAMES)):
            problems.append(f"labels has shape {labels.shape}, expected ({n}, 6)")
        if labels.dtype.kind != "f":
            problems.append(f"labels has dtype {labels.dtype}, expected floats")
        if problems:
            raise ValueError(
                f"the 3D Shapes file {shown!r} does not have the official layout: "
                + "; ".join(problems)
            )
        try:
            classes = _labels_to_classes(shown, labels[()])
            if in_memory:
                images = images[()]
        except OSError as error:
            raise _corrupt_file_error(shown, error) from None
        if not in_memory:
            images = LazyImages(
                H5RowReader(path, "images", file=file),
                images.shape,
                images.dtype,
                f"HDF5 {shown}",
            )
    except BaseException:
        file.close()
        raise
    if in_memory:
        file.close()
    return GroundTruthDataset(
        images,
        classes,
        factor_names=FACTOR_NAMES,
        factor_levels=FACTOR_LEVELS,
        name="3D Shapes",
    )


@validate_params(
    {
        **FETCHER_PARAMETERS,
        "in_memory": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def fetch_shapes3d(
    *,
    data_home=None,
    download_if_missing=True,
    base_url=None,
    sha256=None,
    progress=True,
    in_memory=False,
):
    """Download the official 3D Shapes file (if needed) and read it with `load_shapes3d`.

    The official ``3dshapes.h5`` (268 MB of compressed HDF5 holding 5.9 GB of
    images) is downloaded into
    ``<data_home>/shapes3d`` and verified against its published SHA-256 digest. A
    file already there is used as it is.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data folder; see `get_data_home` (environment variable
        ``SKLEARN_DVAE_DATA``, else ``~/.cache/sklearn_dvae``).
    download_if_missing : bool, default=True
        False raises FileNotFoundError instead of downloading a missing file.
    base_url : str, default=None
        Where to download the file from instead of
        https://storage.googleapis.com/3d-shapes (a mirror, or a local server):
        ``<base_url>/3dshapes.h5``. None uses the environment variable
        ``SKLEARN_DVAE_BASE_URL`` if set.
    sha256 : str, default=None
        SHA-256 digest to check the download against, for another file than the
        official one; None checks the official digest.
    progress : bool, default=True
        Show a progress bar (tqdm) while downloading.
    in_memory : bool, default=False
        Passed to `load_shapes3d`.

    Returns
    -------
    dataset : GroundTruthDataset
        The dataset `load_shapes3d` reads from the file.

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
    load_shapes3d : Read a file that is already on disk.

    Notes
    -----
    The official digest is the one TensorFlow Datasets publishes for this file.
    The download is written under a temporary name and renamed once verified; an
    interrupted download resumes where it stopped.

    Examples
    --------
    >>> from sklearn_dvae.datasets import fetch_shapes3d
    >>> dataset = fetch_shapes3d()  # doctest: +SKIP
    """
    path = fetch_file(
        OFFICIAL_FILE,
        get_data_home(data_home) / "shapes3d",
        base_url=base_url,
        sha256=sha256,
        download_if_missing=download_if_missing,
        progress=progress,
        function="fetch_shapes3d",
    )
    return load_shapes3d(path, in_memory=in_memory)
