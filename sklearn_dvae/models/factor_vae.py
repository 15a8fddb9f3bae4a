"""FactorVAE (Kim & Mnih, ICML 2018): penalise the total correlation estimated by a discriminator.

``loss_vae = reconstruction + KL + gamma * TC`` with
``TC = KL(q(z) || prod_j q(z_j)) ~= mean(logit_0(z) - logit_1(z))`` from a
discriminator trained to tell codes of ``q(z)`` (label 0) from codes whose
dimensions were permuted independently across a batch (label 1).
"""

import numbers

import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import Interval
from skorch.dataset import unpack_data
from skorch.utils import to_device

from .._base import DisentangledVAE
from .._net import VAENet
from ..nn import Discriminator, permute_dims


class FactorVAENet(VAENet):
    """VAENet with FactorVAE's discriminator and the alternating updates of Algorithm 2.

    Each training step takes a mini-batch of ``2 * batch_size`` rows and splits
    it into two batches: the first updates the encoder and decoder with the TC
    penalty (the discriminator frozen), the second's codes are permuted and,
    with the first batch's detached codes, train the discriminator.
    """

    batches_per_step = 2

    def initialize_module(self):
        super().initialize_module()
        estimator = self.objective
        self.discriminator_ = Discriminator(
            self.module_.latent_dim, tuple(estimator.discriminator_hidden_units)
        )
        return self

    def initialize_optimizer(self, *args, **kwargs):
        # The VAE optimizer holds the encoder and decoder only: skorch's default
        # would hand it every registered module, the discriminator included.
        named = self.module_.named_parameters()
        args, kwargs = self.get_params_for_optimizer("optimizer", named)
        self.optimizer_ = self.optimizer(*args, **kwargs)
        estimator = self.objective
        self.optimizer_discriminator_ = torch.optim.Adam(
            self.discriminator_.parameters(),
            lr=estimator.discriminator_lr,
            betas=tuple(estimator.discriminator_betas),
            # Its update is captured with the VAE's under compile="cuda-graph".
            capturable=self._graph_step_wanted(),
        )
        return self

    def discriminator_step(self, z_real, x_other):
        """One discriminator update; returns its loss and accuracy (detached).

        Parameters
        ----------
        z_real : torch.Tensor of shape (n, latent_dim)
            Codes of q(z) (the VAE batch's samples); detached here so that the
            discriminator's loss never reaches the encoder.
        x_other : torch.Tensor
            A second raw batch, whose codes are permuted per dimension.
        """
        module = self.module_
        with torch.no_grad():
            mu, logvar = module.encode(module.prepare(x_other))
            z_permuted = permute_dims(module.reparameterize(mu, logvar))
        logits_real = self.discriminator_(z_real.detach())
        logits_permuted = self.discriminator_(z_permuted)
        labels_real = torch.zeros(len(logits_real), dtype=torch.long, device=logits_real.device)
        labels_permuted = torch.ones_like(labels_real[:1]).expand(len(logits_permuted))
        loss = 0.5 * (
            F.cross_entropy(logits_real, labels_real)
            + F.cross_entropy(logits_permuted, labels_permuted)
        )
        self.optimizer_discriminator_.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer_discriminator_.step()
        # Drop the gradients now: nothing else may use them, and the VAE step of
        # the next batch must find the (frozen) discriminator without any.
        self.optimizer_discriminator_.zero_grad(set_to_none=True)
        correct = (logits_real.argmax(dim=1) == 0).sum() + (
            logits_permuted.argmax(dim=1) == 1
        ).sum()
        accuracy = correct.float() / (len(logits_real) + len(logits_permuted))
        return loss.detach(), accuracy

    def _graph_body(self, x, **fit_params):
        # The eager step below without its host syncs: both updates in one graph.
        n_vae = (len(x) + 1) // 2
        x_vae, x_other = x[:n_vae], x[n_vae:]
        self.discriminator_.requires_grad_(False)
        try:
            output = self.infer(x_vae, **fit_params)
            loss, terms = self._loss_and_terms(output, training=True)
            self.optimizer_.zero_grad(set_to_none=True)
            loss.backward()
        finally:
            self.discriminator_.requires_grad_(True)
        self.optimizer_.step()
        d_loss, d_accuracy = self.discriminator_step(output.z, x_other)
        terms = {**terms, "discriminator_loss": d_loss, "discriminator_accuracy": d_accuracy}
        return loss, terms, output

    def _eager_train_step(self, batch, **fit_params):
        self._set_training(True)
        Xi, _ = unpack_data(batch)
        # One copy to the device for both halves (host batches, e.g. when the data
        # is not kept on the device): the discriminator's half is not sent by infer.
        Xi = to_device(Xi, self.device)
        n_vae = (len(Xi) + 1) // 2
        x_vae, x_other = Xi[:n_vae], Xi[n_vae:]

        # 1. VAE update with the TC penalty; the discriminator is frozen.
        self.discriminator_.requires_grad_(False)
        try:
            output = self.infer(x_vae, **fit_params)
            loss, terms = self._loss_and_terms(output, training=True)
            values = self._check_finite(loss, terms)
            self.optimizer_.zero_grad(set_to_none=True)
            loss.backward()
        finally:
            self.discriminator_.requires_grad_(True)
        self.notify(
            "on_grad_computed",
            named_parameters=self.module_.named_parameters(),
            batch=batch,
            training=True,
        )
        self.optimizer_.step()

        # 2. Discriminator update on detached codes of both batches.
        d_loss, d_accuracy = self.discriminator_step(output.z, x_other)
        self._record_terms("train", values)
        d_terms = {"discriminator_loss": d_loss, "discriminator_accuracy": d_accuracy}
        self._record_terms("train", self._check_finite(d_loss, d_terms))
        self.training_steps_ += 1
        return {"loss": loss.detach(), "y_pred": output}


class FactorVAE(DisentangledVAE):
    """FactorVAE: a VAE whose total correlation is penalised through a discriminator.

    Minimises ``reconstruction + KL + gamma * TC`` where the total correlation
    ``TC = KL(q(z) || prod_j q(z_j))`` is estimated by the density-ratio trick:
    ``TC ~= E_q(z)[logit_0(z) - logit_1(z)]`` for a discriminator that labels
    codes of ``q(z)`` 0 and codes permuted per dimension across a batch 1.
    Each step follows Algorithm 2 of the paper: one batch updates the VAE (the
    discriminator frozen), a second batch's permuted codes and the first
    batch's detached codes update the discriminator.

    Parameters
    ----------
    gamma : float, default=35.0
        Weight of the total-correlation penalty.
    discriminator_lr : float, default=1e-4
        Adam learning rate of the discriminator.
    discriminator_betas : tuple of float, default=(0.5, 0.9)
        Adam betas of the discriminator.
    discriminator_hidden_units : tuple of int, default=(1000,) * 6
        Hidden widths of the discriminator MLP (LeakyReLU 0.2).
    latent_dim, encoder, likelihood, input_shape, hidden_units, lr, batch_size, \
max_epochs, optimizer, device, random_state, verbose, callbacks, train_split, \
warm_start, precision, compile, memory_format
        As in `BetaVAE`. Each step draws ``2 * batch_size`` rows: ``batch_size``
        for the VAE update and as many for the discriminator.

    Attributes
    ----------
    net_ : FactorVAENet
        The fitted skorch net; ``net_.discriminator_`` and
        ``net_.optimizer_discriminator_`` are the discriminator and its optimizer.
    history_ : skorch.History
        Per-epoch ``train_loss``, ``train_reconstruction``, ``train_kl``,
        ``train_tc`` (the discriminator's TC estimate), ``train_discriminator_loss``
        and ``train_discriminator_accuracy``.
    likelihood_, encoder_, input_shape_, sample_shape_, input_scale_, device_ : object
        Resolved settings (see `DisentangledVAE`).
    n_features_in_ : int
        Number of columns of ``X`` seen during ``fit``.
    training_steps_ : int
        Steps taken so far (one VAE and one discriminator update each).

    See Also
    --------
    BetaVAE, BetaTCVAE

    Notes
    -----
    Traps of public implementations that this one avoids, each tested: the
    permutation is per latent dimension across the batch (not within a
    sample); the discriminator's loss sees detached codes (no gradient leak
    into the encoder); the VAE optimizer holds only encoder and decoder
    parameters; both losses are computed without in-place conflicts.
    To checkpoint the discriminator too, pass ``f_discriminator`` and
    ``f_optimizer_discriminator`` to skorch's ``Checkpoint``.

    References
    ----------
    .. [1] Kim, H. and Mnih, A. "Disentangling by Factorising." ICML 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae import FactorVAE
    >>> X = np.random.default_rng(0).random((128, 8)).astype(np.float32)
    >>> vae = FactorVAE(gamma=10.0, latent_dim=2, hidden_units=(16,),
    ...                 discriminator_hidden_units=(16, 16), max_epochs=2,
    ...                 random_state=0).fit(X)
    >>> vae.transform(X).shape
    (128, 2)
    """

    _parameter_constraints = {
        **DisentangledVAE._parameter_constraints,
        "gamma": [Interval(numbers.Real, 0, None, closed="left")],
        "discriminator_lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "discriminator_betas": [tuple, list],
        "discriminator_hidden_units": [tuple, list],
    }
    _loss_term_names = (
        "reconstruction",
        "kl",
        "tc",
        "discriminator_loss",
        "discriminator_accuracy",
    )
    _net_class = FactorVAENet
    _min_batch_size = 2

    def __init__(
        self,
        gamma=35.0,
        discriminator_lr=1e-4,
        discriminator_betas=(0.5, 0.9),
        discriminator_hidden_units=(1000,) * 6,
        *,
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
        super().__init__(
            latent_dim=latent_dim,
            encoder=encoder,
            likelihood=likelihood,
            input_shape=input_shape,
            hidden_units=hidden_units,
            lr=lr,
            batch_size=batch_size,
            max_epochs=max_epochs,
            optimizer=optimizer,
            device=device,
            random_state=random_state,
            verbose=verbose,
            callbacks=callbacks,
            train_split=train_split,
            warm_start=warm_start,
            precision=precision,
            compile=compile,
            memory_format=memory_format,
        )
        self.gamma = gamma
        self.discriminator_lr = discriminator_lr
        self.discriminator_betas = discriminator_betas
        self.discriminator_hidden_units = discriminator_hidden_units

    def _validate_hyperparameters(self):
        super()._validate_hyperparameters()
        betas = tuple(self.discriminator_betas)
        if len(betas) != 2 or not all(isinstance(b, numbers.Real) and 0 <= b < 1 for b in betas):
            raise ValueError(
                "discriminator_betas must be two numbers in [0, 1), got "
                f"{self.discriminator_betas!r}."
            )
        hidden = tuple(self.discriminator_hidden_units)
        if not all(isinstance(h, numbers.Integral) and h > 0 for h in hidden):
            raise ValueError(
                "discriminator_hidden_units must be a tuple of positive integers, got "
                f"{self.discriminator_hidden_units!r}."
            )

    def _regularizer(self, output, kl, step):
        logits = self.net_.discriminator_(output.z)
        tc = (logits[:, 0] - logits[:, 1]).mean()
        return kl + self.gamma * tc, {"tc": tc}
