"""Loaders of the official dSprites and 3D Shapes files, on small files written here."""

import io
import pickle

import h5py
import numpy as np
import pytest
from official_formats import (
    SHAPES3D_SIZES,
    dsprites_values,
    shapes3d_values,
    write_dsprites_hdf5,
    write_dsprites_npz,
    write_shapes3d,
    write_shapes3d_full_grid,
)

from sklearn_dvae.datasets import LazyImages, load_dsprites, load_shapes3d, render_dsprites


def assert_same_dataset(first, second):
    assert first.factor_names == second.factor_names
    assert first.factor_sizes == second.factor_sizes
    assert first.is_grid == second.is_grid
    assert np.array_equal(first.factor_classes, second.factor_classes)
    assert np.array_equal(first.factor_values, second.factor_values)
    assert first.images.dtype == second.images.dtype == np.uint8
    assert np.array_equal(np.asarray(first.images), np.asarray(second.images))


# ---------------------------------------------------------------------- dSprites
def test_npz_and_hdf5_load_as_identical_datasets(tmp_path, dsprites_sample_classes):
    classes = dsprites_sample_classes
    from_npz = load_dsprites(write_dsprites_npz(tmp_path / "d.npz", classes))
    from_hdf5 = load_dsprites(write_dsprites_hdf5(tmp_path / "d.hdf5", classes))
    in_memory = load_dsprites(tmp_path / "d.hdf5", in_memory=True)
    assert isinstance(from_hdf5.images, LazyImages)
    assert isinstance(in_memory.images, np.ndarray)
    assert_same_dataset(from_npz, from_hdf5)
    assert_same_dataset(from_npz, in_memory)
    assert np.array_equal(from_npz.factor_classes, classes)
    assert np.array_equal(from_npz.images, render_dsprites(classes))
    assert from_npz.factor_names == ("color", "shape", "scale", "orientation", "posX", "posY")
    assert from_npz.factor_sizes == (1, 3, 6, 40, 32, 32)
    assert not from_npz.is_grid  # 300 rows, not the full grid
    assert from_npz.y_factor_names[0] == "shape"


def test_loaded_labelled_set_finds_rows_by_factors(tmp_path, dsprites_sample_classes):
    dataset = load_dsprites(write_dsprites_npz(tmp_path / "d.npz", dsprites_sample_classes))
    rows = [5, 17, 299]
    factors = dsprites_sample_classes[rows]
    assert np.array_equal(dataset.sample_observations_from_factors(factors), dataset.images[rows])
    drawn = dataset.sample_factors(100, random_state=0)
    # A labelled set draws combinations it holds, so each one has an image.
    assert np.array_equal(
        dataset.sample_observations_from_factors(drawn),
        dataset.images[dataset.factors_to_index(drawn)],
    )


def test_folder_holding_the_official_file_is_accepted(tmp_path, dsprites_sample_classes):
    name = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
    write_dsprites_npz(tmp_path / name, dsprites_sample_classes[:10])
    assert len(load_dsprites(tmp_path)) == 10


class _RunsCodeWhenUnpickled:
    """Unpickles into a call that writes a marker file: a stand-in for malicious code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('code ran')",)


def test_crafted_pickled_metadata_is_never_unpickled(tmp_path, dsprites_sample_classes):
    marker = tmp_path / "code_ran.txt"
    path = write_dsprites_npz(
        tmp_path / "crafted.npz",
        dsprites_sample_classes[:20],
        metadata=_RunsCodeWhenUnpickled(marker),
    )
    dataset = load_dsprites(path)
    assert not marker.exists()
    assert np.array_equal(dataset.factor_classes, dsprites_sample_classes[:20])
    # The file is live: unpickling its metadata does run the code.
    with np.load(path, allow_pickle=True) as archive:
        archive["metadata"]
    assert marker.read_text() == "code ran"


def test_missing_dsprites_file_says_what_where_and_which_argument(tmp_path):
    missing = tmp_path / "nowhere" / "dsprites.npz"
    with pytest.raises(FileNotFoundError) as error:
        load_dsprites(missing)
    message = str(error.value)
    assert str(missing) in message
    assert "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz" in message
    assert "https://github.com/deepmind/dsprites-dataset" in message
    assert "`path`" in message and "load_dsprites(path=" in message
    with pytest.raises(FileNotFoundError, match="no dSprites file in the folder"):
        load_dsprites(tmp_path)


def test_dsprites_npz_without_official_arrays_is_rejected(tmp_path, dsprites_sample_classes):
    path = write_dsprites_npz(tmp_path / "d.npz", dsprites_sample_classes[:5], latents_values=None)
    with pytest.raises(ValueError, match=r"lacks the arrays \['latents_values'\]"):
        load_dsprites(path)


def test_dsprites_hdf5_without_official_datasets_is_rejected(tmp_path):
    with h5py.File(tmp_path / "d.hdf5", "w") as file:
        file["imgs"] = np.zeros((2, 64, 64), dtype=np.uint8)
        file["labels"] = np.zeros((2, 6))
    with pytest.raises(ValueError, match=r"lacks the datasets.*latents/classes"):
        load_dsprites(tmp_path / "d.hdf5")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"imgs": np.zeros((5, 32, 32), np.uint8)}, r"imgs has shape \(5, 32, 32\)"),
        ({"imgs": np.zeros((5, 64, 64), np.float32)}, "imgs has dtype float32"),
        ({"latents_classes": np.zeros((5, 5), np.int64)}, r"latents_classes has shape \(5, 5\)"),
        ({"latents_values": np.zeros((4, 6))}, r"latents_values has shape \(4, 6\)"),
    ],
)
def test_dsprites_file_with_wrong_shapes_is_rejected(
    tmp_path, dsprites_sample_classes, overrides, message
):
    path = write_dsprites_npz(tmp_path / "d.npz", dsprites_sample_classes[:5], **overrides)
    with pytest.raises(ValueError, match=message):
        load_dsprites(path)


def test_dsprites_labels_outside_the_specification_are_rejected(tmp_path, dsprites_sample_classes):
    classes = dsprites_sample_classes[:5].copy()
    classes[2, 3] = 40
    values = dsprites_values(np.minimum(classes, [0, 2, 5, 39, 31, 31]))
    path = write_dsprites_npz(
        tmp_path / "d.npz",
        dsprites_sample_classes[:5],
        latents_classes=classes,
        latents_values=values,
    )
    expected = (
        r"latents_classes of the dSprites file .*'orientation' \(column 3\) has class 40 at row 2"
    )
    with pytest.raises(ValueError, match=expected):
        load_dsprites(path)
    values = dsprites_values(dsprites_sample_classes[:5])
    values[4, 2] += 0.05  # a scale between two official values
    path = write_dsprites_npz(
        tmp_path / "e.npz", dsprites_sample_classes[:5], latents_values=values
    )
    with pytest.raises(ValueError, match=r"latents_values .* for factor 'scale' at row 4"):
        load_dsprites(path)


def test_dsprites_npz_with_pickled_arrays_is_rejected_unread(tmp_path, dsprites_sample_classes):
    marker = tmp_path / "code_ran.txt"
    images = np.empty(2, dtype=object)
    images[0], images[1] = _RunsCodeWhenUnpickled(marker), None
    path = write_dsprites_npz(tmp_path / "d.npz", dsprites_sample_classes[:2], images=images)
    with pytest.raises(ValueError, match="stores 'imgs' as pickled Python objects"):
        load_dsprites(path)
    assert not marker.exists()


@pytest.mark.parametrize("suffix", ["npz", "hdf5"])
def test_truncated_dsprites_file_is_reported_as_truncated(
    tmp_path, dsprites_sample_classes, suffix
):
    writer = write_dsprites_npz if suffix == "npz" else write_dsprites_hdf5
    path = writer(tmp_path / f"d.{suffix}", dsprites_sample_classes)
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.truncate(size * 2 // 3)
    with pytest.raises(ValueError, match="truncated or corrupted"):
        load_dsprites(path)


def test_file_of_another_format_is_rejected(tmp_path):
    path = tmp_path / "dsprites.npz"
    path.write_text("not an archive")
    with pytest.raises(ValueError, match="neither an .npz archive nor an HDF5 file"):
        load_dsprites(path)
    with pytest.raises(ValueError, match="not an HDF5 file"):
        load_shapes3d(path)


# ---------------------------------------------------------------------- 3D Shapes
@pytest.fixture
def shapes3d_file(tmp_path):
    """600 rows of the 3D Shapes grid, in random order, with random images."""
    rng = np.random.default_rng(1)
    rows = rng.choice(480_000, size=600, replace=False)
    images = rng.integers(0, 256, size=(600, 64, 64, 3), dtype=np.uint8)
    return write_shapes3d(tmp_path / "3dshapes.h5", rows, images), rows, images


def test_shapes3d_loads_lazily_and_equals_the_in_memory_load(shapes3d_file):
    path, rows, images = shapes3d_file
    lazy = load_shapes3d(path)
    eager = load_shapes3d(path, in_memory=True)
    assert isinstance(lazy.images, LazyImages) and isinstance(eager.images, np.ndarray)
    assert_same_dataset(lazy, eager)
    assert np.array_equal(eager.images, images)
    assert lazy.images.shape == (600, 64, 64, 3) and lazy.images.dtype == np.uint8
    assert lazy.factor_names == (
        "floor_hue",
        "wall_hue",
        "object_hue",
        "scale",
        "shape",
        "orientation",
    )
    assert lazy.factor_sizes == SHAPES3D_SIZES
    assert np.array_equal(lazy.factor_classes, np.stack(np.unravel_index(rows, SHAPES3D_SIZES), 1))
    assert np.allclose(lazy.factor_values[:, 5], shapes3d_values(lazy.factor_classes)[:, 5])
    picked = [599, 3, 3, 250]
    assert np.array_equal(lazy.images[picked], images[picked])
    assert np.array_equal(lazy.images[10:14, :2, :2, 1], images[10:14, :2, :2, 1])
    assert np.array_equal(
        lazy.sample_observations_from_factors(lazy.factor_classes[[7]]), images[[7]]
    )
    lazy.close()


class _CountingFile(io.RawIOBase):
    """A read-only binary file that counts the bytes read through it."""

    def __init__(self, path):
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.bytes_read = 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def readinto(self, buffer):
        n = self._file.readinto(buffer)
        self.bytes_read += n or 0
        return n

    def seek(self, offset, whence=io.SEEK_SET):
        return self._file.seek(offset, whence)

    def tell(self):
        return self._file.tell()

    def close(self):
        self._file.close()
        super().close()


def test_shapes3d_lazy_access_reads_only_what_is_indexed(shapes3d_file):
    path, _, images = shapes3d_file
    file_size = path.stat().st_size
    counting = _CountingFile(path)
    dataset = load_shapes3d(counting)
    assert counting.bytes_read < 0.05 * file_size  # labels and metadata only
    before = counting.bytes_read
    assert np.array_equal(dataset.images[[5, 321, 17]], images[[5, 321, 17]])
    assert counting.bytes_read - before < 10 * images[0].nbytes
    # Reading everything does go through the same file (the count is real).
    assert np.array_equal(np.asarray(dataset.images), images)
    assert counting.bytes_read > images.nbytes
    dataset.close()
    counting.close()


def test_shapes3d_full_file_is_a_grid_with_the_official_index(tmp_path):
    rng = np.random.default_rng(2)
    written = {
        row: rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8) for row in (0, 12_345, 479_999)
    }
    path = write_shapes3d_full_grid(tmp_path / "3dshapes.h5", written)
    assert path.stat().st_size < 30_000_000  # the images were never all written
    with load_shapes3d(path) as dataset:
        assert dataset.is_grid and len(dataset) == 480_000
        some = np.stack([rng.integers(0, size, 100) for size in SHAPES3D_SIZES], axis=1)
        formula = some @ np.array([48000, 4800, 480, 60, 15, 1])
        assert np.array_equal(dataset.factors_to_index(some), formula)
        assert np.array_equal(dataset.index_to_factors(formula), some)
        factors = dataset.index_to_factors(list(written))
        observed = dataset.sample_observations_from_factors(factors)
        assert np.array_equal(observed, np.stack(list(written.values())))


def test_lazy_shapes3d_dataset_pickles_by_path(shapes3d_file):
    path, _, images = shapes3d_file
    dataset = load_shapes3d(path)
    subset = dataset[[10, 20, 30]]
    restored = pickle.loads(pickle.dumps(subset))
    assert np.array_equal(np.asarray(restored.images), images[[10, 20, 30]])
    restored.close()
    dataset.close()
    with open(path, "rb") as handle, pytest.raises(TypeError, match="file object"):
        pickle.dumps(load_shapes3d(handle))


def test_missing_shapes3d_file_says_what_where_and_which_argument(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        load_shapes3d(tmp_path / "3dshapes.h5")
    message = str(error.value)
    assert str(tmp_path / "3dshapes.h5") in message
    assert "3dshapes.h5" in message and "https://github.com/deepmind/3d-shapes" in message
    assert "load_shapes3d(path=" in message


def test_shapes3d_with_wrong_keys_or_shapes_is_rejected(tmp_path):
    with h5py.File(tmp_path / "keys.h5", "w") as file:
        file["images"] = np.zeros((2, 64, 64, 3), dtype=np.uint8)
        file["factors"] = np.zeros((2, 6))
    with pytest.raises(ValueError, match=r"lacks the datasets \['labels'\]"):
        load_shapes3d(tmp_path / "keys.h5")
    with h5py.File(tmp_path / "shapes.h5", "w") as file:
        file["images"] = np.zeros((2, 3, 64, 64), dtype=np.uint8)
        file["labels"] = np.zeros((3, 6))
    with pytest.raises(ValueError, match=r"images has shape \(2, 3, 64, 64\).*labels has shape"):
        load_shapes3d(tmp_path / "shapes.h5")


def test_shapes3d_labels_outside_the_specification_are_rejected(tmp_path):
    labels = shapes3d_values(np.array([[0, 0, 0, 0, 0, 0], [1, 2, 3, 4, 3, 14]]))
    labels[1, 3] = 0.8  # between two official scales
    with h5py.File(tmp_path / "3dshapes.h5", "w") as file:
        file["images"] = np.zeros((2, 64, 64, 3), dtype=np.uint8)
        file["labels"] = labels
    with pytest.raises(ValueError, match=r"label 0.8 for factor 'scale' at row 1"):
        load_shapes3d(tmp_path / "3dshapes.h5")


def test_truncated_shapes3d_file_is_reported_as_truncated(shapes3d_file):
    path = shapes3d_file[0]
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size // 2)
    with pytest.raises(ValueError, match="truncated or corrupted"):
        load_shapes3d(path)
