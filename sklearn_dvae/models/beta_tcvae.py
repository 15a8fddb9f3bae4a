"""beta-TCVAE (Chen et al., NeurIPS 2018): penalise the total correlation term of the KL.

The KL term is split into index-code mutual information, total correlation and
dimension-wise KL, each estimated on the mini-batch with the dataset size:
``loss = reconstruction + alpha * MI + beta * TC + gamma * dimension_wise_KL``.
"""

import numbers

import torch
from sklearn.utils._param_validation import Interval, StrOptions

from .._base import DisentangledVAE
from ..nn.total_correlation import tc_decomposition


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
    estimator : {"mws", "mss"}, default="mws"
        Estimator of ``log q(z)`` and ``log q(z_j)``.
    dataset_size : int or None, default=None
        ``N`` in the estimators; None uses the number of rows given to ``fit``.
    latent_dim, encoder, likelihood, input_shape, hidden_units, lr, batch_size, \
max_epochs, optimizer, device, random_state, verbose, callbacks, train_split, \
warm_start, precision, compile, memory_format
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
        "estimator": [StrOptions({"mws", "mss"})],
        "dataset_size": [Interval(numbers.Integral, 2, None, closed="left"), None],
    }
    _loss_term_names = (
        "reconstruction",
        "kl",
        "mutual_information",
        "total_correlation",
        "dimension_wise_kl",
    )
    _min_batch_size = 2

    def __init__(
        self,
        beta=6.0,
        alpha=1.0,
        gamma=1.0,
        estimator="mws",
        dataset_size=None,
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
        self.beta = beta
        self.alpha = alpha
        self.gamma = gamma
        self.estimator = estimator
        self.dataset_size = dataset_size

    def _validate_hyperparameters(self):
        super()._validate_hyperparameters()
        if self.dataset_size is not None and self.dataset_size < self.batch_size:
            raise ValueError(
                f"dataset_size ({self.dataset_size}) must be at least batch_size "
                f"({self.batch_size}): it is the number of training rows."
            )

    def _initialize(self, X):
        X = super()._initialize(X)
        self.dataset_size_ = int(self.dataset_size or max(len(X), self.batch_size))
        return X

    def _regularizer(self, output, kl, step):
        terms = tc_decomposition(
            output.z, output.mu, output.logvar, self.dataset_size_, estimator=self.estimator
        )
        named = {
            name: terms[name]
            for name in ("mutual_information", "total_correlation", "dimension_wise_kl")
        }
        penalty = (
            self.alpha * named["mutual_information"]
            + self.beta * named["total_correlation"]
            + self.gamma * named["dimension_wise_kl"]
        )
        return penalty, named
