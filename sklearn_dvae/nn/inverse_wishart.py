"""Inverse-Wishart math for CHyVAE: expectations, KL divergences and Bartlett sampling.

Convention: ``Sigma ~ IW(Phi, df)`` means ``Sigma^-1 ~ Wishart(Phi^-1, df)`` for ``d x d``
matrices and ``df > d - 1``, which is also the convention of ``scipy.stats.invwishart(df,
scale=Phi)``. Then ``E[Sigma] = Phi / (df - d - 1)`` (for ``df > d + 1``),
``E[Sigma^-1] = df * Phi^-1`` and ``E[log det Sigma] = log det Phi - d log 2 - psi_d(df / 2)``.

Every determinant and every product with an inverse goes through a Cholesky factor and
triangular solves; no matrix is ever inverted explicitly.

Precision: the divergences are computed in float64 internally and returned in the inputs'
floating dtype (at least float32; half-precision inputs give float32). The matrices are only
``d x d`` (``d`` the latent dimension), so this costs next to nothing, and it matters: for the
large ``nu`` of the CHyVAE paper's grid (hundreds to thousands) the inverse-Wishart KL is a
sum of terms of size ``nu * log det`` and ``log Gamma_d(nu / 2)`` (about 1e5 for ``nu = 5000``,
``d = 10``) that cancel to a value of order one; in float32 that cancellation alone costs about
0.03 nats. On devices without float64 (Apple MPS) the computation stays in float32.
"""

import math
import numbers

import torch

__all__ = [
    "chyvae_regularizer",
    "expected_gaussian_kl_under_inverse_wishart",
    "inverse_wishart_kl",
    "multivariate_digamma",
    "multivariate_lgamma",
    "sample_inverse_wishart",
]


def _float_dtype(*tensors):
    """The common floating dtype of ``tensors``, at least float32."""
    dtype = torch.float32
    for t in tensors:
        if isinstance(t, torch.Tensor) and t.is_floating_point():
            dtype = torch.promote_types(dtype, t.dtype)
    return dtype


def _compute_dtype(device):
    """float64 for the internal computation, except where the device has none."""
    return torch.float32 if torch.device(device).type == "mps" else torch.float64


def _as_df(df, batch_shape, d, dtype, device, name="df"):
    """``df`` as a tensor broadcastable to ``batch_shape``; checks ``df > d - 1``."""
    df = torch.as_tensor(df, dtype=dtype, device=device)
    if df.dim() > len(batch_shape):
        raise ValueError(
            f"{name} must be a scalar or have shape {tuple(batch_shape)}; "
            f"got shape {tuple(df.shape)}."
        )
    if not bool(torch.all(df > d - 1)):
        raise ValueError(f"{name} must exceed d - 1 = {d - 1} for a {d} x {d} inverse-Wishart.")
    return df


def _check_square(name, m, d=None):
    if m.dim() < 2 or m.shape[-1] != m.shape[-2]:
        raise ValueError(f"{name} must have shape (..., d, d); got {tuple(m.shape)}.")
    if d is not None and m.shape[-1] != d:
        raise ValueError(f"{name} must be {d} x {d}; got {tuple(m.shape)}.")


def _logdet_from_cholesky(chol):
    """``log det (C C^T)`` from the lower Cholesky factor ``C``."""
    return 2.0 * torch.diagonal(chol, dim1=-2, dim2=-1).log().sum(-1)


def multivariate_digamma(x, d):
    """Multivariate digamma function, the derivative of the log multivariate gamma.

    ``psi_d(x) = sum_{i=1}^d digamma(x + (1 - i) / 2)``, defined for ``x > (d - 1) / 2``.

    Parameters
    ----------
    x : torch.Tensor or float
        Argument, any shape.
    d : int
        Dimension, at least 1.

    Returns
    -------
    psi : torch.Tensor
        Same shape as ``x``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_dvae.nn.inverse_wishart import multivariate_digamma
    >>> x = torch.tensor([2.0, 3.5], dtype=torch.float64)
    >>> bool(torch.allclose(multivariate_digamma(x, 1), torch.digamma(x)))
    True
    """
    d = _check_dim(d)
    x = torch.as_tensor(x)
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    offsets = (1.0 - torch.arange(1, d + 1, dtype=x.dtype, device=x.device)) / 2.0
    return torch.digamma(x.unsqueeze(-1) + offsets).sum(-1)


def multivariate_lgamma(x, d):
    """Log multivariate gamma function ``log Gamma_d(x)`` (as ``scipy.special.multigammaln``).

    ``log Gamma_d(x) = d (d - 1) / 4 log(pi) + sum_{i=1}^d lgamma(x + (1 - i) / 2)``.

    Parameters
    ----------
    x : torch.Tensor or float
        Argument, any shape, ``x > (d - 1) / 2``.
    d : int
        Dimension, at least 1.

    Returns
    -------
    lgamma : torch.Tensor
        Same shape as ``x``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_dvae.nn.inverse_wishart import multivariate_lgamma
    >>> x = torch.tensor([2.0, 3.5], dtype=torch.float64)
    >>> bool(torch.allclose(multivariate_lgamma(x, 1), torch.lgamma(x)))
    True
    """
    d = _check_dim(d)
    x = torch.as_tensor(x)
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    offsets = (1.0 - torch.arange(1, d + 1, dtype=x.dtype, device=x.device)) / 2.0
    return 0.25 * d * (d - 1) * math.log(math.pi) + torch.lgamma(x.unsqueeze(-1) + offsets).sum(-1)


def _check_dim(d):
    if isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1:
        raise ValueError(f"d must be a positive integer; got {d!r}.")
    return int(d)


def expected_gaussian_kl_under_inverse_wishart(mu, scale_tril, phi, df):
    """Expected KL from a full-covariance Gaussian to ``N(0, Sigma)`` with ``Sigma ~ IW(phi, df)``.

    Computes ``E_{Sigma ~ IW(phi, df)}[KL(N(mu, L L^T) || N(0, Sigma))]`` in closed form::

        0.5 * (df * tr(phi^-1 L L^T) + df * mu^T phi^-1 mu - d
               + log det phi - d log 2 - psi_d(df / 2) - log det(L L^T))

    using ``E[Sigma^-1] = df phi^-1`` and ``E[log det Sigma] = log det phi - d log 2 -
    psi_d(df / 2)``, where ``psi_d`` is :func:`multivariate_digamma`.

    Parameters
    ----------
    mu : torch.Tensor of shape (batch_size, d)
        Means of the Gaussians.
    scale_tril : torch.Tensor of shape (batch_size, d, d)
        Lower-triangular Cholesky factors ``L`` of the Gaussians' covariances, with a
        positive diagonal. Entries above the diagonal are ignored.
    phi : torch.Tensor of shape (batch_size, d, d) or (d, d)
        Symmetric positive-definite scale matrices of the inverse-Wishart.
    df : float or torch.Tensor of shape () or (batch_size,)
        Degrees of freedom, ``df > d - 1``.

    Returns
    -------
    kl : torch.Tensor of shape (batch_size,)
        The expected divergence for each batch element.

    Examples
    --------
    >>> import torch
    >>> from sklearn_dvae.nn.inverse_wishart import expected_gaussian_kl_under_inverse_wishart
    >>> d = 3
    >>> kl = expected_gaussian_kl_under_inverse_wishart(
    ...     torch.zeros(2, d), torch.eye(d).expand(2, d, d), 5.0 * torch.eye(d), 7.0)
    >>> kl.shape
    torch.Size([2])
    >>> bool((kl > 0).all())
    True
    """
    if mu.dim() != 2:
        raise ValueError(f"mu must have shape (batch_size, d); got {tuple(mu.shape)}.")
    batch_size, d = mu.shape
    _check_square("scale_tril", scale_tril, d)
    _check_square("phi", phi, d)
    out_dtype = _float_dtype(mu, scale_tril, phi, df)
    dtype = _compute_dtype(mu.device)
    mu, scale_tril, phi = mu.to(dtype), scale_tril.to(dtype), phi.to(dtype)
    df = _as_df(df, (batch_size,), d, dtype, mu.device)

    scale_tril = torch.tril(scale_tril)
    chol_phi = torch.linalg.cholesky(phi)
    chol_phi = chol_phi.expand(batch_size, d, d)
    # tr(phi^-1 L L^T) = ||C^-1 L||_F^2 and mu^T phi^-1 mu = ||C^-1 mu||^2, with phi = C C^T.
    whitened_tril = torch.linalg.solve_triangular(chol_phi, scale_tril, upper=False)
    whitened_mu = torch.linalg.solve_triangular(chol_phi, mu.unsqueeze(-1), upper=False)
    trace = whitened_tril.pow(2).sum((-2, -1))
    quad = whitened_mu.pow(2).sum((-2, -1))
    expected_logdet_sigma = (
        _logdet_from_cholesky(chol_phi) - d * math.log(2.0) - multivariate_digamma(df / 2.0, d)
    )
    logdet_q = _logdet_from_cholesky(scale_tril)
    kl = 0.5 * (df * (trace + quad) - d + expected_logdet_sigma - logdet_q)
    return kl.to(out_dtype)


def inverse_wishart_kl(phi_q, df_q, phi_p, df_p):
    """KL divergence between two inverse-Wishart distributions, in closed form.

    ``KL(IW(phi_q, df_q) || IW(phi_p, df_p))``, which equals the KL between the Wisharts of
    the inverses, ``W(phi_q^-1, df_q)`` and ``W(phi_p^-1, df_p)`` (inversion is a bijection)::

        df_p / 2 * (log det phi_q - log det phi_p) + df_q / 2 * (tr(phi_p phi_q^-1) - d)
        + log Gamma_d(df_p / 2) - log Gamma_d(df_q / 2) + (df_q - df_p) / 2 * psi_d(df_q / 2)

    Parameters
    ----------
    phi_q : torch.Tensor of shape (batch_size, d, d) or (d, d)
        Scale matrices of the first distribution (symmetric positive definite).
    df_q : float or torch.Tensor of shape () or (batch_size,)
        Degrees of freedom of the first distribution, ``df_q > d - 1``.
    phi_p : torch.Tensor of shape (batch_size, d, d) or (d, d)
        Scale matrices of the second distribution (symmetric positive definite).
    df_p : float or torch.Tensor of shape () or (batch_size,)
        Degrees of freedom of the second distribution, ``df_p > d - 1``.

    Returns
    -------
    kl : torch.Tensor of shape (batch_size,)
        The divergence for each batch element (shape ``()`` when both scale matrices are
        ``(d, d)`` and both degrees of freedom are scalars).

    Examples
    --------
    >>> import torch
    >>> from sklearn_dvae.nn.inverse_wishart import inverse_wishart_kl
    >>> phi = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
    >>> abs(inverse_wishart_kl(phi, 5.0, phi, 5.0).item()) < 1e-12
    True
    >>> inverse_wishart_kl(phi, 6.0, 3.0 * torch.eye(2, dtype=torch.float64), 5.0).item() > 0
    True
    """
    _check_square("phi_q", phi_q)
    d = phi_q.shape[-1]
    _check_square("phi_p", phi_p, d)
    out_dtype = _float_dtype(phi_q, phi_p, df_q, df_p)
    dtype = _compute_dtype(phi_q.device)
    phi_q, phi_p = phi_q.to(dtype), phi_p.to(dtype)
    batch_shape = torch.broadcast_shapes(phi_q.shape[:-2], phi_p.shape[:-2])
    if len(batch_shape) > 1:
        raise ValueError("phi_q and phi_p must have shape (batch_size, d, d) or (d, d).")
    df_q = _as_df(df_q, batch_shape or (1,), d, dtype, phi_q.device, "df_q")
    df_p = _as_df(df_p, batch_shape or (1,), d, dtype, phi_q.device, "df_p")

    chol_q = torch.linalg.cholesky(phi_q)
    chol_p = torch.linalg.cholesky(phi_p)
    chol_q_b = chol_q.expand(*batch_shape, d, d)
    chol_p_b = chol_p.expand(*batch_shape, d, d)
    # tr(phi_p phi_q^-1) = ||C_q^-1 C_p||_F^2 with phi_q = C_q C_q^T and phi_p = C_p C_p^T.
    trace = torch.linalg.solve_triangular(chol_q_b, chol_p_b, upper=False).pow(2).sum((-2, -1))
    logdet_q = _logdet_from_cholesky(chol_q)
    logdet_p = _logdet_from_cholesky(chol_p)
    kl = (
        0.5 * df_p * (logdet_q - logdet_p)
        + 0.5 * df_q * (trace - d)
        + multivariate_lgamma(df_p / 2.0, d)
        - multivariate_lgamma(df_q / 2.0, d)
        + 0.5 * (df_q - df_p) * multivariate_digamma(df_q / 2.0, d)
    )
    return kl.to(out_dtype)


def chyvae_regularizer(mu, scale_tril, z, nu):
    """The two regularisation terms of CHyVAE for one sample ``z`` of each posterior.

    With ``d`` the latent dimension, the prior is ``Sigma ~ IW(Psi, nu)`` with
    ``Psi = (nu - d - 1) I`` (so that ``E[Sigma] = I``) and ``z | Sigma ~ N(0, Sigma)``; the
    posterior over ``Sigma`` given ``z`` is ``IW(Psi + z z^T, nu + 1)``. For each batch
    element this returns

    - ``gaussian_kl``: ``E_{Sigma ~ IW(Psi + z z^T, nu + 1)}[KL(N(mu, L L^T) || N(0, Sigma))]``
      (see :func:`expected_gaussian_kl_under_inverse_wishart`);
    - ``inverse_wishart_kl``: ``KL(IW(Psi + z z^T, nu + 1) || IW(Psi, nu))``
      (see :func:`inverse_wishart_kl`).

    Each is one Monte-Carlo draw (at the given ``z``) of the outer expectation over
    ``z ~ q(z|x)`` in the CHyVAE objective; the loss adds both to the reconstruction term.

    Parameters
    ----------
    mu : torch.Tensor of shape (batch_size, d)
        Posterior means.
    scale_tril : torch.Tensor of shape (batch_size, d, d)
        Lower-triangular Cholesky factors of the posterior covariances, positive diagonal.
    z : torch.Tensor of shape (batch_size, d)
        One sample of each posterior (reparameterised, so gradients reach the encoder).
    nu : float
        Degrees of freedom of the inverse-Wishart prior; must exceed ``d + 1``.

    Returns
    -------
    terms : dict of str to torch.Tensor of shape (batch_size,)
        ``{"gaussian_kl": ..., "inverse_wishart_kl": ...}``, per batch element.

    Raises
    ------
    ValueError
        If ``nu <= d + 1`` (then ``Psi = (nu - d - 1) I`` is not positive definite and the
        prior's mean ``I`` does not exist), or if the shapes disagree.

    Notes
    -----
    Up to an additive constant (depending on ``nu`` and ``d`` only), the sum of the two terms
    equals ``0.5 (nu + 1) [log det(Psi + z z^T) + tr((L L^T + mu mu^T + Psi)(Psi + z z^T)^-1)]
    - 0.5 log det(L L^T)``, the regulariser written in the authors' code
    (clear-nus/CHyVAE); here the constants are kept so that each term is a true divergence.
    The authors clamp ``Psi`` to ``max(nu - d - 1, 1) I`` instead of rejecting small ``nu``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_dvae.nn.inverse_wishart import chyvae_regularizer
    >>> g = torch.Generator().manual_seed(0)
    >>> mu = torch.randn(4, 3, generator=g)
    >>> scale_tril = 0.5 * torch.eye(3).expand(4, 3, 3)
    >>> z = mu + (scale_tril @ torch.randn(4, 3, 1, generator=g)).squeeze(-1)
    >>> terms = chyvae_regularizer(mu, scale_tril, z, nu=10.0)
    >>> sorted(terms), terms["gaussian_kl"].shape
    (['gaussian_kl', 'inverse_wishart_kl'], torch.Size([4]))
    """
    if z.dim() != 2:
        raise ValueError(f"z must have shape (batch_size, d); got {tuple(z.shape)}.")
    if mu.shape != z.shape:
        raise ValueError(f"mu and z must have the same shape; got {tuple(mu.shape)}, {z.shape}.")
    d = z.shape[1]
    nu_value = float(nu)
    if not nu_value > d + 1:
        raise ValueError(
            f"nu must exceed latent_dim + 1 = {d + 1} (Psi = (nu - d - 1) I must be positive "
            f"definite so that E[Sigma] = I); got nu={nu_value!r}."
        )
    out_dtype = _float_dtype(mu, scale_tril, z)
    dtype = _compute_dtype(z.device)
    mu, scale_tril, z = mu.to(dtype), scale_tril.to(dtype), z.to(dtype)
    psi = (nu_value - d - 1) * torch.eye(d, dtype=dtype, device=z.device)
    phi_post = psi + z.unsqueeze(-1) * z.unsqueeze(-2)
    gaussian_kl = expected_gaussian_kl_under_inverse_wishart(
        mu, scale_tril, phi_post, nu_value + 1.0
    )
    iw_kl = inverse_wishart_kl(phi_post, nu_value + 1.0, psi, nu_value)
    return {"gaussian_kl": gaussian_kl.to(out_dtype), "inverse_wishart_kl": iw_kl.to(out_dtype)}


def sample_inverse_wishart(psi, df, n_samples, generator=None):
    """Draw ``Sigma ~ IW(psi, df)`` by the Bartlett decomposition of the Wishart of the inverse.

    With ``psi = C C^T`` (Cholesky) and ``A`` lower triangular with ``A_ii^2 ~ chi^2(df - i +
    1)`` (``i = 1..d``) and ``A_ij ~ N(0, 1)`` below the diagonal, ``C^-T A A^T C^-1 ~
    W(psi^-1, df)``, so ``Sigma = (C A^-T)(C A^-T)^T ~ IW(psi, df)``; ``C A^-T`` is one
    triangular solve.

    Parameters
    ----------
    psi : torch.Tensor of shape (d, d)
        Symmetric positive-definite scale matrix.
    df : float
        Degrees of freedom, ``df > d - 1``. The mean ``psi / (df - d - 1)`` exists for
        ``df > d + 1``.
    n_samples : int
        Number of draws, at least 1.
    generator : torch.Generator, optional
        Source of randomness (on ``psi``'s device), for reproducible draws.

    Returns
    -------
    sigma : torch.Tensor of shape (n_samples, d, d)
        Symmetric positive-definite draws.

    Examples
    --------
    >>> import torch
    >>> from sklearn_dvae.nn.inverse_wishart import sample_inverse_wishart
    >>> g = torch.Generator().manual_seed(0)
    >>> sigma = sample_inverse_wishart(torch.eye(3), 6.0, 5, generator=g)
    >>> sigma.shape
    torch.Size([5, 3, 3])
    >>> bool(torch.allclose(sigma, sigma.transpose(-1, -2)))
    True
    """
    _check_square("psi", psi)
    if psi.dim() != 2:
        raise ValueError(f"psi must have shape (d, d); got {tuple(psi.shape)}.")
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral):
        raise ValueError(f"n_samples must be a positive integer; got {n_samples!r}.")
    if n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer; got {n_samples!r}.")
    d = psi.shape[-1]
    df = float(df)
    if not df > d - 1:
        raise ValueError(f"df must exceed d - 1 = {d - 1}; got {df!r}.")
    dtype = _float_dtype(psi)
    psi = psi.to(dtype)
    device = psi.device

    chi2_df = df - torch.arange(d, dtype=dtype, device=device)  # df - i + 1 for i = 1..d
    # chi^2(k) = 2 * Gamma(k / 2, 1)
    gamma = torch._standard_gamma(
        (chi2_df / 2.0).expand(int(n_samples), d).contiguous(), generator=generator
    )
    diag = (2.0 * gamma).sqrt()
    normal = torch.randn(
        int(n_samples), d, d, dtype=dtype, device=device, generator=generator
    ).tril(-1)
    bartlett = normal + torch.diag_embed(diag)
    chol = torch.linalg.cholesky(psi).expand(int(n_samples), d, d)
    # factor = C A^-T solves factor A^T = C (A^T upper triangular).
    factor = torch.linalg.solve_triangular(
        bartlett.transpose(-1, -2), chol, upper=True, left=False
    )
    sigma = factor @ factor.transpose(-1, -2)
    return 0.5 * (sigma + sigma.transpose(-1, -2))
