"""The models' objectives as loss modules: ``loss_fn(output, x=None) -> (loss, terms)``.

Each model of the package is a `VAEModule` trained with one of these modules. A loss
module is a plain function of the module's output, the batch and the hyperparameters
(its constructor arguments), so it works in a training loop of your own as well as in
the estimators, which hand it to skorch as the criterion::

    module = VAEModule((784,), latent_dim=10, likelihood="bernoulli")
    loss_fn = BetaVAELoss(beta=4.0)
    loss, terms = loss_fn(module(x))       # terms: {"reconstruction": ..., "kl": ...}
    loss.backward()

Every term is a batch mean of per-sample values summed over features (reconstruction)
or latents (divergences): the reduction of the papers, so that ``beta``, ``gamma`` and
``lambda`` values transfer from them.
"""

import inspect

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .discriminator import Discriminator, permute_dims
from .divergences import kl_to_standard_normal
from .inverse_wishart import chyvae_regularizer, sample_inverse_wishart
from .likelihoods import bernoulli_nll, gaussian_nll
from .total_correlation import tc_decomposition

_LIKELIHOODS = ("bernoulli", "gaussian")


def _regularizer_doc(summary, extra_terms):
    """Give a loss's ``regularizer`` its docstring: what it adds, and the terms it logs."""

    def decorate(method):
        method.__doc__ = f"""{summary}

        Parameters
        ----------
        output : VAEOutput
            The module's forward pass.
        kl : torch.Tensor (scalar)
            Batch mean of `kl`.

        Returns
        -------
        penalty : torch.Tensor (scalar)
            Added to the batch-mean reconstruction term.
        extra_terms : dict of str to torch.Tensor
            {extra_terms}
        """
        return method

    return decorate


class VAELoss(nn.Module):
    """Negative evidence lower bound of a VAE: reconstruction + KL to ``N(0, I)``.

    The base of every model's loss. A subclass changes the objective by overriding
    `regularizer` (what is added to the reconstruction term) and lists its extra
    logged terms in ``term_names``.

    Parameters
    ----------
    likelihood : {"bernoulli", "gaussian"}, default="bernoulli"
        Decoder distribution: Bernoulli with logits (binary cross-entropy) or a
        unit-variance Gaussian (half the squared error).

    Attributes
    ----------
    term_names : tuple of str
        Names of the terms returned by `forward` (class attribute).
    min_batch_size : int
        Smallest batch the loss is defined on: 2 where it uses batch statistics
        (class attribute).
    posterior : {"diagonal", "full"}
        Posterior family the loss expects of the encoder (class attribute).
    cuda_graph_unsupported : str or None
        Why a training step with this loss cannot be captured as one CUDA graph,
        or None when it can (class attribute).
    training_step : int
        Optimizer steps taken before the current batch, for losses with a
        schedule; the estimators' net sets it before each step.

    Examples
    --------
    >>> import torch
    >>> from sklearn_dvae.nn import VAELoss, VAEModule
    >>> module = VAEModule((6,), latent_dim=2, likelihood="gaussian", hidden_units=(8,))
    >>> loss, terms = VAELoss(likelihood="gaussian")(module(torch.zeros(4, 6)))
    >>> sorted(terms), loss.shape
    (['kl', 'reconstruction'], torch.Size([]))
    """

    term_names = ("reconstruction", "kl")
    min_batch_size = 1
    posterior = "diagonal"
    cuda_graph_unsupported = None
    #: Numeric hyperparameters that may differ between the members of a fused run
    #: whose losses are computed as one batched (``torch.func.vmap``) call; the
    #: others must then be equal. Empty: the members' losses run one by one.
    batched_hyperparameters = ()

    def __init__(self, likelihood="bernoulli"):
        super().__init__()
        if likelihood not in _LIKELIHOODS:
            raise ValueError(f"likelihood must be 'bernoulli' or 'gaussian', got {likelihood!r}.")
        self.likelihood = likelihood
        self.training_step = 0

    def reconstruction(self, output, x=None, include_constant=False):
        """Negative log-likelihood of each sample, summed over features.

        Parameters
        ----------
        output : VAEOutput
            The module's forward pass; its ``decoded`` is used.
        x : torch.Tensor or None, default=None
            Targets in the networks' layout and range; None takes ``output.x``
            (the prepared input: the autoencoding target).
        include_constant : bool, default=False
            Add the Gaussian likelihood's normalising constant (``score`` does).

        Returns
        -------
        nll : torch.Tensor of shape (batch_size,)
        """
        x = output.x if x is None else x
        if self.likelihood == "bernoulli":
            return bernoulli_nll(output.decoded, x)
        return gaussian_nll(output.decoded, x, include_constant=include_constant)

    def kl(self, output):
        """``KL(q(z|x) || N(0, I))`` of each sample (closed form, diagonal or full posterior).

        Parameters
        ----------
        output : VAEOutput

        Returns
        -------
        kl : torch.Tensor of shape (batch_size,)
        """
        return kl_to_standard_normal(output.mu, output.logvar, output.scale_tril)

    def regularizer(self, output, kl):
        """What the objective adds to the batch-mean reconstruction term.

        Override this in a new model's loss.

        Parameters
        ----------
        output : VAEOutput
            The module's forward pass.
        kl : torch.Tensor (scalar)
            Batch mean of `kl`.

        Returns
        -------
        penalty : torch.Tensor (scalar)
            Added to the reconstruction term (here the KL: the plain VAE).
        extra_terms : dict of str to torch.Tensor
            Further named scalars to log, named in ``term_names``.
        """
        return kl, {}

    def forward(self, output, x=None):
        """The loss of a batch and its named terms.

        Parameters
        ----------
        output : VAEOutput
            The module's forward pass of the batch.
        x : torch.Tensor or None, default=None
            Reconstruction targets in the networks' layout and range; None takes
            ``output.x``.

        Returns
        -------
        loss : torch.Tensor (scalar)
            Batch-mean reconstruction plus the `regularizer`'s penalty.
        terms : dict of str to torch.Tensor (scalars)
            ``"reconstruction"``, ``"kl"`` and the model's own terms.
        """
        reconstruction = self.reconstruction(output, x).mean()
        kl = self.kl(output).mean()
        penalty, extra = self.regularizer(output, kl)
        return reconstruction + penalty, {"reconstruction": reconstruction, "kl": kl, **extra}

    def prior_kl(self, output):
        """The KL part of the evidence lower bound of each sample (`score`'s bound).

        The regularisers of beta-VAE, FactorVAE, DIP-VAE and beta-TCVAE are
        training devices, not part of the generative model: their bound is the
        VAE's. A loss with another prior (CHyVAE) overrides this.

        Parameters
        ----------
        output : VAEOutput

        Returns
        -------
        kl : torch.Tensor of shape (batch_size,)
        """
        return self.kl(output)

    def negative_elbo(self, output, x=None):
        """Negative evidence lower bound of each sample, normalising constants included.

        Parameters
        ----------
        output : VAEOutput
        x : torch.Tensor or None, default=None
            Targets; None takes ``output.x``.

        Returns
        -------
        nll : torch.Tensor of shape (batch_size,)
        """
        return self.reconstruction(output, x, include_constant=True) + self.prior_kl(output)

    def batched_values(self):
        """The values of `batched_hyperparameters`, resolved to numbers.

        Returns
        -------
        values : dict of str to float
        """
        return {name: float(getattr(self, name)) for name in self.batched_hyperparameters}

    def sample_prior(self, n_samples, latent_dim, random_state):
        """Draws of the latent prior ``N(0, I)``.

        Parameters
        ----------
        n_samples, latent_dim : int
        random_state : numpy.random.RandomState

        Returns
        -------
        z : ndarray of shape (n_samples, latent_dim)
        """
        return random_state.standard_normal((n_samples, latent_dim))

    @classmethod
    def hyperparameter_names(cls):
        """Names of the constructor arguments, in order.

        Returns
        -------
        names : tuple of str
        """
        signature = inspect.signature(cls.__init__)
        return tuple(name for name in signature.parameters if name != "self")


class BetaVAELoss(VAELoss):
    """beta-VAE: ``reconstruction + beta * KL`` (Higgins et al., ICLR 2017).

    Parameters
    ----------
    beta : float, default=1.0
        Weight of the KL term; 1 is the plain VAE.
    likelihood : {"bernoulli", "gaussian"}, default="bernoulli"

    Examples
    --------
    >>> import torch
    >>> from sklearn_dvae.nn import BetaVAELoss, VAEModule
    >>> module = VAEModule((6,), latent_dim=2, likelihood="gaussian", hidden_units=(8,))
    >>> out = module(torch.zeros(4, 6))
    >>> loss, terms = BetaVAELoss(beta=4.0, likelihood="gaussian")(out)
    >>> torch.allclose(loss, terms["reconstruction"] + 4.0 * terms["kl"])
    True
    """

    batched_hyperparameters = ("beta",)

    def __init__(self, beta=1.0, likelihood="bernoulli"):
        super().__init__(likelihood=likelihood)
        self.beta = beta

    @_regularizer_doc(
        "``beta * KL``.",
        "None.",
    )
    def regularizer(self, output, kl):
        return self.beta * kl, {}


class AnnealedVAELoss(VAELoss):
    """Controlled capacity: ``reconstruction + gamma * |KL - C(t)|`` (Burgess et al., 2018).

    ``C(t) = c_max * min(1, t / iteration_threshold)`` with ``t`` the loss's
    ``training_step`` (set it before each step in a loop of your own).

    Parameters
    ----------
    gamma : float, default=1000.0
        Weight of the capacity constraint.
    c_max : float, default=25.0
        Final capacity in nats.
    iteration_threshold : int, default=100000
        Steps over which the capacity rises from 0 to ``c_max``.
    likelihood : {"bernoulli", "gaussian"}, default="bernoulli"

    Examples
    --------
    >>> from sklearn_dvae.nn import AnnealedVAELoss
    >>> loss_fn = AnnealedVAELoss(c_max=10.0, iteration_threshold=100)
    >>> loss_fn.training_step = 50
    >>> loss_fn.capacity()
    5.0
    """

    term_names = ("reconstruction", "kl", "capacity")
    batched_hyperparameters = ("gamma", "c_max", "iteration_threshold")
    cuda_graph_unsupported = (
        "its loss changes with the training step (the capacity schedule), which a "
        "captured step would freeze"
    )

    def __init__(
        self, gamma=1000.0, c_max=25.0, iteration_threshold=100000, likelihood="bernoulli"
    ):
        super().__init__(likelihood=likelihood)
        self.gamma = gamma
        self.c_max = c_max
        self.iteration_threshold = iteration_threshold

    def capacity(self, step=None):
        """Capacity ``C`` in nats after ``step`` optimizer steps (``training_step`` if None).

        Parameters
        ----------
        step : int or None, default=None

        Returns
        -------
        capacity : float or torch.Tensor
        """
        step = self.training_step if step is None else step
        if torch.is_tensor(self.c_max) or torch.is_tensor(self.iteration_threshold):
            # One value per member of a fused run.
            return self.c_max * torch.clamp(step / self.iteration_threshold, max=1.0)
        return self.c_max * min(1.0, step / self.iteration_threshold)

    @_regularizer_doc(
        "``gamma * |KL - C(t)|``.",
        "``capacity``: ``C(t)`` in nats.",
    )
    def regularizer(self, output, kl):
        capacity = self.capacity()
        penalty = self.gamma * (kl - capacity).abs()
        return penalty, {"capacity": torch.as_tensor(capacity, device=kl.device)}


class FactorVAELoss(VAELoss):
    """FactorVAE: ``reconstruction + KL + gamma * TC`` with a discriminator (Kim & Mnih, 2018).

    The total correlation ``TC = KL(q(z) || prod_j q(z_j))`` is estimated by the
    density-ratio trick, ``TC ~= mean(logit_0(z) - logit_1(z))``, with the
    discriminator this loss owns (label 0: codes of ``q(z)``; label 1: codes whose
    dimensions were permuted independently across a batch). `forward` computes the
    TC through the discriminator with its parameters detached, so the VAE loss
    never moves it; `discriminator_loss` is the discriminator's own objective, to
    be minimised with a separate optimizer on a second batch (Algorithm 2).

    Parameters
    ----------
    gamma : float, default=35.0
        Weight of the total-correlation penalty.
    latent_dim : int, default=10
        Width of the codes the discriminator reads.
    discriminator_hidden_units : tuple of int, default=(1000,) * 6
        Hidden widths of the discriminator MLP (LeakyReLU 0.2).
    likelihood : {"bernoulli", "gaussian"}, default="bernoulli"

    Attributes
    ----------
    discriminator : Discriminator
        The density-ratio estimator.

    Examples
    --------
    >>> import torch
    >>> from sklearn_dvae.nn import FactorVAELoss, VAEModule
    >>> module = VAEModule((6,), latent_dim=2, likelihood="gaussian", hidden_units=(8,))
    >>> loss_fn = FactorVAELoss(gamma=10.0, latent_dim=2, discriminator_hidden_units=(8,),
    ...                         likelihood="gaussian")
    >>> out, other = module(torch.randn(4, 6)), module(torch.randn(4, 6))
    >>> loss, terms = loss_fn(out)
    >>> d_loss, accuracy = loss_fn.discriminator_loss(out.z, other.z)
    >>> sorted(terms)
    ['kl', 'reconstruction', 'tc']
    """

    term_names = ("reconstruction", "kl", "tc")
    min_batch_size = 2

    def __init__(
        self,
        gamma=35.0,
        latent_dim=10,
        discriminator_hidden_units=(1000,) * 6,
        likelihood="bernoulli",
    ):
        super().__init__(likelihood=likelihood)
        self.gamma = gamma
        self.latent_dim = latent_dim
        self.discriminator_hidden_units = tuple(discriminator_hidden_units)
        self.discriminator = Discriminator(latent_dim, self.discriminator_hidden_units)

    def total_correlation(self, z):
        """The discriminator's TC estimate of codes ``z``; gradients reach ``z`` only.

        Parameters
        ----------
        z : torch.Tensor of shape (batch_size, latent_dim)

        Returns
        -------
        tc : torch.Tensor (scalar)
        """
        frozen = {name: p.detach() for name, p in self.discriminator.named_parameters()}
        logits = torch.func.functional_call(self.discriminator, frozen, (z,))
        return (logits[:, 0] - logits[:, 1]).mean()

    @_regularizer_doc(
        "``KL + gamma * TC``, the TC estimated by the (frozen) discriminator.",
        "``tc``: the TC estimate.",
    )
    def regularizer(self, output, kl):
        tc = self.total_correlation(output.z)
        return kl + self.gamma * tc, {"tc": tc}

    def discriminator_loss(self, z, z_other, generator=None):
        """The discriminator's cross-entropy and accuracy on real and permuted codes.

        Parameters
        ----------
        z : torch.Tensor of shape (n, latent_dim)
            Codes of ``q(z)`` (the VAE batch's samples), label 0; detached here,
            so that this loss never reaches the encoder.
        z_other : torch.Tensor of shape (m, latent_dim)
            Codes of a second batch, permuted here per dimension across the batch
            (samples of ``prod_j q(z_j)``), label 1; detached too.
        generator : torch.Generator or None, default=None
            Draws the permutation (torch's global generator when None).

        Returns
        -------
        loss : torch.Tensor (scalar)
            Mean of the two classes' cross-entropies.
        accuracy : torch.Tensor (scalar)
            Fraction of the ``n + m`` codes classified correctly (detached).
        """
        z_permuted = permute_dims(z_other.detach(), generator=generator)
        logits_real = self.discriminator(z.detach())
        logits_permuted = self.discriminator(z_permuted)
        labels_real = torch.zeros(len(logits_real), dtype=torch.long, device=z.device)
        labels_permuted = torch.ones_like(labels_real[:1]).expand(len(logits_permuted))
        loss = 0.5 * (
            F.cross_entropy(logits_real, labels_real)
            + F.cross_entropy(logits_permuted, labels_permuted)
        )
        with torch.no_grad():
            correct = (logits_real.argmax(dim=1) == 0).sum() + (
                logits_permuted.argmax(dim=1) == 1
            ).sum()
            accuracy = correct.float() / (len(logits_real) + len(logits_permuted))
        return loss, accuracy


def dip_covariance(mu, logvar, dip_type):
    """Batch estimate of the covariance that DIP-VAE pushes towards the identity.

    Parameters
    ----------
    mu : torch.Tensor of shape (batch_size, latent_dim)
        Posterior means.
    logvar : torch.Tensor of shape (batch_size, latent_dim)
        Posterior log-variances (``log sigma^2``).
    dip_type : {"i", "ii"}
        "i": covariance of the means; "ii": plus the mean posterior variance on
        the diagonal (the covariance of the aggregate posterior).

    Returns
    -------
    covariance : torch.Tensor of shape (latent_dim, latent_dim)

    Examples
    --------
    >>> import torch
    >>> from sklearn_dvae.nn.losses import dip_covariance
    >>> mu = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    >>> dip_covariance(mu, torch.zeros(2, 2), "ii")
    tensor([[2., 0.],
            [0., 1.]])
    """
    # Centre over the batch axis (not over the latent axis) and divide by B.
    centred = mu - mu.mean(dim=0, keepdim=True)
    covariance = centred.T @ centred / mu.shape[0]
    if dip_type == "ii":
        covariance = covariance + torch.diag(logvar.exp().mean(dim=0))
    return covariance


def dip_penalty_terms(covariance):
    """Sums of squared off-diagonal entries and of squared diagonal deviations from 1.

    Parameters
    ----------
    covariance : torch.Tensor of shape (latent_dim, latent_dim)

    Returns
    -------
    off_diagonal, diagonal : torch.Tensor (scalars)
        ``sum_{i != j} C_ij^2`` and ``sum_i (C_ii - 1)^2``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_dvae.nn.losses import dip_penalty_terms
    >>> [t.item() for t in dip_penalty_terms(torch.tensor([[2.0, 0.5], [0.5, 1.0]]))]
    [0.5, 1.0]
    """
    diagonal = torch.diagonal(covariance)
    # Subtract the diagonal before squaring: sum(C^2) - sum(diag^2) would cancel
    # catastrophically in float32 when the off-diagonal entries are small.
    off_diagonal = (covariance - torch.diag(diagonal)).pow(2).sum()
    return off_diagonal, (diagonal - 1.0).pow(2).sum()


class DIPVAELoss(VAELoss):
    """DIP-VAE: ``reconstruction + KL + lambda_od * off_diagonal + lambda_d * diagonal``.

    ``off_diagonal = sum_{i!=j} C_ij^2`` and ``diagonal = sum_i (C_ii - 1)^2``, where
    ``C`` is the batch covariance of the posterior means (type "i") or of the
    aggregate posterior (type "ii"), see `dip_covariance` (Kumar et al., ICLR 2018).

    Parameters
    ----------
    lambda_od : float, default=10.0
        Weight of the off-diagonal penalty.
    lambda_d : float or None, default=None
        Weight of the diagonal penalty; None gives the paper's settings,
        ``10 * lambda_od`` for type "i" and ``lambda_od`` for type "ii".
    dip_type : {"i", "ii"}, default="ii"
    likelihood : {"bernoulli", "gaussian"}, default="bernoulli"

    Examples
    --------
    >>> from sklearn_dvae.nn import DIPVAELoss
    >>> DIPVAELoss(lambda_od=5.0, dip_type="i").effective_lambda_d()
    50.0
    """

    term_names = ("reconstruction", "kl", "dip_off_diagonal", "dip_diagonal")
    min_batch_size = 2
    batched_hyperparameters = ("lambda_od", "lambda_d")

    def __init__(self, lambda_od=10.0, lambda_d=None, dip_type="ii", likelihood="bernoulli"):
        super().__init__(likelihood=likelihood)
        if dip_type not in ("i", "ii"):
            raise ValueError(f"dip_type must be 'i' or 'ii', got {dip_type!r}.")
        self.lambda_od = lambda_od
        self.lambda_d = lambda_d
        self.dip_type = dip_type

    def batched_values(self):
        """``lambda_od`` and the effective ``lambda_d`` (see `effective_lambda_d`).

        Returns
        -------
        values : dict of str to float
        """
        return {"lambda_od": float(self.lambda_od), "lambda_d": self.effective_lambda_d()}

    def effective_lambda_d(self):
        """The diagonal weight in use: ``lambda_d``, or the paper's default for ``dip_type``.

        Returns
        -------
        lambda_d : float
        """
        value = self.lambda_d
        if value is None:
            value = self.lambda_od * (10.0 if self.dip_type == "i" else 1.0)
        return value if torch.is_tensor(value) else float(value)

    @_regularizer_doc(
        "``KL + lambda_od * off_diagonal + lambda_d * diagonal``.",
        "``dip_off_diagonal`` and ``dip_diagonal``, unweighted.",
    )
    def regularizer(self, output, kl):
        covariance = dip_covariance(output.mu, output.logvar, self.dip_type)
        off_diagonal, diagonal = dip_penalty_terms(covariance)
        penalty = self.lambda_od * off_diagonal + self.effective_lambda_d() * diagonal
        return kl + penalty, {"dip_off_diagonal": off_diagonal, "dip_diagonal": diagonal}


class BetaTCVAELoss(VAELoss):
    """beta-TCVAE: ``reconstruction + alpha * MI + beta * TC + gamma * dimension_wise_KL``.

    The three parts of the KL are estimated on the batch with the dataset size
    (Chen et al., NeurIPS 2018); see `tc_decomposition`.

    Parameters
    ----------
    dataset_size : int
        ``N``, the number of training rows (at least the batch size).
    beta : float, default=6.0
        Weight of the total correlation.
    alpha : float, default=1.0
        Weight of the index-code mutual information.
    gamma : float, default=1.0
        Weight of the dimension-wise KL.
    sampling : {"mws", "mss"}, default="mws"
        Minibatch weighted (the paper's) or stratified sampling estimate of
        ``log q(z)``.
    likelihood : {"bernoulli", "gaussian"}, default="bernoulli"

    Examples
    --------
    >>> import torch
    >>> from sklearn_dvae.nn import BetaTCVAELoss, VAEModule
    >>> module = VAEModule((6,), latent_dim=2, likelihood="gaussian", hidden_units=(8,))
    >>> loss, terms = BetaTCVAELoss(100, likelihood="gaussian")(module(torch.zeros(4, 6)))
    >>> "total_correlation" in terms
    True
    """

    term_names = (
        "reconstruction",
        "kl",
        "mutual_information",
        "total_correlation",
        "dimension_wise_kl",
    )
    min_batch_size = 2
    batched_hyperparameters = ("beta", "alpha", "gamma")

    def __init__(
        self, dataset_size, beta=6.0, alpha=1.0, gamma=1.0, sampling="mws", likelihood="bernoulli"
    ):
        super().__init__(likelihood=likelihood)
        if sampling not in ("mws", "mss"):
            raise ValueError(f"sampling must be 'mws' or 'mss', got {sampling!r}.")
        self.dataset_size = dataset_size
        self.beta = beta
        self.alpha = alpha
        self.gamma = gamma
        self.sampling = sampling

    @_regularizer_doc(
        "``alpha * MI + beta * TC + gamma * dimension_wise_KL`` (in place of the KL).",
        "``mutual_information``, ``total_correlation``, ``dimension_wise_kl``.",
    )
    def regularizer(self, output, kl):
        terms = tc_decomposition(
            output.z, output.mu, output.logvar, self.dataset_size, estimator=self.sampling
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


class CHyVAELoss(VAELoss):
    """CHyVAE: reconstruction + expected Gaussian KL + inverse-Wishart KL (Ansari & Soh, 2019).

    The prior is ``Sigma ~ IW(Psi, nu)`` with ``Psi = (nu - d - 1) I`` and
    ``z | Sigma ~ N(0, Sigma)``; the posterior ``q(z|x) = N(mu, L L^T)`` has a full
    covariance, so the encoder outputs ``L``'s lower triangle too. Both
    regularisers are closed forms given one posterior sample (`chyvae_regularizer`).

    Parameters
    ----------
    nu : float, default=200.0
        Degrees of freedom of the inverse-Wishart hyperprior (more than
        ``latent_dim + 1``).
    likelihood : {"bernoulli", "gaussian"}, default="bernoulli"

    Examples
    --------
    >>> import torch
    >>> from sklearn_dvae.nn import CHyVAELoss, VAEModule
    >>> module = VAEModule((6,), latent_dim=2, likelihood="gaussian", hidden_units=(8,),
    ...                    posterior="full")
    >>> loss, terms = CHyVAELoss(nu=10.0, likelihood="gaussian")(module(torch.zeros(4, 6)))
    >>> sorted(terms)
    ['gaussian_kl', 'inverse_wishart_kl', 'kl', 'reconstruction']
    """

    term_names = ("reconstruction", "kl", "gaussian_kl", "inverse_wishart_kl")
    posterior = "full"
    cuda_graph_unsupported = (
        "its inverse-Wishart terms check their degrees of freedom on the host, a "
        "synchronisation that CUDA graph capture forbids"
    )

    def __init__(self, nu=200.0, likelihood="bernoulli"):
        super().__init__(likelihood=likelihood)
        self.nu = nu

    def hyperprior_terms(self, output):
        """Per-sample ``gaussian_kl`` and ``inverse_wishart_kl`` (see `chyvae_regularizer`).

        Parameters
        ----------
        output : VAEOutput
            A forward pass of a full-covariance module.

        Returns
        -------
        terms : dict of str to torch.Tensor of shape (batch_size,)
        """
        if output.scale_tril is None:
            raise ValueError(
                "CHyVAELoss needs a full-covariance posterior: build the VAEModule with "
                "posterior='full'."
            )
        return chyvae_regularizer(output.mu, output.scale_tril, output.z, float(self.nu))

    @_regularizer_doc(
        "The expected Gaussian KL plus the inverse-Wishart KL (in place of the KL).",
        "``gaussian_kl`` and ``inverse_wishart_kl`` (batch means).",
    )
    def regularizer(self, output, kl):
        named = {name: value.mean() for name, value in self.hyperprior_terms(output).items()}
        return named["gaussian_kl"] + named["inverse_wishart_kl"], named

    def prior_kl(self, output):
        """The hierarchical prior's KL terms of each sample (`score`'s bound).

        Parameters
        ----------
        output : VAEOutput

        Returns
        -------
        kl : torch.Tensor of shape (batch_size,)
            ``gaussian_kl + inverse_wishart_kl``.
        """
        terms = self.hyperprior_terms(output)
        return terms["gaussian_kl"] + terms["inverse_wishart_kl"]

    def sample_prior(self, n_samples, latent_dim, random_state):
        """Draws of the hierarchical prior: ``Sigma`` from its hyperprior, then ``N(0, Sigma)``.

        Parameters
        ----------
        n_samples, latent_dim : int
        random_state : numpy.random.RandomState

        Returns
        -------
        z : ndarray of shape (n_samples, latent_dim)
        """
        d = latent_dim
        nu = float(self.nu)
        seed = int(random_state.randint(np.iinfo(np.int32).max))
        generator = torch.Generator().manual_seed(seed)
        psi = (nu - d - 1.0) * torch.eye(d, dtype=torch.float64)
        sigma = sample_inverse_wishart(psi, nu, n_samples, generator=generator)
        noise = torch.randn(n_samples, d, 1, dtype=torch.float64, generator=generator)
        return (torch.linalg.cholesky(sigma) @ noise).squeeze(-1).numpy()


__all__ = [
    "AnnealedVAELoss",
    "BetaTCVAELoss",
    "BetaVAELoss",
    "CHyVAELoss",
    "DIPVAELoss",
    "FactorVAELoss",
    "VAELoss",
    "dip_covariance",
    "dip_penalty_terms",
]
