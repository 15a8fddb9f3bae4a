"""Shared checks for the official data files: existence, format sniffing, clear errors."""

import os
from pathlib import Path

__all__ = ["check_data_file", "file_format"]

_NPZ_MAGIC = b"PK\x03\x04"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def check_data_file(path, *, dataset, official_names, source, function, fetcher):
    """Return ``path`` as a Path to an existing file, or raise a helpful error.

    A folder is searched for the official file names. The error for a missing file
    says which file is missing, where users get it, which argument to pass, and which
    fetcher downloads it (loaders never download).
    """
    if not isinstance(path, str | os.PathLike):
        return path  # an open file object, checked when read
    path = Path(path).expanduser()
    if path.is_dir():
        for official_name in official_names:
            if (path / official_name).is_file():
                return path / official_name
        raise FileNotFoundError(
            f"no {dataset} file in the folder {str(path)!r}: expected "
            f"{' or '.join(official_names)}. Get it from {source} and pass its location "
            f"as the `path` argument: {function}(path='/data/{official_names[0]}'), or "
            f"call {fetcher}() to download it."
        )
    if not path.is_file():
        raise FileNotFoundError(
            f"{dataset} file not found: {str(path)!r}. Get "
            f"{' or '.join(official_names)} from {source} and pass its location as the "
            f"`path` argument: {function}(path='/data/{official_names[0]}'), or call "
            f"{fetcher}() to download it."
        )
    return path


def file_format(path):
    """Return ``"npz"``, ``"hdf5"`` or None from the first bytes of a file or file object."""
    if isinstance(path, str | os.PathLike):
        with open(path, "rb") as handle:
            head = handle.read(8)
    else:
        position = path.tell()
        head = path.read(8)
        path.seek(position)
    if head.startswith(_NPZ_MAGIC):
        return "npz"
    if head.startswith(_HDF5_MAGIC):
        return "hdf5"
    return None
