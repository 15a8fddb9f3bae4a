"""CHyVAE (Ansari & Soh, AAAI 2019): an inverse-Wishart hyperprior on the prior's covariance.

Prior: ``Sigma ~ IW(Psi, nu)`` with ``Psi = (nu - d - 1) I`` (so ``E[Sigma] = I``),
``z | Sigma ~ N(0, Sigma)``; posterior ``q(z|x) = N(mu, L L^T)`` with full covariance
and ``q(Sigma|z) = IW(Psi + z z^T, nu + 1)``. The loss is
``reconstruction + E_Sigma[KL(N(mu, L L^T) || N(0, Sigma))]
+ KL(IW(Psi + z z^T, nu + 1) || IW(Psi, nu))``, both regularisers in closed form
given one sample ``z`` of the posterior.
"""

import numbers

from sklearn.utils._param_validation import Interval

from .._base import DisentangledVAE
from ..nn.losses import CHyVAELoss


class CHyVAE(DisentangledVAE):
    """CHyVAE: a full-covariance VAE with an inverse-Wishart hyperprior.

    Larger ``nu`` pulls the prior's covariance towards the identity (more
    independent latents); small ``nu`` lets the prior express correlated
    factors. ``transform`` returns posterior means; ``sample`` draws ``Sigma``
    from the hyperprior, then ``z ~ N(0, Sigma)``.

    Parameters
    ----------
    nu : float, default=200.0
        Degrees of freedom of the inverse-Wishart hyperprior; must exceed
        ``latent_dim + 1`` so that ``E[Sigma] = I`` exists.
    latent_dim, encoder, decoder, likelihood, input_shape, hidden_units, lr, \
batch_size, max_epochs, max_steps, optimizer, device, random_state, verbose, callbacks, \
train_split, validation_fraction, warm_start, precision, compile, memory_format, **kwargs
        As in `BetaVAE`.

    Attributes
    ----------
    net_ : VAENet
        The fitted skorch net; its encoder outputs the mean and the Cholesky
        factor of a full-covariance posterior.
    history_ : skorch.History
        Per-epoch ``train_loss``, ``train_reconstruction``, ``train_kl`` (to
        N(0, I), for reference), ``train_gaussian_kl`` (expected under the
        inverse-Wishart posterior) and ``train_inverse_wishart_kl``.
    likelihood_, encoder_, input_shape_, sample_shape_, input_scale_, device_ : object
        Resolved settings (see `DisentangledVAE`).
    n_features_in_ : int
        Number of columns of ``X`` seen during ``fit``.
    training_steps_ : int
        Optimizer steps taken so far.

    See Also
    --------
    BetaVAE, DIPVAE

    Notes
    -----
    The expected Gaussian KL uses ``E[Sigma^-1] = lambda Phi^-1`` and
    ``E[log det Sigma] = log det Phi - d log 2 - psi_d(lambda / 2)`` for
    ``Sigma ~ IW(Phi, lambda)``; the inverse-Wishart KL equals the KL between
    the Wisharts of the inverses. Both are computed through Cholesky
    factorisations, never explicit inverses, and are tested against Monte-Carlo
    estimates. The decoder and the regularisers use the same posterior sample
    (the authors' code draws a second one for the regulariser; both are
    unbiased). `score` reports this model's own evidence lower bound.

    References
    ----------
    .. [1] Ansari, A. F. and Soh, H. "Hyperprior Induced Unsupervised
       Disentanglement of Latent Representations." AAAI 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae import CHyVAE
    >>> X = np.random.default_rng(0).random((100, 8)).astype(np.float32)
    >>> vae = CHyVAE(nu=10.0, latent_dim=2, hidden_units=(16,), max_epochs=2,
    ...              random_state=0).fit(X)
    >>> vae.sample(3, random_state=0).shape
    (3, 8)
    """

    _parameter_constraints = {
        **DisentangledVAE._parameter_constraints,
        "nu": [Interval(numbers.Real, 0, None, closed="neither")],
    }
    _loss_class = CHyVAELoss

    def __init__(
        self,
        nu=200.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.nu = nu

    def _validate_hyperparameters(self):
        super()._validate_hyperparameters()
        if self.nu <= self.latent_dim + 1:
            raise ValueError(
                f"nu must exceed latent_dim + 1 = {self.latent_dim + 1} so that the "
                f"hyperprior's mean E[Sigma] = I exists; got nu={self.nu}."
            )
