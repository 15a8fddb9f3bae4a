"""skorch callbacks of the package, and the check that callbacks get the data they monitor.

- `StepProgressBar`: one tqdm bar over a fit's steps (all its epochs), shown when
  the net is verbose, with the PrintLog table printed above it.
- `check_callbacks_have_validation`: a callback that monitors ``valid_*`` values
  (``EarlyStopping``'s default, ``Checkpoint``'s default, ``EpochScoring`` on the
  validation data) needs a validation split; without one it is refused up front
  with a clear error instead of a ``KeyError`` in the middle of training.
"""

from skorch.callbacks import Callback, EpochScoring, PrintLog

try:  # tqdm comes with skorch
    from tqdm.auto import tqdm
except ImportError:  # pragma: no cover
    tqdm = None


def print_above_progress_bars(*args, **kwargs):
    """``print``, but through tqdm so that an open progress bar stays whole.

    Parameters
    ----------
    *args, **kwargs
        As for ``print`` (``sep``, ``end`` and ``file`` are honoured).
    """
    if tqdm is None:
        print(*args, **kwargs)
        return
    text = kwargs.get("sep", " ").join(str(a) for a in args)
    tqdm.write(text, file=kwargs.get("file"), end=kwargs.get("end", "\n"))


class VerbosePrintLog(PrintLog):
    """skorch's per-epoch table, printed above an open progress bar, when the net is verbose.

    Parameters
    ----------
    **kwargs
        Passed to `skorch.callbacks.PrintLog` (``keys_ignored``, ``floatfmt``, ...).
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("sink", print_above_progress_bars)
        super().__init__(**kwargs)

    def on_epoch_end(self, net, **kwargs):
        """Print the epoch's row (and the header first) when ``net.verbose`` is positive.

        Parameters
        ----------
        net : VAENet
        **kwargs
            skorch's notification arguments.
        """
        if net.verbose:
            super().on_epoch_end(net, **kwargs)


class StepProgressBar(Callback):
    """A tqdm progress bar over the steps of a fit, when the net is verbose.

    One bar for the whole ``fit``/``partial_fit`` call (``max_steps`` runs may
    span many short epochs), with the latest training loss as its postfix.

    Parameters
    ----------
    min_verbose : int, default=1
        Show the bar when the net's ``verbose`` is at least this.
    """

    def __init__(self, min_verbose=1):
        self.min_verbose = min_verbose

    def initialize(self):
        """Forget any bar of an earlier fit.

        Returns
        -------
        self : StepProgressBar
        """
        self.bar_ = None
        return self

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        """Advance the bar by one step (training batches only).

        Parameters
        ----------
        net : VAENet
        batch : tuple, optional
        training : bool, default=False
        **kwargs
            The step's outputs (``loss`` ...).
        """
        if not training or tqdm is None or net.verbose < self.min_verbose:
            return
        if getattr(self, "bar_", None) is None:
            self.bar_ = tqdm(
                total=getattr(net, "planned_steps_", None),
                unit="step",
                leave=False,
                dynamic_ncols=True,
            )
        self.bar_.update(1)
        loss = kwargs.get("loss")
        if loss is not None and self.bar_.n % 10 == 1:
            self.bar_.set_postfix(loss=f"{float(loss):.4g}", refresh=False)

    def on_train_end(self, net, **kwargs):
        """Close the bar.

        Parameters
        ----------
        net : VAENet
        **kwargs
            skorch's notification arguments.
        """
        if getattr(self, "bar_", None) is not None:
            self.bar_.close()
        self.bar_ = None


def _named(callback):
    return callback[1] if isinstance(callback, tuple) else callback


def check_callbacks_have_validation(callbacks, has_validation, owner):
    """Refuse callbacks that need validation values when no validation split is made.

    Parameters
    ----------
    callbacks : list or None
        The estimator's ``callbacks`` (instances, classes or ``(name, callback)``).
    has_validation : bool
        Whether a validation split is made (``validation_fraction`` or ``train_split``).
    owner : str
        The estimator's name, for the message.

    Raises
    ------
    ValueError
        Naming the callback, what it monitors and how to turn validation on; or
        for an ``EpochScoring`` that caches the net's outputs (``use_caching``),
        which are whole decoded batches here.
    """
    for callback in callbacks or []:
        callback = _named(callback)
        name = callback.__name__ if isinstance(callback, type) else type(callback).__name__
        if isinstance(callback, type):
            continue  # an uninitialised class keeps its defaults; skorch builds it
        if isinstance(callback, EpochScoring) and callback.use_caching:
            raise ValueError(
                f"{owner}: EpochScoring must be given use_caching=False. Its cache keeps the "
                "net's output of every batch (the decoded images too) for the whole epoch; "
                "compute what you score from the net in the scoring function instead "
                "(e.g. net.module_ or the estimator's transform)."
            )
        if has_validation:
            continue
        monitor = getattr(callback, "monitor", None)
        needs_validation = isinstance(monitor, str) and monitor.startswith("valid_")
        if isinstance(callback, EpochScoring) and not callback.on_train:
            needs_validation, monitor = True, f"{callback.name} on the validation data"
        if needs_validation:
            raise ValueError(
                f"{owner}: the callback {name} monitors {monitor!r}, which is computed only "
                "on a validation split, and none is made. Set validation_fraction (e.g. 0.1) "
                "to hold out part of X, or monitor a training value (e.g. monitor="
                "'train_loss' or 'train_loss_best')."
            )
