"""Ctrl-C during training: stop between two steps, never in the middle of one.

Python raises ``KeyboardInterrupt`` wherever the interpreter happens to be when the
signal arrives: inside an optimizer's update, half of the parameters may have moved.
While a net trains, `deferred_interrupts` replaces the SIGINT handler with one that
only notes the request; the net raises ``KeyboardInterrupt`` itself once the current
step is complete (and recorded), so the model is always the one of a finished step.
A second Ctrl-C interrupts at once, as the default handler would.
"""

import signal
import threading
from contextlib import contextmanager


class InterruptRequest:
    """Whether Ctrl-C was pressed while a `deferred_interrupts` block ran.

    Attributes
    ----------
    requested : bool
        True once SIGINT arrived.
    """

    def __init__(self):
        self.requested = False


@contextmanager
def deferred_interrupts():
    """Note SIGINT instead of raising it, for the duration of the block.

    Only in the main thread (Python delivers signals there alone); elsewhere the
    block runs unchanged and the request never becomes True.

    Yields
    ------
    request : InterruptRequest

    Examples
    --------
    >>> from sklearn_dvae._interrupts import deferred_interrupts
    >>> with deferred_interrupts() as request:
    ...     pass
    >>> request.requested
    False
    """
    request = InterruptRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = signal.getsignal(signal.SIGINT) or signal.default_int_handler

    def note(signum, frame):
        if request.requested:
            # A second Ctrl-C: the user insists, interrupt now.
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        request.requested = True

    try:
        signal.signal(signal.SIGINT, note)
    except ValueError:  # pragma: no cover - not the main interpreter
        yield request
        return
    try:
        yield request
    finally:
        signal.signal(signal.SIGINT, previous)
