"""DIP-VAE I and II (Kumar et al., ICLR 2018): match the aggregate posterior's covariance to I.

By the law of total covariance, ``Cov_q(z)[z] = E_p(x)[diag sigma^2(x)] + Cov_p(x)[mu(x)]``.
Over a batch of size B, with ``mu_c = mu - mean_batch(mu)``:
``C = mu_c^T mu_c / B`` (DIP-VAE-I), plus ``diag(mean_batch(sigma^2))`` (DIP-VAE-II);
``penalty = lambda_od * sum_{i != j} C_ij^2 + lambda_d * sum_i (C_ii - 1)^2``.
"""

import numbers

from sklearn.utils._param_validation import Interval, StrOptions

from .._base import DisentangledVAE
from ..nn.losses import DIPVAELoss, dip_covariance, dip_penalty_terms

__all__ = ["DIPVAE", "dip_covariance", "dip_penalty_terms"]


class DIPVAE(DisentangledVAE):
    """DIP-VAE: a VAE whose aggregate posterior covariance is pushed towards the identity.

    Minimises ``reconstruction + KL + lambda_od * sum_{i != j} C_ij^2 +
    lambda_d * sum_i (C_ii - 1)^2`` where ``C`` is the batch covariance of the
    posterior means (type "i") or of the aggregate posterior (type "ii").

    Parameters
    ----------
    lambda_od : float, default=10.0
        Weight of the off-diagonal penalty.
    lambda_d : float or None, default=None
        Weight of the diagonal penalty; None gives the paper's settings,
        ``10 * lambda_od`` for type "i" and ``lambda_od`` for type "ii".
    dip_type : {"i", "ii"}, default="ii"
        Which covariance is regularised.
    latent_dim, encoder, decoder, likelihood, input_shape, hidden_units, lr, \
batch_size, max_epochs, max_steps, optimizer, device, random_state, verbose, callbacks, \
train_split, validation_fraction, warm_start, precision, compile, memory_format, **kwargs
        As in `BetaVAE`. ``batch_size`` must be at least 2.

    Attributes
    ----------
    net_ : VAENet
        The fitted skorch net.
    history_ : skorch.History
        Per-epoch ``train_loss``, ``train_reconstruction``, ``train_kl``,
        ``train_dip_off_diagonal`` and ``train_dip_diagonal`` (unweighted sums).
    likelihood_, encoder_, input_shape_, sample_shape_, input_scale_, device_ : object
        Resolved settings (see `DisentangledVAE`).
    n_features_in_ : int
        Number of columns of ``X`` seen during ``fit``.
    training_steps_ : int
        Optimizer steps taken so far.

    See Also
    --------
    BetaVAE, FactorVAE

    Notes
    -----
    Widely copied implementations centre the means over the latent axis,
    forget the ``1/B``, exponentiate ``2 * logvar`` (giving sigma^4), or add
    a scalar mean variance to every entry; this one follows the paper and is
    tested against ``np.cov(mu, rowvar=False, bias=True)``.

    References
    ----------
    .. [1] Kumar, A., Sattigeri, P. and Balakrishnan, A. "Variational Inference
       of Disentangled Latent Concepts from Unlabeled Observations." ICLR 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae import DIPVAE
    >>> X = np.random.default_rng(0).random((100, 8)).astype(np.float32)
    >>> vae = DIPVAE(lambda_od=5.0, dip_type="i", latent_dim=2, hidden_units=(16,),
    ...              max_epochs=2, random_state=0).fit(X)
    >>> vae.effective_lambda_d()
    50.0
    """

    _parameter_constraints = {
        **DisentangledVAE._parameter_constraints,
        "lambda_od": [Interval(numbers.Real, 0, None, closed="left")],
        "lambda_d": [Interval(numbers.Real, 0, None, closed="left"), None],
        "dip_type": [StrOptions({"i", "ii"})],
    }
    _loss_class = DIPVAELoss
    _collapse_hint = ", lower lambda_d"

    def __init__(
        self,
        lambda_od=10.0,
        lambda_d=None,
        dip_type="ii",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.lambda_od = lambda_od
        self.lambda_d = lambda_d
        self.dip_type = dip_type

    def effective_lambda_d(self):
        """The diagonal weight in use: ``lambda_d``, or the paper's default for ``dip_type``.

        Returns
        -------
        lambda_d : float
        """
        return DIPVAELoss(self.lambda_od, self.lambda_d, self.dip_type).effective_lambda_d()
