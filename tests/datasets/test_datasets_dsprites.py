"""The dSprites renderer: fidelity to the official frames, grid order, subsets, cache."""

import pickle

import numpy as np
import pytest

from sklearn_dvae.datasets import LazyImages, make_dsprites, render_dsprites

OFFICIAL_SIZES = (1, 3, 6, 40, 32, 32)
SHAPES = {0: "square", 1: "ellipse", 2: "heart"}


def official_index(classes):
    """The official row formula of DATASETS.md."""
    return (
        245760 * classes[:, 1]
        + 40960 * classes[:, 2]
        + 1024 * classes[:, 3]
        + 32 * classes[:, 4]
        + classes[:, 5]
    )


# ---------------------------------------------------------------------- fidelity
def test_renderer_meets_the_fidelity_bar_for_every_shape(reference_frames):
    images = render_dsprites(reference_frames["latents_classes"])
    mismatch = (images != reference_frames["imgs"]).sum(axis=(1, 2))
    shapes = reference_frames["latents_classes"][:, 1]
    for shape, shape_name in SHAPES.items():
        per_frame = mismatch[shapes == shape]
        assert per_frame.size > 0
        assert per_frame.mean() <= 0.5, (shape_name, per_frame.mean())
        assert per_frame.max() <= 4, (shape_name, per_frame.max())


def test_renderer_reproduces_every_reference_frame_exactly(reference_frames):
    # The fitted geometry of shared/data/README.md gives 0 wrong pixels on all 320.
    images = render_dsprites(reference_frames["latents_classes"])
    wrong = np.flatnonzero((images != reference_frames["imgs"]).any(axis=(1, 2)))
    assert wrong.size == 0, f"frames rendered wrongly: {wrong.tolist()}"


def test_every_equivalent_orientation_gives_the_reference_frame(reference_frames):
    # orientation_equivalent lists the orientation classes that give exactly the frame
    # (0 and 39 always; 5 and 34 for the big square; 0, 10, 29, 39 for small squares).
    classes = reference_frames["latents_classes"]
    equivalent = reference_frames["orientation_equivalent"]
    frame, orientation = np.nonzero(equivalent)
    variants = classes[frame].copy()
    variants[:, 3] = orientation
    images = render_dsprites(variants)
    assert np.array_equal(images, reference_frames["imgs"][frame])
    # ...and the others do not.
    frame, orientation = np.nonzero(~equivalent[:, :])
    keep = np.arange(len(frame)) % 7 == 0  # a fixed seventh of the 12,000 pairs is plenty
    variants = classes[frame[keep]].copy()
    variants[:, 3] = orientation[keep]
    differs = (render_dsprites(variants) != reference_frames["imgs"][frame[keep]]).any(axis=(1, 2))
    assert differs.all()


def test_pixel_counts_at_orientation_zero_match_the_specification():
    expected = {
        0: [100, 144, 196, 256, 324, 400],
        1: [76, 104, 144, 184, 228, 288],
        2: [58, 84, 108, 140, 182, 222],
    }
    for shape, counts in expected.items():
        classes = np.array([[0, shape, scale, 0, 0, 0] for scale in range(6)])
        assert render_dsprites(classes).sum(axis=(1, 2)).tolist() == counts


def test_images_are_binary_uint8_like_the_official_file():
    images = render_dsprites([[0, 2, 5, 7, 12, 20], [0, 1, 0, 39, 31, 0]])
    assert images.dtype == np.uint8
    assert set(np.unique(images).tolist()) == {0, 1}


def test_posX_moves_right_and_posY_moves_down():
    images = render_dsprites([[0, 2, 3, 0, 0, 0], [0, 2, 3, 0, 31, 0], [0, 2, 3, 0, 0, 31]])
    rows, cols = np.indices((64, 64))
    centroid = [
        ((image * cols).sum() / image.sum(), (image * rows).sum() / image.sum())
        for image in images
    ]
    assert centroid[1][0] - centroid[0][0] == pytest.approx(32, abs=0.5)
    assert centroid[2][1] - centroid[0][1] == pytest.approx(32, abs=0.5)
    assert centroid[1][1] == pytest.approx(centroid[0][1], abs=0.5)


# ---------------------------------------------------------------------- the grid
def test_full_grid_has_the_official_size_order_and_labels():
    dataset = make_dsprites(lazy=True)  # labels without rendering 3 GB
    assert len(dataset) == 737_280
    assert dataset.is_grid
    assert dataset.factor_names == ("color", "shape", "scale", "orientation", "posX", "posY")
    assert dataset.factor_sizes == OFFICIAL_SIZES
    classes = dataset.factor_classes
    assert np.array_equal(official_index(classes), np.arange(737_280))
    values = dataset.factor_values
    assert np.array_equal(np.unique(values[:, 1]), [1.0, 2.0, 3.0])
    assert np.allclose(np.unique(values[:, 2]), np.linspace(0.5, 1, 6))
    assert np.allclose(np.unique(values[:, 3]), np.linspace(0, 2 * np.pi, 40))
    assert np.allclose(np.unique(values[:, 4]), np.linspace(0, 1, 32))
    rng = np.random.default_rng(0)
    some = np.stack([rng.integers(0, size, 50) for size in OFFICIAL_SIZES], axis=1)
    assert np.array_equal(dataset.factors_to_index(some), official_index(some))
    assert np.array_equal(dataset.index_to_factors(official_index(some)), some)


def test_lazy_rows_are_rendered_images_of_their_labels():
    dataset = make_dsprites(lazy=True)
    assert isinstance(dataset.images, LazyImages)
    rows = np.array([0, 1, 40_961, 300_000, 737_279, 5])
    expected = render_dsprites(dataset.index_to_factors(rows))
    assert np.array_equal(dataset.images[rows], expected)
    assert np.array_equal(dataset.images[300_000], expected[3])


def test_colour_is_a_constant_factor_left_out_of_y():
    dataset = make_dsprites(subset={"orientation": [0, 1], "posX": [3, 4], "posY": [4, 5]})
    assert dataset.factor_sizes[0] == 1
    assert dataset.factor_levels[0].tolist() == [1.0]
    assert (dataset.factor_classes[:, 0] == 0).all()
    assert dataset.y_factor_names == ("shape", "scale", "orientation", "posX", "posY")
    assert np.array_equal(dataset.y, dataset.factor_classes[:, 1:])
    # A factor cut down to one class by a subset is constant in the same way.
    single = make_dsprites(subset={"orientation": [0], "posX": [3, 4], "posY": [4, 5]})
    assert single.y_factor_names == ("shape", "scale", "posX", "posY")


def test_orientation_classes_0_and_39_give_the_same_images():
    dataset = make_dsprites(
        subset={"orientation": [0, 39], "posX": range(0, 32, 3), "posY": range(1, 32, 3)}
    )
    classes = dataset.factor_classes
    first, last = dataset.images[classes[:, 3] == 0], dataset.images[classes[:, 3] == 1]
    assert len(first) == len(last) == 3 * 6 * 11 * 11
    assert np.array_equal(first, last)
    # While neighbouring orientations do differ (for hearts at least).
    other = make_dsprites(subset={"shape": [2], "orientation": [1], "posX": [5], "posY": [5]})
    same = make_dsprites(subset={"shape": [2], "orientation": [0], "posX": [5], "posY": [5]})
    assert (other.images != same.images).any(axis=(1, 2)).all()


def test_subset_grid_renders_the_rows_of_its_official_classes():
    subset = {"shape": [0, 2], "scale": [1, 4], "orientation": [3, 17, 30], "posX": [0, 9, 31]}
    dataset = make_dsprites(subset=subset)
    assert dataset.factor_sizes == (1, 2, 2, 3, 3, 32)
    assert dataset.is_grid and len(dataset) == 2 * 2 * 3 * 3 * 32
    official = np.stack(
        [
            np.zeros(len(dataset), dtype=int),
            np.array(subset["shape"])[dataset.factor_classes[:, 1]],
            np.array(subset["scale"])[dataset.factor_classes[:, 2]],
            np.array(subset["orientation"])[dataset.factor_classes[:, 3]],
            np.array(subset["posX"])[dataset.factor_classes[:, 4]],
            dataset.factor_classes[:, 5],
        ],
        axis=1,
    )
    # Grid rendering (block path) equals per-image rendering (on-demand path).
    assert np.array_equal(dataset.images, render_dsprites(official))
    assert np.allclose(dataset.factor_values[:, 3], official[:, 3] * 2 * np.pi / 39)
    # The grid keeps row-major order: posY fastest.
    assert dataset.factor_classes[:3, 5].tolist() == [0, 1, 2]


def test_sample_observations_from_factors_renders_on_demand_without_the_full_set():
    dataset = make_dsprites(lazy=True)
    factors, observations = dataset.sample(64, random_state=0)
    assert observations.shape == (64, 64, 64) and observations.dtype == np.uint8
    assert np.array_equal(observations, render_dsprites(factors))
    again = dataset.sample_factors(64, random_state=0)
    assert np.array_equal(again, factors)


def test_a_subset_of_rows_still_renders_any_factors():
    dataset = make_dsprites(subset={"posX": [0, 1], "posY": [0, 1], "orientation": [0, 20]})
    part = dataset[dataset.factor_classes[:, 1] == 0]  # squares only
    assert not part.is_grid and len(part) == len(dataset) // 3
    hearts = [[0, 2, 5, 1, 1, 0]]
    official = [[0, 2, 5, 20, 1, 0]]
    assert np.array_equal(part.sample_observations_from_factors(hearts), render_dsprites(official))


def test_lazy_dataset_pickles_without_images():
    dataset = make_dsprites(lazy=True)
    payload = pickle.dumps(dataset)
    assert len(payload) < 1_000_000
    restored = pickle.loads(payload)
    assert np.array_equal(restored.images[[7, 123_456]], dataset.images[[7, 123_456]])


# ---------------------------------------------------------------------- cache
def test_cached_subset_is_memory_mapped_on_the_second_call(tmp_path):
    subset = {"scale": [0], "orientation": [0, 5], "posX": range(0, 32, 4)}
    first = make_dsprites(subset=subset, cache=True, data_home=tmp_path)
    files = list((tmp_path / "dsprites").glob("*.npy"))
    assert len(files) == 1
    second = make_dsprites(subset=subset, cache=True, data_home=tmp_path)
    assert isinstance(second.images, np.memmap) or isinstance(second.images.base, np.memmap)
    assert not second.images.flags.writeable
    assert np.array_equal(first.images, second.images)
    assert np.array_equal(second.images, make_dsprites(subset=subset, cache=False).images)
    assert "memory-mapped" in repr(second)


def test_data_home_defaults_to_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("SKLEARN_DVAE_DATA", str(tmp_path / "from_env"))
    make_dsprites(subset={"shape": [1], "scale": [0], "orientation": [0]}, cache=True)
    assert len(list((tmp_path / "from_env" / "dsprites").glob("*.npy"))) == 1


def test_damaged_cache_is_rendered_again_with_a_warning(tmp_path):
    subset = {"shape": [2], "orientation": [0, 9]}
    make_dsprites(subset=subset, cache=True, data_home=tmp_path)
    (path,) = (tmp_path / "dsprites").glob("*.npy")
    size = path.stat().st_size
    with open(path, "r+b") as handle:  # truncated, as by a full disk
        handle.truncate(size // 2)
    with pytest.warns(UserWarning, match="not usable"):
        dataset = make_dsprites(subset=subset, cache=True, data_home=tmp_path)
    assert path.stat().st_size == size
    assert np.array_equal(dataset.images, make_dsprites(subset=subset).images)

    images = np.load(path, mmap_mode="r+")
    images[:] = 0  # complete but wrong (e.g. from another renderer version)
    images.flush()
    del images, dataset
    with pytest.warns(UserWarning, match="differ from this renderer"):
        dataset = make_dsprites(subset=subset, cache=True, data_home=tmp_path)
    assert dataset.images.sum() > 0
    assert not list((tmp_path / "dsprites").glob(".*partial"))


def test_different_subsets_get_different_cache_files(tmp_path):
    make_dsprites(
        subset={"shape": [0], "scale": [0], "orientation": [0]}, cache=True, data_home=tmp_path
    )
    make_dsprites(
        subset={"shape": [1], "scale": [0], "orientation": [0]}, cache=True, data_home=tmp_path
    )
    assert len(list((tmp_path / "dsprites").glob("*.npy"))) == 2


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("classes", "message"),
    [
        (
            [[0, 3, 0, 0, 0, 0]],
            r"'shape' \(column 1\) has class 3 at row 0; its valid classes are 0..2",
        ),
        ([[0, 0, 0, 40, 0, 0]], r"'orientation' \(column 3\) has class 40"),
        ([[0, 0, 0, 0, -1, 0]], r"'posX' \(column 4\) has class -1"),
        ([[1, 0, 0, 0, 0, 0]], r"'color' \(column 0\) has class 1"),
        ([[0, 0, 0, 0, 0]], r"one column per factor \(6: color, shape"),
    ],
)
def test_render_rejects_out_of_range_or_misshapen_classes(classes, message):
    with pytest.raises(ValueError, match=message):
        render_dsprites(classes)


def test_dataset_rejects_out_of_range_factor_classes():
    dataset = make_dsprites(lazy=True)
    with pytest.raises(ValueError, match=r"'posY' \(column 5\) has class 32 at row 1"):
        dataset.sample_observations_from_factors([[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 32]])
    with pytest.raises(ValueError, match=r"one column per factor \(6"):
        dataset.factors_to_index([[0, 0, 0, 0, 0]])
    with pytest.raises(ValueError, match="row index 737280 is out of range"):
        dataset.index_to_factors([737_280])


@pytest.mark.parametrize(
    ("subset", "message"),
    [
        ({"rotation": [0]}, "unknown factor 'rotation'"),
        ({"posX": [32]}, r"valid classes of 'posX' are 0..31"),
        ({"scale": []}, "non-empty"),
        ({"shape": [0.5]}, "integer class indices"),
        ([("posX", [0])], "must be a dict"),
    ],
)
def test_make_dsprites_rejects_bad_subsets(subset, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make_dsprites(subset=subset)
