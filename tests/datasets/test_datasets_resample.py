"""The Lanczos resizing that shrinks SmallNORB, Cars3D and the Scream picture equals Pillow's."""

import numpy as np
import pytest

from sklearn_dvae.datasets._resample import resize_lanczos


@pytest.mark.parametrize(
    ("shape", "size"),
    [
        ((96, 96), (64, 64)),  # SmallNORB
        ((128, 128, 3), (64, 64)),  # Cars3D
        ((600, 500, 3), (274, 228)),  # a picture fitted for Scream-dSprites
        ((50, 70), (64, 64)),  # enlarging
        ((96, 96), (37, 50)),  # uneven ratios
    ],
)
def test_resize_equals_pillow_lanczos_bit_for_bit(shape, size):
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(4,) + shape, dtype=np.uint8)
    images[1] = 0
    images[2] = 255
    images[3, ::2] = 255  # stripes: the filter's negative lobes overshoot and clip
    images[3, 1::2] = 0
    ours = resize_lanczos(images, *size)
    pillow = np.stack(
        [np.asarray(Image.fromarray(image).resize(size[::-1], Image.LANCZOS)) for image in images]
    )
    assert ours.dtype == np.uint8 and np.array_equal(ours, pillow)


def test_resize_refuses_other_dtypes():
    with pytest.raises(TypeError, match="uint8"):
        resize_lanczos(np.zeros((1, 8, 8)), 4, 4)


def test_resize_leaves_the_blas_thread_count_as_it_found_it():
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_info

    def blas_threads():
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    before = blas_threads()
    images = np.zeros((3, 96, 96), np.uint8)
    with ThreadPoolExecutor(4) as pool:  # concurrent resizes restore it too
        list(pool.map(lambda _: resize_lanczos(images, 64, 64), range(16)))
    assert blas_threads() == before
