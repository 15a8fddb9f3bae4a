"""FactorVAE (Kim & Mnih, ICML 2018): penalise the total correlation estimated by a discriminator.

``loss_vae = reconstruction + KL + gamma * TC`` with
``TC = KL(q(z) || prod_j q(z_j)) ~= mean(logit_0(z) - logit_1(z))`` from a
discriminator trained to tell codes of ``q(z)`` (label 0) from codes whose
dimensions were permuted independently across a batch (label 1).
"""

import numbers
import warnings

import torch
from sklearn.utils._param_validation import Interval

from .._base import DisentangledVAE
from .._net import VAENet
from ..nn.losses import FactorVAELoss


class FactorVAENet(VAENet):
    """VAENet with FactorVAE's discriminator update (Algorithm 2 of the paper).

    Each training step takes ``2 * batch_size`` rows: the first half updates the
    encoder and decoder with the TC penalty (the loss module reads its
    discriminator with the parameters detached), the second half's codes are
    permuted and, with the first half's detached codes, train the discriminator
    (`auxiliary_backward`, `auxiliary_update`). The discriminator belongs to the loss module
    (``criterion_.discriminator``); its optimizer is ``optimizer_discriminator_``.

    Parameters
    ----------
    discriminator_lr : float, default=1e-4
        Adam learning rate of the discriminator.
    discriminator_betas : tuple of float, default=(0.5, 0.9)
        Adam betas of the discriminator.
    *args, **kwargs
        As for `VAENet`.
    """

    batches_per_step = 2
    auxiliary_term_names = ("discriminator_loss", "discriminator_accuracy")

    def __init__(self, *args, discriminator_lr=1e-4, discriminator_betas=(0.5, 0.9), **kwargs):
        super().__init__(*args, **kwargs)
        self.discriminator_lr = discriminator_lr
        self.discriminator_betas = discriminator_betas

    @property
    def discriminator_(self):
        """The discriminator (``criterion_.discriminator``)."""
        return self.criterion_.discriminator

    def main_parameters(self):
        """The module's parameters only: the discriminator has its own optimizer.

        Returns
        -------
        named_parameters : iterator of (str, torch.nn.Parameter)
        """
        return self.module_.named_parameters()

    def initialize_optimizer(self, *args, **kwargs):
        """The VAE optimizer (encoder and decoder only), then the discriminator's Adam.

        Parameters
        ----------
        *args, **kwargs
            Ignored (skorch's deprecated arguments).

        Returns
        -------
        self : FactorVAENet
        """
        super().initialize_optimizer()
        self.optimizer_discriminator_ = torch.optim.Adam(
            self.criterion_.discriminator.parameters(),
            lr=self.discriminator_lr,
            betas=tuple(self.discriminator_betas),
            # Its update is captured with the VAE's under compile="cuda-graph".
            capturable=self._graph_step_wanted(),
        )
        return self

    def auxiliary_backward(self, x, output):
        """The discriminator's loss on the second batch's permuted codes, and its gradients.

        Runs before either network is updated (see `VAENet.step_body`): the codes
        of both batches come from the same encoder, and a non-finite value stops
        the step before anything moves.

        Parameters
        ----------
        x : torch.Tensor
            The second batch (raw rows).
        output : VAEOutput
            The VAE batch's forward pass; its codes ``z`` are the discriminator's
            real examples (detached by the loss module).

        Returns
        -------
        terms : dict of str to torch.Tensor
            ``discriminator_loss`` and ``discriminator_accuracy`` (detached).
        """
        module = self.module_
        with torch.no_grad():
            mu, logvar, scale_tril = module.encode_distribution(module.prepare(x))
            z_other = module.reparameterize(mu, logvar, scale_tril)
        loss, accuracy = self.criterion_.discriminator_loss(output.z, z_other)
        loss.backward()
        return {"discriminator_loss": loss.detach(), "discriminator_accuracy": accuracy}

    def load_params(self, *args, **kwargs):
        """Load with `VAENet.load_params`, warning when the discriminator is not restored.

        The discriminator lives in the loss module (``f_criterion``, which skorch's
        ``Checkpoint`` saves by default); its optimizer is
        ``f_optimizer_discriminator``, which must be given to ``Checkpoint``.

        Parameters
        ----------
        *args, **kwargs
            As for `VAENet.load_params`.
        """
        checkpoint = kwargs.get("checkpoint")
        if checkpoint is not None:
            missing = [
                what
                for what, key in (
                    ("the discriminator (f_criterion)", "f_criterion"),
                    ("its optimizer (f_optimizer_discriminator)", "f_optimizer_discriminator"),
                )
                if not getattr(checkpoint, key, None)
            ]
            if missing:
                warnings.warn(
                    f"This checkpoint does not hold {' or '.join(missing)}: FactorVAE resumes "
                    "with them as they are now (freshly initialised after initialize()). Pass "
                    "f_criterion and f_optimizer_discriminator to Checkpoint to save them.",
                    UserWarning,
                    stacklevel=3,
                )
        super().load_params(*args, **kwargs)

    def auxiliary_update(self):
        """One Adam step of the discriminator, then its gradients are dropped."""
        self.optimizer_discriminator_.step()
        self.optimizer_discriminator_.zero_grad(set_to_none=True)


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
    latent_dim, encoder, decoder, likelihood, input_shape, hidden_units, lr, \
batch_size, max_epochs, max_steps, optimizer, device, random_state, verbose, callbacks, \
train_split, validation_fraction, warm_start, precision, compile, memory_format, **kwargs
        As in `BetaVAE`. Each step draws ``2 * batch_size`` rows: ``batch_size``
        for the VAE update and as many for the discriminator.

    Attributes
    ----------
    net_ : FactorVAENet
        The fitted skorch net; its loss module ``net_.criterion_`` (a
        `~sklearn_dvae.nn.FactorVAELoss`) owns the discriminator
        (``net_.criterion_.discriminator``, also ``net_.discriminator_``), and
        ``net_.optimizer_discriminator_`` is its optimizer.
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
    To checkpoint the discriminator too, pass ``f_criterion`` (the loss module,
    which holds it) and ``f_optimizer_discriminator`` to skorch's ``Checkpoint``.

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
    _loss_class = FactorVAELoss
    _net_class = FactorVAENet
    _structural_hyperparameters = ("discriminator_hidden_units",)

    def __init__(
        self,
        gamma=35.0,
        discriminator_lr=1e-4,
        discriminator_betas=(0.5, 0.9),
        discriminator_hidden_units=(1000,) * 6,
        **kwargs,
    ):
        super().__init__(**kwargs)
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

    def _net_params(self):
        return {
            "discriminator_lr": self.discriminator_lr,
            "discriminator_betas": tuple(self.discriminator_betas),
        }

    def _apply_net_settings(self, net):
        super()._apply_net_settings(net)
        for name, value in self._net_params().items():
            setattr(net, name, value)
            # The discriminator optimizer's param groups, updated in place.
            net.set_params(**{name.replace("discriminator_", "optimizer_discriminator__"): value})
