"""DisentangledVAE: the scikit-learn estimator that every model of the package extends.

The estimator is a plain scikit-learn ``BaseEstimator`` whose constructor only
stores its arguments. ``fit`` validates them and the data, builds a skorch
`VAENet` from the data's shape (the networks as its module, the model's loss
module as its criterion) and trains it; the net is kept as ``net_``. The estimator
passes settings down to the net, from one place (`_net_settings`) before every
``fit``/``partial_fit``; the net never calls back into the estimator.
"""

import copy
import inspect
import numbers
import pickle
import warnings
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch.dataset import ValidSplit
from torch import nn

from ._batching import read_rows, to_tensor_batch, value_range
from ._callbacks import check_callbacks_have_validation
from ._input import (
    check_input,
    describe_encoding,
    is_standard_image,
    resolve_call_scale,
    resolve_input_scale,
    resolve_layout,
    resolve_likelihood,
)
from ._memory import tune_malloc
from ._net import VAENet
from ._parallel import limited_torch_threads
from .nn import VAELoss, VAEModule, VAEOutput
from .nn.networks import BUILT_IN_NETWORKS, conv_grid, copy_network_spec, network_name

#: Prefixes of the keywords routed to the networks' and the optimizer's constructors.
ROUTED_PREFIXES = ("encoder__", "decoder__", "optimizer__")
_NETWORK_OPTIONS = {"auto", *BUILT_IN_NETWORKS}
#: A fit whose every latent has a KL below this (nats, mean over the last epoch) collapsed.
COLLAPSE_KL = 0.05


class DisentangledVAE(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Variational autoencoder with a diagonal Gaussian posterior, as a transformer.

    This is the plain VAE (``loss = reconstruction + KL``, the loss module
    `~sklearn_dvae.nn.VAELoss`) and the base class of every model in the package:
    a model adds its hyperparameters to ``__init__`` and names its loss module in
    ``_loss_class`` (see the "Adding a model" page of the documentation). Use
    `BetaVAE` and the other models rather than this class directly.

    Parameters
    ----------
    latent_dim : int, default=10
        Number of latent dimensions (columns of ``transform``'s output).
    encoder : {"auto", "mlp", "conv"}, torch.nn.Module class or instance, default="auto"
        The encoder. ``"conv"`` is the convolutional network of Locatello et al.
        (2019), for images whose height and width are multiples of 16 (the
        study's 64x64, 32x32, 128x128, ...); ``"mlp"`` a fully connected network
        on the flattened input; ``"auto"`` takes ``"conv"`` for 64x64 images with
        1 or 3 channels and ``"mlp"`` otherwise. A class of your own is built
        with the ``encoder__*`` keywords (and ``latent_dim``, ``n_outputs``,
        ``input_shape`` when its constructor takes arguments of those names); an
        instance is copied at ``fit``, its weights the starting point. It must
        follow the contract of `~sklearn_dvae.nn.VAEModule`: a batch of shape
        ``(n, *sample_shape_)`` in, the posterior's parameters out (shape
        ``(n, 2 * latent_dim)``: means, then log-variances), checked at ``fit``.
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
    lr : float, default=1e-3
        Learning rate of the optimizer. The published protocol used 1e-4 for
        300,000 steps (``lr=1e-4, max_steps=300_000``); 1e-3 trains small data in
        a few epochs.
    batch_size : int, default=64
        Mini-batch size for training and inference.
    max_epochs : int, default=10
        Passes over the data made by each ``fit`` (and ``partial_fit``) call.
    optimizer : torch.optim.Optimizer class, default=torch.optim.Adam
        Optimizer of the encoder and decoder parameters; ``optimizer__*``
        keywords are its options (``optimizer__weight_decay=1e-5``,
        ``optimizer__betas=(0.9, 0.99)``, ...).
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
        skorch train/validation split; None trains on all of ``X`` (or holds out
        ``validation_fraction`` of it).
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
    decoder : {"auto", "mlp", "conv"}, torch.nn.Module class or instance, default="auto"
        The decoder, as ``encoder`` (``decoder__*`` keywords; ``latent_dim`` and
        ``output_shape`` passed when its constructor takes them). ``"auto"``
        mirrors a built-in encoder, and picks like ``encoder="auto"`` beside an
        encoder of your own. It maps latents of shape ``(n, latent_dim)`` to the
        likelihood's parameters, shape ``(n, *sample_shape_)``: logits
        (Bernoulli) or means (Gaussian).
    max_steps : int or None, default=None
        Optimisation steps made by each ``fit``/``partial_fit`` call; when set it
        replaces ``max_epochs`` (the unit of the published protocol: 300,000).
    validation_fraction : float in (0, 1) or None, default=None
        Hold out this fraction of ``X`` (fixed by ``random_state``) to compute
        ``valid_loss`` and each ``valid_<term>`` every epoch, which
        ``EarlyStopping`` and ``Checkpoint`` monitor by default.
    **kwargs
        ``encoder__*``, ``decoder__*`` and ``optimizer__*`` keywords, routed to
        the networks' and the optimizer's constructors as skorch routes
        ``module__*``; ``GridSearchCV`` can search them.

    Attributes
    ----------
    net_ : VAENet
        The fitted skorch net (``net_.module_`` holds the encoder and decoder).
    history_ : skorch.History
        Per-epoch record of the loss and each named loss term.
    likelihood_ : {"bernoulli", "gaussian"}
        The likelihood used.
    encoder_, decoder_ : {"mlp", "conv", "custom"}
        The network families used ("custom": a network of your own, which is
        ``net_.module_.encoder`` / ``net_.module_.decoder``).
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

    Warns
    -----
    ConvergenceWarning
        At the end of ``fit`` when every latent's KL over the last epoch stayed
        below ``0.05`` nats: the posterior collapsed to the prior and the codes
        carry nothing.

    See Also
    --------
    BetaVAE : beta-VAE and its annealed-capacity variant.

    Notes
    -----
    Reconstruction terms are summed over features and averaged over the batch,
    so hyperparameter values transfer from the papers. Every setting that reaches
    the skorch net is applied from the estimator's parameters before each
    ``fit``/``partial_fit``; a setting that fixes the networks (``latent_dim``,
    the networks and their keywords, ``likelihood``, ...) cannot change while a
    model is trained further, and ``partial_fit`` (or a ``warm_start`` fit) after
    such a change raises a ``ValueError``.

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
        "encoder": [StrOptions(_NETWORK_OPTIONS), nn.Module, type],
        "decoder": [StrOptions(_NETWORK_OPTIONS), nn.Module, type],
        "likelihood": [StrOptions({"auto", "bernoulli", "gaussian"})],
        "input_shape": [tuple, list, None],
        "hidden_units": [tuple, list],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_steps": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "optimizer": [type],
        "device": [str, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callbacks": [list, None],
        "train_split": [callable, None],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither"), None],
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

    #: The model's objective: a loss module of `sklearn_dvae.nn.losses` (or your own).
    _loss_class = VAELoss
    #: The skorch net class; FactorVAE swaps in one with a discriminator update.
    _net_class = VAENet
    #: Hyperparameters that build part of the objective (FactorVAE's discriminator
    #: widths) and so cannot change while a model is trained further.
    _structural_hyperparameters = ()
    #: What a collapse warning suggests beyond training longer.
    _collapse_hint = ""

    def __init__(
        self,
        latent_dim=10,
        encoder="auto",
        likelihood="auto",
        input_shape=None,
        hidden_units=(256, 256),
        lr=1e-3,
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
        decoder="auto",
        max_steps=None,
        validation_fraction=None,
        **kwargs,
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
        self.decoder = decoder
        self.max_steps = max_steps
        self.validation_fraction = validation_fraction
        unexpected = [key for key in kwargs if not key.startswith(ROUTED_PREFIXES)]
        if unexpected:
            raise TypeError(
                f"{type(self).__name__}() got unexpected keyword argument(s) "
                f"{', '.join(sorted(unexpected))}. Keywords routed to the networks or the "
                f"optimizer start with {', '.join(ROUTED_PREFIXES)}."
            )
        for key, value in kwargs.items():
            setattr(self, key, value)

    # ------------------------------------------------------------------ parameters
    def __init_subclass__(cls, **kwargs):
        """Give a model whose ``__init__`` takes ``**kwargs`` its parent's parameters too.

        A model's constructor may list only its own hyperparameters and pass
        ``**kwargs`` to its parent; its signature (what scikit-learn's
        ``get_params``, ``clone`` and ``help`` read) then shows the parent's
        parameters as keyword-only arguments after its own.
        """
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None:
            init.__signature__ = _named_parameters_signature(init, cls.__mro__[1].__init__)

    def _routed(self, prefix):
        """The ``<prefix>__*`` keywords, without the prefix."""
        start = f"{prefix}__"
        return {
            key[len(start) :]: value for key, value in vars(self).items() if key.startswith(start)
        }

    def get_params(self, deep=True):
        """Parameters of this estimator, the routed ``encoder__*`` and the like included.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of contained estimators.

        Returns
        -------
        params : dict
        """
        params = super().get_params(deep=deep)
        params.update(
            {key: value for key, value in vars(self).items() if key.startswith(ROUTED_PREFIXES)}
        )
        return params

    def set_params(self, **params):
        """Set parameters; ``encoder__*``, ``decoder__*`` and ``optimizer__*`` keywords too.

        Parameters
        ----------
        **params
            Estimator parameters.

        Returns
        -------
        self : object
        """
        for key in [key for key in params if key.startswith(ROUTED_PREFIXES)]:
            setattr(self, key, params.pop(key))
        return super().set_params(**params) if params else self

    def _validate_hyperparameters(self):
        """Checks beyond ``_parameter_constraints``; models extend it."""
        hidden = tuple(self.hidden_units)
        if not all(isinstance(h, numbers.Integral) and h > 0 for h in hidden):
            raise ValueError(
                f"hidden_units must be a tuple of positive integers, got {self.hidden_units!r}."
            )
        for role in ("encoder", "decoder"):
            spec = getattr(self, role)
            if isinstance(spec, type) and not issubclass(spec, nn.Module):
                raise ValueError(
                    f"{role} must be 'auto', 'mlp', 'conv', or a torch.nn.Module class or "
                    f"instance, got the class {spec.__name__}."
                )
            if isinstance(spec, str) and self._routed(role):
                raise ValueError(
                    f"{role}__* keywords ({', '.join(sorted(self._routed(role)))}) configure a "
                    f"network of your own; {role}={spec!r} takes none (its hidden widths are "
                    "hidden_units)."
                )
        if not issubclass(self.optimizer, torch.optim.Optimizer):
            raise ValueError(
                f"optimizer must be a torch.optim.Optimizer class, got {self.optimizer!r}."
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
        if self.train_split is not None and self.validation_fraction is not None:
            raise ValueError(
                "Set train_split or validation_fraction, not both: validation_fraction is "
                "a random split of that fraction of X."
            )
        check_callbacks_have_validation(
            self.callbacks,
            has_validation=self.train_split is not None or self.validation_fraction is not None,
            owner=type(self).__name__,
        )
        self._check_device()
        if self.compile == "cuda-graph":
            self._check_cuda_graph_options()

    def _check_device(self):
        """Refuse a device that does not exist here, naming what does."""
        if self.device in (None, "auto"):
            return
        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError, ValueError) as error:
            raise ValueError(
                f"device={self.device!r} is not a torch device: use 'auto', 'cpu' or 'cuda' "
                "(or 'cuda:0', 'cuda:1', ...)."
            ) from error
        available = "; none is available here" if not torch.cuda.is_available() else ""
        if device.type == "cuda":
            if not torch.cuda.is_available():
                raise ValueError(
                    f"device={self.device!r} needs a CUDA GPU{available} (torch "
                    f"{torch.__version__}). Use device='auto' (a GPU when present) or 'cpu'."
                )
            if device.index is not None and device.index >= torch.cuda.device_count():
                raise ValueError(
                    f"device={self.device!r}: there are {torch.cuda.device_count()} CUDA "
                    f"device(s) here, numbered from 0."
                )
        elif device.type == "mps":
            if not torch.backends.mps.is_available():
                raise ValueError(f"device={self.device!r}: MPS is not available here.")
        elif device.type != "cpu":
            raise ValueError(
                f"device={self.device!r}: training needs a device that holds data ('cpu', "
                f"'cuda' or 'mps'), not {device.type!r}."
            )

    @property
    def _min_batch_size(self):
        """Smallest batch the model's loss is defined on."""
        return int(self._loss_class.min_batch_size)

    @property
    def _loss_term_names(self):
        """Names of the terms the history records (the loss's, then the net's auxiliary ones)."""
        return tuple(self._loss_class.term_names) + tuple(self._net_class.auxiliary_term_names)

    def _check_cuda_graph_options(self):
        name = type(self).__name__
        reason = self._loss_class.cuda_graph_unsupported
        if reason is not None:
            raise ValueError(f"compile='cuda-graph' is not supported by {name}: {reason}.")
        if self.precision != "float32":
            raise ValueError(
                "compile='cuda-graph' needs precision='float32', got "
                f"precision={self.precision!r}."
            )
        if "capturable" not in inspect.signature(self.optimizer).parameters:
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
        """Validate ``X`` once at the door (see `sklearn_dvae._input.check_input`)."""
        return check_input(self, X, reset)

    def _resolve_networks(self, image_shape, sample_shape):
        """The encoder and decoder specifications, and the families to report."""
        standard = is_standard_image(image_shape)
        specs = {}
        for role in ("encoder", "decoder"):
            spec = getattr(self, role)
            if spec == "auto" and role == "decoder" and isinstance(specs["encoder"], str):
                spec = specs["encoder"]  # mirror a built-in encoder
            elif isinstance(spec, str) and spec == "auto":
                spec = "conv" if standard else "mlp"
            if isinstance(spec, str) and spec == "conv" and image_shape is None:
                raise ValueError(
                    f"{role}='conv' needs images: X has samples of shape {tuple(sample_shape)} "
                    "(flat rows). Pass input_shape=(channels, height, width) for flattened "
                    "images, or use the 'mlp' network."
                )
            if isinstance(spec, str) and spec == "conv":
                conv_grid(image_shape[1:])  # says which image sizes it takes
            specs[role] = spec
        return specs["encoder"], specs["decoder"]

    # ------------------------------------------------------------------ the net's settings
    def _loss_params(self):
        """The loss module's hyperparameters that may change between ``partial_fit`` calls.

        By default, every argument of the loss class's constructor that is an
        estimator parameter of the same name, except the structural ones.
        """
        fixed = {"likelihood", "latent_dim", *self._structural_hyperparameters}
        return {
            name: getattr(self, name)
            for name in self._loss_class.hyperparameter_names()
            if name not in fixed and name in self._get_param_names()
        }

    def _loss_structure(self, X, likelihood):
        """The loss module's arguments fixed when it is built."""
        names = self._loss_class.hyperparameter_names()
        params = {"likelihood": likelihood}
        if "latent_dim" in names:
            params["latent_dim"] = self.latent_dim
        for name in self._structural_hyperparameters:
            value = getattr(self, name)
            params[name] = tuple(value) if isinstance(value, list) else value
        return params

    def _train_split_for(self, seed):
        if self.validation_fraction is None:
            return self.train_split
        return ValidSplit(float(self.validation_fraction), stratified=False, random_state=seed)

    def _net_settings(self, seed):
        """Every estimator setting that may change between calls, as keyword arguments of the net.

        The one place where such settings reach the net: used to build it, and
        applied to it again (`_apply_net_settings`) before every ``fit`` and
        ``partial_fit``. ``criterion__<name>`` keys are the loss module's
        hyperparameters.
        """
        compile_mode = ("default" if self.compile is True else self.compile) or None
        return {
            "lr": self.lr,
            "batch_size": self.batch_size,
            "max_epochs": self.max_epochs,
            "max_steps": self.max_steps,
            "verbose": self.verbose,
            "callbacks": self.callbacks,
            "train_split": self._train_split_for(seed),
            "autocast_dtype": torch.bfloat16 if self.precision == "bfloat16" else None,
            "compile_mode": compile_mode,
            **{f"optimizer__{key}": value for key, value in self._routed("optimizer").items()},
            **{f"criterion__{key}": value for key, value in self._loss_params().items()},
        }

    def _apply_net_settings(self, net):
        """Apply `_net_settings` to a built net (nothing is rebuilt; see `_check_structure`)."""
        for key, value in self._net_settings(net.seed).items():
            if key == "callbacks":
                if value is not net.callbacks:
                    net.callbacks = value
                    net.initialize_callbacks()
            elif key.startswith("criterion__"):
                setattr(net.criterion_, key[len("criterion__") :], value)
                setattr(net, key, value)
            elif key == "lr" or key.startswith("optimizer"):
                net.set_params(**{key: value})  # skorch updates the param groups in place
            else:
                setattr(net, key, value)

    def _structure(self):
        """The settings the networks, the loss module and the optimizer are built from."""
        names = (
            "latent_dim",
            "encoder",
            "decoder",
            "hidden_units",
            "likelihood",
            "input_shape",
            "memory_format",
            "optimizer",
            "random_state",
            *self._structural_hyperparameters,
        )
        structure = {name: getattr(self, name) for name in names}
        for role in ("encoder", "decoder"):
            structure.update({f"{role}__{k}": v for k, v in self._routed(role).items()})
        structure["compile is cuda-graph"] = self.compile == "cuda-graph"
        return structure

    def _check_structure(self):
        """Refuse to train further after a change that would need new networks."""
        fitted = getattr(self, "_fitted_structure", None)
        if fitted is None:
            return
        current = self._structure()
        device = torch.device(self._resolve_device())
        held = torch.device(self.net_.device)
        if device.type != held.type or (
            device.index is not None and held.index is not None and device.index != held.index
        ):
            fitted, current = {**fitted, "device": str(held)}, {**current, "device": str(device)}
        changed = sorted(
            name
            for name in set(fitted) | set(current)
            if not _same_setting(fitted.get(name, _MISSING), current.get(name, _MISSING))
        )
        if changed:
            details = "; ".join(
                f"{name}: {_describe(fitted.get(name, _MISSING))} -> "
                f"{_describe(current.get(name, _MISSING))}"
                for name in changed
            )
            raise ValueError(
                f"{type(self).__name__} cannot train its fitted networks further: settings "
                f"they were built with have changed ({details}). Call fit with "
                "warm_start=False to train a new model, or set them back."
            )

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
        """Keyword arguments of the skorch net beyond `_net_settings` (models add theirs)."""
        return {}

    def _initialize(self, X):
        """Validate everything, then build and initialise the net; sets fitted state."""
        self._validate_params()
        self._validate_hyperparameters()
        X = self._check_X(X, reset=True)
        self._check_n_samples(X)
        sample_shape, image_shape, channels_last = resolve_layout(X, self.input_shape)
        values = value_range(X)
        input_scale = resolve_input_scale(X, values)
        if X.dtype == np.uint8 and 1 < values[1] < 16:
            warnings.warn(
                f"uint8 X ranges over [{values[0]:g}, {values[1]:g}]: it is read as grey levels "
                f"0-255 (scaled by 1/255, so {values[1]:g} is nearly black). If X holds 0/1 "
                "images with a few stray values, clip them (np.minimum(X, 1)); if its values "
                "mean something else, pass floats.",
                UserWarning,
                stacklevel=3,
            )
        likelihood = resolve_likelihood(X, self.likelihood, values)
        encoder, decoder = self._resolve_networks(image_shape, sample_shape)
        device = self._resolve_device()
        seed = self._draw_seed()
        settings = self._net_settings(seed)
        criterion_structure = self._loss_structure(X, likelihood)
        net = self._net_class(
            module=VAEModule,
            module__sample_shape=sample_shape,
            module__latent_dim=self.latent_dim,
            module__encoder=copy_network_spec(encoder),
            module__decoder=copy_network_spec(decoder),
            module__encoder_kwargs=self._routed("encoder"),
            module__decoder_kwargs=self._routed("decoder"),
            module__likelihood=likelihood,
            module__input_scale=input_scale,
            module__channels_last=channels_last,
            module__hidden_units=tuple(self.hidden_units),
            module__posterior=self._loss_class.posterior,
            module__memory_format=self.memory_format,
            criterion=self._loss_class,
            **{f"criterion__{key}": value for key, value in criterion_structure.items()},
            optimizer=self.optimizer,
            device=device,
            seed=seed,
            **settings,
            **self._cuda_graph_params(device),
            **self._net_params(),
        )
        with self._rng_scope(device):
            if seed is not None:
                torch.manual_seed(seed)
            net.initialize()
            self._check_networks(net, X, encoder, decoder)

        # Fitted state is set only once everything above succeeded.
        self.input_shape_ = tuple(X.shape[1:])
        self.sample_shape_ = tuple(sample_shape)
        self.input_scale_ = input_scale
        self.input_dtype_ = np.dtype(X.dtype)
        self.input_range_ = values
        self.likelihood_ = likelihood
        self.encoder_ = encoder if isinstance(encoder, str) else "custom"
        self.decoder_ = decoder if isinstance(decoder, str) else "custom"
        self.device_ = device
        self.net_ = net
        self._fitted_structure = self._structure()
        return X

    @staticmethod
    def _check_networks(net, X, encoder, decoder):
        """One dry forward pass of both networks on two rows of ``X`` (the contract check)."""
        module = net.module_
        rows = to_tensor_batch(read_rows(X, slice(0, min(2, len(X))))).to(net.device)
        names = [
            f"'{spec}'" if isinstance(spec, str) else network_name(spec)
            for spec in (encoder, decoder)
        ]
        module.eval()
        try:
            module.check_networks(rows, encoder_name=names[0], decoder_name=names[1])
        finally:
            module.train()

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
        """Load parameters, optimizer state and history saved by skorch (weights only).

        Files are read with ``torch.load(weights_only=True)``: tensors and plain
        containers, no code runs, so a parameter file from elsewhere is safe to
        try. A file that cannot be read (damaged, or not written by
        `save_params`) or that does not fit this model raises a ``ValueError``,
        and the model is left exactly as it was: nothing is half-loaded.

        Parameters
        ----------
        **kwargs
            Passed to `skorch.NeuralNet.load_params` (``checkpoint``,
            ``f_params``, ``f_optimizer``, ``f_criterion``, ``f_history``, ...).

        Returns
        -------
        self : object
        """
        check_is_fitted(self, "net_")
        net = self.net_
        saved = _snapshot(net)
        try:
            net.load_params(**kwargs)
        except FileNotFoundError:
            _restore(net, saved)
            raise
        except (
            pickle.UnpicklingError,
            EOFError,
            OSError,
            RuntimeError,
            KeyError,
            ValueError,
        ) as error:
            _restore(net, saved)
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            if isinstance(error, pickle.UnpicklingError | OSError) or "zip archive" in first:
                reason = (
                    "it is damaged or was not written by save_params (it holds more than "
                    "tensors, or is not a torch file)"
                )
            else:
                reason = f"it does not fit this model ({type(error).__name__}: {first[:300]})"
            raise ValueError(
                f"{type(self).__name__}.load_params could not load {kwargs}: {reason}. The "
                "model is unchanged. Parameter files are read weights-only; never open a "
                "file of unknown origin with pickle, joblib or torch.load(weights_only=False): "
                "they run code."
            ) from None
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
        self._apply_net_settings(net)
        tune_malloc()
        with self._rng_scope(self.device_), limited_torch_threads():
            net.partial_fit(X, epochs=epochs)
        return self

    def _warn_if_collapsed(self):
        """Warn when every latent's KL over the last epoch stayed below `COLLAPSE_KL`."""
        history = self.net_.history
        kl = history[-1].get("train_kl_per_latent") if len(history) else None
        if kl is None or max(kl) >= COLLAPSE_KL:
            return
        shown = ", ".join(f"{value:.3g}" for value in kl)
        warnings.warn(
            f"{type(self).__name__}: the posterior collapsed to the prior. Every latent's KL "
            f"stayed below {COLLAPSE_KL} nats over the last epoch ([{shown}]), so the codes "
            f"carry almost no information about X. Train for more steps (max_epochs or "
            f"max_steps; {self.training_steps_} so far), raise the learning rate (lr="
            f"{self.lr:g}){self._collapse_hint}, or check that X varies.",
            ConvergenceWarning,
            stacklevel=3,
        )

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
        self._train(X, epochs=None)
        self._warn_if_collapsed()
        return self

    def partial_fit(self, X, y=None, epochs=None):
        """Continue training (initialising first if needed) for ``epochs`` epochs.

        Parameters
        ----------
        X : array-like
            Training data of the same sample shape as before.
        y : Ignored
            Not used.
        epochs : int or None, default=None
            Number of passes; when None, ``max_steps`` steps if set, else
            ``max_epochs`` epochs (skorch's convention).

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
        return self._train(X, epochs=epochs)

    def _check_continued_training(self, X):
        """Checks before training an already initialised model further."""
        self._validate_params()
        self._validate_hyperparameters()
        self._check_structure()
        X = self._check_X(X, reset=False)
        self._check_n_samples(X)
        scale = self._call_scale(X)
        if scale != self.input_scale_:
            raise ValueError(
                f"X holds {describe_encoding(X.dtype, scale)}, but {type(self).__name__} was "
                f"fitted on {describe_encoding(self._fit_dtype(), self.input_scale_)}: "
                "training further needs X in the encoding of fit (transform and score "
                "convert it)."
            )
        return X

    # ------------------------------------------------------------------ inference
    def _batches(self, X):
        """Prepared batches of ``X`` (float32, the networks' layout and range), checked.

        The raw values are converted from ``X``'s encoding to the one of ``fit``
        (`sklearn_dvae._input.resolve_call_scale`). Each batch's range is kept and
        checked when the iteration ends (`_check_batch_ranges`): data read on demand
        is checked as it is read, as in-memory data is checked at the door.
        """
        # Inference allocates per batch as training does: the same allocator policy
        # (a transform in a process that never fitted ran 2.3x slower without it).
        tune_malloc()
        module = self.net_.module_
        factor = self._call_scale(X) / module.input_scale
        ranges = []
        for start in range(0, len(X), self.batch_size):
            batch = to_tensor_batch(np.asarray(X[start : start + self.batch_size]))
            batch = batch.to(self.net_.device)
            if factor != 1.0:
                batch = batch.to(torch.float32) * factor
            x = module.prepare(batch)
            ranges.append(torch.stack([x.min(), x.max()]))
            yield x
        self._check_batch_ranges(ranges)

    def _call_scale(self, X):
        """Scale of this ``X``'s raw values into the model's range (see `resolve_call_scale`)."""
        input_dtype = getattr(self, "input_dtype_", None)
        if input_dtype is None:  # a model pickled before the encoding was recorded
            return self.input_scale_
        return resolve_call_scale(X, input_dtype, self.input_scale_, self.input_range_)

    def _check_batch_ranges(self, ranges):
        """Refuse non-finite values, and values outside [0, 1] under a Bernoulli likelihood."""
        if not ranges:
            return
        values = torch.stack(ranges).float().cpu()
        low, high = float(values[:, 0].min()), float(values[:, 1].max())
        if not (np.isfinite(low) and np.isfinite(high)):
            raise ValueError(
                "X contains NaN or infinity (found in the rows as they were read; float32 "
                "holds magnitudes up to 3.4e38)."
            )
        if self.likelihood_ == "bernoulli" and (low < -1e-5 or high > 1.0 + 1e-5):
            raise ValueError(
                f"X ranges over [{low:g}, {high:g}] once converted to the model's range, "
                f"outside [0, 1]: {type(self).__name__} was fitted with a Bernoulli likelihood "
                f"on {describe_encoding(self._fit_dtype(), self.input_scale_)}. Give X in "
                "that encoding (or scaled to [0, 1])."
            )

    def _fit_dtype(self):
        return getattr(self, "input_dtype_", np.dtype(np.float32))

    @torch.no_grad()
    def _encode(self, X):
        module = self.net_.module_
        module.eval()
        with limited_torch_threads():
            means = [module.encode(x)[0] for x in self._batches(X)]
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

    def latent_kl(self, X):
        """Mean KL divergence of each latent from the prior, over ``X``.

        ``mean_x 0.5 * (mu_d(x)^2 + sigma_d^2(x) - log sigma_d^2(x) - 1)`` for each
        latent ``d``: near 0 for a latent that collapsed to the prior (it carries no
        information about ``x``), large for an informative one. UDR
        (`~sklearn_dvae.metrics.udr_score`) uses it to leave inactive latents out;
        sorting latents by it puts the informative ones first. For a full-covariance
        posterior (`CHyVAE`) it is the KL of each latent's marginal.

        Parameters
        ----------
        X : array-like of the training data's sample shape
            Data to encode (in any encoding ``transform`` accepts).

        Returns
        -------
        kl : ndarray of shape (latent_dim,), dtype float64
            Mean KL of each latent, in nats.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_dvae import BetaVAE
        >>> X = np.random.default_rng(0).random((64, 6)).astype(np.float32)
        >>> vae = BetaVAE(latent_dim=3, hidden_units=(16,), max_epochs=1,
        ...               random_state=0).fit(X)
        >>> vae.latent_kl(X).shape
        (3,)
        """
        check_is_fitted(self, "net_")
        X = self._check_X(X, reset=False)
        module = self.net_.module_
        module.eval()
        total = torch.zeros(module.latent_dim, dtype=torch.float64)
        with torch.no_grad(), limited_torch_threads():
            for x in self._batches(X):
                mu, logvar = module.encode(x)
                mu, logvar = mu.double(), logvar.double()
                total += (0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0)).sum(dim=0).cpu()
        return (total / len(X)).numpy()

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
        if len(Z) == 0:
            raise ValueError(
                f"inverse_transform needs at least one latent code, got shape {Z.shape}."
            )
        if not np.all(np.isfinite(Z)):
            raise ValueError("Input latents contain NaN or infinity.")
        return self._decode(Z)

    def sample(self, n_samples=1, random_state=None):
        """Decode draws from the model's prior (``N(0, I)``; CHyVAE's hierarchical prior).

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
        latent_dim = self.net_.module_.latent_dim
        draws = self.net_.criterion_.sample_prior(n_samples, latent_dim, rng)
        return self._decode(np.asarray(draws, dtype=np.float32))

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
            the Gaussian likelihood's normalising constant included (the loss
            module's ``negative_elbo``, negated). Computed in float64 on the CPU,
            in float32 on a GPU.
        """
        check_is_fitted(self, "net_")
        X = self._check_X(X, reset=False)
        module, criterion = self.net_.module_, self.net_.criterion_
        dtype = torch.float32
        if torch.device(self.net_.device).type == "cpu":
            # float64 on the CPU (a copy of the networks): a sample's bound then
            # does not depend on how the samples are batched, even in the last digit.
            module, dtype = copy.deepcopy(module).double(), torch.float64
        module.eval()
        generator = torch.Generator().manual_seed(0)
        noise = torch.randn(module.latent_dim, generator=generator).to(self.net_.device, dtype)
        values = []
        with torch.no_grad(), limited_torch_threads():
            for x in self._batches(X):
                x = x.to(dtype)
                mu, logvar, scale_tril = module.encode_distribution(x)
                z = module.reparameterize(mu, logvar, scale_tril, noise=noise)
                output = VAEOutput(x, module.decode(z), mu, logvar, z, scale_tril)
                values.append((-criterion.negative_elbo(output)).double().cpu())
        elbo = torch.cat(values).numpy()
        if not np.all(np.isfinite(elbo)):
            raise ValueError(
                f"The evidence lower bound is not finite for {int((~np.isfinite(elbo)).sum())} "
                "sample(s): their values are too large for the model's float arithmetic."
            )
        return elbo

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


_MISSING = object()


def _snapshot(net):
    """Copies of what `VAENet.load_params` may change: every state dict, history, counter."""
    names = [*net._modules, *net._criteria, *net._optimizers]
    states = {
        name: copy.deepcopy(getattr(net, name + "_").state_dict())
        for name in names
        if hasattr(getattr(net, name + "_", None), "state_dict")
    }
    return states, copy.deepcopy(net.history), net.training_steps_


def _restore(net, saved):
    states, history, steps = saved
    for name, state in states.items():
        getattr(net, name + "_").load_state_dict(state)
    net.history_ = history
    net.training_steps_ = steps


def _named_parameters_signature(init, parent_init=None):
    """The signature scikit-learn reads: ``init``'s named parameters, then the parent's.

    The ``**kwargs`` that carry the routed ``encoder__*``, ``decoder__*`` and
    ``optimizer__*`` keywords (and, in a model, the parent's parameters) are left
    out: scikit-learn treats every parameter of the signature as a named one.
    """
    signature = inspect.signature(init)
    parameters = list(signature.parameters.values())
    own = [p for p in parameters if p.kind != p.VAR_KEYWORD]
    if parent_init is None or len(own) == len(parameters):
        return signature.replace(parameters=own)
    names = {p.name for p in own}
    inherited = [
        p.replace(kind=p.KEYWORD_ONLY)
        for p in inspect.signature(parent_init).parameters.values()
        if p.name not in names and p.name != "self" and p.kind != p.VAR_KEYWORD
    ]
    positional = [p for p in own if p.kind != p.KEYWORD_ONLY]
    keyword_only = [p for p in own if p.kind == p.KEYWORD_ONLY]
    return signature.replace(parameters=positional + keyword_only + inherited)


DisentangledVAE.__init__.__signature__ = _named_parameters_signature(DisentangledVAE.__init__)


def _same_setting(a, b):
    """Whether two values of a setting are the same (networks: the same object)."""
    if a is b:
        return True
    if isinstance(a, nn.Module) or isinstance(b, nn.Module):
        return False
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same_setting(x, y) for x, y in zip(a, b, strict=True))
    try:
        return (
            bool(a == b)
            and type(a) is type(b)
            or (isinstance(a, numbers.Number) and isinstance(b, numbers.Number) and a == b)
        )
    except Exception:  # values that do not compare (arrays of another shape, ...)
        return False


def _describe(value):
    if value is _MISSING:
        return "(unset)"
    if isinstance(value, type):
        return value.__name__
    if isinstance(value, nn.Module):
        return f"{type(value).__name__} instance"
    return repr(value)
