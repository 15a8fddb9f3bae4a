"""The whole training step captured as one CUDA graph (``compile="cuda-graph"``).

On a GPU the package's small networks are bound by the host launching a few
hundred kernels per step. `CapturedStep` runs the net's step body (forward, loss,
backward, optimizer updates; FactorVAE's discriminator update too) eagerly for a
few warm-up steps on a side stream, captures it once, and from then on copies each
batch into the graph's input and replays it. The step body is the net's own
(`VAENet.step_body`): the eager and the captured paths share one definition.
"""

import torch
from skorch.dataset import unpack_data
from skorch.utils import to_tensor


class CapturedStep:
    """A net's training step, warmed up, captured and replayed as a CUDA graph.

    The first `warmup_steps` steps run eagerly on a side stream (cuDNN, the
    allocator and the optimizers' state are set up there, as capture requires);
    the next is captured, and every later step of the same batch shape only copies
    its batch into the graph's input and replays. A batch of another shape (an
    epoch's last) runs eagerly. The loss and its terms are checked after the
    replay, hence after the update.

    Parameters
    ----------
    net : VAENet
        The net whose `VAENet.step_body` is captured.
    """

    #: Eager steps, on a side stream, before the step is captured.
    warmup_steps = 3

    def __init__(self, net):
        self.net = net
        self.key = None
        self.warmup = 0
        self.graph = None

    def _key(self, x):
        net = self.net
        optimizers = tuple(id(getattr(net, name + "_")) for name in net._optimizers)
        return (tuple(x.shape), x.dtype, id(net.module_), id(net.criterion_), optimizers)

    def __call__(self, batch, **fit_params):
        """Run one training step; returns skorch's step dict.

        Parameters
        ----------
        batch : tuple
            ``(X_batch, y_batch)``.
        **fit_params
            Passed to the module's forward.

        Returns
        -------
        step : dict
            ``{"loss": loss, "y_pred": output}`` of the step.
        """
        net = self.net
        Xi, _ = unpack_data(batch)
        x = to_tensor(Xi, device=net.device)
        key = self._key(x)
        if key != self.key:
            if self.graph is not None and key[2:] == self.key[2:]:
                # Same networks, another batch shape (an epoch's last batch).
                return net.step_body((x, None), **fit_params)[0]
            self.key, self.warmup, self.graph = key, 0, None
        if self.graph is None and self.warmup < self.warmup_steps:
            side = torch.cuda.Stream(device=x.device)
            side.wait_stream(torch.cuda.current_stream(x.device))
            with torch.cuda.stream(side):
                step, _ = net.step_body((x, None), **fit_params)
            torch.cuda.current_stream(x.device).wait_stream(side)
            self.warmup += 1
            return step
        if self.graph is None:
            self._capture(x, fit_params)
        else:
            self.static_x.copy_(x)
        self.graph.replay()
        values = net.check_finite(self.loss, self.terms, after_update=True)
        net.record_terms("train", values)
        return {"loss": self.loss.detach().clone(), "y_pred": self.output}

    def _capture(self, x, fit_params):
        net = self.net
        self.static_x = x.clone()
        net._zero_grad_optimizer(set_to_none=True)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            step, terms = net.step_body((self.static_x, None), deferred=True, **fit_params)
        self.graph = graph
        self.loss = step["loss"]
        self.output = step["y_pred"]
        self.terms = terms
