"""Many models trained as one computation: the fused trainer behind `fit_fused`.

Candidates of a grid share the architecture and the batch size and differ in a few
scalars and the seed. `FusedRun` trains K such estimators together:

- each member is built exactly as its standalone ``fit`` builds it (its own seed, its
  own `VAENet` with module, loss module and optimizer);
- their networks' parameters are stacked (``torch.func.stack_module_state``) and one
  forward and backward pass runs all K under ``torch.func.vmap``; one optimizer over
  the stacked tensors is K independent optimizers (Adam and the other torch
  optimizers are elementwise), so members must share the optimizer's settings;
- the losses run batched too when the loss class allows it (its
  ``batched_hyperparameters`` may differ between members, one value each), otherwise
  one member at a time with each member's own loss module (FactorVAE's own
  discriminator and its optimizer, CHyVAE's hyperprior);
- every random draw of a member (batch order, reparameterisation noise, FactorVAE's
  second batch and permutation) comes from its own generator, seeded and drawn in the
  order its standalone fit draws them from torch's global generator: on the CPU a
  member follows its standalone run up to the rounding of batched kernels;
- every member's losses, gradients and batch are checked before the update, as in
  `VAENet.step_body`; a member that diverges leaves the run with its last good state
  and its error, and the others train on;
- with ``compile="cuda-graph"`` on a GPU the step is captured as one CUDA graph
  (`_FusedGraph`), which keeps a copy of the state from before its update for the
  members that fail the checks after a replay;
- at the end each member's net holds its parameters, optimizer state, history and
  step counter: an ordinary fitted estimator.
"""

import contextlib
import copy
import math
import time

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from ._batching import read_rows, to_tensor_batch
from ._interrupts import deferred_interrupts
from ._memory import tune_malloc
from ._net import TrainingDivergedError, _total_norm, epoch_seed
from ._parallel import limited_torch_threads
from .nn.vae import VAEOutput

#: Estimator parameters that may differ between the members of one fused run, beside
#: the loss module's hyperparameters (and a model's ``_fusable_params``).
FUSABLE_PARAMS = ("random_state", "verbose")


def unfusable_reason(estimator):
    """Why ``estimator`` cannot train in a fused run (a sentence), or None.

    Parameters
    ----------
    estimator : DisentangledVAE

    Returns
    -------
    reason : str or None
    """
    if estimator.callbacks:
        return "it has callbacks (they follow one net's training)"
    if estimator.validation_fraction is not None or estimator.train_split is not None:
        return "it holds out a validation split"
    if estimator.compile and estimator.compile != "cuda-graph":
        return "compile is a torch.compile mode (a fused step is eager, or captured: 'cuda-graph')"
    if estimator.precision != "float32":
        return "precision is not float32"
    if estimator.memory_format != "contiguous":
        return "memory_format is channels_last"
    if estimator.warm_start and hasattr(estimator, "net_"):
        return "it continues a fitted model (warm_start)"
    return None


def fusable_names(estimator):
    """Parameters of ``estimator`` that may differ between members of one fused run.

    Parameters
    ----------
    estimator : DisentangledVAE

    Returns
    -------
    names : set of str
    """
    names = set(FUSABLE_PARAMS) | set(getattr(type(estimator), "_fusable_params", ()))
    names |= set(estimator._loss_class.hyperparameter_names()) - {"likelihood", "latent_dim"}
    return names & set(estimator.get_params(deep=False))


def fusion_key(estimator):
    """What members of one fused run must share: the class and every other parameter.

    Parameters
    ----------
    estimator : DisentangledVAE

    Returns
    -------
    key : tuple
        Equal for estimators that can be fused together (compare with ``==``).
    """
    fusable = fusable_names(estimator)
    params = estimator.get_params(deep=False)
    shared = tuple(
        (name, _comparable(value)) for name, value in sorted(params.items()) if name not in fusable
    )
    return (type(estimator), shared)


def _comparable(value):
    if isinstance(value, list):
        return tuple(_comparable(v) for v in value)
    if isinstance(value, nn.Module | np.ndarray):
        return ("object", id(value))
    try:
        hash(value)
    except TypeError:
        return ("object", id(value))
    return value


class _Encoder(nn.Module):
    """The module's encoding and reparameterisation, for a functional call."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x, noise):
        module = self.module
        mu, logvar, scale_tril = module.encode_distribution(module.prepare(x))
        return module.reparameterize(mu, logvar, scale_tril, noise=noise)


class FusedRun:
    """Train estimators of one fusion group as one computation (see the module's text).

    Parameters
    ----------
    estimators : list of DisentangledVAE
        Estimators with equal `fusion_key`; each is fitted in place.
    """

    def __init__(self, estimators):
        self.estimators = list(estimators)
        self.errors = [None] * len(self.estimators)

    # ------------------------------------------------------------------ set-up
    def _build(self, X):
        members = []
        for k, estimator in enumerate(self.estimators):
            try:
                estimator._initialize(X)
                estimator._apply_net_settings(estimator.net_)
            except Exception as error:  # noqa: BLE001 - reported like GridSearchCV's error_score
                self.errors[k] = error
                continue
            members.append(k)
        self.active = members
        if not members:
            return
        nets = [self.estimators[k].net_ for k in members]
        net = nets[0]
        self.device = net.device
        self.batch_size = net.batch_size
        self.batches_per_step = net.batches_per_step
        self.min_batch_size = net.min_batch_size
        self.base = copy.deepcopy(net.module_).to("meta")
        self.posterior_full = net.module_.posterior == "full"
        self._stack(nets)
        # compile="cuda-graph" on a GPU: the fused step is captured too. FactorVAE's
        # step (two batches, a discriminator per member) runs fused but eagerly.
        self.graph = _FusedGraph(self) if _wants_graph(net) else None
        criterion = net.criterion_
        names = criterion.batched_hyperparameters
        self.batched_loss = bool(names) and self._losses_share_the_rest(nets)
        self._hyper_key = None  # the batched hyperparameters' values, made once
        if self.batched_loss:
            self.template = copy.deepcopy(criterion)
        self.latent_dim = net.module_.latent_dim

    def _losses_share_the_rest(self, nets):
        """Whether the members' losses differ only in their batched hyperparameters."""
        first = nets[0].criterion_
        batched = set(first.batched_hyperparameters)
        for net in nets[1:]:
            criterion = net.criterion_
            if type(criterion) is not type(first):
                return False
            for name in type(first).hyperparameter_names():
                if name not in batched and getattr(criterion, name) != getattr(first, name):
                    return False
        return True

    def _stack(self, nets):
        """Stack the members' parameters and build one optimizer over them."""
        params, buffers = stack_module_state([net.module_ for net in nets])
        self.params = {name: p.detach().clone().requires_grad_(True) for name, p in params.items()}
        self.buffers = {name: b.detach().clone() for name, b in buffers.items()}
        net = nets[0]
        args, kwargs = net.get_params_for_optimizer("optimizer", list(self.params.items()))
        self.optimizer = net.optimizer(*args, **kwargs)

    # ------------------------------------------------------------------ steps
    def _forward(self, x, noise):
        def one(params, buffers, x, noise):
            return functional_call(self.base, (params, buffers), (x,), {"noise": noise})

        out_dims = VAEOutput(0, 0, 0, 0, 0, 0 if self.posterior_full else None)
        return vmap(one, out_dims=out_dims)(self.params, self.buffers, x, noise)

    def _encode_noisy(self, x, noise):
        encoder = _Encoder(self.base)
        params = {f"module.{name}": p.detach() for name, p in self.params.items()}
        buffers = {f"module.{name}": b for name, b in self.buffers.items()}

        def one(params, buffers, x, noise):
            return functional_call(encoder, (params, buffers), (x, noise))

        with torch.no_grad():
            return vmap(one)(params, buffers, x, noise)

    def _member_output(self, output, i):
        return VAEOutput(*(None if t is None else t[i] for t in output))

    def _losses(self, output, criteria, deferred=False):
        """Per member: the loss and its terms, batched when the loss class allows.

        The eager warm-up steps have found out whether the batched loss runs; while a
        step is captured (``deferred``), an error is raised, never caught.
        """
        if self.batched_loss and deferred:
            return self._batched_losses(output, criteria)
        if self.batched_loss:
            try:
                return self._batched_losses(output, criteria)
            except (RuntimeError, ValueError, TypeError):
                self.batched_loss = False  # this loss does not run under vmap
        results = []
        for i, criterion in enumerate(criteria):
            loss, terms = criterion(self._member_output(output, i))
            results.append((loss, terms))
        losses = torch.stack([loss for loss, _ in results])
        names = list(results[0][1])
        terms = {name: torch.stack([t[name] for _, t in results]) for name in names}
        return losses, terms

    def _batched_losses(self, output, criteria):
        template = self.template
        template.training_step = criteria[0].training_step
        values = [criterion.batched_values() for criterion in criteria]
        key = tuple(tuple(v.items()) for v in values)
        if self._hyper_key != key:
            # Made once per set of values: a captured step reads the same tensors.
            self._hyper = {
                name: torch.tensor(
                    [v[name] for v in values], dtype=torch.float32, device=self.device
                )
                for name in values[0]
            }
            self._hyper_key = key
        hyper = self._hyper
        saved = {name: getattr(template, name) for name in hyper}

        def one(output, hyper):
            for name, value in hyper.items():
                setattr(template, name, value)
            loss, terms = template(output)
            return loss, {name: torch.as_tensor(t) for name, t in terms.items()}

        out_dims = VAEOutput(0, 0, 0, 0, 0, 0 if self.posterior_full else None)
        try:
            return vmap(one, in_dims=(out_dims, 0))(output, hyper)
        finally:
            for name, value in saved.items():
                setattr(template, name, value)

    def _member_grad_norms(self):
        norms = [
            torch.linalg.vector_norm(p.grad.flatten(1), dim=1)
            for p in self.params.values()
            if p.grad is not None
        ]
        return torch.linalg.vector_norm(torch.stack(norms), dim=0)

    def _rows(self, order, step):
        size = self.batch_size * self.batches_per_step
        return order[step * size : (step + 1) * size]

    def _n_steps(self, n_rows):
        size = self.batch_size * self.batches_per_step
        n_batches = -(-n_rows // size)
        trailing = n_rows - (n_batches - 1) * size
        if n_batches > 1 and trailing < self.batches_per_step * self.min_batch_size:
            n_batches -= 1
        return n_batches

    def _step(self, X, orders, step, generators, epoch_rows):
        """One fused step; returns the members that failed in it, with their errors."""
        members = self.active
        nets = [self.estimators[k].net_ for k in members]
        rows = [self._rows(orders[k], step) for k in members]
        batches = torch.stack([to_tensor_batch(read_rows(X, r)) for r in rows]).to(self.device)
        n_main = (batches.shape[1] + 1) // 2 if self.batches_per_step > 1 else batches.shape[1]
        x_main, x_other = batches[:, :n_main], batches[:, n_main:]
        noise = torch.stack(
            [torch.randn(n_main, self.latent_dim, generator=generators[k]) for k in members]
        ).to(self.device)
        for net in nets:
            net.criterion_.training_step = net.training_steps_
        graph = self.graph
        if graph is not None and graph.ready(x_main):
            # The captured step: forward, losses, backward and the update in one replay;
            # a member that failed in it is restored from the copy taken before it.
            output, table, names = graph.replay(x_main, noise)
            failures, updated = {}, True
        else:
            with graph.warmup_stream() if graph is not None else contextlib.nullcontext():
                output, table, names, failures = self._compute(
                    nets, x_main, x_other, noise, generators
                )
            updated = False
        table = table.tolist()
        for i, k in enumerate(members):
            if k in failures:
                continue
            row = dict(zip(names + ["gradient norm", "low", "high"], table[i], strict=True))
            error = self._check(nets[i], row)
            if error is not None:
                failures[k] = error
                continue
            self._record(nets[i], row, names, len(rows[i]), output, i, epoch_rows)
        bad = [i for i, k in enumerate(members) if k in failures]
        if bad:
            self._release(bad, failures, source=graph.backup if updated else None)
        if not updated:
            with graph.warmup_stream() if graph is not None else contextlib.nullcontext():
                self.optimizer.step()
            if graph is not None:
                graph.warmed_up(x_main)
        for i, k in enumerate(members):
            if k not in failures and self.batches_per_step > 1:
                nets[i].auxiliary_update()
        if bad:
            self._regroup([i for i in range(len(members)) if members[i] not in failures])
        return failures

    def _compute(self, nets, x_main, x_other, noise, generators=None, deferred=False):
        """Forward, losses and backward of all members; the table of what to check.

        Returns
        -------
        output : VAEOutput
            The stacked outputs (leading dimension: member).
        table : torch.Tensor of shape (n_members, n_columns)
            Per member: the loss, its terms, the auxiliary values, the gradient norm,
            and the batch's minimum and maximum.
        names : list of str
            The names of the columns before the last three.
        failures : dict
            Members whose loss could not be computed (CHyVAE's linear algebra),
            with their errors; always empty when ``deferred``.
        """
        members = self.active
        self.optimizer.zero_grad(set_to_none=True)
        output = self._forward(x_main, noise)
        criteria = [net.criterion_ for net in nets]
        failures = {}
        if deferred:
            losses, terms = self._losses(output, criteria, deferred=True)
        else:
            try:
                losses, terms = self._losses(output, criteria)
            except torch.linalg.LinAlgError as error:
                # One member's linear algebra failed: find which, one by one.
                losses, terms, failures = self._losses_one_by_one(output, criteria, error)
        torch.nan_to_num(losses, nan=0.0, posinf=0.0, neginf=0.0).sum().backward()
        auxiliary = self._auxiliary(nets, output, x_other, generators)
        columns = [losses.detach(), *(t.detach().reshape(len(members)) for t in terms.values())]
        names = ["loss", *terms]
        for name, values in auxiliary.items():
            columns.append(values)
            names.append(name)
        columns.append(self._member_grad_norms().to(losses.device).float())
        columns.append(output.x.detach().flatten(1).amin(dim=1).float())
        columns.append(output.x.detach().flatten(1).amax(dim=1).float())
        table = torch.stack([c.float() for c in columns], dim=1)
        return output, table, names, failures

    def _losses_one_by_one(self, output, criteria, error):
        losses, rows, failures = [], [], {}
        for i, criterion in enumerate(criteria):
            try:
                loss, terms = criterion(self._member_output(output, i))
            except torch.linalg.LinAlgError as member_error:
                net = self.estimators[self.active[i]].net_
                failures[self.active[i]] = TrainingDivergedError(
                    f"The training loss could not be computed at epoch {len(net.history)}, "
                    f"step {net.training_steps_ + 1}: {type(criterion).__name__}'s linear "
                    f"algebra failed ({str(member_error).splitlines()[0]}). The parameters "
                    "and optimizer states are those from before this step."
                )
                loss = output.mu.new_tensor(float("nan"))
                terms = None
            losses.append(loss)
            rows.append(terms)
        template = next(t for t in rows if t is not None) if any(rows) else {}
        terms = {
            name: torch.stack(
                [t[name] if t is not None else losses[0].new_tensor(float("nan")) for t in rows]
            )
            for name in template
        }
        return torch.stack(losses), terms, failures

    def _auxiliary(self, nets, output, x_other, generators):
        """FactorVAE's discriminators: their losses and gradients, one member at a time."""
        if self.batches_per_step == 1:
            return {}
        members = self.active
        noise = torch.stack(
            [
                torch.randn(x_other.shape[1], self.latent_dim, generator=generators[k])
                for k in members
            ]
        ).to(self.device)
        z_other = self._encode_noisy(x_other, noise)
        values = {}
        for i, (k, net) in enumerate(zip(members, nets, strict=True)):
            loss, accuracy = net.criterion_.discriminator_loss(
                output.z[i], z_other[i], generator=generators[k]
            )
            loss.backward()
            discriminator = [
                p.grad for p in net.criterion_.discriminator.parameters() if p.grad is not None
            ]
            for name, value in (
                ("discriminator_loss", loss.detach()),
                ("discriminator_accuracy", accuracy),
                ("discriminator gradient norm", _total_norm(discriminator)),
            ):
                values.setdefault(name, []).append(value.float().reshape(()))
        return {name: torch.stack(v) for name, v in values.items()}

    def _check(self, net, row):
        """The member's error at this step (data or divergence), or None."""
        low, high = row["low"], row["high"]
        bad = {n: v for n, v in row.items() if n not in ("low", "high") and not np.isfinite(v)}
        in_range = net.criterion_.likelihood != "bernoulli" or (-1e-5 <= low and high <= 1 + 1e-5)
        if not bad and np.isfinite(low) and np.isfinite(high) and in_range:
            return None
        at = f"at epoch {len(net.history)}, step {net.training_steps_ + 1}"
        if not (np.isfinite(low) and np.isfinite(high)):
            return ValueError(f"The training batch {at} holds NaN or infinite values.")
        if not in_range:
            return ValueError(
                f"The training batch {at} ranges over [{low:g}, {high:g}], outside [0, 1], "
                "which a Bernoulli likelihood needs."
            )
        return TrainingDivergedError(
            f"The training loss became non-finite {at}: "
            f"{', '.join(f'{n} = {v}' for n, v in bad.items())}. No update was applied: "
            "the parameters and optimizer states are those from before this step. Lower "
            "the learning rate, rescale the data, or check the hyperparameters."
        )

    def _record(self, net, row, names, n_rows, output, i, epoch_rows):
        history = net.history
        history.new_batch()
        history.record_batch("train_loss", row["loss"])
        history.record_batch("train_batch_size", n_rows)
        net.record_terms(
            "train", {n: row[n] for n in names if n != "loss" and not n.endswith("gradient norm")}
        )
        if net.training_steps_ % net.__dict__.get("_latent_kl_stride", 1) == 0:
            net._accumulate_latent_kl(self._member_output(output, i))
        net.training_steps_ += 1
        epoch_rows[id(net)] = epoch_rows.get(id(net), 0) + 1

    # ------------------------------------------------------------------ membership
    def _write_back(self, positions, source=None):
        """Copy the stacked state of the members at ``positions`` into their own nets.

        ``source``: ``(params, states)``, stacked parameters and optimizer states by
        parameter name to copy from instead of the run's current ones (the copy a
        captured step takes before its update).
        """
        if source is None:
            params = self.params
            states = {name: self.optimizer.state.get(p) for name, p in params.items()}
        else:
            params, states = source
        for i in positions:
            net = self.estimators[self.active[i]].net_
            with torch.no_grad():
                for name, p in net.module_.named_parameters():
                    p.copy_(params[name][i])
                for name, b in net.module_.named_buffers():
                    if name in self.buffers:
                        b.copy_(self.buffers[name][i])
            member_params = dict(net.module_.named_parameters())
            optimizer = net.optimizer_
            optimizer.state.clear()
            for name, stacked in params.items():
                state = states.get(name)
                if not state:
                    continue
                optimizer.state[member_params[name]] = {
                    key: _member_slice(value, i, stacked) for key, value in state.items()
                }

    def _release(self, positions, failures, source=None):
        """Members at ``positions`` leave the run with their state from before this step.

        ``source``: where that state is, when the step's update was already applied
        (see `_write_back`).
        """
        self._write_back(positions, source)
        for i in positions:
            k = self.active[i]
            net = self.estimators[k].net_
            net._zero_grad_optimizer(set_to_none=True)
            reason = "diverged" if isinstance(failures[k], FloatingPointError) else "failed"
            net._end_unfinished_epoch(reason)
            self.errors[k] = failures[k]

    def _regroup(self, positions):
        """Keep only the members at ``positions`` in the stacked state and the optimizer."""
        if self.graph is not None:
            self.graph.reset()  # its tensors are those of the old group
        index = torch.tensor(positions, device=next(iter(self.params.values())).device)
        old_params, old_state = self.params, self.optimizer.state
        self.params = {
            name: p.detach().index_select(0, index).clone().requires_grad_(True)
            for name, p in old_params.items()
        }
        self.buffers = {name: b.index_select(0, index) for name, b in self.buffers.items()}
        net = self.estimators[self.active[positions[0]]].net_
        args, kwargs = net.get_params_for_optimizer("optimizer", list(self.params.items()))
        self.optimizer = net.optimizer(*args, **kwargs)
        for name, p in old_params.items():
            state = old_state.get(p)
            if state:
                self.optimizer.state[self.params[name]] = {
                    key: _select(value, index, p) for key, value in state.items()
                }
        self.active = [self.active[i] for i in positions]

    # ------------------------------------------------------------------ the run
    def fit(self, X):
        """Train every member for its budget on ``X``; returns the members' errors.

        Parameters
        ----------
        X : array-like or array read on demand
            Training data, checked and resolved by each member's ``fit`` set-up.

        Returns
        -------
        errors : list of Exception or None
            Per estimator: the error that ended its training, or None.
        """
        tune_malloc()
        with torch.random.fork_rng(devices=[]), limited_torch_threads():
            self._build(X)
            if self.active:
                X = self.estimators[self.active[0]]._check_X(X, reset=False)
                self._train(X)
        return self.errors

    def _train(self, X):
        nets = {k: self.estimators[k].net_ for k in self.active}
        net = nets[self.active[0]]
        per_epoch = self._n_steps(len(X))
        steps = net.max_steps
        if steps is None:
            epochs = net.max_epochs
            planned = epochs * per_epoch
        else:
            epochs = math.ceil(steps / per_epoch) if per_epoch else 0
            planned = min(steps, epochs * per_epoch)
        for member in nets.values():
            member.planned_steps_ = planned
            member._latent_kl_stride = max(1, per_epoch // member.latent_kl_batches)
            member.notify("on_train_begin", X=X, y=None)
        done = 0
        with deferred_interrupts() as request:
            for _ in range(epochs):
                if not self.active:
                    break
                generators, orders = {}, {}
                for k in self.active:
                    member = nets[k]
                    member.notify("on_epoch_begin", dataset_train=None, dataset_valid=None)
                    seed = member.seed
                    generator = torch.Generator()
                    if seed is not None:
                        generator.manual_seed(epoch_seed(seed, len(member.history)))
                    else:
                        generator.seed()
                    generators[k] = generator
                    orders[k] = torch.randperm(len(X), generator=generator).numpy()
                epoch_rows = {}
                for step in range(min(per_epoch, planned - done)):
                    self._step(X, orders, step, generators, epoch_rows)
                    done += 1
                    if request.requested or not self.active:
                        break
                for k in self.active:
                    member = nets[k]
                    member.history.record("train_batch_count", epoch_rows.get(id(member), 0))
                    if request.requested:
                        member._end_unfinished_epoch("interrupted")
                    else:
                        member.notify("on_epoch_end", dataset_train=None, dataset_valid=None)
                if request.requested:
                    break
        self._write_back(range(len(self.active)))
        for k in self.active:
            nets[k].notify("on_train_end", X=X, y=None)
            nets[k]._thin_batch_records()
        if request.requested:
            raise KeyboardInterrupt("Fused training interrupted; every member kept its last step.")


def _wants_graph(net):
    """Whether a fused run of nets like ``net`` captures its step as a CUDA graph."""
    return net._graph_step_wanted() and net.batches_per_step == 1


class _FusedGraph:
    """The fused step captured as one CUDA graph (``compile="cuda-graph"`` on a GPU).

    As `sklearn_dvae._cuda_graph.CapturedStep` does for one net: the first
    `warmup_steps` steps of a group run eagerly on a side stream, the next is
    captured (forward, losses, backward, the table of checks and the optimizer
    step of all members), and every later step of the same batch shape copies the
    batch and the noise into the graph's inputs and replays it. A batch of another
    shape (an epoch's last) runs eagerly. Because the update is inside the graph,
    the graph first copies the stacked parameters and optimizer states into
    `backup`: a member whose values fail the checks after the replay leaves the
    run with that copy, its state before the step. When the group changes, the
    graph is dropped and captured again after a new warm-up.

    Parameters
    ----------
    run : FusedRun
    """

    #: Eager steps, on a side stream, before the step is captured.
    warmup_steps = 3

    def __init__(self, run):
        self.run = run
        self.reset()

    def reset(self):
        """Forget the captured graph (the group or its tensors changed)."""
        self.key, self.warmups, self.graph, self.backup = None, 0, None, None

    def _key(self, x):
        run = self.run
        return (tuple(x.shape), x.dtype, tuple(run.active))

    def ready(self, x):
        """Whether the step of batch ``x`` replays the graph (captured first when due).

        Parameters
        ----------
        x : torch.Tensor of shape (n_members, batch_size, ...)

        Returns
        -------
        ready : bool
        """
        key = self._key(x)
        if key == self.key:
            return self.graph is not None or self.warmups >= self.warmup_steps
        if self.graph is not None and key[1:] == self.key[1:]:
            return False  # another batch shape (an epoch's last batch): eagerly
        self.reset()
        self.key = key
        return False

    def warmed_up(self, x):
        """Count an eager step of the group's batch shape towards the warm-up."""
        if self._key(x) == self.key:
            self.warmups += 1

    @contextlib.contextmanager
    def warmup_stream(self):
        """Run eager work on a side stream, as CUDA graph capture requires (GPU only)."""
        device = torch.device(self.run.device)
        if device.type != "cuda":
            yield
            return
        current = torch.cuda.current_stream(device)
        side = torch.cuda.Stream(device=device)
        side.wait_stream(current)
        with torch.cuda.stream(side):
            yield
        current.wait_stream(side)

    def replay(self, x, noise):
        """Run the captured step on ``x`` and ``noise`` (capturing it the first time).

        Returns
        -------
        output : VAEOutput
        table : torch.Tensor
        names : list of str
            As `FusedRun._compute` returns them, in the graph's static tensors.
        """
        if self.graph is None:
            self._capture(x, noise)
        self.static_x.copy_(x)
        self.static_noise.copy_(noise)
        self.graph.replay()
        return self.output, self.table, self.names

    def _capture(self, x, noise):
        run = self.run
        params, optimizer = run.params, run.optimizer
        nets = [run.estimators[k].net_ for k in run.active]
        self.static_x, self.static_noise = x.clone(), noise.clone()
        self.backup = (
            {name: p.detach().clone() for name, p in params.items()},
            {
                name: {
                    key: value.clone() if torch.is_tensor(value) else copy.deepcopy(value)
                    for key, value in optimizer.state[p].items()
                }
                for name, p in params.items()
                if optimizer.state.get(p)
            },
        )
        optimizer.zero_grad(set_to_none=True)

        def body():
            with torch.no_grad():
                for name, p in params.items():
                    self.backup[0][name].copy_(p)
                for name, state in self.backup[1].items():
                    current = optimizer.state[params[name]]
                    for key, value in state.items():
                        if torch.is_tensor(value):
                            value.copy_(current[key])
            no_other = self.static_x[:, :0]
            output, table, names, _ = run._compute(
                nets, self.static_x, no_other, self.static_noise, deferred=True
            )
            optimizer.step()
            self.output, self.table, self.names = output, table, names

        self.graph = self.capture(body)

    def capture(self, body):
        """Capture ``body`` as a CUDA graph; returns the graph (``replay()`` runs it).

        Parameters
        ----------
        body : callable
            The step's work; it sets the static outputs when captured.

        Returns
        -------
        graph : torch.cuda.CUDAGraph
        """
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            body()
        return graph


def _member_slice(value, i, stacked):
    if torch.is_tensor(value) and value.dim() > 0 and value.shape == stacked.shape:
        return value[i].clone()
    return value.clone() if torch.is_tensor(value) else copy.deepcopy(value)


def _select(value, index, stacked):
    if torch.is_tensor(value) and value.dim() > 0 and value.shape == stacked.shape:
        return value.index_select(0, index).clone()
    return value.clone() if torch.is_tensor(value) else copy.deepcopy(value)


def fit_group(estimators, X):
    """Fit estimators of one fusion group together; returns each one's error or None.

    Parameters
    ----------
    estimators : list of DisentangledVAE
    X : array-like

    Returns
    -------
    errors : list of Exception or None
    """
    start = time.perf_counter()
    errors = FusedRun(estimators).fit(X)
    elapsed = time.perf_counter() - start
    for estimator, error in zip(estimators, errors, strict=True):
        estimator._fused_fit_time = elapsed / len(estimators)
        if error is None:
            estimator._warn_if_collapsed()
    return errors


#: On the CPU, fuse members whose networks take fewer multiply-adds per step than
#: this: above it one model's step already keeps the cores busy, and the batched
#: kernels of a fused step ran slower than one model after another
#: (benchmarks/bench_fused.py).
CPU_FUSION_LIMIT = 5_000_000
#: Most members fused on a GPU when ``max_fused="auto"``.
GPU_GROUP_SIZE = 64


def auto_group_size(estimator, X):
    """How many members of ``estimator``'s kind to fuse on its device (``max_fused="auto"``).

    Parameters
    ----------
    estimator : DisentangledVAE
        A member (unfitted); a clone is built on ``X`` to measure its networks.
    X : array-like

    Returns
    -------
    size : int
    """
    from sklearn.base import clone

    probe = clone(estimator)
    if str(probe._resolve_device()).startswith("cuda"):
        return GPU_GROUP_SIZE
    probe._initialize(X)
    module = probe.net_.module_
    if any(isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Conv1d) for m in module.modules()):
        return 1
    weights = sum(p.numel() for p in module.parameters())
    per_step = weights * probe.batch_size * probe.net_.batches_per_step
    return GPU_GROUP_SIZE if per_step < CPU_FUSION_LIMIT else 1


def plan_groups(estimators, X, max_fused):
    """Split estimators of one fusion group into chunks trained as one computation.

    Parameters
    ----------
    estimators : list of DisentangledVAE
    X : array-like
    max_fused : int or "auto"

    Returns
    -------
    chunks : list of list of int
        Positions in ``estimators``.
    """
    size = auto_group_size(estimators[0], X) if max_fused == "auto" else int(max_fused)
    positions = list(range(len(estimators)))
    return [positions[i : i + size] for i in range(0, len(positions), size)]
