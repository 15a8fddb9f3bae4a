"""GroundTruthDataset: grids and labelled sets, sampling, index conversion, views, subsets."""

import pickle

import numpy as np
import pytest

from sklearn_dvae.datasets import GroundTruthDataset, LazyImages

SIZES = (1, 3, 4, 5)  # a constant factor first, like the dSprites colour


def grid_dataset():
    """60 images whose single pixel value is the row number, as a factor grid."""
    images = np.arange(60, dtype=np.uint8).reshape(60, 1, 1)
    return GroundTruthDataset(
        images,
        factor_names=["colour", "shape", "size", "position"],
        factor_sizes=SIZES,
        name="toy",
    )


def labelled_dataset():
    """A labelled set: some grid rows, one of them twice, in shuffled order."""
    rows = np.array([7, 59, 0, 33, 7, 12, 45])
    classes = np.stack(np.unravel_index(rows, SIZES), axis=1)
    images = np.stack([np.full((2, 2), row, dtype=np.uint8) for row in rows])
    images[4] += 100  # the second copy of row 7 is told apart by its pixels
    return GroundTruthDataset(images, classes, factor_sizes=SIZES)


# ---------------------------------------------------------------------- grids
def test_grid_rows_follow_row_major_order():
    dataset = grid_dataset()
    assert dataset.is_grid and len(dataset) == 60
    classes = dataset.factor_classes
    assert np.array_equal(classes, np.stack(np.unravel_index(np.arange(60), SIZES), axis=1))
    assert classes.dtype == np.int64 and classes.shape == (60, 4)


def test_grid_index_conversion_is_arithmetic_and_round_trips():
    dataset = grid_dataset()
    factors = np.array([[0, 2, 3, 4], [0, 0, 0, 0], [0, 1, 2, 3]])
    indices = dataset.factors_to_index(factors)
    assert indices.tolist() == [59, 0, 33]
    assert np.array_equal(dataset.index_to_factors(indices), factors)
    assert dataset._key_index is None  # no lookup table was built for a grid


def test_grid_samples_every_factor_uniformly_and_reproducibly():
    dataset = grid_dataset()
    factors = dataset.sample_factors(6000, random_state=0)
    assert factors.shape == (6000, 4) and factors.dtype == np.int64
    assert np.array_equal(factors, dataset.sample_factors(6000, random_state=0))
    for k, size in enumerate(SIZES):
        counts = np.bincount(factors[:, k], minlength=size)
        assert len(counts) == size
        assert np.allclose(counts / 6000, 1 / size, atol=0.03)
    observations = dataset.sample_observations_from_factors(factors[:10])
    assert np.array_equal(observations[:, 0, 0], dataset.factors_to_index(factors[:10]))


def test_a_table_listing_the_full_grid_in_order_is_recognised_as_a_grid():
    classes = np.stack(np.unravel_index(np.arange(60), SIZES), axis=1)
    dataset = GroundTruthDataset(np.zeros((60, 1, 1), np.uint8), classes, factor_sizes=SIZES)
    assert dataset.is_grid
    shuffled = GroundTruthDataset(
        np.zeros((60, 1, 1), np.uint8), classes[::-1], factor_sizes=SIZES
    )
    assert not shuffled.is_grid


def test_factor_values_come_from_the_levels():
    dataset = GroundTruthDataset(
        np.zeros((6, 3), np.float32),
        factor_names=["a", "b"],
        factor_levels=[[10.0, 20.0], [0.5, 0.6, 0.7]],
    )
    assert dataset.factor_sizes == (2, 3)
    assert dataset.factor_values.tolist()[4] == [20.0, 0.6]
    assert dataset.factor_values.dtype == np.float64


# ---------------------------------------------------------------------- views
def test_X_is_the_uint8_images_and_y_drops_constant_factors():
    dataset = grid_dataset()
    assert dataset.X is dataset.images and dataset.X.dtype == np.uint8
    assert dataset.y_factor_names == ("shape", "size", "position")
    assert dataset.varying_factors == (1, 2, 3)
    assert np.array_equal(dataset.y, dataset.factor_classes[:, 1:])
    # Columns are decided by the factor sizes, not by the rows at hand.
    part = dataset[dataset.factor_classes[:, 1] == 2]
    assert part.y.shape[1] == 3 and (part.y[:, 0] == 2).all()


def test_repr_shows_factor_names_and_sizes():
    text = repr(grid_dataset())
    assert "GroundTruthDataset('toy', n_samples=60" in text
    assert "colour=1 (constant), shape=3, size=4, position=5" in text
    assert "factor grid" in text
    assert "labelled set" in repr(labelled_dataset())


# ---------------------------------------------------------------------- labelled sets
def test_labelled_set_looks_up_rows_by_factors():
    dataset = labelled_dataset()
    assert not dataset.is_grid
    factors = np.stack(np.unravel_index([59, 0, 45], SIZES), axis=1)
    assert dataset.factors_to_index(factors).tolist() == [1, 2, 6]
    assert np.array_equal(dataset.index_to_factors([1, 2, 6]), factors)


def test_labelled_set_samples_only_combinations_it_holds():
    dataset = labelled_dataset()
    factors = dataset.sample_factors(200, random_state=1)
    held = {tuple(row) for row in dataset.factor_classes.tolist()}
    assert {tuple(row) for row in factors.tolist()} == held
    observations = dataset.sample_observations_from_factors(factors, random_state=1)
    assert observations.shape == (200, 2, 2)


def test_labelled_set_chooses_uniformly_among_rows_with_equal_factors():
    dataset = labelled_dataset()
    twice = np.tile(dataset.factor_classes[[0]], (400, 1))  # row 7 is held twice
    pixels = dataset.sample_observations_from_factors(twice, random_state=0)[:, 0, 0]
    assert set(pixels.tolist()) == {7, 107}
    assert 0.4 < np.mean(pixels == 7) < 0.6
    again = dataset.sample_observations_from_factors(twice, random_state=0)[:, 0, 0]
    assert np.array_equal(pixels, again)


def test_labelled_set_without_a_combination_says_so():
    dataset = labelled_dataset()
    absent = np.stack(np.unravel_index([1], SIZES), axis=1)
    with pytest.raises(ValueError, match="no image of this dataset has the factor classes"):
        dataset.sample_observations_from_factors(absent)


def test_labelled_set_with_a_renderer_renders_any_combination():
    def render(classes):
        return (classes @ np.array([60, 20, 5, 1]))[:, None, None].astype(np.uint8)

    dataset = GroundTruthDataset(
        labelled_dataset().images,
        labelled_dataset().factor_classes,
        factor_sizes=SIZES,
        renderer=render,
    )
    absent = np.stack(np.unravel_index([1, 2], SIZES), axis=1)
    assert dataset.sample_observations_from_factors(absent)[:, 0, 0].tolist() == [1, 2]


def test_factor_sampler_replaces_the_default_draw():
    def always_last(n, random_state):
        return np.tile(np.array(SIZES) - 1, (n, 1))

    dataset = GroundTruthDataset(np.zeros((60, 1)), factor_sizes=SIZES, factor_sampler=always_last)
    assert dataset.sample_factors(3, random_state=0).tolist() == [[0, 2, 3, 4]] * 3


# ---------------------------------------------------------------------- subsets
def test_subset_keeps_a_dataset_with_the_same_factors():
    dataset = grid_dataset()
    part = dataset.subset([59, 3, 3])
    assert isinstance(part, GroundTruthDataset)
    assert part.factor_names == dataset.factor_names
    assert part.factor_sizes == dataset.factor_sizes
    assert part.images[:, 0, 0].tolist() == [59, 3, 3]
    assert np.array_equal(part.factor_classes, dataset.factor_classes[[59, 3, 3]])
    sliced = dataset[10:20]
    assert sliced.images.base is not None  # a view, not a copy
    assert np.array_equal(sliced.factor_classes, dataset.factor_classes[10:20])
    masked = dataset[dataset.factor_classes[:, 3] == 0]
    assert len(masked) == 12


def test_subset_of_lazy_images_stays_lazy():
    data = np.arange(60, dtype=np.uint8).reshape(60, 1, 1)
    calls = []

    def reader(rows):
        calls.append(rows.copy())
        return data[rows]

    dataset = GroundTruthDataset(LazyImages(reader, data.shape), factor_sizes=SIZES)
    part = dataset[[5, 50]]
    assert isinstance(part.images, LazyImages) and calls == []
    assert part.images[1].tolist() == [[50]]
    assert calls[-1].tolist() == [50]


def test_integer_subset_is_refused_with_a_hint():
    with pytest.raises(TypeError, match=r"dataset\[\[3\]\]"):
        grid_dataset()[3]


def test_dataset_pickles():
    dataset = labelled_dataset()
    restored = pickle.loads(pickle.dumps(dataset))
    assert np.array_equal(restored.images, dataset.images)
    assert np.array_equal(restored.factor_classes, dataset.factor_classes)


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("factors", "error", "message"),
    [
        ([[0, 3, 0, 0]], ValueError, r"'shape' \(column 1\) has class 3 at row 0; .*0..2"),
        ([[0, 0, 0, -1]], ValueError, r"'position' \(column 3\) has class -1"),
        ([[0, 0, 0]], ValueError, r"one column per factor \(4"),
        ([0, 0, 0, 0], ValueError, "2-D array"),
        ([[0, 0.5, 0, 0]], ValueError, "integer factor classes"),
        ([["a", "b", "c", "d"]], TypeError, "integer factor classes"),
    ],
)
def test_bad_factors_are_rejected_with_a_clear_error(factors, error, message):
    dataset = grid_dataset()
    with pytest.raises(error, match=message):
        dataset.sample_observations_from_factors(factors)
    with pytest.raises(error, match=message):
        dataset.factors_to_index(factors)


def test_constructor_rejects_inconsistent_descriptions():
    with pytest.raises(ValueError, match="has 60 combinations"):
        GroundTruthDataset(np.zeros((59, 1)), factor_sizes=SIZES)
    with pytest.raises(ValueError, match="3 rows but images has 2"):
        GroundTruthDataset(np.zeros((2, 1)), np.zeros((3, 4), int), factor_sizes=SIZES)
    with pytest.raises(ValueError, match=r"factor_classes: factor 'factor_2' .* class 4"):
        GroundTruthDataset(np.zeros((1, 1)), [[0, 0, 4, 0]], factor_sizes=SIZES)
    with pytest.raises(ValueError, match="2 names for 4 factors"):
        GroundTruthDataset(np.zeros((60, 1)), factor_sizes=SIZES, factor_names=["a", "b"])
    with pytest.raises(ValueError, match="at least one class"):
        GroundTruthDataset(np.zeros((0, 1)), factor_sizes=[2, 0])
    with pytest.raises(ValueError, match="disagree"):
        GroundTruthDataset(np.zeros((2, 1)), factor_sizes=[3], factor_levels=[[0, 1]])


def test_bad_counts_and_indices_are_rejected():
    dataset = grid_dataset()
    with pytest.raises(ValueError, match="non-negative integer"):
        dataset.sample_factors(-1)
    with pytest.raises(ValueError, match="row index 60 is out of range"):
        dataset.index_to_factors([60])
    with pytest.raises(ValueError, match="row index 99 is out of range"):
        dataset.subset([0, 99])
