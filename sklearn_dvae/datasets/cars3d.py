"""Cars3D: read the official archive of MATLAB files, shrunk to 64x64 as in the study.

Cars3D (Reed, Zhang, Zhang and Lee, "Deep Visual Analogy-Making", NeurIPS 2015) renders
183 car models from 24 azimuths and 4 elevations: 17,568 RGB 128x128 images. The
official archive ``nips2015-analogy-data.tar.gz`` (http://www.scottreed.info) holds one
MATLAB file per car in ``data/cars/`` (``car_XXX_mesh.mat``, whose ``im`` array has shape
(128, 128, 3, 24, 4): height, width, channel, azimuth, elevation) and ``list.txt``
naming them in order. The study (disentanglement_lib's ``cars3d.py``) shrinks every
image to 64x64 with Pillow's LANCZOS filter and uses three factors: elevation (4),
azimuth (24) and object type (183).
"""

import io
import os
import tarfile
from pathlib import Path

import numpy as np
from sklearn.utils._param_validation import validate_params

from ._base import GroundTruthDataset, get_data_home
from ._download import FETCHER_PARAMETERS, OfficialFile, fetch_file
from ._resample import IMAGE_SIZE_CONSTRAINT, resize_lanczos

__all__ = ["fetch_cars3d", "load_cars3d"]

FACTOR_NAMES = ("elevation", "azimuth", "object_type")
N_ELEVATIONS = 4
N_AZIMUTHS = 24
N_OBJECTS = 183
NATIVE_SIZE = 128
ARCHIVE_NAME = "nips2015-analogy-data.tar.gz"
_SOURCE = "http://www.scottreed.info/files/nips2015-analogy-data.tar.gz"
# No SHA-256 of the archive is published (disentanglement_lib checks nothing; disent
# lists an MD5 only); fetch_cars3d takes one as a parameter.
OFFICIAL_FILE = OfficialFile(ARCHIVE_NAME, _SOURCE)
_IMAGE_SHAPE = (NATIVE_SIZE, NATIVE_SIZE, 3, N_AZIMUTHS, N_ELEVATIONS)


def _read_mat(source, name):
    """The ``im`` array of one car's MATLAB file, checked; ``name`` is shown in errors."""
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    try:
        content = loadmat(source, variable_names=["im"])
    except (MatReadError, ValueError, OSError, EOFError, TypeError) as error:
        raise ValueError(
            f"the Cars3D file {name!r} is truncated or corrupted and cannot be read as a "
            f"MATLAB file ({type(error).__name__}: {error}). Download the archive again "
            f"from {_SOURCE}."
        ) from None
    if "im" not in content:
        keys = sorted(key for key in content if not key.startswith("__"))
        raise ValueError(
            f"the Cars3D file {name!r} lacks the array 'im' (it holds {keys}); an official "
            "car file holds im of shape (128, 128, 3, 24, 4) and mask"
        )
    images = content["im"]
    if images.shape != _IMAGE_SHAPE or images.dtype != np.uint8:
        raise ValueError(
            f"the Cars3D file {name!r} has im of shape {images.shape} and dtype "
            f"{images.dtype}; the official shape is (128, 128, 3, 24, 4) (height, width, "
            "channel, azimuth, elevation), uint8"
        )
    return images


def _order(names, listing, where):
    """Car file stems in the order of ``list.txt`` when there is one, else sorted by name."""
    if listing is None:
        return sorted(names)
    listed = [line.strip() for line in listing.splitlines() if line.strip()]
    missing = [stem for stem in listed if stem not in names]
    if missing:
        raise ValueError(
            f"the Cars3D list.txt in {where} names {len(missing)} car files that are not "
            f"there: {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}"
        )
    return listed


def _cars_from_folder(folder):
    """Yield (name, im array) for the cars of an extracted archive's ``cars`` folder."""
    names = {path.stem for path in folder.glob("*.mat")}
    listing = folder / "list.txt"
    stems = _order(names, listing.read_text() if listing.is_file() else None, repr(str(folder)))
    for stem in stems:
        path = folder / f"{stem}.mat"
        yield str(path), _read_mat(str(path), str(path))


def _cars_from_archive(path):
    """Yield (name, im array) for the cars of the official ``.tar.gz`` archive."""
    try:
        with tarfile.open(path, "r:*") as archive:
            members = {}
            listing = None
            for member in archive:
                parts = member.name.split("/")
                if not member.isfile() or len(parts) < 2 or parts[-2] != "cars":
                    continue
                if parts[-1] == "list.txt":
                    listing = archive.extractfile(member).read().decode()
                elif parts[-1].endswith(".mat"):
                    content = archive.extractfile(member).read()
                    members[parts[-1][: -len(".mat")]] = (member.name, content)
    except (tarfile.TarError, OSError, EOFError) as error:
        raise ValueError(
            f"the Cars3D archive {str(path)!r} is truncated or corrupted and cannot be read "
            f"({type(error).__name__}: {error}). Download it again from {_SOURCE}."
        ) from None
    if not members:
        raise ValueError(
            f"the archive {str(path)!r} holds no cars/*.mat files; the official Cars3D "
            f"archive {ARCHIVE_NAME} holds data/cars/car_XXX_mesh.mat"
        )
    for stem in _order(set(members), listing, repr(str(path))):
        member_name, content = members[stem]
        yield f"{path}:{member_name}", _read_mat(io.BytesIO(content), f"{path}:{member_name}")


def _cars_folder(path):
    """The folder of car files under ``path`` (itself, ``cars`` or ``data/cars``), or None."""
    for candidate in (path, path / "cars", path / "data" / "cars"):
        if candidate.is_dir() and any(candidate.glob("*.mat")):
            return candidate
    return None


@validate_params(
    {
        "path": [str, os.PathLike],
        "image_size": IMAGE_SIZE_CONSTRAINT,
    },
    prefer_skip_nested_validation=True,
)
def load_cars3d(path, *, image_size=64):
    """Read the official Cars3D archive (or its extracted folder) as the study's dataset.

    Nothing is downloaded (`fetch_cars3d` downloads the archive). All images are
    read and shrunk into memory: 17,568 x 64 x 64 x 3 bytes = 216 MB.

    Parameters
    ----------
    path : str or path-like
        The archive ``nips2015-analogy-data.tar.gz`` from http://www.scottreed.info,
        a folder holding it, or the folder it was extracted into (holding
        ``data/cars``, ``cars`` or the car files themselves).
    image_size : int, default=64
        Side of the returned images: the study's 64 shrinks the 128x128 renderings
        with Pillow's LANCZOS filter (reproduced bit for bit without Pillow); 128
        keeps them as they are.

    Returns
    -------
    dataset : GroundTruthDataset
        A factor grid of uint8 RGB images of shape (n, image_size, image_size, 3),
        channels last; factors ``elevation`` (4), ``azimuth`` (24) and
        ``object_type`` (one class per car file: 183 in the official archive), in
        row-major order (object type fastest), as in disentanglement_lib.

    Raises
    ------
    FileNotFoundError
        If there is no archive or car file at ``path``.
    ValueError
        If the archive or a car file is truncated or corrupted, lacks the ``im``
        array, has another shape or dtype, or ``list.txt`` names missing files.

    See Also
    --------
    fetch_cars3d : Download the archive, then read it with this function.

    Notes
    -----
    Cars are numbered in the order of ``list.txt`` (sorted by file name when there
    is none). disentanglement_lib numbers them in the order its directory listing
    returns, which depends on the file system, so its object classes can be
    permuted with respect to these. The factor levels are class numbers: the
    archive does not give the angles.

    Examples
    --------
    A small archive in the official layout stands in for the real one here:

    >>> import io, os, tarfile, tempfile
    >>> import numpy as np
    >>> from scipy.io import savemat
    >>> from sklearn_dvae.datasets import load_cars3d
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = os.path.join(folder.name, "nips2015-analogy-data.tar.gz")
    >>> with tarfile.open(path, "w:gz") as archive:
    ...     for name in ("car_001_mesh", "car_002_mesh"):
    ...         content = io.BytesIO()
    ...         savemat(content, {"im": np.zeros((128, 128, 3, 24, 4), np.uint8)})
    ...         member = tarfile.TarInfo(f"data/cars/{name}.mat")
    ...         member.size = content.tell()
    ...         _ = content.seek(0)
    ...         archive.addfile(member, content)
    >>> dataset = load_cars3d(path)
    >>> dataset.images.shape, dataset.factor_sizes
    ((192, 64, 64, 3), (4, 24, 2))
    >>> folder.cleanup()
    """
    path = Path(path).expanduser()
    if path.is_dir() and (path / ARCHIVE_NAME).is_file() and _cars_folder(path) is None:
        path = path / ARCHIVE_NAME
    if path.is_file():
        cars = _cars_from_archive(path)
    elif path.is_dir() and (folder := _cars_folder(path)) is not None:
        cars = _cars_from_folder(folder)
    else:
        raise FileNotFoundError(
            f"no Cars3D archive or car files at {str(path)!r}: expected {ARCHIVE_NAME} (from "
            f"{_SOURCE}) or the folder it was extracted into. Pass its location as the `path` "
            "argument, or call fetch_cars3d() to download it."
        )
    per_car = []
    for _, images in cars:
        # (H, W, C, azimuth, elevation) -> (elevation, azimuth, H, W, C)
        views = np.ascontiguousarray(images.transpose(4, 3, 0, 1, 2))
        views = views.reshape(N_ELEVATIONS * N_AZIMUTHS, NATIVE_SIZE, NATIVE_SIZE, 3)
        if image_size != NATIVE_SIZE:
            views = resize_lanczos(views, image_size, image_size)
        per_car.append(views)
    # Row-major over (elevation, azimuth, object): the object varies fastest.
    images = np.stack(per_car, axis=1).reshape(-1, image_size, image_size, 3)
    return GroundTruthDataset(
        images,
        factor_names=FACTOR_NAMES,
        factor_sizes=(N_ELEVATIONS, N_AZIMUTHS, len(per_car)),
        name="Cars3D",
    )


@validate_params(
    {
        **FETCHER_PARAMETERS,
        "image_size": IMAGE_SIZE_CONSTRAINT,
    },
    prefer_skip_nested_validation=True,
)
def fetch_cars3d(
    *,
    data_home=None,
    download_if_missing=True,
    base_url=None,
    sha256=None,
    progress=True,
    image_size=64,
):
    """Download the official Cars3D archive (if needed) and read it with `load_cars3d`.

    The archive ``nips2015-analogy-data.tar.gz`` is downloaded into
    ``<data_home>/cars3d`` and read without being extracted. An archive already
    there is used as it is.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data folder; see `get_data_home` (environment variable
        ``SKLEARN_DVAE_DATA``, else ``~/.cache/sklearn_dvae``).
    download_if_missing : bool, default=True
        False raises FileNotFoundError instead of downloading a missing archive.
    base_url : str, default=None
        Where to download the archive from instead of http://www.scottreed.info/files
        (a mirror, or a local server): ``<base_url>/nips2015-analogy-data.tar.gz``.
        None uses the environment variable ``SKLEARN_DVAE_BASE_URL`` if set.
    sha256 : str, default=None
        SHA-256 digest to check the download against. No digest of the archive is
        published, so by default the download is not verified: a warning gives its
        digest, to pass here next time (the loader still checks every car file's
        layout).
    progress : bool, default=True
        Show a progress bar (tqdm) while downloading.
    image_size : int, default=64
        Passed to `load_cars3d`.

    Returns
    -------
    dataset : GroundTruthDataset
        The dataset `load_cars3d` reads from the archive.

    Raises
    ------
    OSError
        If the download fails (no network, an HTTP error, a transfer interrupted
        again and again, a checksum that does not match): the message names the
        URL and where to put the archive by hand.
    FileNotFoundError
        If the archive is missing and ``download_if_missing`` is False.

    See Also
    --------
    load_cars3d : Read an archive that is already on disk.

    Examples
    --------
    >>> from sklearn_dvae.datasets import fetch_cars3d
    >>> dataset = fetch_cars3d()  # doctest: +SKIP
    """
    folder = get_data_home(data_home) / "cars3d"
    path = fetch_file(
        OFFICIAL_FILE,
        folder,
        base_url=base_url,
        sha256=sha256,
        download_if_missing=download_if_missing,
        progress=progress,
        function="fetch_cars3d",
    )
    return load_cars3d(path, image_size=image_size)
