"""beta-VAE (Higgins et al., ICLR 2017) and its annealed-capacity variant (Burgess et al., 2018).

beta-VAE: ``loss = reconstruction + beta * KL``; ``beta = 1`` is the plain VAE.
Annealed VAE: ``loss = reconstruction + gamma * |KL - C(t)|`` with the capacity
``C`` rising linearly from 0 to ``c_max`` over ``iteration_threshold`` steps.
"""

import numbers

from sklearn.utils._param_validation import Interval

from .._base import DisentangledVAE
from ..nn.losses import AnnealedVAELoss, BetaVAELoss


class BetaVAE(DisentangledVAE):
    """beta-VAE: a VAE whose KL term is weighted by ``beta``.

    Minimises ``E_q[-log p(x|z)] + beta * KL(q(z|x) || N(0, I))``, summed over
    pixels and latents and averaged over the batch. ``beta > 1`` trades
    reconstruction for a more factorised posterior; ``beta = 1`` is the VAE.

    Parameters
    ----------
    beta : float, default=1.0
        Weight of the KL term (non-negative).
    latent_dim : int, default=10
        Number of latent dimensions.
    encoder, decoder : {"auto", "mlp", "conv"}, nn.Module class or instance, default="auto"
        The networks: built-in families or your own (see `DisentangledVAE`).
    likelihood : {"auto", "bernoulli", "gaussian"}, default="auto"
        Decoder distribution (see `DisentangledVAE`).
    input_shape : tuple of int or None, default=None
        Sample shape for 2-D ``X`` holding flattened images.
    hidden_units : tuple of int, default=(256, 256)
        Hidden widths of the MLP networks.
    lr : float, default=1e-3
        Learning rate (Adam by default; the published protocol used 1e-4).
    batch_size : int, default=64
        Mini-batch size.
    max_epochs : int, default=10
        Passes over the data made by ``fit``.
    max_steps : int or None, default=None
        Steps made by ``fit`` instead of ``max_epochs`` passes.
    optimizer : torch.optim.Optimizer class, default=torch.optim.Adam
        Optimizer of the encoder and decoder (``optimizer__*`` keywords are its
        options).
    device : str, default="auto"
        Torch device; ``"auto"`` picks CUDA when present.
    random_state : int, RandomState instance or None, default=None
        Seed of initialisation, batch order and sampling noise.
    verbose : int, default=0
        skorch's per-epoch printing.
    callbacks : list or None, default=None
        Extra skorch callbacks.
    train_split : callable or None, default=None
        skorch train/validation split.
    validation_fraction : float or None, default=None
        Fraction of ``X`` held out for ``valid_*`` scores (``EarlyStopping``).
    warm_start : bool, default=False
        Continue training on repeated ``fit``.
    precision : {"float32", "bfloat16"}, default="float32"
        Autocast dtype of the networks during training (see `DisentangledVAE`).
    compile : bool or str, default=False
        ``torch.compile`` the training passes, with this mode if a string (see
        `DisentangledVAE`).
    memory_format : {"contiguous", "channels_last"}, default="contiguous"
        Memory format of the conv weights and image batches; no effect on the
        MLP networks (see `DisentangledVAE`).
    **kwargs
        ``encoder__*``, ``decoder__*`` and ``optimizer__*`` keywords (see
        `DisentangledVAE`).

    Attributes
    ----------
    net_ : VAENet
        The fitted skorch net.
    history_ : skorch.History
        Per-epoch ``train_loss``, ``train_reconstruction`` and ``train_kl``.
    likelihood_, encoder_, input_shape_, sample_shape_, input_scale_, device_ : object
        Resolved settings (see `DisentangledVAE`).
    n_features_in_ : int
        Number of columns of ``X`` seen during ``fit``.
    training_steps_ : int
        Optimizer steps taken so far.

    See Also
    --------
    AnnealedVAE : controlled-capacity variant.

    References
    ----------
    .. [1] Higgins, I. et al. "beta-VAE: Learning Basic Visual Concepts with a
       Constrained Variational Framework." ICLR 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae import BetaVAE
    >>> X = np.random.default_rng(0).random((100, 8)).astype(np.float32)
    >>> vae = BetaVAE(beta=4.0, latent_dim=2, hidden_units=(16,), max_epochs=2,
    ...               random_state=0).fit(X)
    >>> vae.transform(X).shape
    (100, 2)
    """

    _parameter_constraints = {
        **DisentangledVAE._parameter_constraints,
        "beta": [Interval(numbers.Real, 0, None, closed="left")],
    }
    _loss_class = BetaVAELoss
    _collapse_hint = ", lower beta"

    def __init__(
        self,
        beta=1.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.beta = beta


class AnnealedVAE(DisentangledVAE):
    """VAE with a KL target ("capacity") that grows during training (Burgess et al., 2018).

    Minimises ``E_q[-log p(x|z)] + gamma * |KL(q(z|x) || N(0, I)) - C(t)|`` with
    ``C(t) = c_max * min(1, t / iteration_threshold)``, ``t`` the optimizer step.
    The step counter is the estimator's own (``training_steps_``), advanced only
    by training steps, and it survives ``partial_fit``, ``warm_start`` and
    checkpoints.

    Parameters
    ----------
    gamma : float, default=1000.0
        Weight of the capacity constraint.
    c_max : float, default=25.0
        Final capacity in nats.
    iteration_threshold : int, default=100000
        Steps over which the capacity rises from 0 to ``c_max``.
    latent_dim, encoder, decoder, likelihood, input_shape, hidden_units, lr, \
batch_size, max_epochs, max_steps, optimizer, device, random_state, verbose, callbacks, \
train_split, validation_fraction, warm_start, precision, compile, memory_format, **kwargs
        As in `BetaVAE`.

    Attributes
    ----------
    net_ : VAENet
        The fitted skorch net.
    history_ : skorch.History
        Per-epoch ``train_loss``, ``train_reconstruction``, ``train_kl`` and
        ``train_capacity``.
    likelihood_, encoder_, input_shape_, sample_shape_, input_scale_, device_ : object
        Resolved settings (see `DisentangledVAE`).
    n_features_in_ : int
        Number of columns of ``X`` seen during ``fit``.
    training_steps_ : int
        Optimizer steps taken so far.

    See Also
    --------
    BetaVAE : fixed KL weight.

    References
    ----------
    .. [1] Burgess, C. P. et al. "Understanding disentangling in beta-VAE."
       arXiv:1804.03599, 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae import AnnealedVAE
    >>> X = np.random.default_rng(0).random((100, 8)).astype(np.float32)
    >>> vae = AnnealedVAE(gamma=10.0, c_max=5.0, iteration_threshold=10, latent_dim=2,
    ...                   hidden_units=(16,), max_epochs=2, random_state=0).fit(X)
    >>> vae.training_steps_
    4
    """

    _parameter_constraints = {
        **DisentangledVAE._parameter_constraints,
        "gamma": [Interval(numbers.Real, 0, None, closed="left")],
        "c_max": [Interval(numbers.Real, 0, None, closed="left")],
        "iteration_threshold": [Interval(numbers.Integral, 1, None, closed="left")],
    }
    _loss_class = AnnealedVAELoss
    _collapse_hint = ", raise c_max"

    def __init__(
        self,
        gamma=1000.0,
        c_max=25.0,
        iteration_threshold=100000,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.gamma = gamma
        self.c_max = c_max
        self.iteration_threshold = iteration_threshold

    def capacity(self, step):
        """Capacity ``C`` in nats after ``step`` optimizer steps.

        Parameters
        ----------
        step : int
            Number of optimizer steps taken.

        Returns
        -------
        capacity : float
        """
        return AnnealedVAELoss(
            c_max=self.c_max, iteration_threshold=self.iteration_threshold
        ).capacity(step)
