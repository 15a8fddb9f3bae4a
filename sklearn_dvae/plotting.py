"""Figures of fitted models and their evaluation: traversals, reconstructions, metric matrices.

Every function returns a matplotlib ``Figure`` (save it with ``fig.savefig``, show
it with ``matplotlib.pyplot.show``). matplotlib is an optional dependency,
installed with ``pip install sklearn-dvae[plot]``; it is imported when a function
is called, so the rest of the package works without it.
"""

import math
import numbers

import numpy as np

__all__ = [
    "latent_kl",
    "plot_latent_traversals",
    "plot_metric_matrix",
    "plot_reconstructions",
    "plot_samples",
    "plot_search_results",
    "plot_training_history",
]

_INSTALL_HINT = (
    "sklearn_dvae.plotting needs matplotlib, the optional 'plot' extra: "
    "pip install sklearn-dvae[plot]"
)
# Width and height of one image cell of an image grid, in inches.
_CELL_INCHES = 0.8


def _pyplot():
    """Import pyplot on first use, with an error that says how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(_INSTALL_HINT) from error
    return plt


# ---------------------------------------------------------------------- helpers
def _check_fitted_model(estimator, needs_sample=False):
    from sklearn.utils.validation import check_is_fitted

    methods = ("transform", "inverse_transform") + (("sample",) if needs_sample else ())
    missing = [name for name in methods if not hasattr(estimator, name)]
    if missing:
        raise TypeError(
            f"expected a fitted model with {', '.join(methods)} (such as BetaVAE), got "
            f"{type(estimator).__name__}, which lacks {', '.join(missing)}."
        )
    check_is_fitted(estimator)


def latent_kl(estimator, X):
    """Mean ``KL(q(z_j|x) || N(0, 1))`` of each latent over ``X``, in nats.

    A latent whose KL is near zero carries no information about the data (its
    posterior is the prior whatever the input); sorting latents by this value
    puts the informative ones first.

    Parameters
    ----------
    estimator : fitted DisentangledVAE
        A model of this package (`BetaVAE`, `FactorVAE`, ...).
    X : array-like of the training data's sample shape
        Data to encode.

    Returns
    -------
    kl : ndarray of shape (latent_dim,), dtype float64
        Mean KL of each latent dimension. For a full-covariance posterior
        (`CHyVAE`) it is the KL of each latent's marginal.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae import BetaVAE
    >>> from sklearn_dvae.plotting import latent_kl
    >>> X = np.random.default_rng(0).random((64, 6)).astype(np.float32)
    >>> vae = BetaVAE(latent_dim=3, hidden_units=(16,), max_epochs=1,
    ...               random_state=0).fit(X)
    >>> latent_kl(vae, X).shape
    (3,)
    """
    from sklearn.utils.validation import check_is_fitted

    if not hasattr(estimator, "latent_kl") or not hasattr(estimator, "_check_X"):
        check_is_fitted(estimator)
        raise TypeError(
            "latent_kl needs a model of this package (BetaVAE, FactorVAE, ...), got "
            f"{type(estimator).__name__}."
        )
    return estimator.latent_kl(X)


def _as_display_images(images, image_shape=None):
    """Images of shape (n, h, w) or (n, h, w, 3) from any layout the models accept."""
    images = np.asarray(images)
    if image_shape is not None:
        images = images.reshape((len(images),) + tuple(image_shape))
    sample_shape = images.shape[1:]
    if len(sample_shape) == 1:
        side = math.isqrt(sample_shape[0])
        if side * side != sample_shape[0]:
            raise ValueError(
                f"cannot show samples of {sample_shape[0]} features as square images; "
                "pass image_shape=(height, width) or (channels, height, width)."
            )
        return images.reshape(len(images), side, side)
    if len(sample_shape) == 2:
        return images
    if len(sample_shape) == 3:
        if sample_shape[0] in (1, 3) and sample_shape[-1] not in (1, 3):
            images = np.moveaxis(images, 1, -1)
        if images.shape[-1] == 1:
            return images[..., 0]
        if images.shape[-1] == 3:
            return images
    raise ValueError(
        f"cannot show samples of shape {sample_shape} as images: expected (height, width), "
        "(channels, height, width) or (height, width, channels) with 1 or 3 channels."
    )


def _value_range(estimator, *arrays):
    """Display range: the model's data scale for Bernoulli models, else the values' range."""
    if estimator is not None and getattr(estimator, "likelihood_", None) == "bernoulli":
        return 0.0, 1.0 / float(getattr(estimator, "input_scale_", 1.0))
    arrays = [np.asarray(a) for a in arrays]
    if all(a.dtype == np.uint8 for a in arrays):
        high = max(int(a.max(initial=0)) for a in arrays)
        return 0.0, (1.0 if high <= 1 else 255.0)
    low = min(float(np.min(a)) for a in arrays)
    high = max(float(np.max(a)) for a in arrays)
    if low >= 0.0 and high <= 1.0:
        return 0.0, 1.0
    return low, high if high > low else low + 1.0


def _show_image(ax, image, value_range, cmap):
    low, high = value_range
    if image.ndim == 3:
        # RGB images take no colour map: scale them to [0, 1] for imshow.
        ax.imshow(np.clip((image - low) / (high - low), 0.0, 1.0), interpolation="nearest")
    else:
        ax.imshow(image, cmap=cmap, vmin=low, vmax=high, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _check_positive_int(value, name):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def _new_figure(figsize, default_size):
    plt = _pyplot()
    size = default_size if figsize is None else tuple(figsize)
    return plt.figure(figsize=size, layout="constrained")


# ---------------------------------------------------------------------- image figures
def plot_latent_traversals(
    estimator,
    X,
    *,
    values=None,
    reference=None,
    n_latents=None,
    sort_by="kl",
    image_shape=None,
    cmap="gray",
    figsize=None,
):
    """Decode a reference code with one latent swept over a range of values, per row.

    Row ``i`` shows the ``i``-th latent (in the order ``sort_by`` chooses) set
    to each of ``values`` in turn while the other latents keep the reference
    code's values. In a disentangled model each row changes one factor of
    variation (position, scale, shape...) and nothing else.

    Parameters
    ----------
    estimator : fitted model with ``transform`` and ``inverse_transform``
        A model of this package (`BetaVAE`, `FactorVAE`, ...). Other
        transformers (e.g. ``PCA`` on flattened images) work with
        ``sort_by="variance"`` or None.
    X : array-like of the training data's sample shape
        Data that defines the reference code and the latent order.
    values : array-like of float, default=None
        Latent values of the columns; ``numpy.linspace(-2.5, 2.5, 9)`` (most of
        the prior's mass) when None.
    reference : int or None, default=None
        Row of ``X`` whose code (posterior mean) is the reference code. None
        takes the row whose code is nearest the median code of ``X``, a
        typical sample, so that the sweeps start from the middle of the data.
    n_latents : int, default=None
        Number of rows: the first latents of the order. All latents when None.
    sort_by : {"kl", "variance"} or None, default="kl"
        ``"kl"``: by each latent's mean KL to the prior over ``X`` (see
        `latent_kl`), most informative first; ``"variance"``: by the variance of
        the codes over ``X``; None: latent index order.
    image_shape : tuple of int, default=None
        Shape to show each decoded sample in, for flattened images.
    cmap : str, default="gray"
        Colour map of single-channel images.
    figsize : tuple of float, default=None
        Figure size in inches; about 0.8 inch per image when None.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One row per latent, labelled with its index and the ``sort_by`` value;
        the columns are labelled with the latent values.

    See Also
    --------
    latent_kl : The ordering statistic.
    plot_reconstructions : Inputs next to their reconstructions.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn_dvae import BetaVAE
    >>> from sklearn_dvae.plotting import plot_latent_traversals
    >>> X = np.random.default_rng(0).random((64, 8, 8)).astype(np.float32)
    >>> vae = BetaVAE(latent_dim=3, hidden_units=(16,), max_epochs=1,
    ...               random_state=0).fit(X)
    >>> fig = plot_latent_traversals(vae, X, values=[-2, 0, 2])
    >>> len(fig.axes)  # 3 latents x 3 values
    9
    """
    _check_fitted_model(estimator)
    _pyplot()  # fail before any work when matplotlib is missing
    if sort_by not in ("kl", "variance", None):
        raise ValueError(f"sort_by must be 'kl', 'variance' or None, got {sort_by!r}.")
    values = np.linspace(-2.5, 2.5, 9) if values is None else np.asarray(values, dtype=float)
    if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError("values must be a non-empty 1-D array of finite numbers.")
    if reference is not None and (
        not isinstance(reference, numbers.Integral) or not 0 <= reference < len(X)
    ):
        raise ValueError(
            f"reference must be None or a row index of X (0 to {len(X) - 1}), got {reference!r}."
        )

    Z = np.asarray(estimator.transform(X))
    if reference is None:
        reference = int(np.argmin(np.sum((Z - np.median(Z, axis=0)) ** 2, axis=1)))
    latent_dim = Z.shape[1]
    if sort_by == "kl":
        statistic = latent_kl(estimator, X)
    elif sort_by == "variance":
        statistic = Z.var(axis=0)
    else:
        statistic = None
    order = np.arange(latent_dim) if statistic is None else np.argsort(-statistic, kind="stable")
    n_rows = latent_dim if n_latents is None else _check_positive_int(n_latents, "n_latents")
    order = order[:n_rows]
    n_rows, n_cols = len(order), len(values)

    codes = np.repeat(Z[reference][np.newaxis, :], n_rows * n_cols, axis=0)
    for row, latent in enumerate(order):
        codes[row * n_cols : (row + 1) * n_cols, latent] = values
    decoded = np.asarray(estimator.inverse_transform(codes.astype(Z.dtype)))
    images = _as_display_images(decoded, image_shape)
    value_range = _value_range(estimator, decoded)

    fig = _new_figure(figsize, (_CELL_INCHES * n_cols + 1.0, _CELL_INCHES * n_rows + 0.4))
    axes = np.atleast_2d(fig.subplots(n_rows, n_cols, squeeze=False))
    for row, latent in enumerate(order):
        for col in range(n_cols):
            ax = axes[row, col]
            _show_image(ax, images[row * n_cols + col], value_range, cmap)
            if row == 0:
                ax.set_title(f"{values[col]:+.2g}", fontsize="small")
        label = f"z{latent}"
        if statistic is not None:
            label += f"\n{sort_by} {statistic[latent]:.2f}"
        axes[row, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize="small")
    return fig


def plot_reconstructions(
    estimator, X, *, n=8, random_state=None, image_shape=None, cmap="gray", figsize=None
):
    """Show inputs (top row) above the model's reconstructions (bottom row).

    A reconstruction is the decoder's mean at the posterior mean,
    ``inverse_transform(transform(x))``.

    Parameters
    ----------
    estimator : fitted model with ``transform`` and ``inverse_transform``
        The model, e.g. a fitted `BetaVAE`.
    X : array-like of the training data's sample shape
        Data to reconstruct.
    n : int, default=8
        Number of inputs shown (at most ``len(X)``).
    random_state : int, RandomState instance or None, default=None
        None shows the first ``n`` rows of ``X``; otherwise ``n`` rows are drawn
        at random (without replacement) with this seed.
    image_shape : tuple of int, default=None
        Shape to show each sample in, for flattened images.
    cmap : str, default="gray"
        Colour map of single-channel images.
    figsize : tuple of float, default=None
        Figure size in inches; about 0.8 inch per image when None.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn_dvae import BetaVAE
    >>> from sklearn_dvae.plotting import plot_reconstructions
    >>> X = np.random.default_rng(0).random((64, 8, 8)).astype(np.float32)
    >>> vae = BetaVAE(latent_dim=3, hidden_units=(16,), max_epochs=1,
    ...               random_state=0).fit(X)
    >>> len(plot_reconstructions(vae, X, n=4).axes)  # 2 rows x 4 columns
    8
    """
    from sklearn.utils import check_random_state

    _check_fitted_model(estimator)
    n = min(_check_positive_int(n, "n"), len(X))
    if random_state is None:
        rows = np.arange(n)
    else:
        rows = np.sort(check_random_state(random_state).choice(len(X), size=n, replace=False))
    # Arrays, memory maps and h5py datasets are indexed in place (sorted rows).
    originals = np.asarray(X[rows]) if hasattr(X, "shape") else np.asarray(X)[rows]
    decoded = np.asarray(estimator.inverse_transform(estimator.transform(originals)))
    value_range = _value_range(estimator, originals, decoded)
    shown = (_as_display_images(originals, image_shape), _as_display_images(decoded, image_shape))

    fig = _new_figure(figsize, (_CELL_INCHES * n + 1.0, 2 * _CELL_INCHES + 0.2))
    axes = fig.subplots(2, n, squeeze=False)
    for row, (images, label) in enumerate(zip(shown, ("input", "reconstruction"), strict=True)):
        for col in range(n):
            _show_image(axes[row, col], images[col], value_range, cmap)
        axes[row, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize="small")
    return fig


def plot_samples(
    estimator_or_images,
    *,
    n=16,
    n_cols=None,
    random_state=None,
    image_shape=None,
    cmap="gray",
    title=None,
    figsize=None,
):
    """Show a grid of images: draws from a model's prior, or images given directly.

    Parameters
    ----------
    estimator_or_images : fitted model with ``sample``, or array-like of images
        A fitted model of this package, whose ``sample(n)`` decodes ``n`` draws
        of the prior; or images of shape (n_images, ...) in any layout the
        models accept, of which the first ``n`` are shown.
    n : int, default=16
        Number of images shown.
    n_cols : int, default=None
        Images per row; about ``sqrt(n)`` when None.
    random_state : int, RandomState instance or None, default=None
        Seed of the prior draws (ignored for images).
    image_shape : tuple of int, default=None
        Shape to show each sample in, for flattened images.
    cmap : str, default="gray"
        Colour map of single-channel images.
    title : str, default=None
        Figure title.
    figsize : tuple of float, default=None
        Figure size in inches; about 0.8 inch per image when None.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn_dvae.plotting import plot_samples
    >>> images = np.random.default_rng(0).integers(0, 2, (6, 8, 8)).astype(np.uint8)
    >>> len(plot_samples(images, n=6, n_cols=3).axes)
    6
    """
    n = _check_positive_int(n, "n")
    if hasattr(estimator_or_images, "sample") and hasattr(estimator_or_images, "transform"):
        _check_fitted_model(estimator_or_images, needs_sample=True)
        estimator = estimator_or_images
        images = np.asarray(estimator.sample(n, random_state=random_state))
    else:
        estimator = None
        images = np.asarray(estimator_or_images)
        if images.ndim < 2 or len(images) == 0:
            raise ValueError(
                "expected a fitted model with a sample method or an array of images of shape "
                f"(n_images, ...), got {type(estimator_or_images).__name__} of shape "
                f"{getattr(images, 'shape', None)}."
            )
        images = images[:n]
        n = len(images)
    value_range = _value_range(estimator, images)
    images = _as_display_images(images, image_shape)
    n_cols = math.ceil(math.sqrt(n)) if n_cols is None else _check_positive_int(n_cols, "n_cols")
    n_cols = min(n_cols, n)
    n_rows = math.ceil(n / n_cols)

    fig = _new_figure(
        figsize, (_CELL_INCHES * n_cols + 0.2, _CELL_INCHES * n_rows + (0.5 if title else 0.2))
    )
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for index, ax in enumerate(axes.flat):
        if index < n:
            _show_image(ax, images[index], value_range, cmap)
        else:
            ax.set_axis_off()
    if title:
        fig.suptitle(title)
    return fig


# ---------------------------------------------------------------------- evaluation figures
def plot_metric_matrix(
    matrix,
    *,
    latent_names=None,
    factor_names=None,
    value_label=None,
    title=None,
    annotate=True,
    cmap="viridis",
    ax=None,
    figsize=None,
):
    """Heat map of a latents x factors matrix of a disentanglement metric.

    For the SAP score matrix (``sap_score(..., return_details=True)["score_matrix"]``),
    the DCI importance matrix (``dci_score(...)["importance_matrix"]``), the
    FactorVAE vote matrix (``factor_vae_score(...)["eval_votes"]``) or MIG's
    mutual information. A disentangled representation shows one strong cell
    per row and per column.

    Parameters
    ----------
    matrix : array-like of shape (n_latents, n_factors)
        The values; rows are latents, columns factors.
    latent_names : sequence of str, default=None
        Row labels; ``z0``, ``z1``, ... when None.
    factor_names : sequence of str, default=None
        Column labels (e.g. ``dataset.y_factor_names``); ``factor 0``, ... when None.
    value_label : str, default=None
        Label of the colour bar (e.g. ``"SVM accuracy"``, ``"importance"``, ``"votes"``).
    title : str, default=None
        Axes title.
    annotate : bool, default=True
        Write each value in its cell.
    cmap : str, default="viridis"
        Colour map.
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure when None.
    figsize : tuple of float, default=None
        Size of a new figure in inches (ignored with ``ax``).

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure holding the heat map.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn_dvae.plotting import plot_metric_matrix
    >>> votes = np.array([[90, 2], [5, 80], [0, 0]])
    >>> fig = plot_metric_matrix(votes, factor_names=["scale", "posX"], value_label="votes")
    >>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
    ('factor', 'latent')
    """
    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim != 2 or 0 in matrix.shape:
        raise ValueError(
            f"matrix must be a non-empty 2-D array (latents x factors), got shape {matrix.shape}."
        )
    n_latents, n_factors = matrix.shape
    latent_names = [f"z{i}" for i in range(n_latents)] if latent_names is None else latent_names
    factor_names = (
        [f"factor {k}" for k in range(n_factors)] if factor_names is None else factor_names
    )
    if len(latent_names) != n_latents or len(factor_names) != n_factors:
        raise ValueError(
            f"got {len(latent_names)} latent names and {len(factor_names)} factor names for a "
            f"matrix of shape {matrix.shape} (latents x factors)."
        )
    if ax is None:
        fig = _new_figure(figsize, (1.0 * n_factors + 2.5, 0.4 * n_latents + 1.5))
        ax = fig.add_subplot()
    else:
        _pyplot()
        fig = ax.figure
    finite = matrix[np.isfinite(matrix)]
    image = ax.imshow(matrix, cmap=cmap, aspect="auto", interpolation="nearest")
    fig.colorbar(image, ax=ax, label=value_label)
    ax.set_xticks(range(n_factors), [str(name) for name in factor_names])
    ax.set_yticks(range(n_latents), [str(name) for name in latent_names])
    ax.set_xlabel("factor")
    ax.set_ylabel("latent")
    if title:
        ax.set_title(title)
    if annotate and finite.size:
        threshold = 0.5 * (finite.min() + finite.max())
        integers = np.all(finite == np.round(finite))
        for (i, k), value in np.ndenumerate(matrix):
            text = f"{value:.0f}" if integers else f"{value:.2f}"
            # Dark text on the bright end of viridis-like maps, light text elsewhere.
            color = "black" if value > threshold else "white"
            ax.text(k, i, text, ha="center", va="center", fontsize="x-small", color=color)
    return fig


def plot_training_history(estimator, *, terms=None, log_scale="auto", figsize=None):
    """Plot each named loss term of ``history_`` per epoch, one panel per term.

    Training values are solid lines; validation values (when the model was
    trained with a ``train_split``) are dashed lines in the same panel.

    Parameters
    ----------
    estimator : fitted model of this package
        A model whose ``history_`` records ``train_<term>`` per epoch
        (``loss``, ``reconstruction``, ``kl`` and the model's own terms, such as
        FactorVAE's ``tc``).
    terms : sequence of str, default=None
        Terms to plot (names without the ``train_`` prefix); all recorded
        terms when None.
    log_scale : "auto" or bool, default="auto"
        Logarithmic y axes; ``"auto"`` takes one for each panel whose values
        are positive and span a factor of 10 or more (the first epochs'
        reconstruction loss dwarfs the later ones').
    figsize : tuple of float, default=None
        Figure size in inches; about 3 x 2.4 inches per panel when None.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn_dvae import BetaVAE
    >>> from sklearn_dvae.plotting import plot_training_history
    >>> X = np.random.default_rng(0).random((64, 6)).astype(np.float32)
    >>> vae = BetaVAE(latent_dim=2, hidden_units=(16,), max_epochs=3,
    ...               random_state=0).fit(X)
    >>> [ax.get_title() for ax in plot_training_history(vae).axes]
    ['loss', 'reconstruction', 'kl']
    """
    history = getattr(estimator, "history_", None)
    if history is None:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(estimator)
        raise TypeError(f"{type(estimator).__name__} has no training history_.")
    if len(history) == 0:
        raise ValueError("the model's history_ is empty: it was not trained for any epoch.")
    # skorch adds bookkeeping entries ("train_batch_count", "train_loss_best", ...)
    # beside the loss terms; the model's own list of terms names the ones to plot.
    # An epoch cut short (training stopped by an error) has no epoch-level
    # entries, so the terms are collected over every epoch.
    keys = list(dict.fromkeys(key for row in history for key in row))
    names = ("loss",) + tuple(getattr(estimator, "_loss_term_names", ()))
    recorded = [name for name in names if f"train_{name}" in keys] or [
        key[len("train_") :]
        for key in keys
        if key.startswith("train_") and not key.endswith("_best") and key != "train_batch_count"
    ]
    if not recorded:
        raise ValueError("the model's history_ records no loss term: no epoch was completed.")
    if terms is None:
        terms = recorded
    else:
        terms = list(terms)
        unknown = [term for term in terms if term not in recorded]
        if unknown or not terms:
            raise ValueError(f"unknown terms {unknown}; the history records {recorded}.")
    epochs = np.asarray(history[:, "epoch"])
    n_cols = min(3, len(terms))
    n_rows = math.ceil(len(terms) / n_cols)
    fig = _new_figure(figsize, (3.0 * n_cols, 2.4 * n_rows))
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for ax, term in zip(axes.flat, terms, strict=False):
        marker = "o" if len(epochs) < 20 else None
        train = _history_column(history, f"train_{term}")
        valid = _history_column(history, f"valid_{term}")
        ax.plot(epochs, train, marker=marker, label="train")
        if np.any(np.isfinite(valid)):
            ax.plot(epochs, valid, linestyle="--", marker=marker, label="valid")
            ax.legend(fontsize="small")
        values = np.concatenate([train, valid])
        values = values[np.isfinite(values)]
        use_log = log_scale
        if log_scale == "auto":
            use_log = bool(values.size and values.min() > 0 and values.max() >= 10 * values.min())
        if use_log:
            ax.set_yscale("log")
        ax.set_title(term)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(terms) :]:
        ax.set_axis_off()
    return fig


def _history_column(history, key):
    """One key of every epoch of a skorch History, NaN where an epoch lacks it."""
    return np.array([row.get(key, np.nan) for row in history], dtype=float)


def plot_search_results(
    search,
    param,
    *,
    metric=None,
    seed_param="random_state",
    log_scale="auto",
    ax=None,
    figsize=None,
):
    """Score against one hyperparameter, mean over seeds with the seeds' spread as error bars.

    Uses `sklearn_dvae.model_selection.search_results_table` to group the
    candidates that differ only in ``seed_param``. Each seed's own score is
    drawn as a faint dot; when the search varied other parameters too, each
    of their combinations gets its own line.

    Parameters
    ----------
    search : fitted GridSearchCV / RandomizedSearchCV, or its ``cv_results_`` dict
        The search to plot.
    param : str
        The hyperparameter on the x axis, as named in the search (e.g.
        ``"gamma"``, or ``"vae__beta"`` in a pipeline).
    metric : str, default=None
        For a multi-metric search, the metric on the y axis; the first one
        (``"score"`` for a single-metric search) when None.
    seed_param : str, default="random_state"
        Parameter that holds the seed.
    log_scale : "auto" or bool, default="auto"
        Logarithmic x axis; ``"auto"`` takes one when the values are positive
        numbers spanning a factor of 10 or more.
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure when None.
    figsize : tuple of float, default=None
        Size of a new figure in inches (ignored with ``ax``).

    Returns
    -------
    fig : matplotlib.figure.Figure

    See Also
    --------
    sklearn_dvae.model_selection.search_results_table : The table behind the plot.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_dvae.plotting import plot_search_results
    >>> cv_results = {
    ...     "params": [{"beta": b, "random_state": s} for b in (1, 4, 16) for s in (0, 1)],
    ...     "mean_test_score": [0.6, 0.7, 0.8, 0.75, 0.7, 0.72],
    ... }
    >>> fig = plot_search_results(cv_results, "beta")
    >>> fig.axes[0].get_xlabel(), fig.axes[0].get_xscale()
    ('beta', 'log')
    """
    from .model_selection import search_results_table

    rows = search_results_table(search, seed_param=seed_param)
    cv_results = getattr(search, "cv_results_", search)
    metrics = [key[len("mean_test_") :] for key in cv_results if key.startswith("mean_test_")]
    metric = metrics[0] if metric is None else metric
    if metric not in metrics:
        raise ValueError(f"unknown metric {metric!r}; the search scored {metrics}.")
    if not any(param in row for row in rows):
        names = sorted({key for p in cv_results["params"] for key in p} - {seed_param})
        raise ValueError(f"the search has no parameter {param!r}; its parameters are {names}.")

    # One line per combination of the parameters other than `param` and the seed.
    summary_keys = {"n_seeds", "n_failed"} | {
        f"{name}_{stat}" for name in metrics for stat in ("mean", "std")
    }
    lines = {}
    for row in rows:
        others = tuple(
            (key, value)
            for key, value in row.items()
            if key not in summary_keys and key != param and key != seed_param
        )
        lines.setdefault(others, []).append(row)
    x_values = [row[param] for row in rows if param in row]
    numeric = all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in x_values)
    if not numeric:
        categories = list(dict.fromkeys(repr(v) for v in x_values))
    if log_scale == "auto":
        positive = numeric and min(x_values) > 0
        log_scale = bool(positive and max(x_values) / min(x_values) >= 10)

    if ax is None:
        fig = _new_figure(figsize, (5.0, 3.5))
        ax = fig.add_subplot()
    else:
        _pyplot()
        fig = ax.figure

    def position(value):
        return float(value) if numeric else float(categories.index(repr(value)))

    for others, line_rows in lines.items():
        line_rows = sorted(line_rows, key=lambda r: position(r[param]))
        x = np.array([position(r[param]) for r in line_rows])
        mean = np.array([r[f"{metric}_mean"] for r in line_rows])
        std = np.nan_to_num(np.array([r[f"{metric}_std"] for r in line_rows]))
        label = ", ".join(f"{k}={v}" for k, v in others) or None
        container = ax.errorbar(x, mean, yerr=std, marker="o", capsize=3, label=label)
        seeds_x, seeds_y = _seed_points(cv_results, param, metric, others, seed_param, position)
        ax.scatter(seeds_x, seeds_y, s=10, alpha=0.35, color=container[0].get_color())
    if log_scale:
        ax.set_xscale("log")
    if not numeric:
        ax.set_xticks(range(len(categories)), categories)
    ax.set_xlabel(param)
    ax.set_ylabel(metric if metric != "score" else "score (mean over seeds)")
    n_seeds = max(row["n_seeds"] for row in rows)
    ax.set_title(f"{metric} vs {param} ({n_seeds} seed{'s' if n_seeds != 1 else ''}, ±1 std)")
    ax.grid(alpha=0.3)
    if len(lines) > 1:
        ax.legend(fontsize="small")
    return fig


def _seed_points(cv_results, param, metric, others, seed_param, position):
    """Each candidate's own score on the line of the parameter combination ``others``."""
    wanted = dict(others)
    xs, ys = [], []
    scores = np.asarray(cv_results[f"mean_test_{metric}"], dtype=float)
    for params, score in zip(cv_results["params"], scores, strict=True):
        if param not in params or not np.isfinite(score):
            continue
        rest = {k: v for k, v in params.items() if k not in (param, seed_param)}
        if rest == wanted:
            xs.append(position(params[param]))
            ys.append(score)
    return xs, ys
