"""MPI3D (toy, realistic, real): read the official ``.npz`` files, memory-mapped.

MPI3D (Gondal et al., "On the Transfer of Inductive Bias from Simulation to the Real
World: a New Disentanglement Dataset", NeurIPS 2019,
https://github.com/rr-learning/disentanglement_dataset) photographs (``real``) or renders
(``realistic``, ``toy``) an object on a robot arm: RGB 64x64 images, one for every
combination of seven factors, in row-major order. Each official file is an ``.npz``
archive with a single array ``images``; the factors are implied by the row order.

The files hold 1,036,800 images (12.7 GB as uint8). An ``.npz`` member stored without
compression is memory-mapped in place, so loading takes no time and no memory; other
libraries read the whole array into memory, or refuse.
"""

import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
from sklearn.utils._param_validation import StrOptions, validate_params

from ._base import GroundTruthDataset, get_data_home
from ._download import FETCHER_PARAMETERS, OfficialFile, fetch_file

__all__ = ["fetch_mpi3d", "load_mpi3d"]

FACTOR_NAMES = (
    "object_color",
    "object_shape",
    "object_size",
    "camera_height",
    "background_color",
    "horizontal_axis",
    "vertical_axis",
)
# Row counts of the official layouts: the published files (6 colours x 6 shapes) and
# the NeurIPS 2019 challenge's files without the held-out colours and shapes (4 x 4,
# the layout disentanglement_lib expects for toy and realistic; mpi3d_real_complex
# shares it).
LAYOUTS = {
    1_036_800: (6, 6, 2, 3, 3, 40, 40),
    460_800: (4, 4, 2, 3, 3, 40, 40),
}
IMAGE_SHAPE = (64, 64, 3)
VARIANTS = ("toy", "realistic", "real")
_BASE_URL = "https://huggingface.co/datasets/waleedgondal/mpi3d/resolve/main/"
_SOURCE = "https://github.com/rr-learning/disentanglement_dataset"
# No SHA-256 of these files is published (disent lists MD5s of older copies at other
# URLs, and mpi3d_real.npz was replaced by a corrected file); fetch_mpi3d takes one as
# a parameter.
OFFICIAL_FILES = {
    variant: OfficialFile(f"mpi3d_{variant}.npz", f"{_BASE_URL}mpi3d_{variant}.npz")
    for variant in VARIANTS
}
_MEMBER = "images.npy"
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, ..., name length, extra length


def _corrupt_file_error(path, error):
    return ValueError(
        f"the MPI3D file {str(path)!r} is truncated or corrupted and cannot be read "
        f"({type(error).__name__}: {error}). Download it again from {_SOURCE}."
    )


def _memory_map_member(path, info):
    """Memory-map an uncompressed ``images.npy`` member where it lies in the archive."""
    with open(path, "rb") as handle:
        handle.seek(info.header_offset)
        signature, name_length, extra_length = _LOCAL_HEADER.unpack(
            handle.read(_LOCAL_HEADER.size)
        )
        if signature != b"PK\x03\x04":
            raise _corrupt_file_error(path, ValueError("bad local header of images.npy"))
        start = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
        handle.seek(start)
        try:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(handle)
            elif version == (2, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(handle)
            else:
                raise ValueError(f"unsupported .npy format version {version}")
        except ValueError as error:
            raise _corrupt_file_error(path, error) from None
        offset = handle.tell()
    _check_layout(path, shape, dtype, fortran_order)
    expected = offset - start + int(np.prod(shape)) * dtype.itemsize
    if info.file_size != expected:
        raise ValueError(
            f"the MPI3D file {str(path)!r} stores images.npy in {info.file_size} bytes, but "
            f"its header announces {shape} {dtype} ({expected} bytes): the file is damaged"
        )
    try:
        return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)
    except (ValueError, OSError) as error:  # shorter than the directory claims
        raise _corrupt_file_error(path, error) from None


def _check_layout(path, shape, dtype, fortran_order=False):
    if len(shape) != 4 or tuple(shape[1:]) != IMAGE_SHAPE or dtype != np.uint8 or fortran_order:
        raise ValueError(
            f"the MPI3D file {str(path)!r} has images of shape {tuple(shape)} and dtype "
            f"{dtype}{' (Fortran order)' if fortran_order else ''}; the official images "
            "are (n, 64, 64, 3) uint8 in C order"
        )
    if shape[0] not in LAYOUTS:
        raise ValueError(
            f"the MPI3D file {str(path)!r} holds {shape[0]:,} images; an official file holds "
            "1,036,800 (object_color 6 x object_shape 6 x object_size 2 x camera_height 3 x "
            "background_color 3 x horizontal_axis 40 x vertical_axis 40) or 460,800 (the "
            "same with 4 colours and 4 shapes), one per factor combination in row-major order"
        )


def _read_images(path, in_memory):
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise _corrupt_file_error(path, error) from None
    with archive:
        if _MEMBER not in archive.namelist():
            raise ValueError(
                f"the MPI3D file {str(path)!r} lacks the array 'images' (it holds "
                f"{sorted(name.removesuffix('.npy') for name in archive.namelist())}); the "
                "official files hold images only"
            )
        info = archive.getinfo(_MEMBER)
    if info.compress_type == zipfile.ZIP_STORED and not in_memory:
        return _memory_map_member(path, info)
    try:
        with np.load(path, allow_pickle=False) as content:
            images = content["images"]
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as error:
        raise _corrupt_file_error(path, error) from None
    _check_layout(path, images.shape, images.dtype)
    return images


def _resolve_path(path):
    path = Path(path).expanduser()
    if path.is_dir():
        found = [path / o.name for o in OFFICIAL_FILES.values() if (path / o.name).is_file()]
        if len(found) == 1:
            return found[0]
        names = ", ".join(o.name for o in OFFICIAL_FILES.values())
        if not found:
            raise FileNotFoundError(
                f"no MPI3D file in the folder {str(path)!r}: expected one of {names}. Get it "
                f"from {_SOURCE} and pass its location as the `path` argument, or call "
                "fetch_mpi3d() to download it."
            )
        several = ", ".join(found_path.name for found_path in found)
        raise ValueError(
            f"the folder {str(path)!r} holds several MPI3D files ({several}); pass the one to "
            "read as the `path` argument"
        )
    if not path.is_file():
        raise FileNotFoundError(
            f"MPI3D file not found: {str(path)!r}. Get mpi3d_toy.npz, mpi3d_realistic.npz or "
            f"mpi3d_real.npz from {_SOURCE} and pass its location as the `path` argument, or "
            "call fetch_mpi3d() to download it."
        )
    return path


@validate_params(
    {"path": [str, os.PathLike], "in_memory": ["boolean"]}, prefer_skip_nested_validation=True
)
def load_mpi3d(path, *, in_memory=False):
    """Read an official MPI3D file (toy, realistic or real) as a factor-grid dataset.

    Nothing is downloaded (`fetch_mpi3d` downloads the files). The images stay in
    the file, memory-mapped, when the archive stores them uncompressed (as
    ``numpy.savez`` does); a compressed archive is read into memory.

    Parameters
    ----------
    path : str or path-like
        ``mpi3d_toy.npz``, ``mpi3d_realistic.npz`` or ``mpi3d_real.npz`` from
        https://github.com/rr-learning/disentanglement_dataset, or a folder holding
        one of them.
    in_memory : bool, default=False
        Read all images into memory now (12.7 GB for an official file).

    Returns
    -------
    dataset : GroundTruthDataset
        A factor grid of uint8 RGB images of shape (n, 64, 64, 3), channels last;
        factors ``object_color`` (6: white, green, red, blue, brown, olive),
        ``object_shape`` (6: cone, cube, cylinder, hexagonal, pyramid, sphere),
        ``object_size`` (2: small, large), ``camera_height`` (3: top, center,
        bottom), ``background_color`` (3: purple, sea green, salmon),
        ``horizontal_axis`` (40) and ``vertical_axis`` (40). A file of 460,800 images
        (the NeurIPS 2019 challenge's, or mpi3d_real_complex) has 4 colours and 4
        shapes.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path`` (the message says where to get it).
    ValueError
        If the file is truncated or corrupted, lacks ``images``, or its images
        have another shape, dtype or number.

    See Also
    --------
    fetch_mpi3d : Download a file, then read it with this function.

    Notes
    -----
    Row ``r`` has the factor classes ``np.unravel_index(r, factor_sizes)``, as the
    dataset's README states. The factor levels are class numbers; the names above
    are those of the README.

    Examples
    --------
    A file that does not have an official number of images is refused with what
    an official file holds:

    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn_dvae.datasets import load_mpi3d
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = os.path.join(folder.name, "mpi3d_toy.npz")
    >>> np.savez(path, images=np.zeros((1, 64, 64, 3), np.uint8))  # too small
    >>> load_mpi3d(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: the MPI3D file '...mpi3d_toy.npz' holds 1 images; an official file holds ...
    >>> folder.cleanup()
    """
    path = _resolve_path(path)
    images = _read_images(path, in_memory)
    stem = path.name.removesuffix(".npz")
    name = f"MPI3D-{stem.removeprefix('mpi3d_')}" if stem.startswith("mpi3d_") else "MPI3D"
    return GroundTruthDataset(
        images, factor_names=FACTOR_NAMES, factor_sizes=LAYOUTS[len(images)], name=name
    )


@validate_params(
    {
        "variant": [StrOptions(set(VARIANTS))],
        **FETCHER_PARAMETERS,
        "in_memory": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def fetch_mpi3d(
    variant="toy",
    *,
    data_home=None,
    download_if_missing=True,
    base_url=None,
    sha256=None,
    progress=True,
    in_memory=False,
):
    """Download an official MPI3D file (if needed) and read it with `load_mpi3d`.

    The file ``mpi3d_<variant>.npz`` is downloaded into ``<data_home>/mpi3d`` from
    the location the dataset's README gives
    (https://huggingface.co/datasets/waleedgondal/mpi3d). Each file holds 12.7 GB of
    images. A file already there is used as it is.

    Parameters
    ----------
    variant : {"toy", "realistic", "real"}, default="toy"
        Simplistic renderings, realistic renderings or photographs.
    data_home : str or path-like, default=None
        Data folder; see `get_data_home` (environment variable
        ``SKLEARN_DVAE_DATA``, else ``~/.cache/sklearn_dvae``).
    download_if_missing : bool, default=True
        False raises FileNotFoundError instead of downloading a missing file.
    base_url : str, default=None
        Where to download the file from instead of the official location (a
        mirror, or a local server): ``<base_url>/mpi3d_<variant>.npz``. None uses
        the environment variable ``SKLEARN_DVAE_BASE_URL`` if set.
    sha256 : str, default=None
        SHA-256 digest to check the download against. No digest of these files is
        published, so by default the download is not verified: a warning gives its
        digest, to pass here next time (the loader still checks the file's layout).
    progress : bool, default=True
        Show a progress bar (tqdm) while downloading.
    in_memory : bool, default=False
        Passed to `load_mpi3d`.

    Returns
    -------
    dataset : GroundTruthDataset
        The dataset `load_mpi3d` reads from the file.

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
    load_mpi3d : Read a file that is already on disk.

    Examples
    --------
    >>> from sklearn_dvae.datasets import fetch_mpi3d
    >>> dataset = fetch_mpi3d("realistic")  # doctest: +SKIP
    """
    folder = get_data_home(data_home) / "mpi3d"
    path = fetch_file(
        OFFICIAL_FILES[variant],
        folder,
        base_url=base_url,
        sha256=sha256,
        download_if_missing=download_if_missing,
        progress=progress,
        function="fetch_mpi3d",
    )
    return load_mpi3d(path, in_memory=in_memory)
