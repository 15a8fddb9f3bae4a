"""scikit-learn scorers that encode ``X`` with ``estimator.transform`` and score it against ``y``.

A scorer is a callable ``scorer(estimator, X, y)`` returning a float where greater is
better, the contract of ``scoring=`` in ``cross_val_score``, ``GridSearchCV`` and
``RandomizedSearchCV``. Here ``y`` holds the ground-truth factors of the rows of ``X``
(shape (n_samples, n_factors)); the estimator ignores it in ``fit`` and the scorer uses
it as the factors of the metric.
"""

import inspect

import numpy as np
from sklearn.metrics import get_scorer as _sklearn_get_scorer
from sklearn.metrics import get_scorer_names as _sklearn_get_scorer_names
from sklearn.utils._param_validation import validate_params

from .beta_vae import beta_vae_score
from .dci import dci_score
from .factor_vae import factor_vae_score
from .irs import irs_score
from .mig import mig_score
from .modularity_explicitness import modularity_explicitness_score
from .sap import sap_score
from .unsupervised import (
    gaussian_total_correlation,
    gaussian_wasserstein_correlation,
    latent_mutual_info_score,
)

__all__ = [
    "DisentanglementScorer",
    "make_disentanglement_scorer",
    "make_multimetric_disentanglement_scorer",
    "get_scorer",
    "get_scorer_names",
    "beta_vae_scorer",
    "factor_vae_scorer",
    "sap_scorer",
    "mig_scorer",
    "dci_scorer",
]

# name -> (metric function, key of the details dict or None, greater is better)
_METRICS = {
    "beta_vae": (beta_vae_score, None, True),
    "factor_vae": (factor_vae_score, None, True),
    "sap": (sap_score, None, True),
    "mig": (mig_score, None, True),
    "dci": (dci_score, None, True),
    "dci_disentanglement": (dci_score, "disentanglement", True),
    "dci_completeness": (dci_score, "completeness", True),
    "dci_informativeness": (dci_score, "informativeness_test", True),
    "modularity": (modularity_explicitness_score, None, True),  # no explicitness fits
    "explicitness": (modularity_explicitness_score, "explicitness_test", True),
    "irs": (irs_score, None, True),
    "neg_gaussian_total_correlation": (gaussian_total_correlation, None, False),
    "neg_gaussian_wasserstein_correlation": (gaussian_wasserstein_correlation, None, False),
    "neg_latent_mutual_info": (latent_mutual_info_score, None, False),
}


class DisentanglementScorer:
    """Score ``metric(estimator.transform(X), y)``, sign-flipped when lower is better.

    Made by :func:`make_disentanglement_scorer`; see there. Instances are plain
    picklable objects, so they travel to joblib workers.

    Parameters
    ----------
    metric : callable
        A metric ``metric(Z, factors, **kwargs)`` of this package.
    key : str or None
        Entry of the metric's ``return_details=True`` dict to report, or None for its
        float result.
    sign : {1, -1}
        ``-1`` for metrics where lower is better.
    kwargs : dict
        Keyword arguments of the metric.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae.metrics import DisentanglementScorer, make_disentanglement_scorer
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 5, size=(500, 2))
    >>> Z = y + 0.01 * rng.standard_normal((500, 2))
    >>> scorer = make_disentanglement_scorer("mig")
    >>> isinstance(scorer, DisentanglementScorer)
    True
    >>> round(scorer.score_representation(Z, y), 2)
    0.98
    """

    def __init__(self, metric, key, sign, kwargs):
        self.metric = metric
        self.key = key
        self.sign = sign
        self.kwargs = kwargs

    def __call__(self, estimator, X, y=None):
        """Encode ``X`` once and score the codes against the factors ``y``."""
        return self.score_representation(_encode(estimator, X), y)

    def score_representation(self, Z, y):
        """Score an already encoded ``Z`` against the factors ``y``.

        What calling the scorer does after ``estimator.transform(X)``: use it to
        score one representation with several scorers without encoding it again.

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_latents)
            The representation, e.g. ``estimator.transform(X)``.
        y : array-like of shape (n_samples, n_factors) or None
            Ground-truth factors of the rows of ``Z``; None only for the
            unsupervised metrics.

        Returns
        -------
        score : float
            The metric's value (or its ``key`` entry of the details), times
            ``sign``: greater is better.

        Raises
        ------
        ValueError
            If ``y`` is None and the metric needs the factors.
        """
        if y is None and not self._unsupervised():
            raise ValueError(
                f"{self.metric.__name__} needs the ground-truth factors as y "
                "(shape (n_samples, n_factors)); got y=None."
            )
        if self.key is None:
            value = self.metric(Z, y, **self.kwargs)
        else:
            value = self.metric(Z, y, return_details=True, **self.kwargs)[self.key]
        return self.sign * float(value)

    def _unsupervised(self):
        return self.metric in (
            gaussian_total_correlation,
            gaussian_wasserstein_correlation,
            latent_mutual_info_score,
        )

    def __repr__(self):
        arguments = [self.metric.__name__]
        if self.key is not None:
            arguments.append(f"key={self.key!r}")
        if self.sign < 0:
            arguments.append("greater_is_better=False")
        arguments += [f"{name}={value!r}" for name, value in self.kwargs.items()]
        return f"make_disentanglement_scorer({', '.join(arguments)})"


def _encode(estimator, X):
    transform = getattr(estimator, "transform", None)
    if transform is None:
        raise TypeError(
            f"A disentanglement scorer needs an estimator with transform(X) returning "
            f"the representation; {type(estimator).__name__} has none."
        )
    return np.asarray(transform(X))


@validate_params(
    {"metric": [str, callable], "key": [str, None], "greater_is_better": ["boolean", None]},
    prefer_skip_nested_validation=True,
)
def make_disentanglement_scorer(metric, *, key=None, greater_is_better=None, **kwargs):
    """Make a scorer ``scorer(estimator, X, y)`` from a disentanglement metric.

    The scorer calls ``estimator.transform(X)`` once, then the metric on the codes with
    ``y`` as the factors, and returns a float where greater is better.

    Parameters
    ----------
    metric : str or callable
        A name of :func:`get_scorer_names` (``"factor_vae"``, ``"dci_completeness"``,
        ...) or a metric function ``metric(Z, factors, **kwargs)`` such as
        :func:`~sklearn_dvae.metrics.factor_vae_score`.
    key : str or None, default=None
        Report this entry of the metric's ``return_details=True`` dict instead of its
        float result (e.g. ``"completeness"`` of ``dci_score``).
    greater_is_better : bool or None, default=None
        False negates the value (for scores where lower is better). None: False for
        the unsupervised scores of this package, True otherwise.
    **kwargs
        Keyword arguments of the metric (sample sizes, ...). ``random_state`` defaults
        to 0 so that all candidates of a search are scored on the same draws, which
        makes their differences less noisy.

    Returns
    -------
    scorer : DisentanglementScorer
        Picklable callable ``scorer(estimator, X, y) -> float``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from sklearn_dvae.metrics import make_disentanglement_scorer
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 5, size=(500, 2))
    >>> X = np.column_stack([4 * y[:, 0], y[:, 1], 0.01 * rng.standard_normal(500)])
    >>> scorer = make_disentanglement_scorer("mig", n_samples=None)
    >>> round(scorer(PCA(n_components=2).fit(X), X, y), 2)
    0.81
    """
    if isinstance(metric, str):
        name = metric.removesuffix("_score")
        if name not in _METRICS:
            raise ValueError(
                f"Unknown disentanglement metric {metric!r}; known: {sorted(_METRICS)}."
            )
        function, default_key, default_greater = _METRICS[name]
        key = default_key if key is None else key
        greater_is_better = default_greater if greater_is_better is None else greater_is_better
    else:
        function = metric
        if greater_is_better is None:
            greater_is_better = metric not in (
                gaussian_total_correlation,
                gaussian_wasserstein_correlation,
                latent_mutual_info_score,
            )
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        parameters = {}
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    unknown = sorted(set(kwargs) - set(parameters)) if parameters and not accepts_any else []
    if unknown:
        # Caught here, not as a NaN error_score for every candidate of a search.
        known = [n for n in parameters if n not in ("Z", "factors", "return_details")]
        raise TypeError(
            f"{getattr(function, '__name__', function)!s} got unexpected keyword argument(s) "
            f"{unknown}; it accepts {known}."
        )
    if "random_state" in parameters and "random_state" not in kwargs:
        kwargs["random_state"] = 0
    return DisentanglementScorer(function, key, 1 if greater_is_better else -1, kwargs)


class _MultimetricDisentanglementScorer:
    """Callable returning a dict of scores from one encoding of ``X``."""

    def __init__(self, scorers):
        self.scorers = scorers

    def __call__(self, estimator, X, y=None):
        Z = _encode(estimator, X)
        return {name: scorer.score_representation(Z, y) for name, scorer in self.scorers.items()}

    def __repr__(self):
        return f"make_multimetric_disentanglement_scorer({self.scorers!r})"


@validate_params({"scorers": [dict]}, prefer_skip_nested_validation=True)
def make_multimetric_disentanglement_scorer(scorers):
    """One scorer returning several disentanglement scores from a single ``transform``.

    sklearn's multi-metric ``scoring={"a": scorer_a, "b": scorer_b}`` calls each scorer
    separately, so each encodes ``X`` again. This callable encodes once and returns a
    dict; pass it as ``scoring=`` and name one of its keys in ``refit=``.

    Parameters
    ----------
    scorers : dict of str to str or DisentanglementScorer
        Score names mapped to scorers (or to metric names of :func:`get_scorer_names`).

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> dict`` of floats, greater is better.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from sklearn_dvae.metrics import make_multimetric_disentanglement_scorer
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 5, size=(500, 2))
    >>> X = y + 0.01 * rng.standard_normal((500, 2))
    >>> scorer = make_multimetric_disentanglement_scorer({"mig": "mig", "irs": "irs"})
    >>> sorted(scorer(PCA(n_components=2).fit(X), X, y))
    ['irs', 'mig']
    """
    if not scorers:
        raise ValueError("scorers must be a non-empty dict of names to scorers.")
    resolved = {}
    for name, scorer in scorers.items():
        if isinstance(scorer, str):
            scorer = make_disentanglement_scorer(scorer)
        if not isinstance(scorer, DisentanglementScorer):
            raise TypeError(
                f"scorers[{name!r}] must be a metric name or a DisentanglementScorer, "
                f"got {type(scorer).__name__}."
            )
        resolved[name] = scorer
    return _MultimetricDisentanglementScorer(resolved)


@validate_params({"name": [str, callable, None]}, prefer_skip_nested_validation=True)
def get_scorer(name):
    """Return the scorer called ``name``, with the metric's default protocol settings.

    Parameters
    ----------
    name : str, callable or None
        One of :func:`get_scorer_names` (``"factor_vae"``, ``"sap"``, ...); the
        ``_score`` suffix is optional. Anything else goes to
        ``sklearn.metrics.get_scorer``, so ``get_scorer("accuracy")`` also works
        (and a callable or None comes back as it returns them).

    Returns
    -------
    scorer : callable

    Examples
    --------
    >>> from sklearn_dvae.metrics import get_scorer
    >>> get_scorer("factor_vae")
    make_disentanglement_scorer(factor_vae_score, random_state=0)
    """
    if isinstance(name, str) and name.removesuffix("_score") in _METRICS:
        return make_disentanglement_scorer(name)
    try:
        return _sklearn_get_scorer(name)
    except ValueError:
        raise ValueError(
            f"{name!r} is neither a disentanglement scorer ({sorted(_METRICS)}) nor a "
            "scikit-learn scorer (sklearn.metrics.get_scorer_names())."
        ) from None


def get_scorer_names():
    """Names accepted by :func:`get_scorer`: this package's, then scikit-learn's.

    Returns
    -------
    names : list of str
        This package's scorer names (sorted), then scikit-learn's (sorted).

    Examples
    --------
    >>> from sklearn_dvae.metrics import get_scorer_names
    >>> "factor_vae" in get_scorer_names() and "accuracy" in get_scorer_names()
    True
    """
    return sorted(_METRICS) + sorted(_sklearn_get_scorer_names())


beta_vae_scorer = make_disentanglement_scorer("beta_vae")
factor_vae_scorer = make_disentanglement_scorer("factor_vae")
sap_scorer = make_disentanglement_scorer("sap")
mig_scorer = make_disentanglement_scorer("mig")
dci_scorer = make_disentanglement_scorer("dci")
