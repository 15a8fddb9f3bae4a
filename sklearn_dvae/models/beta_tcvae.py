"""beta-TCVAE (Chen et al., NeurIPS 2018): penalise the total correlation term of the KL.

The KL term is split into index-code mutual information, total correlation and
dimension-wise KL, each estimated on the mini-batch with the dataset size:
``loss = reconstruction + alpha * MI + beta * TC + gamma * dimension_wise_KL``.
"""

import numbers
import warnings

from sklearn.utils._param_validation import Interval, StrOptions

from .._base import DisentangledVAE
from ..nn.losses import BetaTCVAELoss


class BetaTCVAE(DisentangledVAE):
    """beta-TCVAE: a VAE that weights the total correlation of its codes by ``beta``.

    Minimises ``reconstruction + alpha * MI + beta * TC + gamma * dimension_wise_KL``,
    where ``MI = E[log q(z|x) - log q(z)]``, ``TC = E[log q(z) - log prod_j q(z_j)]``
    and ``dimension_wise_KL = E[log prod_j q(z_j) - log p(z)]`` are estimated on
    each mini-batch from one sample ``z`` per row, with the aggregate posterior
    ``q(z)`` estimated by minibatch weighted sampling (``"mws"``, the paper's
    default) or minibatch stratified sampling (``"mss"``) using the dataset size.

    Parameters
    ----------
    beta : float, default=6.0
        Weight of the total correlation.
    alpha : float, default=1.0
        Weight of the index-code mutual information.
    gamma : float, default=1.0
        Weight of the dimension-wise KL.
    sampling : {"mws", "mss"}, default="mws"
        How ``log q(z)`` and ``log q(z_j)`` are estimated: minibatch weighted
        sampling (the paper's) or minibatch stratified sampling.
    dataset_size : int or None, default=None
        ``N`` in the estimators; None uses the number of rows given to ``fit``.
    estimator : {"mws", "mss"}, default="deprecated"
        Deprecated name of ``sampling`` (an "estimator" is a model in
        scikit-learn); it will be removed in 0.3.
    latent_dim, encoder, decoder, likelihood, input_shape, hidden_units, lr, \
batch_size, max_epochs, max_steps, optimizer, device, random_state, verbose, callbacks, \
train_split, validation_fraction, warm_start, precision, compile, memory_format, **kwargs
        As in `BetaVAE`. ``batch_size`` must be at least 2.

    Attributes
    ----------
    net_ : VAENet
        The fitted skorch net.
    history_ : skorch.History
        Per-epoch ``train_loss``, ``train_reconstruction``, ``train_kl`` and the
        estimates ``train_mutual_information``, ``train_total_correlation`` and
        ``train_dimension_wise_kl``.
    dataset_size_ : int
        The ``N`` used by the estimators.
    likelihood_, encoder_, input_shape_, sample_shape_, input_scale_, device_ : object
        Resolved settings (see `DisentangledVAE`).
    n_features_in_ : int
        Number of columns of ``X`` seen during ``fit``.
    training_steps_ : int
        Optimizer steps taken so far.

    See Also
    --------
    FactorVAE : penalises the same total correlation through a discriminator.

    Notes
    -----
    Both estimators keep the dataset-size constants, so the three logged terms
    add up to the one-sample KL estimate. Minibatch weighted sampling as
    published is biased: its ``log q(z)`` is low by between ``log B`` and about
    ``log N``, so its logged TC is shifted upwards (by ``(latent_dim - 1) log N``
    when all posteriors overlap); the shift has no gradient while the overlap
    regime is unchanged. Minibatch stratified sampling is unbiased for
    ``q(z)``. See `sklearn_dvae.nn.total_correlation.tc_decomposition`.

    References
    ----------
    .. [1] Chen, R. T. Q., Li, X., Grosse, R. and Duvenaud, D. "Isolating Sources
       of Disentanglement in Variational Autoencoders." NeurIPS 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae import BetaTCVAE
    >>> X = np.random.default_rng(0).random((128, 8)).astype(np.float32)
    >>> vae = BetaTCVAE(beta=6.0, latent_dim=2, hidden_units=(16,), max_epochs=2,
    ...                 random_state=0).fit(X)
    >>> vae.dataset_size_
    128
    """

    _parameter_constraints = {
        **DisentangledVAE._parameter_constraints,
        "beta": [Interval(numbers.Real, 0, None, closed="left")],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "gamma": [Interval(numbers.Real, 0, None, closed="left")],
        "sampling": [StrOptions({"mws", "mss"})],
        "dataset_size": [Interval(numbers.Integral, 2, None, closed="left"), None],
        "estimator": [StrOptions({"mws", "mss", "deprecated"})],
    }
    _loss_class = BetaTCVAELoss
    _structural_hyperparameters = ("dataset_size",)
    _collapse_hint = ", lower alpha and gamma"

    def __init__(
        self,
        beta=6.0,
        alpha=1.0,
        gamma=1.0,
        sampling="mws",
        dataset_size=None,
        estimator="deprecated",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.beta = beta
        self.alpha = alpha
        self.gamma = gamma
        self.sampling = sampling
        self.dataset_size = dataset_size
        self.estimator = estimator

    def _validate_hyperparameters(self):
        super()._validate_hyperparameters()
        if self.dataset_size is not None and self.dataset_size < self.batch_size:
            raise ValueError(
                f"dataset_size ({self.dataset_size}) must be at least batch_size "
                f"({self.batch_size}): it is the number of training rows."
            )

    def _sampling(self):
        if self.estimator != "deprecated":
            warnings.warn(
                "BetaTCVAE(estimator=...) is deprecated and will be removed in 0.3: use "
                f"sampling={self.estimator!r}.",
                FutureWarning,
                stacklevel=4,
            )
            return self.estimator
        return self.sampling

    def _loss_params(self):
        params = super()._loss_params()
        params["sampling"] = self._sampling()
        return params

    def _loss_structure(self, X, likelihood):
        params = super()._loss_structure(X, likelihood)
        params["dataset_size"] = int(self.dataset_size or max(len(X), self.batch_size))
        return params

    @property
    def dataset_size_(self):
        """The ``N`` used by the estimators."""
        return self.net_.criterion_.dataset_size
