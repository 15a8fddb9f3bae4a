"""Lanczos resizing of uint8 images, equal to Pillow's ``resize(..., LANCZOS)`` bit for bit.

disentanglement_lib shrinks SmallNORB, Cars3D and the Scream picture with Pillow's
LANCZOS filter (then called ANTIALIAS). Pillow is not a dependency of this package, so
its 8-bit arithmetic is reproduced here: a separable filter of support 3 scaled by the
shrink factor, coefficients normalised per output pixel and rounded to 22-bit fixed
point, a horizontal pass rounded and clipped to uint8, then a vertical pass. The sums
are integers below 2**40, so float64 matrix products compute them exactly and fast
(about 50 ms for a Cars3D car's 96 RGB images, 128 -> 64, on one core).
"""

import numbers
import threading

import numpy as np
from sklearn.utils._param_validation import Interval
from threadpoolctl import ThreadpoolController

__all__ = ["IMAGE_SIZE_CONSTRAINT", "resize_lanczos"]

# validate_params' constraint of the loaders' ``image_size``.
IMAGE_SIZE_CONSTRAINT = [Interval(numbers.Integral, 1, None, closed="left")]

_PRECISION_BITS = 32 - 8 - 2  # Pillow's fixed point for 8-bit images
_LANCZOS_SUPPORT = 3.0
_BLOCK = 8  # output lines per matrix product
_THREADPOOLS = None  # found once: finding them takes a millisecond, limiting them microseconds
# The BLAS thread count is global to the process: one resize at a time changes it, so
# that each restores what it found.
_LIMIT_LOCK = threading.Lock()


def _lanczos(x):
    return np.where(np.abs(x) < _LANCZOS_SUPPORT, np.sinc(x) * np.sinc(x / _LANCZOS_SUPPORT), 0.0)


def _weights(in_size, out_size):
    """Fixed-point weight matrix (out_size, in_size) of one pass, as Pillow computes it."""
    scale = in_size / out_size
    filter_scale = max(scale, 1.0)
    support = _LANCZOS_SUPPORT * filter_scale
    weights = np.zeros((out_size, in_size))
    for out in range(out_size):
        centre = (out + 0.5) * scale
        # int() truncates like the C cast: these bounds decide which taps exist.
        first = max(int(centre - support + 0.5), 0)
        stop = min(int(centre + support + 0.5), in_size)
        taps = _lanczos((np.arange(first, stop) - centre + 0.5) * (1.0 / filter_scale))
        total = taps.sum()
        if total != 0.0:
            taps = taps / total
        # Round half away from zero, as Pillow's normalize_coeffs_8bpc does.
        weights[out, first:stop] = np.trunc(taps * (1 << _PRECISION_BITS) + np.copysign(0.5, taps))
    return weights


def _apply(weights, images, axis):
    """One pass along ``axis`` with Pillow's rounding and clipping to uint8.

    The resized axis is moved first, so each block of ``_BLOCK`` output lines is one
    matrix product with only the input lines its taps reach (a few times fewer
    operations than the whole weight matrix, which is mostly zeros).
    """
    moved = np.moveaxis(images, axis, 0)
    flat = moved.reshape(moved.shape[0], -1)
    n_out = weights.shape[0]
    out = np.empty((n_out, flat.shape[1]), dtype=np.uint8)
    for start in range(0, n_out, _BLOCK):
        rows = weights[start : start + _BLOCK]
        used = np.flatnonzero(rows.any(axis=0))
        first, stop = used[0], used[-1] + 1
        sums = rows[:, first:stop] @ flat[first:stop].astype(np.float64)
        sums += float(1 << (_PRECISION_BITS - 1))
        sums *= 1.0 / (1 << _PRECISION_BITS)  # a power of two: exact
        np.floor(sums, out=sums)
        out[start : start + _BLOCK] = np.clip(sums, 0, 255, out=sums)
    return np.moveaxis(out.reshape((n_out,) + moved.shape[1:]), 0, axis)


def resize_lanczos(images, height, width):
    """Resize uint8 images of shape (n, H, W) or (n, H, W, C) to (height, width).

    Equal to ``PIL.Image.fromarray(image).resize((width, height), Image.LANCZOS)``
    for every image (and band), without Pillow.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"resize_lanczos takes uint8 images, got {images.dtype}")
    global _THREADPOOLS
    in_height, in_width = images.shape[1], images.shape[2]
    out = images
    # Products of 8 rows are too small to share between threads: one BLAS thread is
    # faster than several here, and much faster when other processes load the cores.
    with _LIMIT_LOCK:
        if _THREADPOOLS is None:
            _THREADPOOLS = ThreadpoolController()
        with _THREADPOOLS.limit(limits=1, user_api="blas"):
            if width != in_width:
                out = _apply(_weights(in_width, width), out, axis=2)
            if height != in_height:
                out = _apply(_weights(in_height, height), out, axis=1)
    return np.ascontiguousarray(out)
