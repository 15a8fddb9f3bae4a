"""Cars3D loader, on small archives and folders written here in the official layout."""

import io

import numpy as np
import pytest
from official_formats import cars3d_images, write_cars3d_archive, write_cars3d_folder
from scipy.io import savemat

from sklearn_dvae.datasets import load_cars3d
from sklearn_dvae.datasets._resample import resize_lanczos

ARCHIVE = "nips2015-analogy-data.tar.gz"


@pytest.fixture(scope="module")
def cars():
    rng = np.random.default_rng(0)
    return dict(zip(["car_001_mesh", "car_007_mesh"], cars3d_images(rng, 2), strict=True))


def test_archive_is_a_row_major_grid_of_elevation_azimuth_and_car(tmp_path, cars):
    # list.txt orders the cars: here against the order of their names.
    listing = ["car_007_mesh", "car_001_mesh"]
    dataset = load_cars3d(write_cars3d_archive(tmp_path / ARCHIVE, cars, listing))
    assert dataset.is_grid and dataset.name == "Cars3D"
    assert dataset.factor_names == ("elevation", "azimuth", "object_type")
    assert dataset.factor_sizes == (4, 24, 2)
    assert dataset.images.shape == (192, 64, 64, 3) and dataset.images.dtype == np.uint8
    for elevation, azimuth, car in [(0, 0, 0), (3, 23, 1), (2, 5, 0), (1, 17, 1)]:
        row = elevation * 24 * 2 + azimuth * 2 + car
        native = cars[listing[car]][:, :, :, azimuth, elevation]
        assert np.array_equal(dataset.images[row], resize_lanczos(native[None], 64, 64)[0])
        assert dataset.factors_to_index([[elevation, azimuth, car]]).tolist() == [row]


def test_extracted_folder_and_archive_give_the_same_dataset(tmp_path, cars):
    from_archive = load_cars3d(write_cars3d_archive(tmp_path / ARCHIVE, cars))
    folder = write_cars3d_folder(tmp_path / "extracted", cars)
    assert np.array_equal(load_cars3d(folder).images, from_archive.images)
    native = load_cars3d(tmp_path, image_size=128).images  # the folder holding the archive
    for path in (folder / "data", folder / "data" / "cars"):
        assert np.array_equal(load_cars3d(path, image_size=128).images, native)


def test_native_size_keeps_the_renderings(tmp_path, cars):
    dataset = load_cars3d(write_cars3d_folder(tmp_path, cars), image_size=128)
    assert np.array_equal(dataset.images[1], cars["car_007_mesh"][:, :, :, 0, 0])


def test_shrinking_equals_pillow_lanczos(tmp_path, cars):
    image_module = pytest.importorskip("PIL.Image")
    dataset = load_cars3d(write_cars3d_folder(tmp_path, cars))
    native = cars["car_001_mesh"][:, :, :, 4, 2]
    pillow = image_module.fromarray(native).resize((64, 64), image_module.LANCZOS)
    assert np.array_equal(dataset.images[2 * 24 * 2 + 4 * 2], np.asarray(pillow))


def test_missing_archive_says_where_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        load_cars3d(tmp_path)
    message = str(error.value)
    assert ARCHIVE in message and "http://www.scottreed.info" in message
    assert "fetch_cars3d()" in message


def test_car_file_without_im_is_named(tmp_path, cars):
    folder = write_cars3d_folder(tmp_path, cars)
    savemat(folder / "data" / "cars" / "car_007_mesh.mat", {"images": np.zeros(3)})
    with pytest.raises(ValueError, match=r"car_007_mesh.mat' lacks the array 'im' \(it holds"):
        load_cars3d(folder)


def test_car_file_of_another_shape_is_named(tmp_path, cars):
    folder = write_cars3d_folder(tmp_path, cars)
    savemat(folder / "data" / "cars" / "car_001_mesh.mat", {"im": np.zeros((64, 64, 3, 24, 4))})
    with pytest.raises(
        ValueError, match=r"car_001_mesh.mat' has im of shape \(64, 64, 3, 24, 4\)"
    ):
        load_cars3d(folder)


def test_damaged_car_file_is_reported(tmp_path, cars):
    folder = write_cars3d_folder(tmp_path, cars)
    path = folder / "data" / "cars" / "car_001_mesh.mat"
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(ValueError, match="car_001_mesh.mat' is truncated or corrupted"):
        load_cars3d(folder)


def test_truncated_archive_is_reported(tmp_path, cars):
    path = write_cars3d_archive(tmp_path / ARCHIVE, cars)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match="archive .* is truncated or corrupted"):
        load_cars3d(path)


def test_archive_without_cars_is_rejected(tmp_path):
    import tarfile

    path = tmp_path / ARCHIVE
    with tarfile.open(path, "w:gz") as archive:
        content = io.BytesIO(b"hello")
        member = tarfile.TarInfo("data/shapes48.txt")
        member.size = 5
        archive.addfile(member, content)
    with pytest.raises(ValueError, match="holds no cars/\\*.mat files"):
        load_cars3d(path)


def test_list_naming_missing_cars_is_rejected(tmp_path, cars):
    folder = write_cars3d_folder(tmp_path, cars, listing=["car_001_mesh", "car_404_mesh"])
    with pytest.raises(
        ValueError, match="list.txt .* names 1 car files that are not there: car_404"
    ):
        load_cars3d(folder)
