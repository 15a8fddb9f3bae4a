"""The skorch net that trains a VAE module with a loss module: skorch's hooks, nothing else.

`VAENet` is a `skorch.NeuralNet` whose ``module`` is a `VAEModule` and whose
``criterion`` is one of the loss modules of `sklearn_dvae.nn.losses`. It overrides
skorch's documented hooks:

- ``get_loss``: the criterion's ``(loss, terms)``; each term is checked (a NaN or
  infinite value raises `TrainingDivergedError` before the backward pass) and
  recorded in the history as ``train_<name>`` / ``valid_<name>``;
- ``train_step``: skorch's closure step on the main optimizer (``train_step_single``
  does the forward and backward pass) and `auxiliary_backward` for models with a
  second optimizer (FactorVAE's discriminator), one check of every loss term and
  gradient before any update, then the updates; eagerly or captured as one CUDA
  graph (`sklearn_dvae._cuda_graph`);
- ``get_iterator``: in-memory and on-demand arrays in whole batches
  (`sklearn_dvae._batching`);
- ``fit_loop`` and ``run_single_epoch``: a budget in steps as well as in epochs,
  and seeded epochs.

The net knows nothing of the estimator that builds it: every setting is one of its
parameters, applied by the estimator before each fit.
"""

import math
from itertools import islice

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import EpochTimer, PassthroughScoring
from skorch.dataset import unpack_data
from skorch.utils import TeeGenerator, to_tensor

from ._batching import ArrayBatches, as_array_view
from ._callbacks import StepProgressBar, VerbosePrintLog
from ._cuda_graph import CapturedStep
from ._interrupts import deferred_interrupts
from .nn.divergences import gaussian_kl

# Float rounding of scaled data (MinMaxScaler's output can exceed 1 by an ulp).
_UNIT_TOLERANCE = 1e-5


def _total_norm(tensors):
    """The 2-norm of all ``tensors`` together (inf or NaN when one of them has such values)."""
    get_total_norm = getattr(torch.nn.utils, "get_total_norm", None)
    if get_total_norm is not None:
        return get_total_norm(tensors)
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(t) for t in tensors]))


class TrainingDivergedError(FloatingPointError):
    """Raised when a loss term becomes NaN or infinite during training.

    The parameters are those from before the offending step: the update that
    would have used the non-finite loss is never applied.

    Examples
    --------
    A diverged run is a ``FloatingPointError``; catch it around ``fit``, e.g. to
    retry with a smaller learning rate:

    >>> from sklearn_dvae import TrainingDivergedError
    >>> issubclass(TrainingDivergedError, FloatingPointError)
    True
    """


def compile_options(mode):
    """``torch.compile`` options of ``mode``, drawing random numbers as eager mode does.

    ``mode`` is one of torch's modes (``"default"``, ``"reduce-overhead"``, which uses
    CUDA graphs on a GPU, ``"max-autotune"``, ``"max-autotune-no-cudagraphs"``).
    Inductor's own random numbers differ from eager torch's; with
    ``fallback_random`` the reparameterisation noise is the same as without
    compilation, so a seeded run gives the same model up to rounding.

    Parameters
    ----------
    mode : str

    Returns
    -------
    options : dict
    """
    from torch._inductor import list_mode_options

    return {**list_mode_options(mode), "fallback_random": True}


def epoch_seed(seed, epoch):
    """Seed for torch's generator at the start of ``epoch`` of a run seeded by ``seed``.

    Deriving each epoch's seed from the run's seed and the epoch number (instead
    of letting one stream run on) means a run resumed from a checkpoint draws
    exactly the batches and noise that the uninterrupted run would have drawn.

    Parameters
    ----------
    seed : int
    epoch : int

    Returns
    -------
    seed : int
    """
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0] >> 1)


class VAENet(NeuralNet):
    """skorch net for the VAE family: a `VAEModule` trained with a loss module.

    Parameters
    ----------
    module : VAEModule class or instance
        The networks (``module__*`` keywords are its arguments).
    criterion : VAELoss subclass or instance
        The objective (``criterion__*`` keywords are its hyperparameters); its
        ``term_names`` are logged per batch and epoch.
    seed : int or None, default=None
        Seed of the run (see `epoch_seed`), or None for an unseeded run.
    autocast_dtype : torch.dtype or None, default=None
        Run the training forward pass under ``torch.autocast`` with this dtype;
        None runs it in float32. The loss always runs in float32.
    compile_mode : str or None, default=None
        Run the training forward pass (and hence its backward) through
        ``torch.compile`` with this mode (see `compile_options`), or capture the
        whole step as a CUDA graph with ``"cuda-graph"``; None runs eagerly.
        ``module_`` stays the plain module, so saving, pickling and inference are
        unchanged.
    max_steps : int or None, default=None
        Optimisation steps per ``fit``/``partial_fit`` call; when set, it replaces
        ``max_epochs`` (the last epoch may be cut short).
    **kwargs
        Passed to `skorch.NeuralNet` (``optimizer``, ``lr``, ``batch_size``,
        ``max_epochs``, ``callbacks``, ``train_split``, ``device``, ...).

    Attributes
    ----------
    training_steps_ : int
        Optimisation steps taken so far (survives ``partial_fit`` and checkpoints).
    planned_steps_ : int
        Steps the current (or last) ``fit_loop`` call was to take.

    Examples
    --------
    Every estimator builds its net in ``fit`` and keeps it as ``net_``:

    >>> import numpy as np
    >>> from sklearn_dvae import BetaVAE, VAENet
    >>> from sklearn_dvae.nn import BetaVAELoss
    >>> X = np.random.default_rng(0).random((64, 4)).astype(np.float32)
    >>> vae = BetaVAE(latent_dim=2, hidden_units=(8,), max_epochs=1, random_state=0).fit(X)
    >>> isinstance(vae.net_, VAENet), isinstance(vae.net_.criterion_, BetaVAELoss)
    (True, True)
    """

    #: Mini-batches consumed by one training step (FactorVAE uses two).
    batches_per_step = 1
    #: Names of the terms that `auxiliary_backward` logs (FactorVAE's discriminator).
    auxiliary_term_names = ()
    #: Keep in-memory training data on the device: "auto" (on a GPU when the data
    #: take less than half its free memory), True or False.
    resident_data = "auto"
    #: Per-batch records kept in the history for each finished epoch (evenly
    #: spaced, the last included): the history of a 300,000-step run stays small.
    max_batch_records = 100
    #: Training batches per epoch (evenly spaced) whose KL per latent goes into
    #: ``train_kl_per_latent``; a diagnostic needs no more, and each costs a few ops.
    latent_kl_batches = 32

    def __init__(
        self,
        *args,
        seed=None,
        autocast_dtype=None,
        compile_mode=None,
        max_steps=None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.seed = seed
        self.autocast_dtype = autocast_dtype
        self.compile_mode = compile_mode
        self.max_steps = max_steps

    # -- the objective ----------------------------------------------------------
    @property
    def term_names(self):
        """Names of the logged terms: the criterion's, then the auxiliary step's."""
        names = getattr(self.criterion, "term_names", ("reconstruction", "kl"))
        return tuple(names) + tuple(self.auxiliary_term_names)

    @property
    def min_batch_size(self):
        """Smallest batch the criterion is defined on."""
        return int(getattr(self.criterion, "min_batch_size", 1))

    @property
    def _default_callbacks(self):
        callbacks = [("epoch_timer", EpochTimer())]
        for name in ("loss",) + self.term_names:
            callbacks.append(
                (f"train_{name}", PassthroughScoring(name=f"train_{name}", on_train=True))
            )
            callbacks.append((f"valid_{name}", PassthroughScoring(name=f"valid_{name}")))
        callbacks.append(("progress_bar", StepProgressBar()))
        callbacks.append(("print_log", VerbosePrintLog(keys_ignored=["train_kl_per_latent"])))
        return callbacks

    def initialize(self):
        """Initialise skorch's components and reset the step counter.

        Adds ``training_steps_`` (optimisation steps taken, 0 here) to what
        `skorch.NeuralNet.initialize` sets up.

        Returns
        -------
        self : VAENet
        """
        super().initialize()
        self.__dict__.pop("_captured_step", None)
        self.training_steps_ = 0
        return self

    def main_parameters(self):
        """``(name, parameter)`` pairs that the main optimizer (``optimizer_``) updates.

        Every learnable parameter of the module and the criterion (skorch's
        default); FactorVAE's net leaves out its discriminator.

        Returns
        -------
        named_parameters : iterator of (str, torch.nn.Parameter)
        """
        return self.get_all_learnable_params()

    def initialize_optimizer(self, *args, **kwargs):
        """Build ``optimizer_`` over `main_parameters` (``optimizer__*`` are its options).

        Parameters
        ----------
        *args, **kwargs
            Ignored (skorch's deprecated arguments).

        Returns
        -------
        self : VAENet
        """
        args, kwargs = self.get_params_for_optimizer("optimizer", self.main_parameters())
        self.optimizer_ = self.optimizer(*args, **kwargs)
        return self

    def get_loss(self, y_pred, y_true=None, X=None, training=False):
        """The criterion's loss of a batch; its terms are kept for the step's checks.

        A training batch's terms are checked, with the gradients, by `step_body`
        before any optimizer moves; a validation batch's are checked and recorded
        (``valid_<name>``) here.

        Parameters
        ----------
        y_pred : VAEOutput
            The module's forward pass.
        y_true : ignored
            The VAE reconstructs its input (``y_pred.x``).
        X : ignored
        training : bool, default=False
            Whether the batch is a training batch or a validation one.

        Returns
        -------
        loss : torch.Tensor (scalar)

        Raises
        ------
        TrainingDivergedError
            If the criterion's linear algebra fails (a Cholesky factorisation of a
            matrix that stopped being positive definite), or, for a validation
            batch, if a term is NaN or infinite.
        """
        try:
            loss, terms = self.criterion_(y_pred)
        except torch.linalg.LinAlgError as error:
            where = "training" if training else "validation"
            raise TrainingDivergedError(
                f"The {where} loss could not be computed at epoch {len(self.history)}, step "
                f"{self.training_steps_ + 1}: {type(self.criterion_).__name__}'s linear "
                f"algebra failed ({str(error).splitlines()[0]}). The parameters and "
                "optimizer states are those from before this step. Lower the learning rate "
                "or check the hyperparameters."
            ) from error
        if training:
            self.__dict__["_step_terms"] = terms
        else:
            values = self.check_finite(loss, terms, training=False, inputs=y_pred.x)
            self.record_terms("valid", values)
        return loss

    def check_finite(
        self, loss, terms, training=True, after_update=False, gradients=None, inputs=None
    ):
        """The loss, its terms (and checks of the step) as floats; raise on a bad value.

        One device-to-host transfer for everything.

        Parameters
        ----------
        loss : torch.Tensor (scalar)
        terms : dict of str to torch.Tensor (scalars)
        training : bool, default=True
            Names the phase in the error message.
        after_update : bool, default=False
            Whether the update of this step was already applied (a replayed CUDA
            graph), which the message then says.
        gradients : list of torch.Tensor or None, default=None
            Gradients that must be finite too (their total norm is checked).
        inputs : torch.Tensor or None, default=None
            The prepared batch: it must be finite, and within [0, 1] for a
            Bernoulli likelihood (data read on demand is checked as it is read).

        Returns
        -------
        values : dict of str to float
            ``{"loss": ..., <term>: ...}``.

        Raises
        ------
        TrainingDivergedError
            If the loss, a term or a gradient is NaN or infinite.
        ValueError
            If the batch holds NaN or infinite values, or values outside [0, 1]
            under a Bernoulli likelihood.
        """
        names = ["loss"] + list(terms)
        tensors = [t.detach().float().reshape(()) for t in [loss] + list(terms.values())]
        if gradients:
            names.append("gradient norm")
            tensors.append(_total_norm(gradients).float().reshape(()))
        if inputs is not None:
            names += ["input minimum", "input maximum"]
            tensors += [inputs.detach().min().float(), inputs.detach().max().float()]
        values = dict(zip(names, torch.stack(tensors).tolist(), strict=True))
        where = "training" if training else "validation"
        at = f"at epoch {len(self.history)}, step {self.training_steps_ + 1}"
        if inputs is not None:
            low, high = values.pop("input minimum"), values.pop("input maximum")
            if not (np.isfinite(low) and np.isfinite(high)):
                raise ValueError(
                    f"The {where} batch {at} holds NaN or infinite values: X must be finite "
                    "(data read on demand is checked as it is read). No update was applied."
                )
            if getattr(self.criterion_, "likelihood", None) == "bernoulli" and (
                low < -_UNIT_TOLERANCE or high > 1 + _UNIT_TOLERANCE
            ):
                raise ValueError(
                    f"The {where} batch {at} ranges over [{low:g}, {high:g}] (as the networks "
                    "see it), outside [0, 1], which a Bernoulli likelihood needs. For data "
                    "read on demand the likelihood was chosen from a sample of rows: pass "
                    "likelihood='gaussian' or scale X to [0, 1]. No update was applied."
                )
        bad = {name: value for name, value in values.items() if not np.isfinite(value)}
        if bad:
            raise TrainingDivergedError(
                f"The {where} loss became non-finite {at}: "
                f"{', '.join(f'{name} = {value}' for name, value in bad.items())}. "
                + (
                    "This step's update was applied (compile='cuda-graph' checks after it). "
                    if after_update
                    else "No update was applied: the parameters and optimizer states "
                    "(the discriminator's too) are those from before this step. "
                )
                + "Lower the learning rate, rescale the data, or check the hyperparameters."
            )
        values.pop("gradient norm", None)
        return values

    def record_terms(self, prefix, values):
        """Record named batch values in the history (skorch records the loss itself).

        Parameters
        ----------
        prefix : {"train", "valid"}
        values : dict of str to float
        """
        for name, value in values.items():
            if name != "loss":
                self.history.record_batch(f"{prefix}_{name}", value)

    # -- data -----------------------------------------------------------------
    def get_iterator(self, dataset, training=False):
        """Batch-indexed iteration over in-memory arrays; skorch's loader otherwise.

        A skorch ``Dataset`` (or a ``Subset`` of one, such as a validation split)
        holding an ndarray or an array read on demand is iterated with
        `ArrayBatches`, which ignores ``iterator_train__*`` and
        ``iterator_test__*`` and keeps an in-memory array on the device as
        `resident_data` says; any other dataset gets skorch's ``DataLoader``. For
        training, batches hold ``batch_size * batches_per_step`` samples in a new
        order each epoch, and a trailing batch too small for the criterion (fewer
        than ``batches_per_step`` times its minimum batch size) is dropped.

        Parameters
        ----------
        dataset : torch.utils.data.Dataset
            The data, usually a skorch ``Dataset`` of ``X`` or a ``Subset`` of one.
        training : bool, default=False
            Whether to iterate for training (shuffled, ``batches_per_step``) or
            for validation and inference (in order, every sample).

        Returns
        -------
        iterator : ArrayBatches or torch.utils.data.DataLoader
            Iterable of ``(X_batch, y_batch)`` pairs; `ArrayBatches` yields
            ``(tensor, None)``.
        """
        array, indices = as_array_view(dataset)
        if array is None:
            return super().get_iterator(dataset, training=training)
        batch_size = self.batch_size * self.batches_per_step if training else self.batch_size
        return ArrayBatches(
            array,
            batch_size=batch_size,
            shuffle=training,
            indices=indices,
            min_batch_size=self.batches_per_step * self.min_batch_size if training else 1,
            device=self.device if self._keep_data_on_device(array) else None,
        )

    def _keep_data_on_device(self, array):
        """Whether to copy the training data to the device once (see `resident_data`)."""
        if not isinstance(array, np.ndarray):
            return False  # data read on demand stays where it is
        if self.resident_data != "auto":
            return bool(self.resident_data)
        if not str(self.device).startswith("cuda") or not torch.cuda.is_available():
            # On the CPU the host array already is the device's memory.
            return False
        free, _ = torch.cuda.mem_get_info(torch.device(self.device))
        # Leave most of the memory to the networks and activations.
        return array.nbytes < 0.5 * free

    # -- forward ----------------------------------------------------------------
    def _forward_module(self):
        """The module to run: its compiled twin in training when asked, else itself."""
        if self.compile_mode in (None, "cuda-graph") or not self.module_.training:
            return self.module_
        compiled = self.__dict__.get("_compiled")
        if compiled is None or compiled[:2] != (self.module_, self.compile_mode):
            # Compiled once per module and mode (a re-initialised net gets a new one).
            options = compile_options(self.compile_mode)
            compiled = (
                self.module_,
                self.compile_mode,
                torch.compile(self.module_, options=options),
            )
            self.__dict__["_compiled"] = compiled
        return compiled[2]

    def __getstate__(self):
        state = super().__getstate__()
        for transient in (
            "_compiled",
            "_captured_step",
            "_step_terms",
            "_latent_kl",
            "_interrupt_request",
        ):
            state.pop(transient, None)  # rebuilt when needed; not picklable
        return state

    def infer(self, x, **fit_params):
        """Forward pass, under autocast when asked; the loss then sees float32 outputs.

        Unlike `skorch.NeuralNet.infer`, runs the compiled module in training when
        ``compile_mode`` is set, and the module under ``torch.autocast`` when
        ``autocast_dtype`` is set, casting the floating-point tensors of its
        output back to float32.

        Parameters
        ----------
        x : torch.Tensor or ndarray of shape (batch_size, ...)
            A raw batch; moved to the net's device.
        **fit_params
            Passed to the module's ``forward``.

        Returns
        -------
        output : VAEOutput
            The module's output.
        """
        module = self._forward_module()
        x = to_tensor(x, device=self.device)
        if self.autocast_dtype is None:
            return module(x, **fit_params)
        device_type = torch.device(self.device).type
        with torch.autocast(device_type=device_type, dtype=self.autocast_dtype):
            output = module(x, **fit_params)
        # Losses, reductions and the regularisers' linear algebra run in float32.
        return type(output)(
            *(t.float() if torch.is_tensor(t) and t.is_floating_point() else t for t in output)
        )

    # -- training -------------------------------------------------------------
    def fit_loop(self, X, y=None, epochs=None, *, steps=None, _routing_method=None, **fit_params):
        """skorch's fit loop, with a budget in steps as well as in epochs.

        Parameters
        ----------
        X : array-like or torch Dataset
            Training data.
        y : ignored
        epochs : int or None, default=None
            Epochs to run; ``max_epochs`` when None (and ``steps`` is None).
        steps : int or None, default=None
            Steps to run instead (``max_steps`` when both are None); the last
            epoch stops when they are done.
        _routing_method : str or None, default=None
            skorch's metadata-routing marker; unused (the estimators route none).
        **fit_params
            Passed to ``train_split`` and the module's forward.

        Returns
        -------
        self : VAENet
        """
        self.check_data(X, y)
        self.check_training_readiness()
        if steps is None and epochs is None:
            steps = self.max_steps
        dataset_train, dataset_valid = self.get_split_datasets(X, y, **fit_params)
        on_epoch_kwargs = {"dataset_train": dataset_train, "dataset_valid": dataset_valid}
        iterator_train = self.get_iterator(dataset_train, training=True)
        iterator_valid = None
        if dataset_valid is not None:
            iterator_valid = self.get_iterator(dataset_valid, training=False)
        per_epoch = len(iterator_train)
        if steps is None:
            epochs = self.max_epochs if epochs is None else epochs
            self.planned_steps_ = epochs * per_epoch
        else:
            epochs = math.ceil(steps / per_epoch) if per_epoch else 0
            self.planned_steps_ = min(steps, epochs * per_epoch)
        remaining = self.planned_steps_
        self._latent_kl_stride = max(1, per_epoch // self.latent_kl_batches)
        for _ in range(epochs):
            self.notify("on_epoch_begin", **on_epoch_kwargs)
            batches = (
                iterator_train if remaining >= per_epoch else islice(iterator_train, remaining)
            )
            self.run_single_epoch(
                batches, training=True, prefix="train", step_fn=self.train_step, **fit_params
            )
            remaining -= self.history[-1].get("train_batch_count", 0)
            self.run_single_epoch(
                iterator_valid,
                training=False,
                prefix="valid",
                step_fn=self.validation_step,
                **fit_params,
            )
            self.notify("on_epoch_end", **on_epoch_kwargs)
        return self

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """skorch's ``partial_fit``, stopping cleanly on Ctrl-C or a divergence.

        Ctrl-C is deferred to the end of the current step (see
        `sklearn_dvae._interrupts`); skorch's ``on_train_end`` callbacks then run,
        the unfinished epoch's row is marked ``interrupted`` and
        ``KeyboardInterrupt`` propagates: a search or a script stops instead of
        carrying on with a cut-short model. A callback that raises
        ``KeyboardInterrupt`` itself (skorch's ``EarlyStopping``) still ends the
        fit normally. After a `TrainingDivergedError` the epoch's row is marked
        ``diverged``. In every case the model is that of the last completed step,
        and at most `max_batch_records` per-batch records stay in the history.

        Parameters
        ----------
        X : array-like or torch Dataset
        y : ignored
        classes : ignored
        **fit_params
            ``epochs`` or ``steps`` (see `fit_loop`), and parameters of the
            module's forward.

        Returns
        -------
        self : VAENet

        Raises
        ------
        KeyboardInterrupt
            After Ctrl-C, once the current step is complete.
        TrainingDivergedError
            When a loss term or a gradient becomes NaN or infinite.
        """
        with deferred_interrupts() as request:
            self.__dict__["_interrupt_request"] = request
            try:
                super().partial_fit(X, y, classes=classes, **fit_params)
            except Exception as error:
                self._end_unfinished_epoch(
                    "diverged" if isinstance(error, FloatingPointError) else "failed"
                )
                progress = dict(self.callbacks_).get("progress_bar")
                if progress is not None:
                    progress.on_train_end(self)
                raise
            finally:
                self.__dict__.pop("_interrupt_request", None)
                self._thin_batch_records()
        if request.requested:
            raise KeyboardInterrupt(
                f"Training interrupted after step {self.training_steps_} (epoch "
                f"{len(self.history)}); the model is the one of that step."
            )
        return self

    def _end_unfinished_epoch(self, reason):
        """Mark the last epoch's row when it did not finish; drop a failed step's record."""
        if not len(self.history) or "training_steps" in self.history[-1]:
            return
        row = self.history[-1]
        batches = row.get("batches", [])
        if batches and "train_loss" not in batches[-1]:
            batches.pop()  # the step that did not complete
        row["train_batch_count"] = sum("train_loss" in b for b in batches)
        row["training_steps"] = self.training_steps_
        row[reason] = True

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        """After a completed training step, honour a deferred Ctrl-C.

        Parameters
        ----------
        net : VAENet
            This net.
        batch : tuple, optional
        training : bool, default=False
        **kwargs
            The step's outputs.
        """
        request = self.__dict__.get("_interrupt_request")
        if training and request is not None and request.requested:
            self._end_unfinished_epoch("interrupted")
            raise KeyboardInterrupt

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """Run skorch's epoch, seeding torch first for a training epoch of a seeded run.

        Before a training epoch, torch's global generator is seeded with
        ``epoch_seed(seed, len(history))``, so that a run resumed from a checkpoint
        draws the same batches and noise as the uninterrupted run.

        Parameters
        ----------
        iterator : iterable or None
            The batches (see `get_iterator`); None skips the epoch.
        training : bool
            Whether this is the training or the validation pass.
        prefix : str
            ``"train"`` or ``"valid"``, the prefix of the history's keys.
        step_fn : callable
            `train_step` or `validation_step`, called on each batch.
        **fit_params
            Passed to ``step_fn``.
        """
        if training and self.seed is not None:
            torch.manual_seed(epoch_seed(self.seed, len(self.history)))
        super().run_single_epoch(iterator, training, prefix, step_fn, **fit_params)

    def train_step(self, batch, **fit_params):
        """One optimisation step: `step_body`, eagerly or replayed from a CUDA graph.

        skorch's own ``train_step`` steps every registered optimizer with the
        same closure, which would re-run the VAE loss for FactorVAE's
        discriminator; here the main optimizer takes skorch's closure and
        `auxiliary_update` updates the rest (see `step_body`). Before the step, the criterion's
        ``training_step`` is set (for schedules); after it, ``training_steps_``
        counts it and the KL of each latent is accumulated for the epoch.

        Parameters
        ----------
        batch : tuple
            ``(X_batch, y_batch)`` from the iterator; ``y_batch`` is ignored.
        **fit_params
            Passed to `infer`.

        Returns
        -------
        step : dict
            ``{"loss": loss, "y_pred": output}``: the scalar loss tensor and the
            `VAEOutput` of the main forward pass.

        Raises
        ------
        TrainingDivergedError
            If the loss or one of its terms is NaN or infinite.
        """
        self.criterion_.training_step = self.training_steps_
        if self._graph_step_wanted():
            captured = self.__dict__.get("_captured_step")
            if captured is None:
                captured = self.__dict__["_captured_step"] = CapturedStep(self)
            step = captured(batch, **fit_params)
        else:
            step, _ = self.step_body(batch, **fit_params)
        if self.training_steps_ % self.__dict__.get("_latent_kl_stride", 1) == 0:
            self._accumulate_latent_kl(step["y_pred"])
        self.training_steps_ += 1
        return step

    def step_body(self, batch, deferred=False, **fit_params):
        """The work of a training step: every forward and backward pass, checks, then updates.

        skorch's closure, passed to the main optimizer's ``step``, clears the
        gradients, runs ``train_step_single`` (forward, `get_loss`, backward),
        then `auxiliary_backward` (FactorVAE's discriminator), and checks the loss,
        its terms, every gradient and the batch in one transfer before notifying
        ``on_grad_computed``: a bad value raises before any optimizer moves, so the
        model stays that of the last good step. Then the main optimizer updates,
        and `auxiliary_update` the rest. The same body runs eagerly and inside a
        CUDA graph capture (``deferred``).

        Parameters
        ----------
        batch : tuple
            ``(X_batch, y_batch)``; split by `split_step_batch`.
        deferred : bool, default=False
            Capture mode: no host synchronisation (the terms are checked and
            recorded after the replay) and no callbacks.
        **fit_params
            Passed to `infer`.

        Returns
        -------
        step : dict
            ``{"loss": loss, "y_pred": output}``.
        terms : dict of str to torch.Tensor
            The step's terms, the auxiliary ones included.
        """
        Xi, yi = unpack_data(batch)
        if self.batches_per_step > 1:
            # One copy to the device for all parts of the step.
            Xi = to_tensor(Xi, device=self.device)
        x_main, x_auxiliary = self.split_step_batch(Xi)
        accumulator = self.get_train_step_accumulator()
        checked = {}

        def step_fn():
            self._zero_grad_optimizer(set_to_none=True)
            step = self.train_step_single((x_main, yi), **fit_params)
            accumulator.store_step(step)
            terms = self.__dict__.pop("_step_terms")
            terms.update(self.auxiliary_backward(x_auxiliary, step["y_pred"]))
            checked["terms"] = terms
            if not deferred:
                checked["values"] = self.check_finite(
                    step["loss"],
                    terms,
                    gradients=self._gradients(),
                    inputs=step["y_pred"].x,
                )
                self.notify(
                    "on_grad_computed",
                    named_parameters=TeeGenerator(self.main_parameters()),
                    batch=batch,
                    training=True,
                )
            return step["loss"]

        try:
            self.optimizer_.step(step_fn)
        except Exception:
            # Nothing was updated; leave no gradients of the failed step behind.
            self._zero_grad_optimizer(set_to_none=True)
            raise
        self.auxiliary_update()
        if not deferred:
            self.record_terms("train", checked["values"])
        return accumulator.get_step(), checked["terms"]

    def _gradients(self):
        """The gradients every optimizer of the net is about to apply."""
        return [
            p.grad
            for name in self._optimizers
            for group in getattr(self, name + "_").param_groups
            for p in group["params"]
            if p.grad is not None
        ]

    def split_step_batch(self, x):
        """``(main_batch, auxiliary_batch)`` of a step's rows (no auxiliary batch here).

        Parameters
        ----------
        x : torch.Tensor
            The ``batch_size * batches_per_step`` rows of a step.

        Returns
        -------
        x_main : torch.Tensor
        x_auxiliary : torch.Tensor or None
        """
        if self.batches_per_step == 1:
            return x, None
        n_main = (len(x) + 1) // 2
        return x[:n_main], x[n_main:]

    def auxiliary_backward(self, x, output):
        """Forward and backward passes of a second objective (FactorVAE's discriminator).

        Runs inside the main optimizer's closure, after the main backward pass and
        before any update, so that its values are checked with the rest.

        Parameters
        ----------
        x : torch.Tensor or None
            The auxiliary batch (see `split_step_batch`).
        output : VAEOutput
            The main forward pass.

        Returns
        -------
        terms : dict of str to torch.Tensor
            Named scalars to check and log (``auxiliary_term_names``).
        """
        return {}

    def auxiliary_update(self):
        """Apply the second objective's update (none here), after the main one."""

    def _graph_step_wanted(self):
        return (
            self.compile_mode == "cuda-graph"
            and str(self.device).startswith("cuda")
            and torch.cuda.is_available()
        )

    # -- diagnostics --------------------------------------------------------------
    def _accumulate_latent_kl(self, output):
        """Add this batch's KL of each latent to the epoch's sums (no host sync)."""
        with torch.no_grad():
            kl = gaussian_kl(output.mu.detach().float(), output.logvar.detach().float()).sum(0)
        sums = self.__dict__.get("_latent_kl")
        if sums is None or sums[0].shape != kl.shape or sums[0].device != kl.device:
            self.__dict__["_latent_kl"] = [kl, len(output.mu)]
        else:
            sums[0] = sums[0] + kl
            sums[1] += len(output.mu)

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Thin the previous epoch's per-batch records, then start a new epoch (skorch).

        Parameters
        ----------
        net : VAENet
            This net.
        dataset_train, dataset_valid : torch.utils.data.Dataset or None
            The epoch's data.
        **kwargs
            Other arguments of skorch's notification.
        """
        self._thin_batch_records()
        self.__dict__.pop("_latent_kl", None)
        super().on_epoch_begin(net, dataset_train=dataset_train, dataset_valid=dataset_valid)

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Record ``training_steps`` and ``train_kl_per_latent`` in the epoch's row.

        Recording the step counter lets a run restored from a checkpoint's history
        resume it (see `load_params`), which schedules such as the capacity
        annealing depend on; ``train_kl_per_latent`` is the mean KL of each latent
        over the epoch's training batches (at most `latent_kl_batches` of them,
        evenly spaced: the estimators' collapse diagnostic).

        Parameters
        ----------
        net : VAENet
            This net (skorch passes it to every ``on_*`` hook).
        dataset_train, dataset_valid : torch.utils.data.Dataset or None
            The epoch's data; unused.
        **kwargs
            Other arguments of skorch's notification; unused.
        """
        self.history.record("training_steps", self.training_steps_)
        sums = self.__dict__.pop("_latent_kl", None)
        if sums is not None and sums[1] > 0:
            self.history.record("train_kl_per_latent", (sums[0] / sums[1]).tolist())

    def _thin_batch_records(self):
        """Keep at most `max_batch_records` evenly spaced batch records in the last epoch."""
        if not len(self.history):
            return
        batches = self.history[-1].get("batches", [])
        if len(batches) > self.max_batch_records:
            keep = np.unique(
                np.linspace(len(batches) - 1, 0, self.max_batch_records).round().astype(int)
            )
            self.history[-1]["batches"] = [batches[i] for i in keep]

    def load_params(self, *args, **kwargs):
        """Load with skorch, then restore the step counter from the loaded history.

        When the history's last epoch recorded ``training_steps`` (see
        `on_epoch_end`), ``training_steps_`` is set to it, so that training goes
        on from the checkpoint's step.

        Parameters
        ----------
        *args
            Passed to `skorch.NeuralNet.load_params`.
        **kwargs
            Passed to `skorch.NeuralNet.load_params` (``f_params``,
            ``f_optimizer``, ``f_criterion``, ``f_history``, ``checkpoint``, ...).
        """
        super().load_params(*args, **kwargs)
        # A captured step refers to the optimizer's old state tensors.
        self.__dict__.pop("_captured_step", None)
        if len(self.history) and "training_steps" in self.history[-1]:
            self.training_steps_ = int(self.history[-1]["training_steps"])
