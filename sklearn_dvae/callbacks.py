"""skorch callbacks for watching a model train: latent traversals as images, every N epochs.

Pass them to any estimator's ``callbacks=[...]``. skorch's own logging callbacks
(``TensorBoard``, ``MlflowLogger``, ``WandbLogger``) record the loss terms of
``history_``; see the user guide's "Tracking experiments" section.
"""

import binascii
import math
import numbers
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import torch
from skorch.callbacks import Callback

__all__ = ["TraversalImageLogger"]

# Grey level of the lines between the cells of a traversal grid.
_GRID_LINE_LEVEL = 128


class TraversalImageLogger(Callback):
    """Decode latent traversals every ``every`` epochs and hand the image to a writer.

    At the end of epochs ``every``, ``2 * every``, ... the net's module encodes
    ``X``, takes the code of a reference row, and decodes it with one latent at
    a time swept over ``values``: one row per latent (the latents with the
    largest KL to the prior over ``X`` first), one column per value, as
    `sklearn_dvae.plotting.plot_latent_traversals` draws them for a fitted
    model. The grid is an RGB uint8 image of shape ``(height, width, 3)``. Other
    epochs cost one modulo. The module is put in evaluation mode for the
    decoding and back in its previous mode afterwards; nothing is drawn from
    torch's random generator, so the training run is the same with or without
    this callback.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        A few training-like rows (tens to hundreds) in the training data's shape
        and encoding (uint8 images as uint8, say): they choose the reference code
        and the order of the latents.
    writer : callable, str, path-like or SummaryWriter
        Where each image goes: a function called as ``writer(image, epoch)``; a
        directory, where ``<tag>_epoch<epoch>.png`` is written (the directory is
        created if needed); or an object with an ``add_image`` method, such as
        ``torch.utils.tensorboard.SummaryWriter``, called as
        ``writer.add_image(tag, image, global_step=epoch, dataformats="HWC")``.
    every : int, default=1
        Log after every ``every``-th epoch (counted from the first epoch of the
        net's history, so ``partial_fit`` continues the count).
    values : array-like of float, default=None
        Latent values of the columns; ``numpy.linspace(-2.5, 2.5, 9)`` when None.
    n_latents : int, default=None
        Number of rows: the latents with the largest KL first. All when None.
    reference : int, default=None
        Row of ``X`` whose posterior mean is the reference code. None takes the
        row whose code is nearest the median code of ``X`` at that epoch.
    image_shape : tuple of int, default=None
        ``(height, width)`` or ``(channels, height, width)`` to show samples of
        flat features as images; samples of ``n`` features with ``n`` a square
        are shown as square grey images when None.
    tag : str, default="latent_traversals"
        Name of the image for a SummaryWriter, and prefix of the file names.

    Attributes
    ----------
    epochs_logged_ : list of int
        The epochs whose image was handed to the writer since the net was
        initialised.

    See Also
    --------
    sklearn_dvae.plotting.plot_latent_traversals : The same traversals of a fitted model.

    Notes
    -----
    Decoder outputs are shown as the likelihood's mean (`VAEModule.mean_of`):
    probabilities in [0, 1] for a Bernoulli decoder; for a Gaussian one the grey
    levels span the range of ``X`` as the networks see it. Samples with one
    channel become grey RGB images; samples with 3 channels are shown as they are.

    A SummaryWriter holds open files and cannot be copied: the estimator can then
    be neither cloned (``GridSearchCV``) nor pickled. In a search, or with
    ``joblib.dump``, give a directory or a function instead.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae import BetaVAE
    >>> from sklearn_dvae.callbacks import TraversalImageLogger
    >>> X = np.zeros((49, 8, 8), dtype=np.float32)
    >>> for i in range(49):  # a 2x2 square at each of 7 x 7 places
    ...     X[i, i // 7 : i // 7 + 2, i % 7 : i % 7 + 2] = 1
    >>> images = {}
    >>> logger = TraversalImageLogger(
    ...     X[:16], lambda image, epoch: images.update({epoch: image}), every=2,
    ...     values=[-2, 0, 2])
    >>> vae = BetaVAE(latent_dim=3, hidden_units=(32,), lr=1e-2, batch_size=8,
    ...               max_epochs=4, random_state=0, callbacks=[logger]).fit(X)
    >>> sorted(images), images[4].shape, images[4].dtype
    ([2, 4], (28, 28, 3), dtype('uint8'))
    """

    def __init__(
        self,
        X,
        writer,
        *,
        every=1,
        values=None,
        n_latents=None,
        reference=None,
        image_shape=None,
        tag="latent_traversals",
    ):
        self.X = X
        self.writer = writer
        self.every = every
        self.values = values
        self.n_latents = n_latents
        self.reference = reference
        self.image_shape = image_shape
        self.tag = tag

    def initialize(self):
        """Check the settings and forget the epochs logged by an earlier fit.

        skorch calls it when the net initialises its callbacks, so that a bad
        setting stops ``fit`` before the first step.

        Returns
        -------
        self : TraversalImageLogger

        Raises
        ------
        ValueError
            If a setting is out of range, or ``writer`` is neither a function, a
            directory nor an object with ``add_image``.
        """
        if not _is_positive_int(self.every):
            raise ValueError(f"every must be a positive integer, got {self.every!r}.")
        if self.n_latents is not None and not _is_positive_int(self.n_latents):
            raise ValueError(
                f"n_latents must be None or a positive integer, got {self.n_latents!r}."
            )
        values = self._values()
        if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)):
            raise ValueError("values must be a non-empty 1-D array of finite numbers.")
        n_rows = len(self.X)
        if n_rows == 0:
            raise ValueError("X must hold at least one row.")
        if self.reference is not None and (
            not isinstance(self.reference, numbers.Integral)
            or isinstance(self.reference, bool)
            or not 0 <= self.reference < n_rows
        ):
            raise ValueError(
                f"reference must be None or a row index of X (0 to {n_rows - 1}), "
                f"got {self.reference!r}."
            )
        if not (
            hasattr(self.writer, "add_image")
            or callable(self.writer)
            or isinstance(self.writer, str | os.PathLike)
        ):
            raise ValueError(
                "writer must be a function called as writer(image, epoch), a directory, "
                "or an object with an add_image method (a TensorBoard SummaryWriter); got "
                f"{type(self.writer).__name__}."
            )
        self.epochs_logged_ = []
        return self

    def on_epoch_end(self, net, **kwargs):
        """Log the traversal image when the epoch is a multiple of ``every``.

        Parameters
        ----------
        net : VAENet
            The net being trained; its ``module_`` decodes the traversals.
        **kwargs
            skorch's notification arguments (unused).
        """
        epoch = len(net.history)
        if epoch % self.every:
            return
        image = self.traversal_image(net)
        if hasattr(self.writer, "add_image"):
            self.writer.add_image(self.tag, image, global_step=epoch, dataformats="HWC")
        elif callable(self.writer):
            self.writer(image, epoch)
        else:
            directory = Path(self.writer)
            directory.mkdir(parents=True, exist_ok=True)
            _write_png(directory / f"{self.tag}_epoch{epoch:04d}.png", image)
        self.epochs_logged_.append(epoch)

    def traversal_image(self, net):
        """The traversal grid of the net's module as it is now.

        Parameters
        ----------
        net : VAENet
            An initialised net (``estimator.net_`` of a fitted model, or the net
            a callback is given).

        Returns
        -------
        image : ndarray of shape (height, width, 3), dtype uint8
            One row per latent and one column per value, each cell a decoded
            sample, cells separated by 1-pixel grey lines.
        """
        module = net.module_
        values = self._values()
        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                x = module.prepare(torch.as_tensor(np.asarray(self.X), device=net.device))
                mu, logvar = module.encode(x)
                mu, logvar = mu.float(), logvar.float()
                kl = (0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0)).mean(dim=0)
                order = torch.argsort(-kl, stable=True)[: self.n_latents]
                if self.reference is None:
                    median = mu.median(dim=0).values
                    reference = int(torch.argmin((mu - median).pow(2).sum(dim=1)))
                else:
                    reference = int(self.reference)
                n_rows, n_cols = len(order), len(values)
                codes = mu[reference].repeat(n_rows * n_cols, 1)
                sweep = torch.as_tensor(values, dtype=codes.dtype, device=codes.device)
                for row, latent in enumerate(order.tolist()):
                    codes[row * n_cols : (row + 1) * n_cols, latent] = sweep
                decoded = module.mean_of(module.decode(codes)).float()
                if module.likelihood == "bernoulli":
                    low, high = 0.0, 1.0
                else:
                    low, high = float(x.min()), float(x.max())
        finally:
            module.train(was_training)
        cells = _as_rgb(decoded.cpu().numpy(), self.image_shape, low, high)
        return _grid(cells, n_rows, n_cols)

    def _values(self):
        if self.values is None:
            return np.linspace(-2.5, 2.5, 9)
        return np.asarray(self.values, dtype=np.float64)


def _is_positive_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1


def _as_rgb(samples, image_shape, low, high):
    """Samples in the networks' layout as uint8 RGB images of shape (n, h, w, 3)."""
    n = len(samples)
    if image_shape is not None:
        samples = samples.reshape((n,) + tuple(image_shape))
    elif samples.ndim == 2:
        side = math.isqrt(samples.shape[1])
        if side * side != samples.shape[1]:
            raise ValueError(
                f"cannot show samples of {samples.shape[1]} features as square images; "
                "pass image_shape=(height, width) or (channels, height, width)."
            )
        samples = samples.reshape(n, side, side)
    if samples.ndim == 3:
        samples = samples[:, np.newaxis]
    if samples.ndim != 4 or samples.shape[1] not in (1, 3):
        raise ValueError(
            f"cannot show samples of shape {samples.shape[1:]} as images: expected "
            "(height, width) or (channels, height, width) with 1 or 3 channels."
        )
    scaled = np.clip((samples - low) / max(high - low, 1e-12), 0.0, 1.0)
    levels = np.rint(scaled * 255).astype(np.uint8)
    levels = np.moveaxis(levels, 1, -1)
    return np.repeat(levels, 3, axis=-1) if levels.shape[-1] == 1 else levels


def _grid(cells, n_rows, n_cols):
    """Cells of shape (n_rows * n_cols, h, w, 3) as one image, 1-pixel lines between."""
    _, height, width, _ = cells.shape
    image = np.full(
        (n_rows * (height + 1) + 1, n_cols * (width + 1) + 1, 3), _GRID_LINE_LEVEL, np.uint8
    )
    for index, cell in enumerate(cells):
        row, col = divmod(index, n_cols)
        top, left = 1 + row * (height + 1), 1 + col * (width + 1)
        image[top : top + height, left : left + width] = cell
    return image


def _write_png(path, image):
    """Write an RGB uint8 image as a PNG file, with the standard library only.

    Parameters
    ----------
    path : str or path-like
        File to write (replaced if it exists).
    image : ndarray of shape (height, width, 3), dtype uint8
        The pixels.
    """
    image = np.ascontiguousarray(image, dtype=np.uint8)
    height, width, _ = image.shape
    # Each scanline starts with its filter type (0: none).
    raw = np.concatenate([np.zeros((height, 1), np.uint8), image.reshape(height, -1)], axis=1)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", binascii.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    Path(path).write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
        + chunk(b"IEND", b"")
    )
