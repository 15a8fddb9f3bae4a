"""Fetchers: downloads from a local HTTP server on 127.0.0.1, never from the internet.

Every failure mode of a download is played by the server: a good file, a wrong
checksum, a transfer interrupted mid-body, a resumed transfer, a server that ignores
Range requests, HTTP errors, and no server at all. Then the loader reads what the
fetcher wrote.
"""

import gzip
import hashlib

import numpy as np
import pytest
from file_server import refused_url
from official_formats import (
    NORB_HALVES,
    cars3d_images,
    smallnorb_half,
    sparse_files_supported,
    write_cars3d_archive,
    write_dsprites_hdf5,
    write_shapes3d,
    write_smallnorb,
    write_sparse_npz,
)

from sklearn_dvae.datasets import (
    fetch_cars3d,
    fetch_dsprites,
    fetch_mpi3d,
    fetch_shapes3d,
    fetch_smallnorb,
    get_data_home,
    load_cars3d,
    load_dsprites,
    load_shapes3d,
    load_smallnorb,
)

DSPRITES_NAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.hdf5"


def sha256(content):
    return hashlib.sha256(content).hexdigest()


@pytest.fixture
def dsprites_file(tmp_path, dsprites_sample_classes):
    """A small dSprites .hdf5 in the official layout: (path, its bytes)."""
    path = write_dsprites_hdf5(tmp_path / DSPRITES_NAME, dsprites_sample_classes[:40])
    return path, path.read_bytes()


def files_in(folder):
    return sorted(path.name for path in folder.iterdir()) if folder.is_dir() else []


def fetch_small_dsprites(file_server, data_home, content):
    """Fetch the small dSprites file from the local server, checked against its digest."""
    fetch_dsprites(
        data_home=data_home, base_url=file_server.url, sha256=sha256(content), progress=False
    ).close()
    return data_home / "dsprites" / DSPRITES_NAME


def leave_partial_file(data_home, content):
    """A ``.part`` file as an earlier, interrupted run leaves it."""
    folder = data_home / "dsprites"
    folder.mkdir(parents=True)
    (folder / (DSPRITES_NAME + ".part")).write_bytes(content)


# ---------------------------------------------------------------------- a good file
def test_fetch_writes_the_verified_file_into_the_data_home_and_loads_it(
    file_server, data_home, dsprites_file
):
    path, content = dsprites_file
    file_server.serve(DSPRITES_NAME, content)
    dataset = fetch_dsprites(
        data_home=data_home, base_url=file_server.url, sha256=sha256(content), progress=False
    )
    assert files_in(data_home / "dsprites") == [DSPRITES_NAME]
    assert (data_home / "dsprites" / DSPRITES_NAME).read_bytes() == content
    expected = load_dsprites(path)
    assert np.array_equal(dataset.factor_classes, expected.factor_classes)
    assert np.array_equal(np.asarray(dataset.images), np.asarray(expected.images))
    dataset.close()
    expected.close()
    # A file in place is used as it is: no second request.
    fetch_dsprites(data_home=data_home, base_url=file_server.url, progress=False).close()
    assert file_server.requests == [(DSPRITES_NAME, None)]


def test_progress_bar_names_the_file(file_server, data_home, dsprites_file, capsys):
    _, content = dsprites_file
    file_server.serve(DSPRITES_NAME, content)
    fetch_dsprites(data_home=data_home, base_url=file_server.url, sha256=sha256(content)).close()
    assert DSPRITES_NAME[:20] in capsys.readouterr().err


def test_environment_variables_choose_the_data_home_and_the_server(
    file_server, tmp_path, monkeypatch, dsprites_file
):
    _, content = dsprites_file
    file_server.serve(DSPRITES_NAME, content)
    monkeypatch.setenv("SKLEARN_DVAE_DATA", str(tmp_path / "from_environment"))
    monkeypatch.setenv("SKLEARN_DVAE_BASE_URL", file_server.url + "/")
    fetch_dsprites(sha256=sha256(content), progress=False).close()
    assert get_data_home() == tmp_path / "from_environment"
    assert (tmp_path / "from_environment" / "dsprites" / DSPRITES_NAME).read_bytes() == content


# ---------------------------------------------------------------------- wrong checksum
def test_wrong_checksum_leaves_nothing_and_names_both_digests(
    file_server, data_home, dsprites_file
):
    _, content = dsprites_file
    file_server.serve(DSPRITES_NAME, content)
    with pytest.raises(OSError) as error:
        # The default is the real file's digest, which this small file does not have.
        fetch_dsprites(data_home=data_home, base_url=file_server.url, progress=False)
    message = str(error.value)
    assert sha256(content) in message
    assert "729fa22e884c9c500e1f17415d580746b4c5894fbbb780a1319bbcfa39a745bb" in message
    assert f"{file_server.url}/{DSPRITES_NAME}" in message
    assert files_in(data_home / "dsprites") == []  # neither the file nor a .part
    assert file_server.requests == [(DSPRITES_NAME, None)]  # a whole download: no retry


def test_malformed_checksum_is_refused_before_downloading(file_server, data_home):
    with pytest.raises(ValueError, match="64 hexadecimal digits"):
        fetch_dsprites(data_home=data_home, base_url=file_server.url, sha256="abc")
    assert file_server.requests == []


# ---------------------------------------------------------------------- interruptions
def test_interrupted_transfer_keeps_the_partial_file_never_the_final_name(
    file_server, data_home, dsprites_file
):
    _, content = dsprites_file
    # The connection drops after 1000 bytes, every time, and Range is not understood:
    # no attempt gets further than the last.
    file_server.serve(DSPRITES_NAME, content, faults=[("close_after", 1000)] * 10, ranges=False)
    with pytest.raises(OSError, match="interrupted") as error:
        fetch_dsprites(
            data_home=data_home, base_url=file_server.url, sha256=sha256(content), progress=False
        )
    partial = data_home / "dsprites" / (DSPRITES_NAME + ".part")
    assert str(partial) in str(error.value) and "resumes" in str(error.value)
    assert files_in(data_home / "dsprites") == [partial.name]
    assert partial.read_bytes() == content[:1000]


def test_interrupted_transfer_resumes_with_a_range_request(file_server, data_home, dsprites_file):
    _, content = dsprites_file
    file_server.serve(DSPRITES_NAME, content, faults=[("close_after", 3000)])
    path = fetch_small_dsprites(file_server, data_home, content)
    assert file_server.requests == [(DSPRITES_NAME, None), (DSPRITES_NAME, "bytes=3000-")]
    assert path.read_bytes() == content
    assert files_in(path.parent) == [DSPRITES_NAME]


def test_a_later_call_resumes_the_partial_file_of_an_earlier_one(
    file_server, data_home, dsprites_file
):
    _, content = dsprites_file
    leave_partial_file(data_home, content[:5000])  # a killed process
    file_server.serve(DSPRITES_NAME, content)
    path = fetch_small_dsprites(file_server, data_home, content)
    assert file_server.requests == [(DSPRITES_NAME, "bytes=5000-")]
    assert path.read_bytes() == content


def test_server_ignoring_range_makes_the_download_restart_cleanly(
    file_server, data_home, dsprites_file
):
    _, content = dsprites_file
    leave_partial_file(data_home, b"stale bytes" * 100)
    file_server.serve(DSPRITES_NAME, content, ranges=False)
    path = fetch_small_dsprites(file_server, data_home, content)
    assert file_server.requests == [(DSPRITES_NAME, "bytes=1100-")]
    assert files_in(path.parent) == [DSPRITES_NAME]
    assert path.read_bytes() == content


def test_damaged_partial_file_is_downloaded_again_from_zero(file_server, data_home, dsprites_file):
    _, content = dsprites_file
    leave_partial_file(data_home, b"\0" * 2000)  # not the file's start
    file_server.serve(DSPRITES_NAME, content)
    path = fetch_small_dsprites(file_server, data_home, content)
    # Resumed, found wrong by its checksum, then fetched whole.
    assert file_server.requests == [(DSPRITES_NAME, "bytes=2000-"), (DSPRITES_NAME, None)]
    assert path.read_bytes() == content


def test_partial_file_longer_than_the_file_restarts_the_download(
    file_server, data_home, dsprites_file
):
    _, content = dsprites_file
    leave_partial_file(data_home, content + b"more")
    file_server.serve(DSPRITES_NAME, content)  # answers 416 to a range past the end
    path = fetch_small_dsprites(file_server, data_home, content)
    assert file_server.requests == [
        (DSPRITES_NAME, f"bytes={len(content) + 4}-"),
        (DSPRITES_NAME, None),
    ]
    assert path.read_bytes() == content


# ---------------------------------------------------------------------- server errors
@pytest.mark.parametrize("status", [500, 404])
def test_http_error_names_the_status_the_url_and_where_to_put_the_file(
    file_server, data_home, status
):
    file_server.serve(DSPRITES_NAME, b"never sent", faults=[status])
    with pytest.raises(OSError) as error:
        fetch_dsprites(data_home=data_home, base_url=file_server.url, progress=False)
    message = str(error.value)
    assert f"HTTP {status}" in message
    assert f"{file_server.url}/{DSPRITES_NAME}" in message
    assert str(data_home / "dsprites" / DSPRITES_NAME) in message
    assert files_in(data_home / "dsprites") == []


def test_missing_file_on_the_server_is_an_http_404(file_server, data_home):
    with pytest.raises(OSError, match="HTTP 404"):
        fetch_shapes3d(data_home=data_home, base_url=file_server.url, progress=False)


# ---------------------------------------------------------------------- no network
def test_no_network_says_which_url_failed_and_where_to_put_the_file(data_home, dsprites_file):
    url = refused_url()
    with pytest.raises(OSError) as error:
        fetch_dsprites(data_home=data_home, base_url=url, progress=False)
    message = str(error.value)
    destination = data_home / "dsprites" / DSPRITES_NAME
    assert f"could not download {url}/{DSPRITES_NAME}" in message
    assert "refused" in message.lower()
    assert str(destination) in message
    # Put there by hand, the file is used without any network.
    path, content = dsprites_file
    destination.write_bytes(content)
    dataset = fetch_dsprites(data_home=data_home, base_url=url, download_if_missing=False)
    assert len(dataset) == 40
    dataset.close()


def test_download_if_missing_false_names_the_file_the_url_and_the_place(data_home):
    with pytest.raises(FileNotFoundError) as error:
        fetch_shapes3d(data_home=data_home, download_if_missing=False)
    message = str(error.value)
    assert "https://storage.googleapis.com/3d-shapes/3dshapes.h5" in message
    assert str(data_home / "shapes3d" / "3dshapes.h5") in message


def test_dsprites_npz_put_by_hand_is_used(data_home, dsprites_sample_classes):
    from official_formats import write_dsprites_npz

    folder = data_home / "dsprites"
    folder.mkdir(parents=True)
    write_dsprites_npz(
        folder / "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz", dsprites_sample_classes[:7]
    )
    dataset = fetch_dsprites(data_home=data_home, base_url=refused_url())
    assert len(dataset) == 7


# ---------------------------------------------------------------------- every fetcher
def test_fetch_shapes3d_reads_what_it_downloaded(file_server, data_home, tmp_path):
    rng = np.random.default_rng(0)
    rows = rng.choice(480_000, size=30, replace=False)
    images = rng.integers(0, 256, size=(30, 64, 64, 3), dtype=np.uint8)
    content = write_shapes3d(tmp_path / "3dshapes.h5", rows, images).read_bytes()
    file_server.serve("3dshapes.h5", content)
    with (
        fetch_shapes3d(
            data_home=data_home, base_url=file_server.url, sha256=sha256(content), progress=False
        ) as dataset,
        load_shapes3d(tmp_path / "3dshapes.h5") as expected,
    ):
        assert np.array_equal(dataset.factor_classes, expected.factor_classes)
        assert np.array_equal(dataset.images[[0, 29]], images[[0, 29]])


def test_fetch_smallnorb_checks_six_files_decompresses_them_and_reads_them(
    file_server, data_home, tmp_path
):
    rng = np.random.default_rng(1)
    halves = [smallnorb_half(rng, 6, [4, 6]), smallnorb_half(rng, 5, [0, 1])]
    (tmp_path / "originals").mkdir()
    originals = write_smallnorb(tmp_path / "originals", halves, gz=True)
    digests = {}
    for path in sorted(originals.iterdir()):
        file_server.serve(path.name, path.read_bytes())
        digests[path.name] = sha256(path.read_bytes())
    dataset = fetch_smallnorb(
        data_home=data_home, base_url=file_server.url, sha256=digests, progress=False
    )
    folder = data_home / "smallnorb"
    # Verified, decompressed through a temporary name, the .gz files deleted.
    assert files_in(folder) == sorted(name.removesuffix(".gz") for name in digests)
    for name in digests:
        plain = (folder / name.removesuffix(".gz")).read_bytes()
        assert plain == gzip.decompress((originals / name).read_bytes())
    expected = load_smallnorb(originals)
    assert np.array_equal(dataset.factor_classes, expected.factor_classes)
    assert np.array_equal(np.asarray(dataset.images), np.asarray(expected.images))
    assert len(file_server.requests) == 6


def test_fetch_smallnorb_default_checksums_are_the_official_ones(file_server, data_home, tmp_path):
    rng = np.random.default_rng(2)
    (tmp_path / "originals").mkdir()
    originals = write_smallnorb(
        tmp_path / "originals", [smallnorb_half(rng, 2, [4]), smallnorb_half(rng, 2, [0])], gz=True
    )
    for path in originals.iterdir():
        file_server.serve(path.name, path.read_bytes())
    with pytest.raises(OSError, match="5ffd6272a07d32695ee1082a26a41a93a37aab8c28da047f8c34ed3"):
        fetch_smallnorb(data_home=data_home, base_url=file_server.url, progress=False)
    assert f"smallnorb-{NORB_HALVES[0]}-dat.mat.gz" in file_server.requests[0][0]


def test_fetch_cars3d_warns_that_the_archive_is_unverified_and_gives_its_digest(
    file_server, data_home, tmp_path
):
    rng = np.random.default_rng(3)
    cars = dict(zip(["car_001_mesh", "car_002_mesh"], cars3d_images(rng, 2), strict=True))
    path = write_cars3d_archive(tmp_path / "nips2015-analogy-data.tar.gz", cars)
    content = path.read_bytes()
    file_server.serve(path.name, content)
    with pytest.warns(UserWarning, match=f"no published SHA-256.*{sha256(content)}"):
        dataset = fetch_cars3d(data_home=data_home, base_url=file_server.url, progress=False)
    assert (data_home / "cars3d" / path.name).read_bytes() == content
    expected = load_cars3d(path)
    assert np.array_equal(dataset.images, expected.images) and dataset.factor_sizes == (4, 24, 2)


def test_fetch_cars3d_with_a_digest_checks_it(file_server, data_home, tmp_path):
    file_server.serve("nips2015-analogy-data.tar.gz", b"a changed archive")
    with pytest.raises(OSError, match="SHA-256"):
        fetch_cars3d(
            data_home=data_home, base_url=file_server.url, sha256="0" * 64, progress=False
        )


def test_fetch_mpi3d_hands_the_download_to_the_loader(file_server, data_home, tmp_path):
    small = tmp_path / "mpi3d_realistic.npz"
    np.savez(small, images=np.zeros((3, 64, 64, 3), np.uint8))
    file_server.serve("mpi3d_realistic.npz", small.read_bytes())
    with pytest.warns(UserWarning, match="no published SHA-256"):
        with pytest.raises(ValueError, match="holds 3 images; an official file holds 1,036,800"):
            fetch_mpi3d("realistic", data_home=data_home, base_url=file_server.url, progress=False)
    assert file_server.requests == [("mpi3d_realistic.npz", None)]
    assert files_in(data_home / "mpi3d") == ["mpi3d_realistic.npz"]


def test_fetch_mpi3d_uses_a_file_put_in_the_data_home_by_hand(data_home):
    folder = data_home / "mpi3d"
    folder.mkdir(parents=True)
    if not sparse_files_supported(folder):
        pytest.skip("this file system has no sparse files: a full MPI3D file would be 5.6 GB")
    image = np.full((64, 64, 3), 7, np.uint8)
    write_sparse_npz(folder / "mpi3d_toy.npz", (460_800, 64, 64, 3), {460_799: image})
    dataset = fetch_mpi3d(data_home=data_home, base_url=refused_url(), download_if_missing=False)
    assert dataset.name == "MPI3D-toy" and dataset.factor_sizes == (4, 4, 2, 3, 3, 40, 40)
    assert np.array_equal(dataset.images[460_799], image)


def test_fetchers_refuse_an_unknown_variant(data_home):
    with pytest.raises(ValueError, match="variant"):
        fetch_mpi3d("complex", data_home=data_home)
