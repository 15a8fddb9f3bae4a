"""The skorch net that trains a VAE: named loss terms, a step counter, seeded epochs.

`DisentangledVAE` owns one `VAENet` (its ``net_``). The net keeps skorch's
machinery (callbacks, history, checkpoints, device handling, pickling) and asks
the estimator that owns it for the model's objective, so that a model is a
small estimator subclass with its hyperparameters and its regulariser.
"""

import numpy as np
import scipy.sparse
import torch
from skorch import NeuralNet
from skorch.callbacks import EpochTimer, PassthroughScoring, PrintLog
from skorch.dataset import Dataset, unpack_data
from skorch.utils import to_tensor
from torch.utils.data import Subset


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


class ArrayBatches:
    """Mini-batches of an in-memory array, indexed a whole batch at a time.

    skorch's default ``DataLoader`` fetches samples one by one and collates
    them; indexing the array once per batch is much faster for images and
    keeps uint8 data uint8 until the module converts it. With ``device`` set,
    the whole array is copied to that device once (as it is, e.g. uint8) and
    batches are gathered there: no per-batch host-to-device copies.

    Parameters
    ----------
    X : ndarray
        The data (any dtype the module accepts).
    batch_size : int
        Samples per batch.
    shuffle : bool
        Draw a new permutation (from torch's global CPU generator, which the
        net seeds per epoch) each time the iterator is started. The order is
        drawn on the CPU whatever the device, so both paths see the same batches.
    indices : ndarray of int or None
        Rows of ``X`` to iterate over (a train/validation split), or all rows.
    min_batch_size : int, default=1
        Drop a trailing batch smaller than this (unless it is the only one):
        models with batch statistics cannot use a batch of one sample.
    device : str, torch.device or None, default=None
        Keep the data on this device and index it there; None indexes the
        host array and leaves moving each batch to skorch.
    """

    def __init__(self, X, batch_size, shuffle, indices=None, min_batch_size=1, device=None):
        self.X = X
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.indices = None if indices is None else np.asarray(indices)
        self.min_batch_size = min_batch_size
        self.device = device
        self._resident = None

    def _n_rows(self):
        return len(self.X) if self.indices is None else len(self.indices)

    def __len__(self):
        n = self._n_rows()
        n_batches = -(-n // self.batch_size)
        trailing = n - (n_batches - 1) * self.batch_size
        if n_batches > 1 and trailing < self.min_batch_size:
            n_batches -= 1
        return n_batches

    def _order(self):
        n = self._n_rows()
        order = torch.randperm(n).numpy() if self.shuffle else np.arange(n)
        return order if self.indices is None else self.indices[order]

    def __iter__(self):
        if self.device is not None:
            yield from self._iter_resident()
            return
        order = self._order()
        for batch_index in range(len(self)):
            rows = order[batch_index * self.batch_size : (batch_index + 1) * self.batch_size]
            if not self.shuffle:
                # Contiguous slices avoid a gather on the evaluation path.
                rows = slice(int(rows[0]), int(rows[-1]) + 1) if _is_contiguous(rows) else rows
            yield to_tensor_batch(read_rows(self.X, rows)), None

    def _iter_resident(self):
        if self._resident is None:
            # One copy of the data, in its own dtype, for all epochs of this fit.
            self._resident = copy_to_device(self.X, self.device)
        order = torch.from_numpy(self._order()).to(self.device)
        for batch_index in range(len(self)):
            rows = order[batch_index * self.batch_size : (batch_index + 1) * self.batch_size]
            yield self._resident.index_select(0, rows), None


def is_lazy_array(X):
    """Whether ``X`` is an array-like read on demand (h5py dataset, LazyImages, ...)."""
    return (
        not isinstance(X, np.ndarray)
        and not scipy.sparse.issparse(X)
        and all(hasattr(X, name) for name in ("shape", "dtype", "ndim", "__getitem__"))
        and not hasattr(X, "__array_namespace__")
        and not hasattr(X, "iloc")
        and not isinstance(X, torch.Tensor)
    )


def read_rows(X, rows):
    """Rows of an array or an array-like read on demand, in the order asked for.

    h5py reads only increasing, unique indices: read those, then reorder.
    """
    if isinstance(X, np.ndarray) or isinstance(rows, slice):
        return np.asarray(X[rows])
    rows = np.asarray(rows)
    unique, inverse = np.unique(rows, return_inverse=True)
    return np.asarray(X[unique])[inverse]


def sample_rows(X, n_rows=1024):
    """Up to ``n_rows`` rows spread evenly over ``X`` (the whole of ``X`` if smaller)."""
    if len(X) <= n_rows:
        return np.asarray(X[:])
    return read_rows(X, np.linspace(0, len(X) - 1, n_rows).astype(np.int64))


def value_range(X):
    """``(min, max)`` of an in-memory array, or of a sample of rows of a lazy one."""
    values = sample_rows(X) if is_lazy_array(X) else X
    return float(values.min()), float(values.max())


def copy_to_device(array, device, chunk_bytes=64 << 20):
    """Copy an array (possibly a read-only memmap) to a device in chunks of host memory.

    Copying chunk by chunk bounds the extra host memory by ``chunk_bytes``
    where a single transfer of a read-only array would first copy it whole.
    """
    dtype = torch.from_numpy(np.empty(0, dtype=array.dtype)).dtype
    out = torch.empty(array.shape, dtype=dtype, device=device)
    rows_per_chunk = max(1, chunk_bytes // max(1, array[:1].nbytes))
    for start in range(0, len(array), rows_per_chunk):
        chunk = to_tensor_batch(array[start : start + rows_per_chunk])
        out[start : start + len(chunk)].copy_(chunk)
    return out


def to_tensor_batch(array):
    """A CPU tensor of a batch, sharing memory unless the array is read-only."""
    array = np.ascontiguousarray(array)
    if not array.flags.writeable:
        # torch cannot wrap read-only memory (e.g. a read-only memmap) safely.
        array = array.copy()
    return torch.from_numpy(array)


def _is_contiguous(rows):
    return len(rows) > 0 and rows[-1] - rows[0] == len(rows) - 1 and np.all(np.diff(rows) == 1)


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
    """
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0] >> 1)


class VAENet(NeuralNet):
    """skorch net for the VAE family; the owning estimator supplies the objective.

    Parameters
    ----------
    objective : DisentangledVAE
        The estimator whose ``_loss`` method defines the training objective and
        whose ``_loss_term_names`` lists the terms logged in ``history``.
    seed : int or None
        Seed of the run (see `epoch_seed`), or None for an unseeded run.
    autocast_dtype : torch.dtype or None, default=None
        Run the training forward pass under ``torch.autocast`` with this dtype
        (the estimator's ``precision="bfloat16"``); None runs it in float32.
    compile_mode : str or None, default=None
        Run the training forward pass (and hence its backward) through
        ``torch.compile`` with this mode (see `compile_options`); None runs it
        eagerly. ``module_`` itself stays the plain module: its parameters are
        shared with the compiled one, so saving, pickling and inference are
        unchanged.
    **kwargs
        Passed to `skorch.NeuralNet`.

    Examples
    --------
    Every estimator builds its net in ``fit`` and keeps it as ``net_``:

    >>> import numpy as np
    >>> from sklearn_dvae import BetaVAE, VAENet
    >>> X = np.random.default_rng(0).random((64, 4)).astype(np.float32)
    >>> vae = BetaVAE(latent_dim=2, hidden_units=(8,), max_epochs=1, random_state=0).fit(X)
    >>> isinstance(vae.net_, VAENet), vae.net_.objective is vae
    (True, True)
    """

    #: Mini-batches consumed by one training step (FactorVAE uses two).
    batches_per_step = 1
    #: Keep in-memory training data on the device: "auto" (on a GPU when the data
    #: take less than half its free memory), True or False.
    resident_data = "auto"

    def __init__(
        self, *args, objective, seed=None, autocast_dtype=None, compile_mode=None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.objective = objective
        self.seed = seed
        self.autocast_dtype = autocast_dtype
        self.compile_mode = compile_mode

    @property
    def _default_callbacks(self):
        callbacks = [("epoch_timer", EpochTimer())]
        for name in ("loss",) + tuple(self.objective._loss_term_names):
            callbacks.append(
                (f"train_{name}", PassthroughScoring(name=f"train_{name}", on_train=True))
            )
            callbacks.append((f"valid_{name}", PassthroughScoring(name=f"valid_{name}")))
        callbacks.append(("print_log", PrintLog()))
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
        self.__dict__.pop("_cuda_graph", None)
        self.training_steps_ = 0
        return self

    # -- data -----------------------------------------------------------------
    def get_iterator(self, dataset, training=False):
        """Batch-indexed iteration over in-memory arrays; skorch's loader otherwise.

        A skorch ``Dataset`` (or a ``Subset`` of one, such as a validation split)
        holding an ndarray or an array read on demand is iterated with
        `ArrayBatches`, which ignores ``iterator_train__*`` and
        ``iterator_test__*`` and keeps an in-memory array on the device as
        `resident_data` says; any other dataset gets skorch's ``DataLoader``. For
        training, batches hold ``batch_size * batches_per_step`` samples in a new
        order each epoch, and a trailing batch too small for the model (fewer
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
        array, indices = _as_array_view(dataset)
        if array is None:
            return super().get_iterator(dataset, training=training)
        batch_size = self.batch_size * self.batches_per_step if training else self.batch_size
        return ArrayBatches(
            array,
            batch_size=batch_size,
            shuffle=training,
            indices=indices,
            min_batch_size=self.batches_per_step * self.objective._min_batch_size
            if training
            else 1,
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

    # -- training -------------------------------------------------------------
    def _forward_module(self):
        """The module to run: its compiled twin in training when asked, else itself."""
        if self.compile_mode in (None, "cuda-graph") or not self.module_.training:
            return self.module_
        compiled = self.__dict__.get("_compiled")
        if compiled is None or compiled[0] is not self.module_:
            # Compiled once per module (a re-initialised net gets a new one).
            options = compile_options(self.compile_mode)
            compiled = (self.module_, torch.compile(self.module_, options=options))
            self.__dict__["_compiled"] = compiled
        return compiled[1]

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_compiled", None)  # rebuilt on first use; not picklable
        state.pop("_cuda_graph", None)  # likewise, captured again after warm-up steps
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
            The module's output (or whatever a custom module returns).
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

    def _loss_and_terms(self, output, training):
        loss, terms = self.objective._loss(output, step=self.training_steps_, training=training)
        return loss, terms

    def _check_finite(self, loss, terms, training=True, after_update=False):
        """The loss and its named terms as floats; raise if any is NaN or infinite.

        One device-to-host transfer for all terms. Called before the backward
        pass, so that a non-finite loss never reaches the parameters.
        """
        names = ["loss"] + list(terms)
        tensors = [loss] + list(terms.values())
        values = dict(
            zip(names, torch.stack([t.detach().float() for t in tensors]).tolist(), strict=True)
        )
        bad = {name: value for name, value in values.items() if not np.isfinite(value)}
        if bad:
            where = "training" if training else "validation"
            raise TrainingDivergedError(
                f"The {where} loss became non-finite at epoch {len(self.history)}, "
                f"step {self.training_steps_ + 1}: term(s) {', '.join(bad)} = "
                f"{list(bad.values())}. "
                + (
                    "This step's update was applied (compile='cuda-graph' checks after it). "
                    if after_update
                    else "The parameters are those from before this step. "
                )
                + "Lower the learning rate, rescale the data, or check the hyperparameters."
            )
        return values

    def _record_terms(self, prefix, values):
        """Record named batch values in the history (skorch records the loss itself)."""
        for name, value in values.items():
            if name != "loss":
                self.history.record_batch(f"{prefix}_{name}", value)

    def train_step(self, batch, **fit_params):
        """One optimisation step on a batch, with the owning estimator's objective.

        Replaces skorch's step (no closure, no criterion): the loss and its named
        terms come from the owning estimator's ``objective._loss`` (given the
        step number ``training_steps_``, for schedules), each term is recorded in
        the batch's history as ``train_<name>``, and a non-finite loss or term
        raises `TrainingDivergedError` before the backward pass. Gradients are
        cleared by setting them to None, and ``training_steps_`` counts the step.

        Parameters
        ----------
        batch : tuple
            ``(X_batch, y_batch)`` from the iterator; ``y_batch`` is ignored.
        **fit_params
            Passed to `infer`.

        Returns
        -------
        step : dict
            ``{"loss": loss, "y_pred": output}``: the detached scalar loss tensor
            and the `VAEOutput` of the forward pass.

        Raises
        ------
        TrainingDivergedError
            If the loss or one of its terms is NaN or infinite.
        """
        if self._graph_step_wanted():
            return self._graph_train_step(batch, **fit_params)
        return self._eager_train_step(batch, **fit_params)

    def _eager_train_step(self, batch, **fit_params):
        self._set_training(True)
        Xi, _ = unpack_data(batch)
        output = self.infer(Xi, **fit_params)
        loss, terms = self._loss_and_terms(output, training=True)
        self._record_terms("train", self._check_finite(loss, terms))
        self._zero_grad_optimizer(set_to_none=True)
        loss.backward()
        self.notify(
            "on_grad_computed",
            named_parameters=self.get_all_learnable_params(),
            batch=batch,
            training=True,
        )
        self._step_optimizer(None)
        self.training_steps_ += 1
        return {"loss": loss.detach(), "y_pred": output}

    # -- whole-step CUDA graphs (compile="cuda-graph") --------------------------
    #: Eager steps, on a side stream, before the step is captured.
    graph_warmup_steps = 3

    def _graph_step_wanted(self):
        return (
            self.compile_mode == "cuda-graph"
            and str(self.device).startswith("cuda")
            and torch.cuda.is_available()
        )

    def _graph_body(self, x, **fit_params):
        """The captured step: forward, loss, backward and update, with no host sync.

        Returns the loss, its named terms and the forward pass's output, the
        graph's static tensors (overwritten by each replay).
        """
        output = self.infer(x, **fit_params)
        loss, terms = self._loss_and_terms(output, training=True)
        self._zero_grad_optimizer(set_to_none=True)
        loss.backward()
        self._step_optimizer(None)
        return loss, terms, output

    def _graph_train_step(self, batch, **fit_params):
        """A training step replayed from a CUDA graph (see ``compile="cuda-graph"``).

        The first `graph_warmup_steps` steps run eagerly on a side stream (cuDNN,
        allocator and optimizer state are set up there, as capture requires),
        the next one is captured and replayed, and every later step of the same
        batch shape only copies its batch into the graph's input and replays.
        A batch of another shape runs eagerly. The finiteness check reads the
        loss and terms after the update.
        """
        self._set_training(True)
        Xi, _ = unpack_data(batch)
        x = to_tensor(Xi, device=self.device)
        graph = self.__dict__.get("_cuda_graph")
        key = (tuple(x.shape), x.dtype, id(self.module_), id(self.optimizer_))
        if graph is None or graph["key"] != key:
            if graph is not None and graph["key"][2:] == key[2:] and graph["captured"]:
                # Same networks, another batch shape (an epoch's last batch).
                return self._eager_train_step((x, None), **fit_params)
            graph = {"key": key, "captured": False, "warmup": 0}
            self.__dict__["_cuda_graph"] = graph
        if not graph["captured"] and graph["warmup"] < self.graph_warmup_steps:
            side = torch.cuda.Stream(device=x.device)
            side.wait_stream(torch.cuda.current_stream(x.device))
            with torch.cuda.stream(side):
                step = self._eager_train_step((x, None), **fit_params)
            torch.cuda.current_stream(x.device).wait_stream(side)
            graph["warmup"] += 1
            return step
        if not graph["captured"]:
            static_x = x.clone()
            self._zero_grad_optimizer(set_to_none=True)
            cuda_graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(cuda_graph):
                loss, terms, output = self._graph_body(static_x, **fit_params)
            graph.update(
                captured=True, graph=cuda_graph, x=static_x, loss=loss, terms=terms, output=output
            )
        else:
            graph["x"].copy_(x)
        graph["graph"].replay()
        values = self._check_finite(graph["loss"], graph["terms"], after_update=True)
        self._record_terms("train", values)
        self.training_steps_ += 1
        return {"loss": graph["loss"].detach().clone(), "y_pred": graph["output"]}

    def validation_step(self, batch, **fit_params):
        """The objective on a validation batch, without gradients.

        Like skorch's step, but the loss comes from the owning estimator's
        ``objective._loss(..., training=False)``, its named terms are recorded
        as ``valid_<name>``, and a non-finite value raises `TrainingDivergedError`.

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
            `VAEOutput` of the forward pass.

        Raises
        ------
        TrainingDivergedError
            If the loss or one of its terms is NaN or infinite.
        """
        self._set_training(False)
        Xi, _ = unpack_data(batch)
        with torch.no_grad():
            output = self.infer(Xi, **fit_params)
            loss, terms = self._loss_and_terms(output, training=False)
        self._record_terms("valid", self._check_finite(loss, terms, training=False))
        return {"loss": loss, "y_pred": output}

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Record ``training_steps_`` in the epoch's row of the history.

        skorch's hook does nothing; recording the counter lets a run restored from
        a checkpoint's history resume it (see `load_params`), which schedules such
        as the capacity annealing depend on.

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
            ``f_optimizer``, ``f_history``, ``checkpoint``, ...).
        """
        super().load_params(*args, **kwargs)
        # A captured step refers to the optimizer's old state tensors.
        self.__dict__.pop("_cuda_graph", None)
        if len(self.history) and "training_steps" in self.history[-1]:
            self.training_steps_ = int(self.history[-1]["training_steps"])


def _as_array_view(dataset):
    """Return ``(array, row_indices)`` if ``dataset`` wraps an in-memory ndarray."""
    indices = None
    if isinstance(dataset, Subset):
        indices = np.asarray(dataset.indices)
        dataset = dataset.dataset
    if isinstance(dataset, Dataset) and (
        isinstance(dataset.X, np.ndarray) or is_lazy_array(dataset.X)
    ):
        return dataset.X, indices
    return None, None
