"""Writers of small files in the official dSprites and 3D Shapes formats, for loader tests."""

from pathlib import Path

import h5py
import numpy as np

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
