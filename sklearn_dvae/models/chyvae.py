"""CHyVAE (Ansari & Soh, AAAI 2019): an inverse-Wishart hyperprior on the prior's covariance.

Prior: ``Sigma ~ IW(Psi, nu)`` with ``Psi = (nu - d - 1) I`` (so ``E[Sigma] = I``),
``z | Sigma ~ N(0, Sigma)``; posterior ``q(z|x) = N(mu, L L^T)`` with full covariance
and ``q(Sigma|z) = IW(Psi + z z^T, nu + 1)``. The loss is
``reconstruction + E_Sigma[KL(N(mu, L L^T) || N(0, Sigma))]
+ KL(IW(Psi + z z^T, nu + 1) || IW(Psi, nu))``, both regularisers in closed form
given one sample ``z`` of the posterior.
"""

import numbers

import numpy as np
import torch
from sklearn.utils._param_validation import Interval

from .._base import DisentangledVAE
from ..nn.inverse_wishart import chyvae_regularizer, sample_inverse_wishart


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
    latent_dim, encoder, likelihood, input_shape, hidden_units, lr, batch_size, \
max_epochs, optimizer, device, random_state, verbose, callbacks, train_split, \
warm_start, precision, compile, memory_format
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
    _loss_term_names = ("reconstruction", "kl", "gaussian_kl", "inverse_wishart_kl")
    _posterior = "full"
    _cuda_graph_unsupported = (
        "its inverse-Wishart terms check their degrees of freedom on the host, a "
        "synchronisation that CUDA graph capture forbids"
    )

    def __init__(
        self,
        nu=200.0,
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
        self.nu = nu

    def _validate_hyperparameters(self):
        super()._validate_hyperparameters()
        if self.nu <= self.latent_dim + 1:
            raise ValueError(
                f"nu must exceed latent_dim + 1 = {self.latent_dim + 1} so that the "
                f"hyperprior's mean E[Sigma] = I exists; got nu={self.nu}."
            )

    def _hyperprior_terms(self, output):
        return chyvae_regularizer(output.mu, output.scale_tril, output.z, float(self.nu))

    def _regularizer(self, output, kl, step):
        terms = self._hyperprior_terms(output)
        named = {name: value.mean() for name, value in terms.items()}
        return named["gaussian_kl"] + named["inverse_wishart_kl"], named

    def _elbo_kl_samples(self, output):
        terms = self._hyperprior_terms(output)
        return terms["gaussian_kl"] + terms["inverse_wishart_kl"]

    def _draw_prior(self, n_samples, rng):
        d = self.net_.module_.latent_dim
        nu = float(self.nu)
        generator = torch.Generator().manual_seed(int(rng.randint(np.iinfo(np.int32).max)))
        psi = (nu - d - 1.0) * torch.eye(d, dtype=torch.float64)
        sigma = sample_inverse_wishart(psi, nu, n_samples, generator=generator)
        noise = torch.randn(n_samples, d, 1, dtype=torch.float64, generator=generator)
        return (torch.linalg.cholesky(sigma) @ noise).squeeze(-1).numpy()
