"""Pieces shared by the benchmark scripts."""

from skorch.callbacks import Callback


class StopAfter(Callback):
    """Interrupt training after ``n`` optimizer steps (the estimator stays usable).

    A ``KeyboardInterrupt`` ends skorch's fit loop cleanly, so a benchmark can take a
    few steps of an epoch over a large set (737,280 dSprites images) and go on.
    """

    def __init__(self, n):
        self.n = n

    def initialize(self):
        self.seen_ = 0
        return self

    def on_batch_end(self, net, training=False, **kwargs):
        self.seen_ += bool(training)
        if self.seen_ >= self.n:
            raise KeyboardInterrupt
