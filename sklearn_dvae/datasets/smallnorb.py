"""SmallNORB: read the official binary matrix files, shrinking the images on demand.

SmallNORB (LeCun, Huang and Bottou, CVPR 2004,
https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/) photographs 50 toys (5 categories of
10 instances) at 9 elevations, 18 azimuths and 6 lightings: 48,600 stereo pairs of
96x96 grey images, split into a training and a testing half of 24,300 pairs that hold
different instances. The study (Locatello et al. 2019, disentanglement_lib's
``norb.py``) uses both halves, the first image of each pair shrunk to 64x64 with
Pillow's LANCZOS filter, and four factors: category, elevation, azimuth and lighting.
The instance is not a factor: sampling an observation picks one of the 10 instances
at random.

Each half is three files in the "binary matrix" format of the NORB page: a 4-byte
magic number giving the element type, the number of dimensions, at least three
dimension sizes, then the little-endian elements, last dimension fastest.
"""

import gzip
import os
from pathlib import Path

import numpy as np
from sklearn.utils._param_validation import validate_params

from ._base import GroundTruthDataset, get_data_home
from ._download import FETCHER_PARAMETERS, OfficialFile, fetch_file
from ._lazy import LazyImages
from ._resample import IMAGE_SIZE_CONSTRAINT, resize_lanczos

__all__ = ["fetch_smallnorb", "load_smallnorb"]

FACTOR_NAMES = ("category", "elevation", "azimuth", "lighting")
FACTOR_SIZES = (5, 9, 18, 6)
CATEGORY_NAMES = ("four-legged animal", "human figure", "airplane", "truck", "car")
FACTOR_LEVELS = (
    np.arange(5, dtype=np.float64),
    np.arange(30.0, 71.0, 5.0),  # degrees above the horizontal
    np.arange(0.0, 341.0, 20.0),  # degrees
    np.arange(6, dtype=np.float64),
)
NATIVE_SIZE = 96
N_INSTANCES = 10
CHUNKS = ("5x46789x9x18x6x2x96x96-training", "5x01235x9x18x6x2x96x96-testing")
_KINDS = ("dat", "cat", "info")
_SOURCE = "https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/"

_MAGIC = {
    0x1E3D4C55: np.dtype(np.uint8),
    0x1E3D4C54: np.dtype("<i4"),
    0x1E3D4C56: np.dtype("<i2"),
    0x1E3D4C51: np.dtype("<f4"),
    0x1E3D4C53: np.dtype("<f8"),
}
_EXPECTED_MAGIC = {"dat": 0x1E3D4C55, "cat": 0x1E3D4C54, "info": 0x1E3D4C54}
# info columns: instance 0..9, elevation 0..8, azimuth 0, 2, ..., 34, lighting 0..5.
_INFO_COLUMNS = ("instance", "elevation", "azimuth", "lighting")
_INFO_LIMITS = (10, 9, 35, 6)

# Sizes and SHA-256 digests of the gzipped files, as published in TensorFlow Datasets'
# checksums (tensorflow_datasets/datasets/smallnorb/checksums.tsv).
_PUBLISHED = {
    f"smallnorb-{CHUNKS[0]}-dat.mat.gz": (
        131_896_188,
        "5ffd6272a07d32695ee1082a26a41a93a37aab8c28da047f8c34ed348d214873",
    ),
    f"smallnorb-{CHUNKS[0]}-cat.mat.gz": (
        348,
        "2784e542c1922060691090952b6cd6278879a216c90f81476f0f00256d42cdaa",
    ),
    f"smallnorb-{CHUNKS[0]}-info.mat.gz": (
        71_052,
        "de7eb932ebe7a4ee16217fead60660d0eb3d23632c2f4d1c51f88c501c17bf32",
    ),
    f"smallnorb-{CHUNKS[1]}-dat.mat.gz": (
        130_799_817,
        "cf7104eed3e51174d2f65b66d1e5878b9da233b886f161b0d88f4510ba2c7474",
    ),
    f"smallnorb-{CHUNKS[1]}-cat.mat.gz": (
        347,
        "ecaf6d5bb8c3bc5eab9cf0258f6d2198dd474e016e374836fc097f2e5ff509ff",
    ),
    f"smallnorb-{CHUNKS[1]}-info.mat.gz": (
        10_428,
        "16adf314226327ee006d1a44db8cfef52773c06c829951d5653a9f6f310248a2",
    ),
}
OFFICIAL_FILES = tuple(
    OfficialFile(name, _SOURCE + name, sha256, size) for name, (size, sha256) in _PUBLISHED.items()
)


def _file_name(chunk, kind):
    return f"smallnorb-{chunk}-{kind}.mat"


# ---------------------------------------------------------------------- binary matrices
def _header(path, head, size):
    """Parse a binary matrix header: (dtype, shape, data offset), or raise naming the file."""
    if len(head) < 20:
        raise ValueError(
            f"the SmallNORB file {str(path)!r} is truncated: {len(head)} bytes, shorter "
            "than a binary matrix header"
        )
    magic, ndim = (int(value) for value in np.frombuffer(head[:8], dtype="<i4"))
    if magic not in _MAGIC:
        raise ValueError(
            f"the SmallNORB file {str(path)!r} starts with the magic number {magic:#010x}, "
            "which is none of the binary matrix format's (0x1e3d4c51 float, 0x1e3d4c53 "
            "double, 0x1e3d4c54 int, 0x1e3d4c55 byte, 0x1e3d4c56 short): it is not a "
            "NORB .mat file (a gzipped one must end in .gz)"
        )
    if not 0 < ndim <= 8:
        raise ValueError(
            f"the SmallNORB file {str(path)!r} declares {ndim} dimensions; the format "
            "allows 1 to 8"
        )
    n_stored = max(3, ndim)
    offset = 8 + 4 * n_stored
    if len(head) < offset:
        raise ValueError(f"the SmallNORB file {str(path)!r} is truncated inside its header")
    shape = tuple(int(d) for d in np.frombuffer(head[8:offset], dtype="<i4")[:ndim])
    dtype = _MAGIC[magic]
    expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if min(shape) < 0 or size < expected:
        raise ValueError(
            f"the SmallNORB file {str(path)!r} is truncated: its header announces "
            f"{shape} {dtype} elements ({expected} bytes with the header) but it holds "
            f"{size} bytes"
        )
    if size > expected:
        raise ValueError(
            f"the SmallNORB file {str(path)!r} holds {size - expected} bytes after the "
            f"{shape} {dtype} elements its header announces"
        )
    return magic, dtype, shape, offset


def _read_matrix(path, kind, lazy):
    """Read one binary matrix file (``.mat`` or ``.mat.gz``); memory-map it when ``lazy``."""
    gzipped = path.name.endswith(".gz")
    try:
        if gzipped:
            with gzip.open(path, "rb") as handle:
                content = handle.read()
            head, size = content[:64], len(content)
        else:
            with open(path, "rb") as handle:
                head = handle.read(64)
            size = path.stat().st_size
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise ValueError(
            f"the SmallNORB file {str(path)!r} is truncated or corrupted and cannot be read "
            f"({type(error).__name__}: {error}). Download it again from {_SOURCE}."
        ) from None
    magic, dtype, shape, offset = _header(path, head, size)
    if magic != _EXPECTED_MAGIC[kind]:
        raise ValueError(
            f"the SmallNORB file {str(path)!r} has the magic number {magic:#010x} "
            f"({dtype}); a {kind} file has {_EXPECTED_MAGIC[kind]:#010x} "
            f"({_MAGIC[_EXPECTED_MAGIC[kind]]})"
        )
    if gzipped:
        return np.frombuffer(content, dtype=dtype, offset=offset).reshape(shape)
    if lazy:
        return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)
    return np.fromfile(path, dtype=dtype, offset=offset).reshape(shape)


def _check_chunk(chunk, paths, images, categories, info):
    n = images.shape[0] if images.ndim else 0
    problems = []
    if images.ndim != 4 or images.shape[1:] != (2, NATIVE_SIZE, NATIVE_SIZE):
        problems.append(f"{paths['dat'].name} has shape {images.shape}, expected (n, 2, 96, 96)")
    if categories.shape not in ((n,), (n, 1, 1)):
        problems.append(f"{paths['cat'].name} has shape {categories.shape}, expected ({n},)")
    if info.shape != (n, 4):
        problems.append(f"{paths['info'].name} has shape {info.shape}, expected ({n}, 4)")
    if problems:
        raise ValueError(
            f"the SmallNORB files of {chunk} in {str(paths['dat'].parent)!r} do not have the "
            "official layout: " + "; ".join(problems)
        )
    categories = categories.reshape(n)
    bad = np.flatnonzero((categories < 0) | (categories >= FACTOR_SIZES[0]))
    if bad.size:
        raise ValueError(
            f"the SmallNORB file {str(paths['cat'])!r} has the category {int(categories[bad[0]])} "
            f"at row {int(bad[0])}; categories are 0..4"
        )
    for column, (name, limit) in enumerate(zip(_INFO_COLUMNS, _INFO_LIMITS, strict=True)):
        values = info[:, column]
        wrong = (values < 0) | (values >= limit)
        if name == "azimuth":
            wrong |= values % 2 != 0
        bad = np.flatnonzero(wrong)
        if bad.size:
            allowed = "0, 2, ..., 34" if name == "azimuth" else f"0..{limit - 1}"
            raise ValueError(
                f"the SmallNORB file {str(paths['info'])!r} has the {name} "
                f"{int(values[bad[0]])} at row {int(bad[0])} (column {column}); its values "
                f"are {allowed}"
            )
    return categories


def _chunk_paths(folder, chunk):
    paths = {}
    for kind in _KINDS:
        plain = folder / _file_name(chunk, kind)
        packed = folder / (_file_name(chunk, kind) + ".gz")
        if plain.is_file():
            paths[kind] = plain
        elif packed.is_file():
            paths[kind] = packed
    return paths


class _NorbImageReader:
    """Rows of both halves' images (the first of each stereo pair), resized on reading.

    Memory-mapped files are reopened by path after pickling.
    """

    def __init__(self, sources, image_size):
        # sources: per half, the path of its dat file (memory-mapped when first read) or
        # an in-memory array of its first images, (n, 96, 96).
        self.sources = sources
        self.image_size = image_size
        self.boundaries = None
        self._arrays = None

    def _images(self):
        if self._arrays is None:
            arrays = []
            for source in self.sources:
                if isinstance(source, np.ndarray):
                    arrays.append(source)
                else:
                    arrays.append(_read_matrix(Path(source), "dat", lazy=True)[:, 0])
            self._arrays = arrays
            self.boundaries = np.cumsum([0] + [len(array) for array in arrays])
        return self._arrays

    def __call__(self, rows):
        arrays = self._images()
        rows = np.asarray(rows, dtype=np.int64)
        half = np.searchsorted(self.boundaries, rows, side="right") - 1
        out = np.empty((len(rows), NATIVE_SIZE, NATIVE_SIZE), dtype=np.uint8)
        for k, array in enumerate(arrays):
            chosen = np.flatnonzero(half == k)
            if chosen.size:
                local = rows[chosen] - self.boundaries[k]
                order = np.argsort(local, kind="stable")  # sequential reads from disk
                out[chosen[order]] = array[local[order]]
        if self.image_size != NATIVE_SIZE:
            out = resize_lanczos(out, self.image_size, self.image_size)
        return out

    def __getstate__(self):
        return {"sources": self.sources, "image_size": self.image_size}

    def __setstate__(self, state):
        self.__init__(state["sources"], state["image_size"])


@validate_params(
    {
        "path": [str, os.PathLike],
        "image_size": IMAGE_SIZE_CONSTRAINT,
        "in_memory": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_smallnorb(path, *, image_size=64, in_memory=False):
    """Read the official SmallNORB files as the study's dataset (64x64, four factors).

    Nothing is downloaded (`fetch_smallnorb` downloads the files). Both halves
    (training and testing) are read, as in the study: six files in the binary
    matrix format of the NORB page, plain (``.mat``) or gzipped (``.mat.gz``).

    Parameters
    ----------
    path : str or path-like
        Folder holding ``smallnorb-5x46789x9x18x6x2x96x96-training-{dat,cat,info}.mat``
        and ``smallnorb-5x01235x9x18x6x2x96x96-testing-{dat,cat,info}.mat`` (each may
        instead be the ``.mat.gz`` file as published).
    image_size : int, default=64
        Side of the returned images: the study's 64 shrinks the 96x96 photographs
        with Pillow's LANCZOS filter (reproduced bit for bit without Pillow); 96
        keeps them as they are.
    in_memory : bool, default=False
        Read and shrink all images now (48,600 x 64 x 64 bytes = 199 MB). By default
        plain ``.mat`` image files stay on disk (memory-mapped) and rows are read and
        shrunk when indexed; gzipped files are always decompressed into memory
        (448 MB per half: decompress them once, or let `fetch_smallnorb` do it).

    Returns
    -------
    dataset : GroundTruthDataset
        A labelled set of uint8 grey images of shape (n, image_size, image_size):
        the first image of each stereo pair, training half first, in file order.
        Factors ``category`` (5: four-legged animal, human figure, airplane, truck,
        car), ``elevation`` (9: 30 to 70 degrees), ``azimuth`` (18: 0 to 340
        degrees) and ``lighting`` (6). Each combination appears once per instance
        (10 times in the official files), so sampling an observation from factors
        picks an instance uniformly at random, as the study does.

    Raises
    ------
    FileNotFoundError
        If a file is missing (the message says which, and where to get it).
    ValueError
        If a file has a wrong magic number or shape, is truncated or corrupted, or
        holds labels outside the specification.

    See Also
    --------
    fetch_smallnorb : Download the files, then read them with this function.

    Notes
    -----
    Azimuths are stored as 0, 2, ..., 34 and become classes 0..17 (steps of 20
    degrees), as in disentanglement_lib. The second image of each stereo pair is
    not used.

    Examples
    --------
    Small files in the official format stand in for the real ones here:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from sklearn_dvae.datasets import load_smallnorb
    >>> def write(path, magic, array):
    ...     dims = list(array.shape) + [1] * (3 - array.ndim)
    ...     header = np.array([magic, array.ndim] + dims, dtype="<i4").tobytes()
    ...     path.write_bytes(header + array.tobytes())
    >>> folder = tempfile.TemporaryDirectory()
    >>> for half in ("5x46789x9x18x6x2x96x96-training", "5x01235x9x18x6x2x96x96-testing"):
    ...     name = Path(folder.name) / f"smallnorb-{half}"
    ...     write(Path(f"{name}-dat.mat"), 0x1E3D4C55, np.zeros((2, 2, 96, 96), np.uint8))
    ...     write(Path(f"{name}-cat.mat"), 0x1E3D4C54, np.array([0, 4], "<i4"))
    ...     info = np.array([[4, 0, 0, 0], [6, 8, 34, 5]], "<i4")
    ...     write(Path(f"{name}-info.mat"), 0x1E3D4C54, info)
    >>> dataset = load_smallnorb(folder.name)
    >>> dataset.images.shape, dataset.factor_classes[1].tolist()
    ((4, 64, 64), [4, 8, 17, 5])
    >>> folder.cleanup()
    """
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(
            f"SmallNORB folder not found: {str(folder)!r}. Pass the folder holding the six "
            f"smallnorb-*.mat files from {_SOURCE} (or call fetch_smallnorb() to download "
            "them)."
        )
    sources, tables = [], []
    for chunk in CHUNKS:
        paths = _chunk_paths(folder, chunk)
        missing = [_file_name(chunk, kind) for kind in _KINDS if kind not in paths]
        if missing:
            raise FileNotFoundError(
                f"SmallNORB files missing in {str(folder)!r}: {', '.join(missing)} (plain or "
                f".gz). Get them from {_SOURCE}, or call fetch_smallnorb() to download them."
            )
        images = _read_matrix(paths["dat"], "dat", lazy=not in_memory)
        categories = _read_matrix(paths["cat"], "cat", lazy=False)
        info = _read_matrix(paths["info"], "info", lazy=False)
        categories = _check_chunk(chunk, paths, images, categories, info)
        tables.append(np.column_stack([categories, info[:, 1], info[:, 2] // 2, info[:, 3]]))
        if isinstance(images, np.memmap):
            sources.append(str(paths["dat"]))
        else:
            sources.append(np.ascontiguousarray(images[:, 0]))
        del images
    classes = np.concatenate(tables).astype(np.int64)
    reader = _NorbImageReader(sources, image_size)
    shape = (len(classes), image_size, image_size)
    images = LazyImages(reader, shape, np.uint8, f"SmallNORB files in {folder}")
    if in_memory:
        images = np.asarray(images)
    return GroundTruthDataset(
        images,
        classes,
        factor_names=FACTOR_NAMES,
        factor_levels=FACTOR_LEVELS,
        name="SmallNORB",
    )


@validate_params(
    {
        **FETCHER_PARAMETERS,
        "sha256": [dict, None],
        "image_size": IMAGE_SIZE_CONSTRAINT,
        "in_memory": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def fetch_smallnorb(
    *,
    data_home=None,
    download_if_missing=True,
    base_url=None,
    sha256=None,
    progress=True,
    image_size=64,
    in_memory=False,
):
    """Download the official SmallNORB files (if needed) and read them with `load_smallnorb`.

    The six gzipped files (263 MB in all) are downloaded into
    ``<data_home>/smallnorb``, each verified against its published SHA-256 digest,
    then decompressed (to 897 MB) so that the images can be memory-mapped; the
    ``.gz`` files are deleted once decompressed. Files already there are used as
    they are.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data folder; see `get_data_home` (environment variable
        ``SKLEARN_DVAE_DATA``, else ``~/.cache/sklearn_dvae``).
    download_if_missing : bool, default=True
        False raises FileNotFoundError instead of downloading a missing file.
    base_url : str, default=None
        Where to download the files from instead of the official
        https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/ (a mirror, or a local
        server): each file is fetched from ``<base_url>/<file name>``. None uses the
        environment variable ``SKLEARN_DVAE_BASE_URL`` if set.
    sha256 : dict of str to str, default=None
        SHA-256 digests by file name (``smallnorb-...-dat.mat.gz``), replacing the
        official ones for the files it names; None checks the official digests.
    progress : bool, default=True
        Show a progress bar (tqdm) while downloading.
    image_size : int, default=64
        Passed to `load_smallnorb`.
    in_memory : bool, default=False
        Passed to `load_smallnorb`.

    Returns
    -------
    dataset : GroundTruthDataset
        The dataset `load_smallnorb` reads from ``<data_home>/smallnorb``.

    Raises
    ------
    OSError
        If a download fails (no network, an HTTP error, a transfer interrupted
        again and again, a checksum that does not match): the message names the
        URL and where to put the file by hand.
    FileNotFoundError
        If a file is missing and ``download_if_missing`` is False.

    See Also
    --------
    load_smallnorb : Read files that are already on disk.

    Notes
    -----
    The official digests are those published in TensorFlow Datasets' checksums of
    SmallNORB. Downloads are written under a temporary name and renamed once
    verified; an interrupted download resumes where it stopped.

    Examples
    --------
    >>> from sklearn_dvae.datasets import fetch_smallnorb
    >>> dataset = fetch_smallnorb()  # doctest: +SKIP
    """
    folder = get_data_home(data_home) / "smallnorb"
    for official in OFFICIAL_FILES:
        plain = folder / official.name.removesuffix(".gz")
        if plain.is_file():
            continue
        packed = fetch_file(
            official,
            folder,
            base_url=base_url,
            sha256=sha256,
            download_if_missing=download_if_missing,
            progress=progress,
            function="fetch_smallnorb",
        )
        _gunzip(packed, plain)
    return load_smallnorb(folder, image_size=image_size, in_memory=in_memory)


def _gunzip(packed, plain):
    """Decompress ``packed`` into ``plain`` through a temporary name, then delete ``packed``."""
    partial = plain.with_name(plain.name + ".part")
    try:
        with gzip.open(packed, "rb") as source, open(partial, "wb") as target:
            while block := source.read(1 << 20):
                target.write(block)
        os.replace(partial, plain)
    except (OSError, EOFError) as error:
        partial.unlink(missing_ok=True)
        raise ValueError(
            f"the downloaded file {str(packed)!r} cannot be decompressed ({error}); delete it "
            "and download it again"
        ) from None
    packed.unlink()
