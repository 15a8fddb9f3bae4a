"""SmallNORB loader, on small files written here in the NORB binary matrix format."""

import pickle

import numpy as np
import pytest
from official_formats import NORB_HALVES, smallnorb_half, write_norb_matrix, write_smallnorb

from sklearn_dvae.datasets import LazyImages, load_smallnorb
from sklearn_dvae.datasets._resample import resize_lanczos


@pytest.fixture
def norb_halves():
    rng = np.random.default_rng(0)
    return [smallnorb_half(rng, 12, [4, 6, 7, 8, 9]), smallnorb_half(rng, 9, [0, 1, 2, 3, 5])]


@pytest.fixture
def norb_folder(tmp_path, norb_halves):
    return write_smallnorb(tmp_path, norb_halves)


def first_images(halves):
    return np.concatenate([dat[:, 0] for dat, _, _ in halves])


def test_both_halves_load_lazily_with_the_study_factors(norb_folder, norb_halves):
    dataset = load_smallnorb(norb_folder)
    assert isinstance(dataset.images, LazyImages)
    assert dataset.images.shape == (21, 64, 64) and dataset.images.dtype == np.uint8
    assert dataset.factor_names == ("category", "elevation", "azimuth", "lighting")
    assert dataset.factor_sizes == (5, 9, 18, 6)
    assert not dataset.is_grid
    cat = np.concatenate([half[1] for half in norb_halves])
    info = np.concatenate([half[2] for half in norb_halves])
    expected = np.column_stack([cat, info[:, 1], info[:, 2] // 2, info[:, 3]])
    assert np.array_equal(dataset.factor_classes, expected)
    assert np.array_equal(dataset.factor_values[:, 1], 30 + 5 * info[:, 1])  # degrees
    assert np.array_equal(dataset.factor_values[:, 2], 10 * info[:, 2])
    shrunk = resize_lanczos(first_images(norb_halves), 64, 64)
    assert np.array_equal(dataset.images[[20, 0, 13]], shrunk[[20, 0, 13]])
    assert np.array_equal(np.asarray(dataset.images), shrunk)


def test_in_memory_gzipped_and_native_size_reads_agree(tmp_path, norb_halves, norb_folder):
    lazy = load_smallnorb(norb_folder)
    eager = load_smallnorb(norb_folder, in_memory=True)
    assert isinstance(eager.images, np.ndarray)
    assert np.array_equal(eager.images, np.asarray(lazy.images))
    (tmp_path / "gz").mkdir()
    gzipped = load_smallnorb(write_smallnorb(tmp_path / "gz", norb_halves, gz=True))
    assert np.array_equal(np.asarray(gzipped.images), eager.images)
    assert np.array_equal(gzipped.factor_classes, eager.factor_classes)
    native = load_smallnorb(norb_folder, image_size=96)
    assert np.array_equal(np.asarray(native.images), first_images(norb_halves))


def test_shrinking_equals_pillow_lanczos(norb_folder, norb_halves):
    image_module = pytest.importorskip("PIL.Image")
    dataset = load_smallnorb(norb_folder)
    for row, image in enumerate(first_images(norb_halves)[:4]):
        pillow = image_module.fromarray(image).resize((64, 64), image_module.LANCZOS)
        assert np.array_equal(dataset.images[row], np.asarray(pillow))


def test_sampling_picks_an_instance_at_random(tmp_path):
    rng = np.random.default_rng(1)
    halves = [smallnorb_half(rng, 2, [4]), smallnorb_half(rng, 1, [0])]
    # The same category, elevation, azimuth and lighting for two instances.
    halves[0][1][:] = 3
    halves[1][1][:] = 3
    halves[0][2][:] = [[4, 2, 10, 1], [6, 2, 10, 1]]
    halves[1][2][:] = [[0, 2, 10, 1]]
    dataset = load_smallnorb(write_smallnorb(tmp_path, halves))
    drawn = dataset.sample_observations_from_factors(
        np.tile([[3, 2, 5, 1]], (60, 1)), random_state=0
    )
    images = np.asarray(dataset.images)
    seen = {row for row in range(3) for image in drawn if np.array_equal(image, images[row])}
    assert seen == {0, 1, 2}


def test_lazy_dataset_pickles_by_path(norb_folder):
    dataset = load_smallnorb(norb_folder)
    restored = pickle.loads(pickle.dumps(dataset[[3, 15]]))
    assert len(pickle.dumps(dataset)) < 50_000  # the images are not in the pickle
    assert np.array_equal(np.asarray(restored.images), dataset.images[[3, 15]])


def test_missing_files_are_named_with_where_to_get_them(tmp_path, norb_folder):
    (norb_folder / f"smallnorb-{NORB_HALVES[1]}-info.mat").unlink()
    with pytest.raises(FileNotFoundError) as error:
        load_smallnorb(norb_folder)
    message = str(error.value)
    assert f"smallnorb-{NORB_HALVES[1]}-info.mat" in message
    assert "https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/" in message
    assert "fetch_smallnorb()" in message
    with pytest.raises(FileNotFoundError, match="SmallNORB folder not found"):
        load_smallnorb(tmp_path / "nowhere")


def test_wrong_magic_number_is_named_with_the_file(norb_folder, norb_halves):
    path = norb_folder / f"smallnorb-{NORB_HALVES[0]}-cat.mat"
    write_norb_matrix(path, norb_halves[0][1], magic=0x12345678)
    with pytest.raises(ValueError, match=r"cat.mat' starts with the magic number 0x12345678"):
        load_smallnorb(norb_folder)
    write_norb_matrix(path, norb_halves[0][1].astype(np.uint8))  # a byte matrix
    with pytest.raises(ValueError, match=r"cat.mat' has the magic number 0x1e3d4c55 \(uint8\)"):
        load_smallnorb(norb_folder)


@pytest.mark.parametrize("kind", ["dat", "info"])
def test_truncated_file_is_reported_as_truncated(norb_folder, kind):
    path = norb_folder / f"smallnorb-{NORB_HALVES[1]}-{kind}.mat"
    content = path.read_bytes()
    path.write_bytes(content[: len(content) - 100])
    with pytest.raises(ValueError, match=rf"{kind}.mat' is truncated: its header announces"):
        load_smallnorb(norb_folder)
    path.write_bytes(content[:10])
    with pytest.raises(ValueError, match="shorter than a binary matrix header"):
        load_smallnorb(norb_folder)


def test_corrupted_gzip_file_is_reported(tmp_path, norb_halves):
    write_smallnorb(tmp_path, norb_halves, gz=True)
    path = tmp_path / f"smallnorb-{NORB_HALVES[0]}-dat.mat.gz"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(ValueError, match="dat.mat.gz' is truncated or corrupted"):
        load_smallnorb(tmp_path)


def test_trailing_bytes_are_rejected(norb_folder):
    path = norb_folder / f"smallnorb-{NORB_HALVES[0]}-info.mat"
    path.write_bytes(path.read_bytes() + b"\0" * 8)
    with pytest.raises(ValueError, match="holds 8 bytes after"):
        load_smallnorb(norb_folder)


def test_wrong_shapes_are_named(norb_folder, norb_halves):
    dat, cat, info = norb_halves[0]
    write_norb_matrix(norb_folder / f"smallnorb-{NORB_HALVES[0]}-dat.mat", dat[:, 0])
    write_norb_matrix(norb_folder / f"smallnorb-{NORB_HALVES[0]}-info.mat", info[:5])
    with pytest.raises(ValueError) as error:
        load_smallnorb(norb_folder)
    message = str(error.value)
    assert "dat.mat has shape (12, 96, 96), expected (n, 2, 96, 96)" in message
    assert "info.mat has shape (5, 4), expected (12, 4)" in message


@pytest.mark.parametrize(
    ("kind", "row", "column", "value", "message"),
    [
        ("cat", 3, None, 5, "has the category 5 at row 3; categories are 0..4"),
        ("info", 2, 2, 7, r"has the azimuth 7 at row 2 \(column 2\); its values are 0, 2, "),
        ("info", 4, 3, 6, r"has the lighting 6 at row 4 \(column 3\); its values are 0..5"),
    ],
)
def test_labels_outside_the_specification_are_rejected(
    norb_folder, norb_halves, kind, row, column, value, message
):
    _, cat, info = norb_halves[1]
    labels = (cat if kind == "cat" else info).copy()
    if column is None:
        labels[row] = value
    else:
        labels[row, column] = value
    write_norb_matrix(norb_folder / f"smallnorb-{NORB_HALVES[1]}-{kind}.mat", labels)
    with pytest.raises(ValueError, match=message):
        load_smallnorb(norb_folder)
