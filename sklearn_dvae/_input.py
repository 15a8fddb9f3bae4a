"""Input checks and resolution: what ``X`` is, and what the networks will see of it.

Checked once at the door of ``fit``, ``transform`` and ``score``: dtype, rank,
finiteness (data read on demand on a sample of rows, never read whole), and the
sample shape against the one seen at ``fit``. Resolved at ``fit``: the networks'
view of a sample (flat features or channels-first images), the scale of uint8
data and the likelihood.
"""

import numpy as np
from sklearn.utils.validation import validate_data

from ._batching import is_lazy_array, sample_rows, value_range

IMAGE_CHANNELS = (1, 3)
_UNIT_RANGE_TOLERANCE = 1e-5


def check_input(estimator, X, reset):
    """Validate ``X``; never copy uint8 or float32 data to float64.

    Parameters
    ----------
    estimator : DisentangledVAE
        Records ``n_features_in_`` when ``reset``, and knows ``input_shape_`` otherwise.
    X : array-like or array read on demand
    reset : bool
        Whether this is ``fit`` (True) or a later call (False).

    Returns
    -------
    X : ndarray or array read on demand
    """
    try:
        ndim = getattr(X, "ndim", 2)
    except Exception as error:  # e.g. an h5py dataset whose file was closed
        raise ValueError(
            f"X ({type(X).__name__}) cannot be read: {type(error).__name__}: {error}. Is it "
            "a dataset of a closed HDF5 file? Keep the file open while the model uses it."
        ) from error
    if ndim == 1 and hasattr(X, "shape"):
        raise ValueError(
            "Expected a 2-D array (n_samples, n_features) or an image array "
            f"(n_samples, [channels,] height, width), got a 1-D array of shape {X.shape}. "
            "Reshape your data with X.reshape(-1, 1) for a single feature or "
            "X.reshape(1, -1) for a single sample."
        )
    if is_lazy_array(X):
        X = _check_lazy_input(estimator, X, reset)
    else:
        X = validate_data(
            estimator,
            X,
            reset=reset,
            dtype=[np.float32, np.float64, np.uint8],
            allow_nd=True,
            ensure_min_samples=2 if reset else 1,
            ensure_min_features=1,
        )
    if X.ndim > 4:
        raise ValueError(
            f"X must have 2 to 4 dimensions (samples, then features or image axes), "
            f"got shape {X.shape}."
        )
    if not reset and tuple(X.shape[1:]) != estimator.input_shape_:
        raise ValueError(
            f"X has samples of shape {tuple(X.shape[1:])}, but {type(estimator).__name__} was "
            f"fitted on samples of shape {estimator.input_shape_}."
        )
    return X


def _check_lazy_input(estimator, X, reset):
    """Checks for data read on demand (h5py datasets, LazyImages): never read it whole.

    Shape and dtype are checked on the whole; values on a sample of rows. A NaN
    elsewhere still stops training, naming the step, through the loss check.
    """
    if np.dtype(X.dtype) not in (
        np.dtype(np.uint8),
        np.dtype(np.float32),
        np.dtype(np.float64),
    ):
        raise TypeError(f"Data read on demand must be uint8, float32 or float64, got {X.dtype}.")
    if X.ndim < 2:
        raise ValueError(f"Expected at least 2 dimensions, got shape {tuple(X.shape)}.")
    minimum = 2 if reset else 1
    if len(X) < minimum:
        raise ValueError(
            f"Found array with {len(X)} sample(s) (shape={tuple(X.shape)}) while a "
            f"minimum of {minimum} is required."
        )
    sample = sample_rows(X)
    if sample.dtype.kind == "f" and not np.all(np.isfinite(sample)):
        raise ValueError("Input X contains NaN or infinity (found in a sample of its rows).")
    if reset:
        estimator.n_features_in_ = int(X.shape[1])
        if hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
    elif X.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
    return X


def resolve_layout(X, input_shape):
    """The networks' view of a sample, and whether X's images are channels-last.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
    input_shape : tuple of int or None
        The estimator's ``input_shape``: the image shape of flat rows.

    Returns
    -------
    sample_shape : tuple of int
        ``(n_features,)`` or ``(channels, height, width)``.
    image_shape : tuple of int or None
        ``(channels, height, width)`` for images, None for feature vectors.
    channels_last : bool
        Whether X's images are ``(n, height, width, channels)``.
    """
    shape = tuple(X.shape[1:])
    channels_last = False
    if X.ndim == 2:
        if input_shape is None:
            return shape, None, False
        image = tuple(input_shape)
        if len(image) == 2:
            image = (1,) + image
        if int(np.prod(image)) != shape[0]:
            raise ValueError(
                f"input_shape={tuple(input_shape)} holds {int(np.prod(image))} values "
                f"but X has {shape[0]} features per sample."
            )
        return image, image, False
    if X.ndim == 3:
        image = (1,) + shape
    elif shape[0] in IMAGE_CHANNELS:
        image = shape
    elif shape[-1] in IMAGE_CHANNELS:
        image = (shape[-1],) + shape[:-1]
        channels_last = True
    else:
        raise ValueError(
            f"Cannot tell the channel axis of images of shape {shape}: expected "
            "(channels, height, width) or (height, width, channels) with 1 or 3 channels."
        )
    if input_shape is not None:
        expected = tuple(input_shape)
        expected = (1,) + expected if len(expected) == 2 else expected
        if expected != image:
            raise ValueError(
                f"input_shape={tuple(input_shape)} does not match images of shape {shape} in X."
            )
    return image, image, channels_last


def resolve_input_scale(X, values=None):
    """1/255 for uint8 grey levels; 1 for uint8 arrays of 0/1 (dSprites) and floats.

    Parameters
    ----------
    X : array-like
    values : tuple of float or None, default=None
        ``value_range(X)`` when already known.

    Returns
    -------
    scale : float
    """
    if X.dtype != np.uint8:
        return 1.0
    # The official dSprites file stores its binary images as 0/1, not 0/255.
    return 1.0 if (values or value_range(X))[1] <= 1 else 1.0 / 255.0


def resolve_call_scale(X, input_dtype, input_scale, input_range):
    """The scale that maps this ``X``'s raw values to the model's range, given fit's encoding.

    The encoding seen at ``fit`` (dtype, scale and range) is kept; later input in
    another encoding is converted when it is unambiguous:

    - uint8 images after a fit on 0/1 uint8 images: 0/1 as they are, 0-255 by 1/255;
    - uint8 after a fit on uint8 grey levels: by 1/255;
    - uint8 after a fit on floats within [0, 1]: by 1/255; on other floats: as numbers;
    - floats after a fit on uint8 grey levels: values above 1 are grey levels (by
      1/255); otherwise the model's range already;
    - other floats: as they are.

    Values that still fall outside what the model's likelihood accepts are refused
    by the caller's range check.

    Parameters
    ----------
    X : array-like
    input_dtype : numpy.dtype
        The dtype of ``X`` at ``fit``.
    input_scale : float
        The scale applied at ``fit``.
    input_range : tuple of float
        ``(min, max)`` of the raw ``X`` at ``fit``.

    Returns
    -------
    scale : float
    """
    grey = 1.0 / 255.0
    if X.dtype == np.uint8:
        if np.dtype(input_dtype) == np.uint8:
            if input_scale == 1.0:  # fitted on 0/1 images
                return 1.0 if value_range(X)[1] <= 1 else grey
            return grey
        return grey if input_range[1] <= 1.0 + _UNIT_RANGE_TOLERANCE else 1.0
    if (
        np.dtype(input_dtype) == np.uint8
        and input_scale != 1.0
        and value_range(X)[1] > 1.0 + _UNIT_RANGE_TOLERANCE
    ):
        return grey
    return 1.0


def describe_encoding(dtype, scale):
    """How a message names an encoding: "0/1 uint8 images", "uint8 grey levels", ...

    Parameters
    ----------
    dtype : numpy.dtype
    scale : float

    Returns
    -------
    description : str
    """
    if np.dtype(dtype) == np.uint8:
        return "0/1 uint8 images" if scale == 1.0 else "uint8 grey levels 0-255"
    if scale != 1.0:
        return "floats holding grey levels 0-255"
    return f"{np.dtype(dtype)} values"


def resolve_likelihood(X, likelihood, values=None):
    """The decoder's likelihood: Bernoulli for data in [0, 1] under "auto".

    Parameters
    ----------
    X : array-like
    likelihood : {"auto", "bernoulli", "gaussian"}
    values : tuple of float or None, default=None
        ``value_range(X)`` when already known.

    Returns
    -------
    likelihood : {"bernoulli", "gaussian"}
    """
    if likelihood == "gaussian":
        return "gaussian"
    if X.dtype == np.uint8:
        in_unit_range = True
    else:
        # Allow float rounding (MinMaxScaler's output can exceed 1 by an ulp).
        low, high = values or value_range(X)
        in_unit_range = low >= -_UNIT_RANGE_TOLERANCE and high <= 1.0 + _UNIT_RANGE_TOLERANCE
    if likelihood == "bernoulli" and not in_unit_range:
        raise ValueError(
            "likelihood='bernoulli' needs values in [0, 1], but X ranges over "
            f"[{low}, {high}]. Scale X to [0, 1] (e.g. with MinMaxScaler) or use "
            "likelihood='gaussian'."
        )
    return "bernoulli" if in_unit_range else "gaussian"


def is_standard_image(image_shape):
    """Whether the sample is a 64x64 image with 1 or 3 channels (``"auto"`` takes conv).

    Parameters
    ----------
    image_shape : tuple of int or None

    Returns
    -------
    standard : bool
    """
    return (
        image_shape is not None
        and tuple(image_shape[1:]) == (64, 64)
        and image_shape[0] in IMAGE_CHANNELS
    )
