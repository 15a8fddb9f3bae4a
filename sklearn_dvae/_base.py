"""DisentangledVAE: the scikit-learn estimator that every model of the package extends.

The estimator is a plain scikit-learn ``BaseEstimator`` whose constructor only
stores its arguments; ``fit`` validates them and the data, builds the networks
from the data's shape, and trains a skorch `VAENet` kept as ``net_``. skorch's
callbacks, history, checkpoints and device handling work through that net.
"""

import numbers
import warnings
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._memory import tune_malloc
from ._net import VAENet, is_lazy_array, sample_rows, to_tensor_batch, value_range
from ._parallel import limited_torch_threads
from .nn import VAEModule, VAEOutput

_IMAGE_CHANNELS = (1, 3)
_UNIT_RANGE_TOLERANCE = 1e-5


class DisentangledVAE(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Variational autoencoder with a diagonal Gaussian posterior, as a transformer.

    This is the plain VAE (``loss = reconstruction + KL``) and the base class of
    every model in the package: a subclass adds its hyperparameters to
    ``__init__`` and its regulariser to ``_regularizer``. Use `BetaVAE` and the
    other models rather than this class directly.

    Parameters
    ----------
    latent_dim : int, default=10
        Number of latent dimensions (columns of ``transform``'s output).
    encoder : {"auto", "mlp", "conv"}, default="auto"
        Network family. ``"conv"`` is the standard 64x64 convolutional network
        of Locatello et al. (2019); ``"mlp"`` a fully connected network on the
        flattened input; ``"auto"`` takes ``"conv"`` for 64x64 images with 1 or 3
        channels and ``"mlp"`` otherwise.
    likelihood : {"auto", "bernoulli", "gaussian"}, default="auto"
        Decoder distribution. ``"bernoulli"`` needs values in [0, 1] (uint8 data
        grey levels are scaled by 1/255 first, binary uint8 images of 0/1 are
        used as they are); ``"gaussian"`` has unit variance. ``"auto"``
        takes Bernoulli when the (scaled) data lie in [0, 1], Gaussian otherwise.
    input_shape : tuple of int or None, default=None
        Shape of one sample, e.g. ``(1, 64, 64)``, for 2-D ``X`` whose rows are
        flattened images. Image-shaped ``X`` of shape (n, h, w), (n, c, h, w) or
        (n, h, w, c) needs no ``input_shape``.
    hidden_units : tuple of int, default=(256, 256)
        Hidden layer widths of the MLP networks (the conv network is fixed).
    lr : float, default=1e-4
        Learning rate of the optimizer.
    batch_size : int, default=64
        Mini-batch size for training and inference.
    max_epochs : int, default=10
        Passes over the data made by ``fit``.
    optimizer : torch.optim.Optimizer class, default=torch.optim.Adam
        Optimizer of the encoder and decoder parameters.
    device : str, default="auto"
        Torch device; ``"auto"`` picks ``"cuda"`` when a GPU is present.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, batch order and the reparameterisation
        noise. The same integer gives the same model on the same hardware.
    verbose : int, default=0
        Print skorch's per-epoch table when positive.
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks (``Checkpoint``, ``EarlyStopping``, ...).
    train_split : callable or None, default=None
        skorch train/validation split; None trains on all of ``X``.
    warm_start : bool, default=False
        When True, ``fit`` continues training a fitted model instead of
        re-initialising it.
    precision : {"float32", "bfloat16"}, default="float32"
        ``"bfloat16"`` runs the encoder and decoder under bfloat16 autocast
        during training (faster on GPUs with bfloat16 units); the loss terms,
        their reductions and all determinant, Cholesky and logsumexp math stay
        in float32, and ``transform`` always encodes in float32.
    compile : bool or {"default", "reduce-overhead", "max-autotune", \
"max-autotune-no-cudagraphs", "cuda-graph"}, default=False
        Compile the training forward and backward passes with ``torch.compile``
        (True means ``"default"``; ``"reduce-overhead"`` adds CUDA graphs on a
        GPU). The first steps pay the compilation (tens of seconds); a seeded
        run gives the same model as without it up to rounding (the noise is
        drawn as in eager mode). ``transform`` and the other inference methods
        run eagerly. Needs a C++ compiler on the CPU, Triton on a GPU.
        ``"cuda-graph"`` instead captures each whole training step (forward,
        loss, backward and optimizer update; FactorVAE's discriminator update
        too) as one CUDA graph after three eager warm-up steps, and replays it:
        no compiler, and the per-kernel launch cost that bounds this small
        network on a GPU is gone. It needs an optimizer with ``capturable``
        (Adam, AdamW, ...; set on by the estimator), float32 precision, no
        learning-rate schedule, and a loss that does not change with the step
        (not AnnealedVAE) and runs without host synchronisation (not CHyVAE,
        whose inverse-Wishart terms check their degrees of freedom on the host).
        Replayed steps do not call ``on_grad_computed`` callbacks; a batch of
        another shape (an epoch's last) runs eagerly, and a non-finite loss is
        detected after its update. The noise differs from the eager run's (same distribution),
        so a seeded run is reproducible but not the eager run's model. Without a
        GPU it warns and trains eagerly.
    memory_format : {"contiguous", "channels_last"}, default="contiguous"
        Memory format of the convolutional networks. ``"channels_last"`` stores
        the conv weights as ``torch.channels_last`` (NHWC in memory) once the
        net is built, and makes every prepared image batch channels-last before
        the networks, in training and inference alike; shapes and results are
        those of ``"contiguous"`` up to rounding. Some convolution kernels
        (tensor cores on GPUs, oneDNN on CPUs) run faster in this format, others
        not: measure before adopting it. No effect on the MLP networks. This is
        not the layout of ``X``: images of shape (n, h, w, c) are recognised
        whatever this setting.

    Attributes
    ----------
    net_ : VAENet
        The fitted skorch net (``net_.module_`` holds the encoder and decoder).
    history_ : skorch.History
        Per-epoch record of the loss and each named loss term.
    likelihood_ : {"bernoulli", "gaussian"}
        The likelihood used.
    encoder_ : {"mlp", "conv"}
        The network family used.
    input_shape_ : tuple of int
        Shape of one sample of ``X`` as passed to ``fit``.
    sample_shape_ : tuple of int
        Shape of one sample as the networks see it.
    input_scale_ : float
        Scale applied to raw inputs: 1/255 for uint8 grey levels, 1 for uint8
        data holding only 0 and 1 (as dSprites does) and for floats.
    device_ : str
        Device the networks live on.
    n_features_in_ : int
        Number of columns (second axis) of ``X`` seen during ``fit``.
    training_steps_ : int
        Optimizer steps taken so far (survives ``partial_fit`` and checkpoints).

    See Also
    --------
    BetaVAE : beta-VAE and its annealed-capacity variant.

    Notes
    -----
    Reconstruction terms are summed over features and averaged over the batch,
    so hyperparameter values transfer from the papers.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae import DisentangledVAE
    >>> X = np.random.default_rng(0).random((100, 8)).astype(np.float32)
    >>> vae = DisentangledVAE(latent_dim=2, hidden_units=(16,), max_epochs=2,
    ...                       random_state=0).fit(X)
    >>> vae.transform(X).shape, vae.inverse_transform(vae.transform(X)).shape
    ((100, 2), (100, 8))
    """

    _parameter_constraints = {
        "latent_dim": [Interval(numbers.Integral, 1, None, closed="left")],
        "encoder": [StrOptions({"auto", "mlp", "conv"})],
        "likelihood": [StrOptions({"auto", "bernoulli", "gaussian"})],
        "input_shape": [tuple, list, None],
        "hidden_units": [tuple, list],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "optimizer": [type],
        "device": [str, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callbacks": [list, None],
        "train_split": [callable, None],
        "warm_start": ["boolean"],
        "precision": [StrOptions({"float32", "bfloat16"})],
        "compile": [
            "boolean",
            StrOptions(
                {
                    "default",
                    "reduce-overhead",
                    "max-autotune",
                    "max-autotune-no-cudagraphs",
                    "cuda-graph",
                }
            ),
        ],
        "memory_format": [StrOptions({"contiguous", "channels_last"})],
    }

    #: Names of the loss terms that ``_loss`` returns and ``history`` records.
    _loss_term_names = ("reconstruction", "kl")
    #: The skorch net class; FactorVAE swaps in one with a discriminator.
    _net_class = VAENet
    #: Smallest batch a model can train on (2 where batch statistics are needed).
    _min_batch_size = 1
    #: Posterior family of the encoder: "diagonal" or "full" (CHyVAE).
    _posterior = "diagonal"

    def __init__(
        self,
        latent_dim=10,
        encoder="auto",
        likelihood="auto",
        input_shape=None,
        hidden_units=(256, 256),
        lr=1e-4,
        batch_size=64,
        max_epochs=10,
        optimizer=torch.optim.Adam,
        device="auto",
        random_state=None,
        verbose=0,
        callbacks=None,
        train_split=None,
        warm_start=False,
        precision="float32",
        compile=False,
        memory_format="contiguous",
    ):
        self.latent_dim = latent_dim
        self.encoder = encoder
        self.likelihood = likelihood
        self.input_shape = input_shape
        self.hidden_units = hidden_units
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.optimizer = optimizer
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        self.train_split = train_split
        self.warm_start = warm_start
        self.precision = precision
        self.compile = compile
        self.memory_format = memory_format

    # ------------------------------------------------------------------ objective
    def _regularizer(self, output, kl, step):
        """Return ``(penalty, extra_terms)``: what is added to the reconstruction loss.

        Parameters
        ----------
        output : VAEOutput
            The forward pass of a batch.
        kl : torch.Tensor (scalar)
            Batch mean of ``KL(q(z|x) || N(0, I))``.
        step : int
            Optimizer steps taken before this batch (for schedules).

        Returns
        -------
        penalty : torch.Tensor (scalar)
            Batch-mean regularisation added to the batch-mean reconstruction loss.
        extra_terms : dict of str to torch.Tensor
            Further named scalars to log (names listed in ``_loss_term_names``).
        """
        return kl, {}

    def _loss(self, output, step, training=True):
        """The training objective of a batch and its named terms (all batch means)."""
        module = self.net_.module_
        reconstruction = module.reconstruction_nll(output.decoded, output.x).mean()
        kl = module.kl_to_standard_normal(output).mean()
        penalty, extra = self._regularizer(output, kl, step)
        terms = {"reconstruction": reconstruction, "kl": kl, **extra}
        return reconstruction + penalty, terms

    def _elbo_kl_samples(self, output):
        """Per-sample KL part of the evidence lower bound used by `score_samples`.

        The regularisers of beta-VAE, FactorVAE, DIP-VAE and beta-TCVAE are
        training devices, not part of the generative model, so their bound is
        the VAE's; CHyVAE's hierarchical prior has its own.
        """
        return self.net_.module_.kl_to_standard_normal(output)

    def _draw_prior(self, n_samples, rng):
        """Latents drawn from the model's prior, shape (n_samples, latent_dim)."""
        return rng.standard_normal((n_samples, self.net_.module_.latent_dim))

    def _validate_hyperparameters(self):
        """Checks beyond ``_parameter_constraints``; subclasses extend it."""
        hidden = tuple(self.hidden_units)
        if not all(isinstance(h, numbers.Integral) and h > 0 for h in hidden):
            raise ValueError(
                f"hidden_units must be a tuple of positive integers, got {self.hidden_units!r}."
            )
        if self.input_shape is not None:
            shape = tuple(self.input_shape)
            if len(shape) not in (2, 3) or not all(
                isinstance(s, numbers.Integral) and s > 0 for s in shape
            ):
                raise ValueError(
                    "input_shape must be (height, width) or (channels, height, width) with "
                    f"positive integers, got {self.input_shape!r}."
                )
        if self.batch_size < self._min_batch_size:
            raise ValueError(
                f"{type(self).__name__} needs batch statistics: batch_size must be at least "
                f"{self._min_batch_size}, got {self.batch_size}."
            )
        if self.compile == "cuda-graph":
            self._check_cuda_graph_options()

    #: Why a model's training step cannot be captured as a CUDA graph (None: it can).
    _cuda_graph_unsupported = None

    def _check_cuda_graph_options(self):
        name = type(self).__name__
        if self._cuda_graph_unsupported is not None:
            raise ValueError(
                f"compile='cuda-graph' is not supported by {name}: {self._cuda_graph_unsupported}."
            )
        if self.precision != "float32":
            raise ValueError(
                "compile='cuda-graph' needs precision='float32', got "
                f"precision={self.precision!r}."
            )
        if "capturable" not in self.optimizer.__init__.__code__.co_varnames:
            raise ValueError(
                "compile='cuda-graph' needs an optimizer with a 'capturable' option (Adam, "
                f"AdamW, ...); {self.optimizer.__name__} has none."
            )
        from skorch.callbacks import LRScheduler

        if any(
            isinstance(c[1] if isinstance(c, tuple) else c, LRScheduler)
            for c in self.callbacks or []
        ):
            raise ValueError(
                "compile='cuda-graph' cannot follow a learning-rate schedule (the captured "
                "update keeps the learning rate it was captured with); remove the "
                "LRScheduler callback or use another compile mode."
            )

    def _check_n_samples(self, X):
        needed = self._min_batch_size * self._net_class.batches_per_step
        if len(X) < needed:
            raise ValueError(
                f"{type(self).__name__} needs at least {needed} samples to form its "
                f"training batches, got {len(X)}."
            )

    # ------------------------------------------------------------------ data
    def _check_X(self, X, reset):
        """Validate ``X`` once at the door; never copy uint8 or float32 data to float64."""
        if hasattr(X, "ndim") and getattr(X, "ndim", 2) == 1:
            raise ValueError(
                "Expected a 2-D array (n_samples, n_features) or an image array "
                f"(n_samples, [channels,] height, width), got a 1-D array of shape {X.shape}. "
                "Reshape your data with X.reshape(-1, 1) for a single feature or "
                "X.reshape(1, -1) for a single sample."
            )
        if is_lazy_array(X):
            X = self._check_lazy_X(X, reset)
        else:
            X = validate_data(
                self,
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
        if not reset and tuple(X.shape[1:]) != self.input_shape_:
            raise ValueError(
                f"X has samples of shape {tuple(X.shape[1:])}, but {type(self).__name__} was "
                f"fitted on samples of shape {self.input_shape_}."
            )
        return X

    def _check_lazy_X(self, X, reset):
        """Checks for data read on demand (h5py datasets, LazyImages): never read it whole.

        Shape and dtype are checked on the whole; values on a sample of rows. A NaN
        elsewhere still stops training, naming the step, through the loss check.
        """
        if np.dtype(X.dtype) not in (
            np.dtype(np.uint8),
            np.dtype(np.float32),
            np.dtype(np.float64),
        ):
            raise TypeError(
                f"Data read on demand must be uint8, float32 or float64, got {X.dtype}."
            )
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
            self.n_features_in_ = int(X.shape[1])
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        return X

    def _resolve_layout(self, X):
        """Work out the networks' view of a sample and whether X is channels-last."""
        shape = tuple(X.shape[1:])
        channels_last = False
        if X.ndim == 2:
            if self.input_shape is None:
                return shape, None, False
            image = tuple(self.input_shape)
            if len(image) == 2:
                image = (1,) + image
            if int(np.prod(image)) != shape[0]:
                raise ValueError(
                    f"input_shape={tuple(self.input_shape)} holds {int(np.prod(image))} values "
                    f"but X has {shape[0]} features per sample."
                )
            return image, image, False
        if X.ndim == 3:
            image = (1,) + shape
        elif shape[0] in _IMAGE_CHANNELS:
            image = shape
        elif shape[-1] in _IMAGE_CHANNELS:
            image = (shape[-1],) + shape[:-1]
            channels_last = True
        else:
            raise ValueError(
                f"Cannot tell the channel axis of images of shape {shape}: expected "
                "(channels, height, width) or (height, width, channels) with 1 or 3 channels."
            )
        if self.input_shape is not None:
            expected = tuple(self.input_shape)
            expected = (1,) + expected if len(expected) == 2 else expected
            if expected != image:
                raise ValueError(
                    f"input_shape={tuple(self.input_shape)} does not match images of shape "
                    f"{shape} in X."
                )
        return image, image, channels_last

    @staticmethod
    def _resolve_input_scale(X):
        """1/255 for uint8 grey levels; 1 for uint8 arrays of 0/1 (dSprites) and floats."""
        if X.dtype != np.uint8:
            return 1.0
        # The official dSprites file stores its binary images as 0/1, not 0/255.
        return 1.0 if value_range(X)[1] <= 1 else 1.0 / 255.0

    def _resolve_likelihood(self, X):
        if self.likelihood == "gaussian":
            return "gaussian"
        if X.dtype == np.uint8:
            in_unit_range = True
        else:
            # Allow float rounding (MinMaxScaler's output can exceed 1 by an ulp).
            low, high = value_range(X)
            in_unit_range = low >= -_UNIT_RANGE_TOLERANCE and high <= 1.0 + _UNIT_RANGE_TOLERANCE
        if self.likelihood == "bernoulli" and not in_unit_range:
            raise ValueError(
                "likelihood='bernoulli' needs values in [0, 1], but X ranges over "
                f"[{low}, {high}]. Scale X to [0, 1] (e.g. with MinMaxScaler) or use "
                "likelihood='gaussian'."
            )
        return "bernoulli" if in_unit_range else "gaussian"

    def _resolve_encoder(self, image_shape):
        is_standard_image = (
            image_shape is not None
            and image_shape[1:] == (64, 64)
            and image_shape[0] in _IMAGE_CHANNELS
        )
        if self.encoder == "conv" and not is_standard_image:
            raise ValueError(
                "encoder='conv' is the 64x64 network: it needs images of shape (1, 64, 64) or "
                f"(3, 64, 64), got samples of shape {image_shape or self.input_shape_}. Use "
                "encoder='mlp', or pass input_shape for flattened images."
            )
        if self.encoder == "auto":
            return "conv" if is_standard_image else "mlp"
        return self.encoder

    # ------------------------------------------------------------------ set-up
    def _resolve_device(self):
        if self.device in (None, "auto"):
            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.device

    def _draw_seed(self):
        if self.random_state is None:
            return None
        if isinstance(self.random_state, numbers.Integral):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    @contextmanager
    def _rng_scope(self, device):
        """Run with torch's global generators saved and restored around the block."""
        devices = []
        if str(device).startswith("cuda") and torch.cuda.is_available():
            index = torch.device(device).index
            devices = [index if index is not None else torch.cuda.current_device()]
        with torch.random.fork_rng(devices=devices):
            yield

    def _cuda_graph_params(self, device):
        """The optimizer option a captured step needs, or a warning without a GPU."""
        if self.compile != "cuda-graph":
            return {}
        if not (str(device).startswith("cuda") and torch.cuda.is_available()):
            warnings.warn(
                f"compile='cuda-graph' needs a CUDA device; training on {device!r} runs eagerly.",
                UserWarning,
                stacklevel=4,
            )
            return {}
        return {"optimizer__capturable": True}

    def _net_params(self):
        """Keyword arguments of the skorch net; subclasses add their modules here."""
        return {}

    def _initialize(self, X):
        """Validate everything, then build and initialise the net; sets fitted state."""
        self._validate_params()
        self._validate_hyperparameters()
        X = self._check_X(X, reset=True)
        self._check_n_samples(X)
        sample_shape, image_shape, channels_last = self._resolve_layout(X)
        input_scale = self._resolve_input_scale(X)
        likelihood = self._resolve_likelihood(X)
        encoder = self._resolve_encoder(image_shape)
        device = self._resolve_device()
        seed = self._draw_seed()

        net = self._net_class(
            module=VAEModule,
            module__sample_shape=sample_shape,
            module__latent_dim=self.latent_dim,
            module__architecture=encoder,
            module__likelihood=likelihood,
            module__input_scale=input_scale,
            module__channels_last=channels_last,
            module__hidden_units=tuple(self.hidden_units),
            module__posterior=self._posterior,
            module__memory_format=self.memory_format,
            criterion=torch.nn.Identity,
            optimizer=self.optimizer,
            lr=self.lr,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            train_split=self.train_split,
            callbacks=self.callbacks,
            verbose=self.verbose,
            device=device,
            objective=self,
            seed=seed,
            autocast_dtype=torch.bfloat16 if self.precision == "bfloat16" else None,
            compile_mode=(
                ("default" if self.compile is True else self.compile) if self.compile else None
            ),
            **self._cuda_graph_params(device),
            **self._net_params(),
        )
        with self._rng_scope(device):
            if seed is not None:
                torch.manual_seed(seed)
            net.initialize()

        # Fitted state is set only once everything above succeeded.
        self.input_shape_ = tuple(X.shape[1:])
        self.sample_shape_ = tuple(sample_shape)
        self.input_scale_ = input_scale
        self.likelihood_ = likelihood
        self.encoder_ = encoder
        self.device_ = device
        self.net_ = net
        return X

    def initialize(self, X):
        """Build the networks for data like ``X`` without training them.

        Use it to load a checkpoint into a new estimator
        (``est.initialize(X).load_params(checkpoint=cp)``) before continuing
        with `partial_fit`.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Data of the shape the model will be trained on.

        Returns
        -------
        self : object
            The initialised (untrained) estimator.
        """
        self._initialize(X)
        return self

    def load_params(self, **kwargs):
        """Load parameters, optimizer state and history saved by skorch.

        Parameters
        ----------
        **kwargs
            Passed to `skorch.NeuralNet.load_params` (``checkpoint``,
            ``f_params``, ``f_optimizer``, ``f_history``, ...).

        Returns
        -------
        self : object
        """
        check_is_fitted(self, "net_")
        self.net_.load_params(**kwargs)
        return self

    def save_params(self, **kwargs):
        """Save parameters, optimizer state and history with skorch.

        Parameters
        ----------
        **kwargs
            Passed to `skorch.NeuralNet.save_params`.

        Returns
        -------
        self : object
        """
        check_is_fitted(self, "net_")
        self.net_.save_params(**kwargs)
        return self

    # ------------------------------------------------------------------ training
    def _train(self, X, epochs):
        net = self.net_
        # The owning estimator may have been changed with set_params since the
        # net was built: training options follow the estimator.
        net.set_params(
            lr=self.lr,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            verbose=self.verbose,
        )
        tune_malloc()
        with self._rng_scope(self.device_), limited_torch_threads():
            net.partial_fit(X, epochs=epochs)
        return self

    def fit(self, X, y=None):
        """Train the model on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or image array
            Training data: rows of features, or images of shape
            (n_samples, height, width), (n_samples, channels, height, width) or
            (n_samples, height, width, channels); uint8 grey levels are scaled
            to [0, 1] one batch at a time (binary 0/1 uint8 images, such as
            dSprites, are used as they are).
        y : Ignored
            Not used; present so that a labelled ``y`` can flow through
            ``GridSearchCV`` to the disentanglement scorers.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        if self.warm_start and hasattr(self, "net_"):
            X = self._check_continued_training(X)
        else:
            X = self._initialize(X)
        return self._train(X, epochs=self.max_epochs)

    def partial_fit(self, X, y=None, epochs=None):
        """Continue training (initialising first if needed) for ``epochs`` epochs.

        Parameters
        ----------
        X : array-like
            Training data of the same sample shape as before.
        y : Ignored
            Not used.
        epochs : int or None, default=None
            Number of passes; ``max_epochs`` when None (skorch's convention).

        Returns
        -------
        self : object
        """
        if epochs is not None and (not isinstance(epochs, numbers.Integral) or epochs < 0):
            raise ValueError(f"epochs must be a non-negative integer or None, got {epochs!r}.")
        if hasattr(self, "net_"):
            X = self._check_continued_training(X)
        else:
            X = self._initialize(X)
        return self._train(X, epochs=self.max_epochs if epochs is None else epochs)

    def _check_continued_training(self, X):
        """Checks before training an already initialised model further."""
        self._validate_params()
        self._validate_hyperparameters()
        X = self._check_X(X, reset=False)
        self._check_n_samples(X)
        return X

    # ------------------------------------------------------------------ inference
    def _batches(self, X):
        # Inference allocates per batch as training does: the same allocator policy
        # (a transform in a process that never fitted ran 2.3x slower without it).
        tune_malloc()
        for start in range(0, len(X), self.batch_size):
            batch = np.asarray(X[start : start + self.batch_size])
            yield to_tensor_batch(batch).to(self.net_.device)

    @torch.no_grad()
    def _encode(self, X):
        module = self.net_.module_
        module.eval()
        with limited_torch_threads():
            means = [module.encode(module.prepare(batch))[0] for batch in self._batches(X)]
        return torch.cat(means).float().cpu().numpy()

    def transform(self, X):
        """Posterior means of the latents.

        Parameters
        ----------
        X : array-like of the training data's sample shape
            Data to encode.

        Returns
        -------
        Z : ndarray of shape (n_samples, latent_dim), dtype float32
            The mean of ``q(z|x)`` of each sample.
        """
        check_is_fitted(self, "net_")
        X = self._check_X(X, reset=False)
        return self._encode(X)

    def _decode(self, Z):
        tune_malloc()
        module = self.net_.module_
        module.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(Z), self.batch_size):
                z = torch.as_tensor(Z[start : start + self.batch_size], device=self.net_.device)
                mean = module.mean_of(module.decode(z.float()))
                out.append(module.to_raw_layout(mean).cpu())
        # Channels-last decoder outputs come back in the usual C order.
        decoded = torch.cat(out).contiguous().numpy()
        return decoded.reshape((len(Z),) + self.input_shape_)

    def inverse_transform(self, X):
        """Decode latents to the expected observation, in the training data's shape and scale.

        Parameters
        ----------
        X : array-like of shape (n_samples, latent_dim)
            Latent codes (for example the output of `transform`).

        Returns
        -------
        X_decoded : ndarray of shape (n_samples, *input_shape_), dtype float32
            The decoder's mean (probabilities for a Bernoulli decoder) in the
            scale of the training data: uint8 grey levels give values in
            [0, 255], binary 0/1 images values in [0, 1].
        """
        check_is_fitted(self, "net_")
        Z = np.asarray(X, dtype=np.float32)
        latent_dim = self.net_.module_.latent_dim
        if Z.ndim != 2 or Z.shape[1] != latent_dim:
            raise ValueError(
                f"inverse_transform expects latents of shape (n_samples, {latent_dim}), "
                f"got {Z.shape}."
            )
        if not np.all(np.isfinite(Z)):
            raise ValueError("Input latents contain NaN or infinity.")
        return self._decode(Z)

    def sample(self, n_samples=1, random_state=None):
        """Decode draws from the prior ``N(0, I)``.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples.
        random_state : int, RandomState instance or None, default=None
            Seeds the prior draws.

        Returns
        -------
        X_sampled : ndarray of shape (n_samples, *input_shape_), dtype float32
            Decoder means of the draws, in the training data's shape and scale.
        """
        check_is_fitted(self, "net_")
        if not isinstance(n_samples, numbers.Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        rng = check_random_state(random_state)
        return self._decode(np.asarray(self._draw_prior(n_samples, rng), dtype=np.float32))

    def score_samples(self, X):
        """Evidence lower bound of each sample, estimated with one reparameterised draw.

        The draw uses one standard-normal noise vector shared by all samples
        (common random numbers, fixed seed), so each estimate is unbiased, the
        result is deterministic, and it does not depend on the order or batching
        of the samples; models compared on the same data see the same noise.

        Parameters
        ----------
        X : array-like of the training data's sample shape
            Data to evaluate.

        Returns
        -------
        elbo : ndarray of shape (n_samples,)
            ``E_q[log p(x|z)] - KL(q(z|x) || p(z))`` of each sample, in nats, with
            the Gaussian likelihood's normalising constant included.
        """
        check_is_fitted(self, "net_")
        X = self._check_X(X, reset=False)
        module = self.net_.module_
        module.eval()
        generator = torch.Generator().manual_seed(0)
        noise = torch.randn(module.latent_dim, generator=generator).to(self.net_.device)
        values = []
        with torch.no_grad():
            for batch in self._batches(X):
                x = module.prepare(batch)
                mu, logvar, scale_tril = module.encode_distribution(x)
                z = module.reparameterize(mu, logvar, scale_tril, noise=noise)
                output = VAEOutput(x, module.decode(z), mu, logvar, z, scale_tril)
                nll = module.reconstruction_nll(output.decoded, x, include_constant=True)
                kl = self._elbo_kl_samples(output)
                values.append((-(nll + kl)).double().cpu())
        return torch.cat(values).numpy()

    def score(self, X, y=None):
        """Mean evidence lower bound per sample (higher is better).

        Parameters
        ----------
        X : array-like of the training data's sample shape
            Data to evaluate.
        y : Ignored
            Not used.

        Returns
        -------
        elbo : float
            Mean of `score_samples`, like ``GaussianMixture.score``.
        """
        return float(np.mean(self.score_samples(X)))

    # ------------------------------------------------------------------ properties
    @property
    def history_(self):
        check_is_fitted(self, "net_")
        return self.net_.history

    @property
    def training_steps_(self):
        check_is_fitted(self, "net_")
        return self.net_.training_steps_

    @property
    def _n_features_out(self):
        if hasattr(self, "net_"):
            return self.net_.module_.latent_dim
        return self.latent_dim

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.input_tags.allow_nan = False
        return tags

    def __setstate__(self, state):
        super().__setstate__(state)
        # skorch moves a CUDA-trained net to the CPU when no GPU is present.
        if "net_" in self.__dict__:
            self.device_ = str(self.net_.device)
