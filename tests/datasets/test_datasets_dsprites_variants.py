"""Color-, Noisy- and Scream-dSprites: the nuisance of each image, as the study defines it."""

import pickle

import numpy as np
import pytest

from sklearn_dvae.datasets import (
    LazyImages,
    make_color_dsprites,
    make_noisy_dsprites,
    make_scream_dsprites,
    render_dsprites,
)
from sklearn_dvae.datasets._resample import resize_lanczos

MAKERS = {
    "color": make_color_dsprites,
    "noisy": make_noisy_dsprites,
    "scream": lambda **kwargs: make_scream_dsprites(picture(), **kwargs),
}
ROWS = np.random.default_rng(0).choice(737_280, size=40, replace=False)


def picture(height=90, width=80, seed=5):
    return np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def sprites_of(dataset, rows):
    """The binary dSprites images of the rows of a full variant (colour class 0 added)."""
    classes = dataset.index_to_factors(rows)
    return render_dsprites(np.column_stack([np.zeros(len(rows), np.int64), classes]))


@pytest.mark.parametrize("variant", list(MAKERS))
def test_variant_is_a_lazy_grid_of_the_five_study_factors(variant):
    dataset = MAKERS[variant](random_state=0)
    assert isinstance(dataset.images, LazyImages)
    assert dataset.images.shape == (737_280, 64, 64, 3) and dataset.images.dtype == np.uint8
    assert dataset.factor_names == ("shape", "scale", "orientation", "posX", "posY")
    assert dataset.factor_sizes == (3, 6, 40, 32, 32) and dataset.is_grid
    assert dataset.y_factor_names == dataset.factor_names


@pytest.mark.parametrize("variant", list(MAKERS))
def test_images_depend_on_the_seed_only(variant):
    first = MAKERS[variant](random_state=3).images[ROWS[:8]]
    again = MAKERS[variant](random_state=3).images[ROWS[:8]]
    other = MAKERS[variant](random_state=4).images[ROWS[:8]]
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("variant", list(MAKERS))
def test_an_image_is_the_same_in_every_subset_and_however_it_is_read(variant):
    full = MAKERS[variant](random_state=0)
    subset = MAKERS[variant](random_state=0, subset={"shape": [2], "posX": [5, 9]})
    classes = subset.factor_classes[[0, 17, 100]]
    official = classes.copy()  # the subset's classes renumber the kept official ones
    official[:, 0] = 2
    official[:, 3] = np.array([5, 9])[classes[:, 3]]
    rows = full.factors_to_index(official)
    expected = full.images[rows]
    assert np.array_equal(subset.images[[0, 17, 100]], expected)
    assert np.array_equal(subset.sample_observations_from_factors(classes), expected)
    picked = full[rows]  # a labelled subset renders through the same renderer
    assert np.array_equal(picked.sample_observations_from_factors(official), expected)
    restored = pickle.loads(pickle.dumps(subset))
    assert np.array_equal(restored.images[[0, 17, 100]], expected)


def test_color_sprites_take_one_colour_in_the_upper_half_on_black():
    dataset = make_color_dsprites(random_state=0)
    images = dataset.images[ROWS]
    sprites = sprites_of(dataset, ROWS).astype(bool)
    assert not images[~sprites].any()  # black background
    colours = []
    for image, sprite in zip(images, sprites, strict=True):
        colour = image[sprite]
        assert (colour == colour[0]).all()  # one colour per image
        colours.append(colour[0])
    colours = np.array(colours)
    assert colours.min() >= 128 and colours.max() <= 255  # round(255 * [0.5, 1])
    assert len(np.unique(colours, axis=0)) == len(ROWS)
    assert abs(colours.mean() - 191.5) < 12  # uniform on [127.5, 255]


def test_noisy_sprites_are_white_on_uniform_noise():
    dataset = make_noisy_dsprites(random_state=0)
    images = dataset.images[ROWS[:10]]
    sprites = sprites_of(dataset, ROWS[:10]).astype(bool)
    assert (images[sprites] == 255).all()
    background = images[~sprites].astype(float)
    assert abs(background.mean() - 127.5) < 1.5 and abs(background.std() - 73.9) < 1.5
    assert not np.array_equal(images[0][~sprites[0]][:100], images[1][~sprites[1]][:100])


def test_scream_sprites_invert_a_tinted_patch_of_the_picture():
    art = picture()
    dataset = make_scream_dsprites(art, random_state=0)
    for row in ROWS[:4]:
        image = dataset.images[row].astype(float)
        sprite = sprites_of(dataset, [row])[0].astype(bool)
        # Background pixels are (patch + tint) / 2 in [0, 1]: find the patch whose
        # implied tint, 2 * image - patch, is the same at every background pixel.
        windows = np.lib.stride_tricks.sliding_window_view(art, (64, 64), axis=(0, 1))
        tints = 2 * image[~sprite] - windows.transpose(0, 1, 3, 4, 2)[:, :, ~sprite]
        spreads = np.ptp(tints, axis=2).max(axis=-1)
        top, left = np.unravel_index(np.argmin(spreads), spreads.shape)
        spread, tint = spreads[top, left], tints[top, left].mean(axis=0)
        assert spread <= 2.0  # uint8 rounding of (patch + tint) / 2, doubled
        assert top < art.shape[0] - 64 and left < art.shape[1] - 64  # randint's range
        assert (tint >= -1).all() and (tint <= 256).all()
        patch = art[top : top + 64, left : left + 64].astype(float)
        inverted = 255 - (patch[sprite] + tint) / 2
        assert np.abs(image[sprite] - inverted).max() <= 1.0


def test_scream_reads_the_picture_from_an_image_file_or_npy(tmp_path):
    art = picture()
    np.save(tmp_path / "scream.npy", art)
    from_array = make_scream_dsprites(art, random_state=1).images[ROWS[:3]]
    from_npy = make_scream_dsprites(tmp_path / "scream.npy", random_state=1).images[ROWS[:3]]
    assert np.array_equal(from_npy, from_array)
    image_module = pytest.importorskip("PIL.Image")
    image_module.fromarray(art).save(tmp_path / "scream.png")
    from_png = make_scream_dsprites(str(tmp_path / "scream.png"), random_state=1)
    assert np.array_equal(from_png.images[ROWS[:3]], from_array)


def test_scream_fits_a_large_picture_into_350_by_274_as_the_reference():
    art = picture(600, 500)
    dataset = make_scream_dsprites(art, random_state=0)
    # Width 500 -> 350 (height 600 -> 420), then height 420 -> 274 (width 350 -> 228).
    assert dataset.renderer.picture.shape == (274, 228, 3)
    assert np.array_equal(dataset.renderer.picture, resize_lanczos(art[None], 274, 228)[0])
    grey = make_scream_dsprites(art[:, :, 0], random_state=0).renderer.picture
    assert np.array_equal(grey[..., 0], grey[..., 2])


def test_scream_rejects_pictures_it_cannot_use(tmp_path):
    with pytest.raises(ValueError, match="at least 65 pixels each way"):
        make_scream_dsprites(picture(64, 300))
    with pytest.raises(ValueError, match=r"uint8 image .* got float64 of shape \(90, 80, 3\)"):
        make_scream_dsprites(picture().astype(float))
    with pytest.raises(FileNotFoundError, match="The_Scream.jpg"):
        make_scream_dsprites(tmp_path / "scream.jpg")
    pytest.importorskip("PIL.Image")
    (tmp_path / "scream.png").write_text("not a picture")
    with pytest.raises(ValueError, match="scream.png' cannot be read"):
        make_scream_dsprites(tmp_path / "scream.png")


def test_colour_is_not_a_factor_of_the_variants():
    with pytest.raises(ValueError, match="'color', which is not a factor of Color-dSprites"):
        make_color_dsprites(subset={"color": [0]})
