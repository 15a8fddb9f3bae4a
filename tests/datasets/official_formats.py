"""Writers of small files in the official dataset formats, for loader and fetcher tests."""

import gzip
import io
import struct
import tarfile
from pathlib import Path

import h5py
import numpy as np
from scipy.io import savemat

from sklearn_dvae.datasets import render_dsprites

REFERENCE_FRAMES = (
    Path(__file__).resolve().parents[2]
    / ".."
    / "shared"
    / "data"
    / "dsprites_reference_frames.npz"
)
DSPRITES_SIZES = (1, 3, 6, 40, 32, 32)
SHAPES3D_SIZES = (10, 10, 10, 8, 4, 15)


def dsprites_values(classes):
    """Official latents_values of official latents_classes."""
    levels = (
        np.array([1.0]),
        np.array([1.0, 2.0, 3.0]),
        np.linspace(0.5, 1, 6),
        np.linspace(0, 2 * np.pi, 40),
        np.linspace(0, 1, 32),
        np.linspace(0, 1, 32),
    )
    return np.stack([levels[k][classes[:, k]] for k in range(6)], axis=1)


def shapes3d_values(classes):
    """Official 3D Shapes labels of factor classes."""
    hues = np.linspace(0, 1, 10, endpoint=False)
    levels = (
        hues,
        hues,
        hues,
        np.linspace(0.75, 1.25, 8),
        np.arange(4.0),
        np.linspace(-30, 30, 15),
    )
    return np.stack([levels[k][classes[:, k]] for k in range(6)], axis=1)


def official_metadata():
    """A dict shaped like the official npz's pickled metadata entry."""
    return {
        "date": "April 2017",
        "description": "Disentanglement test Sprites dataset.",
        "version": 1,
        "latents_names": ("color", "shape", "scale", "orientation", "posX", "posY"),
        "latents_sizes": np.array(DSPRITES_SIZES),
        "author": "test writer",
        "title": "dSprites dataset",
    }


def write_dsprites_npz(path, classes, images=None, metadata=None, **overrides):
    """Write an official-format dSprites .npz (compressed, pickled metadata entry)."""
    arrays = {
        "imgs": render_dsprites(classes) if images is None else images,
        "latents_classes": classes,
        "latents_values": dsprites_values(classes),
        "metadata": np.array(official_metadata() if metadata is None else metadata, dtype=object),
    }
    arrays.update(overrides)
    arrays = {key: value for key, value in arrays.items() if value is not None}
    np.savez_compressed(path, **arrays)
    return path


def write_dsprites_hdf5(path, classes, images=None):
    """Write an official-format dSprites .hdf5 (imgs, latents/classes, latents/values)."""
    with h5py.File(path, "w") as file:
        file["imgs"] = render_dsprites(classes) if images is None else images
        file["latents/classes"] = classes
        file["latents/values"] = dsprites_values(classes)
    return path


def write_shapes3d(path, rows, images):
    """Write a 3dshapes.h5-style file whose rows are the given grid row numbers."""
    classes = np.stack(np.unravel_index(rows, SHAPES3D_SIZES), axis=1)
    with h5py.File(path, "w") as file:
        file["images"] = images
        file["labels"] = shapes3d_values(classes)
    return path


def write_shapes3d_full_grid(path, written):
    """Write a file with all 480,000 official labels but images only in ``written``.

    ``written`` maps row numbers to images. The images dataset is chunked one image
    per chunk, so unwritten rows take no space: the file stays a few MB.
    """
    classes = np.stack(np.unravel_index(np.arange(480_000), SHAPES3D_SIZES), axis=1)
    with h5py.File(path, "w") as file:
        images = file.create_dataset(
            "images", shape=(480_000, 64, 64, 3), dtype=np.uint8, chunks=(1, 64, 64, 3)
        )
        for row, image in written.items():
            images[row] = image
        file.create_dataset("labels", data=shapes3d_values(classes), compression="gzip")
    return path


# ---------------------------------------------------------------------- SmallNORB
NORB_MAGIC = {"uint8": 0x1E3D4C55, "int32": 0x1E3D4C54}
NORB_HALVES = ("5x46789x9x18x6x2x96x96-training", "5x01235x9x18x6x2x96x96-testing")


def write_norb_matrix(path, array, magic=None, n_dims_stored=None):
    """Write ``array`` in the NORB binary matrix format (optionally gzipped if ``.gz``)."""
    array = np.asarray(array)
    magic = NORB_MAGIC[str(array.dtype).lstrip("<")] if magic is None else magic
    dims = list(array.shape) + [1] * (max(3, array.ndim) - array.ndim)
    if n_dims_stored is not None:
        dims = dims[:n_dims_stored]
    header = np.array([magic, array.ndim, *dims], dtype="<i4").tobytes()
    content = header + np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()
    if str(path).endswith(".gz"):
        content = gzip.compress(content, compresslevel=1)
    Path(path).write_bytes(content)
    return path


def smallnorb_half(rng, n, instances):
    """Random images and labels of one half: dat (n, 2, 96, 96), cat (n,), info (n, 4)."""
    dat = rng.integers(0, 256, size=(n, 2, 96, 96), dtype=np.uint8)
    cat = rng.integers(0, 5, size=n).astype("<i4")
    info = np.stack(
        [
            rng.choice(instances, size=n),
            rng.integers(0, 9, size=n),
            2 * rng.integers(0, 18, size=n),
            rng.integers(0, 6, size=n),
        ],
        axis=1,
    ).astype("<i4")
    return dat, cat, info


def write_smallnorb(folder, halves, gz=False):
    """Write the six files of both halves ((dat, cat, info) each) into ``folder``."""
    suffix = ".mat.gz" if gz else ".mat"
    for name, (dat, cat, info) in zip(NORB_HALVES, halves, strict=True):
        write_norb_matrix(folder / f"smallnorb-{name}-dat{suffix}", dat)
        write_norb_matrix(folder / f"smallnorb-{name}-cat{suffix}", cat)
        write_norb_matrix(folder / f"smallnorb-{name}-info{suffix}", info)
    return folder


# ---------------------------------------------------------------------- Cars3D
def cars3d_images(rng, n_cars):
    """Random ``im`` arrays of ``n_cars`` cars: (128, 128, 3, 24, 4) uint8 each.

    Blocks of 4 x 4 equal pixels: sharp edges for the resizing, and files that
    compress fast.
    """
    blocks = rng.integers(0, 256, size=(n_cars, 32, 32, 3, 24, 4), dtype=np.uint8)
    return list(np.repeat(np.repeat(blocks, 4, axis=1), 4, axis=2))


def _car_file(images):
    content = io.BytesIO()
    savemat(content, {"im": images, "mask": np.zeros((128, 128, 24, 4), np.uint8)})
    return content.getvalue()


def write_cars3d_folder(folder, cars, listing=None):
    """Write an extracted archive: ``data/cars/<name>.mat`` and ``list.txt``."""
    cars_folder = folder / "data" / "cars"
    cars_folder.mkdir(parents=True)
    for name, images in cars.items():
        (cars_folder / f"{name}.mat").write_bytes(_car_file(images))
    if listing is not None:
        (cars_folder / "list.txt").write_text("".join(f"{name}\n" for name in listing))
    return folder


def write_cars3d_archive(path, cars, listing=None):
    """Write ``nips2015-analogy-data.tar.gz``: data/cars/*.mat, list.txt and another folder."""

    def add(archive, name, content):
        member = tarfile.TarInfo(name)
        member.size = len(content)
        archive.addfile(member, io.BytesIO(content))

    with tarfile.open(path, "w:gz", compresslevel=1) as archive:
        add(archive, "data/sprites/readme.txt", b"not a car")
        if listing is not None:
            add(archive, "data/cars/list.txt", "".join(f"{n}\n" for n in listing).encode())
        for name, images in cars.items():
            add(archive, f"data/cars/{name}.mat", _car_file(images))
    return path


# ---------------------------------------------------------------------- MPI3D
def sparse_files_supported(folder):
    """Whether ``folder`` stores unwritten regions of a file without allocating them."""
    probe = Path(folder) / "sparse_probe"
    with open(probe, "wb") as handle:
        handle.seek(64 << 20)
        handle.write(b"\0")
    supported = probe.stat().st_blocks * 512 < (1 << 20)
    probe.unlink()
    return supported


def write_sparse_npz(path, shape, written, *, truncate_to=None):
    """Write an ``.npz`` holding one uncompressed ``images.npy`` member of ``shape``.

    This is the layout ``numpy.savez`` writes (a ZIP64 archive whose member is stored,
    not deflated), but only the rows in ``written`` (row -> image) are written: the
    rest of the member is a hole of the sparse file, read back as zeros. The CRC of the
    member is not computed (readers that memory-map the member never check it).
    """
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "|u1", "fortran_order": False, "shape": tuple(shape)}
    )
    header = header.getvalue()
    row_bytes = int(np.prod(shape[1:]))
    member_size = len(header) + shape[0] * row_bytes
    name = b"images.npy"
    local_extra = struct.pack("<HHQQ", 0x0001, 16, member_size, member_size)
    local = struct.pack(
        "<4sHHHHHIIIHH", b"PK\x03\x04", 45, 0, 0, 0, 0x21, 0, 0xFFFFFFFF, 0xFFFFFFFF,
        len(name), len(local_extra),
    )  # fmt: skip
    data_start = len(local) + len(name) + len(local_extra)
    with open(path, "wb") as handle:
        handle.write(local + name + local_extra + header)
        for row, image in written.items():
            handle.seek(data_start + len(header) + row * row_bytes)
            handle.write(np.ascontiguousarray(image, dtype=np.uint8).tobytes())
        directory_start = data_start + member_size
        handle.seek(directory_start)
        central_extra = struct.pack("<HHQQQ", 0x0001, 24, member_size, member_size, 0)
        central = struct.pack(
            "<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 45, 45, 0, 0, 0, 0x21, 0, 0xFFFFFFFF,
            0xFFFFFFFF, len(name), len(central_extra), 0, 0, 0, 0, 0xFFFFFFFF,
        ) + name + central_extra  # fmt: skip
        handle.write(central)
        end64_start = directory_start + len(central)
        handle.write(
            struct.pack(
                "<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, 1, 1, len(central),
                directory_start,
            )
        )  # fmt: skip
        handle.write(struct.pack("<4sIQI", b"PK\x06\x07", 0, end64_start, 1))
        handle.write(
            struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central), 0xFFFFFFFF, 0)
        )
        if truncate_to is not None:
            handle.truncate(truncate_to)
    return path
