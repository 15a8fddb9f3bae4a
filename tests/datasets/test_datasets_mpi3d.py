"""MPI3D loader, on files of the official size written sparse (a few kB on disk)."""

import zipfile

import numpy as np
import pytest
from official_formats import sparse_files_supported, write_sparse_npz

from sklearn_dvae.datasets import load_mpi3d

FULL = (1_036_800, 64, 64, 3)
CHALLENGE = (460_800, 64, 64, 3)
NAMES = (
    "object_color",
    "object_shape",
    "object_size",
    "camera_height",
    "background_color",
    "horizontal_axis",
    "vertical_axis",
)


@pytest.fixture
def sparse_folder(tmp_path):
    if not sparse_files_supported(tmp_path):
        pytest.skip("this file system has no sparse files: an MPI3D file would take 12.7 GB")
    return tmp_path


def images_at(rows, seed=0):
    rng = np.random.default_rng(seed)
    return {row: rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8) for row in rows}


def test_official_file_is_memory_mapped_as_the_readme_grid(sparse_folder):
    written = images_at([0, 1, 499_999, 1_036_799])
    path = write_sparse_npz(sparse_folder / "mpi3d_real.npz", FULL, written)
    assert path.stat().st_blocks * 512 < 10_000_000  # the file was never written whole
    dataset = load_mpi3d(path)
    assert isinstance(dataset.images, np.memmap)
    assert "memory-mapped" in repr(dataset) and dataset.name == "MPI3D-real"
    assert dataset.is_grid and dataset.factor_names == NAMES
    assert dataset.factor_sizes == (6, 6, 2, 3, 3, 40, 40)
    # The README's index: colour * 172800 + shape * 28800 + size * 14400 + height * 4800
    # + background * 1600 + horizontal * 40 + vertical.
    factors = np.array([[5, 1, 0, 2, 1, 19, 39], [0, 0, 0, 0, 0, 0, 1]])
    readme = factors @ np.array([172_800, 28_800, 14_400, 4_800, 1_600, 40, 1])
    assert np.array_equal(dataset.factors_to_index(factors), readme)
    rows = list(written)
    observed = dataset.sample_observations_from_factors(dataset.index_to_factors(rows))
    assert np.array_equal(observed, np.stack(list(written.values())))
    assert not dataset.images[2].any()  # never written: a hole of the sparse file


def test_challenge_layout_has_four_colours_and_shapes(sparse_folder):
    written = images_at([460_799])
    dataset = load_mpi3d(write_sparse_npz(sparse_folder / "mpi3d_toy.npz", CHALLENGE, written))
    assert dataset.factor_sizes == (4, 4, 2, 3, 3, 40, 40)
    assert dataset.index_to_factors([460_799]).tolist() == [[3, 3, 1, 2, 2, 39, 39]]
    assert np.array_equal(dataset.images[460_799], written[460_799])


def test_folder_holding_one_file_is_accepted_several_are_ambiguous(sparse_folder):
    write_sparse_npz(sparse_folder / "mpi3d_toy.npz", CHALLENGE, {})
    assert load_mpi3d(sparse_folder).name == "MPI3D-toy"
    write_sparse_npz(sparse_folder / "mpi3d_realistic.npz", FULL, {})
    with pytest.raises(ValueError, match="holds several MPI3D files"):
        load_mpi3d(sparse_folder)


def test_truncated_file_is_reported_as_truncated(sparse_folder):
    # An interrupted copy: the end, with the archive's directory, is missing.
    path = write_sparse_npz(
        sparse_folder / "mpi3d_toy.npz", CHALLENGE, {}, truncate_to=3_000_000_000
    )
    with pytest.raises(ValueError, match="mpi3d_toy.npz' is truncated or corrupted"):
        load_mpi3d(path)


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed], ids=["stored", "deflated"])
def test_file_of_another_number_of_images_is_rejected(tmp_path, save):
    path = tmp_path / "mpi3d_toy.npz"
    save(path, images=np.zeros((10, 64, 64, 3), np.uint8))
    with pytest.raises(ValueError) as error:
        load_mpi3d(path)
    message = str(error.value)
    assert "holds 10 images" in message
    assert "1,036,800" in message and "460,800" in message


def test_images_of_another_shape_or_dtype_are_rejected(tmp_path):
    path = tmp_path / "mpi3d_toy.npz"
    np.savez(path, images=np.zeros((10, 64, 64), np.float32))
    with pytest.raises(ValueError, match=r"images of shape \(10, 64, 64\) and dtype float32"):
        load_mpi3d(path)


def test_archive_without_images_is_rejected(tmp_path):
    path = tmp_path / "mpi3d_toy.npz"
    np.savez(path, imgs=np.zeros((1, 64, 64, 3), np.uint8), labels=np.zeros(1))
    with pytest.raises(
        ValueError, match=r"lacks the array 'images' \(it holds \['imgs', 'labels'\]"
    ):
        load_mpi3d(path)


def test_damaged_archive_is_reported(tmp_path):
    path = tmp_path / "mpi3d_toy.npz"
    path.write_bytes(b"PK\x03\x04 not really a zip archive")
    with pytest.raises(ValueError, match="truncated or corrupted"):
        load_mpi3d(path)


def test_header_that_contradicts_the_member_size_is_rejected(sparse_folder):
    path = write_sparse_npz(sparse_folder / "mpi3d_toy.npz", CHALLENGE, {})
    with zipfile.ZipFile(path) as archive:
        header_offset = archive.getinfo("images.npy").header_offset
    # The .npy header announces the full layout in a member sized for the challenge's.
    with open(path, "r+b") as handle:
        start = header_offset + 30 + len("images.npy") + 20  # the local header's extra
        handle.seek(start)
        header = handle.read(128)
        forged = header.replace(b"(460800, 64, 64, 3), } ", b"(1036800, 64, 64, 3), }")
        assert forged != header and len(forged) == len(header)
        handle.seek(start)
        handle.write(forged)
    with pytest.raises(ValueError, match="stores images.npy in .* bytes, but its header"):
        load_mpi3d(path)


def test_missing_file_says_where_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        load_mpi3d(tmp_path / "mpi3d_toy.npz")
    assert "rr-learning/disentanglement_dataset" in str(error.value)
    assert "fetch_mpi3d()" in str(error.value)
    with pytest.raises(FileNotFoundError, match="no MPI3D file in the folder"):
        load_mpi3d(tmp_path)
