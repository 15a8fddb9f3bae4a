"""Tidy tables of hyperparameter searches, with seeds aggregated into a mean and a spread.

Disentanglement scores vary as much between random seeds as between
hyperparameters (Locatello et al., 2019), so a search should put
``random_state`` in its grid and report each setting over several seeds.
"""

import copy
import math

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import GridSearchCV

__all__ = [
    "FusedGridSearchCV",
    "UDRSearch",
    "fit_fused",
    "format_results_table",
    "search_results_table",
]


def _metric_names(cv_results):
    names = [key[len("mean_test_") :] for key in cv_results if key.startswith("mean_test_")]
    if not names:
        raise ValueError(
            "cv_results has no 'mean_test_*' entry: pass a fitted search or its cv_results_."
        )
    return names


def _hashable(value):
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def search_results_table(search, *, seed_param="random_state"):
    """One row per hyperparameter setting, scores averaged over seeds.

    Parameters
    ----------
    search : fitted GridSearchCV / RandomizedSearchCV, or its ``cv_results_`` dict
        The search to summarise. Multi-metric searches give one pair of columns
        per metric.
    seed_param : str, default="random_state"
        The parameter that holds the seed (for a pipeline, e.g.
        ``"vae__random_state"``). Candidates that differ only in it are
        grouped; settings without it count as one seed.

    Returns
    -------
    rows : list of dict
        Sorted by the first metric's mean, best first. Each row holds the
        setting's parameters, ``n_seeds``, and for each metric ``<metric>_mean``
        (the mean over seeds of the cross-validated score) and ``<metric>_std``
        (the standard deviation over seeds; NaN with one seed). Failed fits
        (NaN scores) are left out of the means and counted in ``n_failed``.
        ``pandas.DataFrame(rows)`` turns it into a data frame.

    Examples
    --------
    >>> cv_results = {
    ...     "params": [{"beta": 1, "random_state": 0}, {"beta": 1, "random_state": 1},
    ...                {"beta": 4, "random_state": 0}, {"beta": 4, "random_state": 1}],
    ...     "mean_test_score": [0.6, 0.8, 0.9, 0.7],
    ... }
    >>> rows = search_results_table(cv_results)
    >>> [(row["beta"], row["n_seeds"], round(row["score_mean"], 2)) for row in rows]
    [(4, 2, 0.8), (1, 2, 0.7)]
    """
    cv_results = getattr(search, "cv_results_", search)
    if not isinstance(cv_results, dict) or "params" not in cv_results:
        raise TypeError(
            "search must be a fitted scikit-learn search (with cv_results_) or a "
            f"cv_results_ dict, got {type(search).__name__}."
        )
    metrics = _metric_names(cv_results)
    groups = {}
    for index, params in enumerate(cv_results["params"]):
        setting = {k: v for k, v in params.items() if k != seed_param}
        key = tuple(sorted((k, _hashable(v)) for k, v in setting.items()))
        groups.setdefault(key, (setting, []))[1].append(index)

    rows = []
    for setting, indices in groups.values():
        row = dict(setting)
        row["n_seeds"] = len(indices)
        failed = 0
        for metric in metrics:
            values = np.asarray(cv_results[f"mean_test_{metric}"], dtype=float)[indices]
            finite = values[np.isfinite(values)]
            failed = max(failed, len(values) - len(finite))
            row[f"{metric}_mean"] = float(finite.mean()) if len(finite) else math.nan
            row[f"{metric}_std"] = float(finite.std(ddof=1)) if len(finite) > 1 else math.nan
        row["n_failed"] = failed
        rows.append(row)
    first = f"{metrics[0]}_mean"
    rows.sort(key=lambda row: -row[first] if np.isfinite(row[first]) else math.inf)
    return rows


def format_results_table(rows, *, precision=3):
    """Render rows from `search_results_table` as an aligned plain-text table.

    Parameters
    ----------
    rows : list of dict
        Rows with the same keys.
    precision : int, default=3
        Decimals shown for floats.

    Returns
    -------
    table : str

    Examples
    --------
    >>> rows = [{"beta": 1, "score_mean": 0.7}, {"beta": 4, "score_mean": 0.8}]
    >>> print(format_results_table(rows))
    beta  score_mean
       1       0.700
       4       0.800
    """
    if not rows:
        return "(no results)"
    columns = list(rows[0])

    def cell(value):
        if isinstance(value, float):
            return "nan" if math.isnan(value) else f"{value:.{precision}f}"
        return str(value)

    cells = [[cell(row.get(column, "")) for column in columns] for row in rows]
    widths = [max(len(column), *(len(r[i]) for r in cells)) for i, column in enumerate(columns)]
    lines = ["  ".join(column.rjust(w) for column, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


# ---------------------------------------------------------------- fused training
def _fusion_chunks(estimators, X, max_fused):
    """Positions of ``estimators`` grouped into chunks, each trained as one computation."""
    from ._base import DisentangledVAE
    from ._fused import fusion_key, plan_groups, unfusable_reason

    groups = {}
    for index, estimator in enumerate(estimators):
        alone = not isinstance(estimator, DisentangledVAE) or unfusable_reason(estimator)
        key = ("alone", index) if alone else fusion_key(estimator)
        groups.setdefault(key, []).append(index)
    chunks = []
    for key, indices in groups.items():
        if key[0] == "alone":
            chunks.append(indices)
            continue
        for chunk in plan_groups([estimators[i] for i in indices], X, max_fused):
            chunks.append([indices[i] for i in chunk])
    return chunks


def _fit_chunk(estimators, X):
    """Fit one chunk (fused when it holds several); returns the estimators and their errors."""
    if len(estimators) == 1:
        try:
            estimators[0].fit(X)
        except Exception as error:  # noqa: BLE001 - reported as error_score
            return estimators, [error]
        return estimators, [None]
    from ._fused import fit_group

    return estimators, fit_group(estimators, X)


def _fit_and_score_chunk(search, members, X_train, X_test, y_train, y_test, scorers):
    """Fit one chunk of a fold's candidates, score each, and return their results."""
    import time

    from sklearn.model_selection._validation import _score

    start = time.time()
    members, errors = _fit_chunk(members, X_train)
    fit_time = (time.time() - start) / len(members)
    return [
        search._evaluate(
            member, error, scorers, X_train, y_train, X_test, y_test, fit_time, _score
        )
        for member, error in zip(members, errors, strict=True)
    ]


def _fit_estimators_fused(estimators, X, max_fused, n_jobs=None, pre_dispatch="2*n_jobs"):
    """Fit ``estimators`` fused by group (chunks in parallel); returns them and their errors."""
    from joblib import Parallel, delayed

    chunks = _fusion_chunks(estimators, X, max_fused)
    fitted = list(estimators)
    errors = [None] * len(estimators)
    done = Parallel(n_jobs=n_jobs, pre_dispatch=pre_dispatch)(
        delayed(_fit_chunk)([estimators[i] for i in chunk], X) for chunk in chunks
    )
    for chunk, (members, member_errors) in zip(chunks, done, strict=True):
        for i, member, error in zip(chunk, members, member_errors, strict=True):
            fitted[i], errors[i] = member, error
    return fitted, errors


def fit_fused(estimator, settings, X, y=None, *, max_fused="auto", errors="raise"):
    """Fit one estimator under several parameter settings, trained as one computation.

    Settings that differ only in the loss's hyperparameters (``beta``, ``gamma``,
    ``lambda_od``, ``nu``, the annealing settings, ...) and ``random_state`` are
    trained together: stacked networks, one batched forward and backward pass and
    one optimizer step for all (see :ref:`fused_training`). Each result is an
    ordinary fitted estimator that equals its standalone ``fit`` up to the rounding
    of batched kernels. Use it for seed sweeps, ensembles and label-free selection.

    Parameters
    ----------
    estimator : DisentangledVAE
        The model to fit (cloned for each setting).
    settings : iterable of dict
        Parameter settings, e.g. ``ParameterGrid({"beta": [1, 4], "random_state":
        range(5)})``.
    X : array-like
        Training data.
    y : Ignored
    max_fused : int or "auto", default="auto"
        Most members trained as one computation. ``"auto"`` fuses up to 64 on a
        GPU, and on the CPU fuses only networks small enough for fusing to pay
        (fully connected, under about 2 million multiply-adds per step and member);
        larger ones train one after the other. 1 never fuses.
    errors : {"raise", "warn"}, default="raise"
        What a failed fit (a divergence, say) does once the others are done: raise
        its error, or warn and return the failed model as it stood (its last good
        step).

    Returns
    -------
    estimators : list of DisentangledVAE
        The fitted models, in the order of ``settings``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae import BetaVAE
    >>> from sklearn_dvae.model_selection import fit_fused
    >>> X = np.random.default_rng(0).random((128, 8)).astype(np.float32)
    >>> models = fit_fused(BetaVAE(latent_dim=2, hidden_units=(16,), max_epochs=2),
    ...                    [{"random_state": seed} for seed in range(3)], X)
    >>> [model.transform(X).shape for model in models]
    [(128, 2), (128, 2), (128, 2)]
    """
    import warnings

    from sklearn.base import clone

    if errors not in ("raise", "warn"):
        raise ValueError(f"errors must be 'raise' or 'warn', got {errors!r}.")
    _check_max_fused(max_fused)
    estimators = [clone(estimator).set_params(**dict(setting)) for setting in settings]
    if not estimators:
        raise ValueError("settings is empty: nothing to fit.")
    estimators, failures = _fit_estimators_fused(estimators, X, max_fused)
    failed = [(i, error) for i, error in enumerate(failures) if error is not None]
    if failed and errors == "raise":
        raise failed[0][1]
    if failed:
        warnings.warn(
            f"{len(failed)} of {len(estimators)} fits failed: "
            + "; ".join(f"setting {i}: {type(e).__name__}: {e}" for i, e in failed),
            UserWarning,
            stacklevel=2,
        )
    return estimators


def _check_max_fused(max_fused):
    if max_fused == "auto":
        return
    if isinstance(max_fused, bool) or not isinstance(max_fused, int) or max_fused < 1:
        raise ValueError(f"max_fused must be a positive integer or 'auto', got {max_fused!r}.")


class FusedGridSearchCV(GridSearchCV):
    """``GridSearchCV`` whose candidates train fused, a group of them as one computation.

    The constructor, the fit and the fitted attributes are scikit-learn's
    (``cv_results_`` with the same keys, ``best_estimator_``, ``best_params_``,
    ``best_score_``, ``best_index_``, ``scorer_``, ``n_splits_``, ``refit_time_``,
    ``multimetric_``): changing the class name is the only edit to a script. For each
    fold, the candidates that differ only in fusable parameters (the loss's
    hyperparameters and ``random_state``) train as one computation (see
    `fit_fused`); a candidate that cannot be fused, or that differs in the
    architecture, ``latent_dim``, ``batch_size``, the optimizer and the like, forms
    a group of its own. A failed candidate (a divergence) is scored
    ``error_score`` and the others of its group train on. Each fitted candidate is
    scored on the held-out fold with every scorer, its fold encoded once.

    Parameters
    ----------
    estimator : DisentangledVAE
        The model searched over.
    param_grid : dict or list of dict
        As for ``GridSearchCV``.
    scoring : str, callable, list, tuple, dict or None, default=None
        As for ``GridSearchCV`` (None: the model's ``score``, the ELBO).
    n_jobs : int or None, default=None
        Fused groups (of all folds) trained at once with joblib: processes on one
        machine, or Dask workers, one per GPU, under
        ``joblib.parallel_config(backend="dask")``.
    refit : bool, str or callable, default=True
        As for ``GridSearchCV``; the refit is an ordinary ``fit``.
    cv : int, cross-validation generator or iterable, default=None
        As for ``GridSearchCV``.
    verbose : int, default=0
        Print one line per fold and group when positive.
    pre_dispatch : int or str, default="2*n_jobs"
        As for ``GridSearchCV``.
    error_score : "raise" or numeric, default=np.nan
        Score of a candidate whose fit failed.
    return_train_score : bool, default=False
        Also score each candidate on its training fold.
    max_fused : int or "auto", default="auto"
        Most candidates trained as one computation (see `fit_fused`).

    Attributes
    ----------
    cv_results_, best_estimator_, best_score_, best_params_, best_index_, scorer_, \
n_splits_, refit_time_, multimetric_ : object
        As for ``GridSearchCV``.

    See Also
    --------
    fit_fused : fit a list of settings fused, without a search.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae import BetaVAE
    >>> from sklearn_dvae.model_selection import FusedGridSearchCV
    >>> X = np.random.default_rng(0).random((120, 8)).astype(np.float32)
    >>> search = FusedGridSearchCV(
    ...     BetaVAE(latent_dim=2, hidden_units=(16,), max_epochs=2, random_state=0),
    ...     {"beta": [1.0, 4.0]}, cv=2).fit(X)
    >>> sorted(search.best_params_)
    ['beta']
    """

    def __init__(
        self,
        estimator,
        param_grid,
        *,
        scoring=None,
        n_jobs=None,
        refit=True,
        cv=None,
        verbose=0,
        pre_dispatch="2*n_jobs",
        error_score=np.nan,
        return_train_score=False,
        max_fused="auto",
    ):
        super().__init__(
            estimator,
            param_grid,
            scoring=scoring,
            n_jobs=n_jobs,
            refit=refit,
            cv=cv,
            verbose=verbose,
            pre_dispatch=pre_dispatch,
            error_score=error_score,
            return_train_score=return_train_score,
        )
        self.max_fused = max_fused

    def fit(self, X, y=None, **params):
        """Run fit with every set of parameters, each fold's candidates trained fused.

        Parameters
        ----------
        X : array-like
            Training data.
        y : array-like or None, default=None
            Passed to the scorers (the models ignore it).
        **params
            Not supported (the models take no fit parameters); must be empty.

        Returns
        -------
        self : object
        """
        import time
        from collections import defaultdict
        from itertools import product

        from joblib import Parallel, delayed
        from sklearn.base import clone, is_classifier
        from sklearn.metrics._scorer import _MultimetricScorer
        from sklearn.model_selection import ParameterGrid, check_cv
        from sklearn.model_selection._validation import (
            _insert_error_scores,
            _warn_or_raise_about_fit_failures,
        )
        from sklearn.utils import indexable
        from sklearn.utils._indexing import _safe_indexing

        if params:
            raise TypeError(
                f"FusedGridSearchCV.fit takes no fit parameters, got {sorted(params)}."
            )
        _check_max_fused(self.max_fused)
        self._validate_params()
        scorers, refit_metric = self._get_scorers()
        X, y = indexable(X, y)
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        self.n_splits_ = cv.get_n_splits(X, y)
        splits = list(cv.split(X, y))
        candidates = list(ParameterGrid(self.param_grid))
        if not candidates:
            raise ValueError("No fits were performed: the parameter grid is empty.")
        base = clone(self.estimator)
        folds = [
            (
                _safe_indexing(X, train),
                _safe_indexing(X, test),
                None if y is None else _safe_indexing(y, train),
                None if y is None else _safe_indexing(y, test),
            )
            for train, test in splits
        ]
        # The grouping depends on the candidates and the data's shape, not on the fold:
        # planned once (a probe network per group), it serves every fold.
        members = [clone(base).set_params(**clone(p, safe=False)) for p in candidates]
        chunks = _fusion_chunks(members, folds[0][0], self.max_fused)
        tasks = [(split_index, chunk) for split_index in range(len(splits)) for chunk in chunks]
        start = time.time()
        # Each chunk is fitted, scored and dropped in its task, as GridSearchCV does
        # with each candidate: the search never holds every fitted model at once.
        done = Parallel(n_jobs=self.n_jobs, pre_dispatch=self.pre_dispatch)(
            delayed(_fit_and_score_chunk)(
                self,
                [clone(base).set_params(**clone(candidates[i], safe=False)) for i in chunk],
                *folds[split_index],
                scorers,
            )
            for split_index, chunk in tasks
        )
        out = {}
        for (split_index, chunk), results in zip(tasks, done, strict=True):
            for i, result in zip(chunk, results, strict=True):
                out[i, split_index] = result
        if self.verbose > 0:
            print(
                f"[FusedGridSearchCV] {len(candidates)} candidates x {len(splits)} folds in "
                f"{len(tasks)} fused groups: {time.time() - start:.1f} s"
            )
        all_out = [out[c, s] for c, s in product(range(len(candidates)), range(len(splits)))]
        _warn_or_raise_about_fit_failures(all_out, self.error_score)
        if callable(self.scoring):
            _insert_error_scores(all_out, self.error_score)
        results = self._format_results(candidates, self.n_splits_, all_out, defaultdict(list))
        self.multimetric_ = isinstance(all_out[0]["test_scores"], dict)
        if callable(self.scoring) and self.multimetric_:
            self._check_refit_for_multimetric(all_out[0]["test_scores"])
            refit_metric = self.refit
        if self.refit or not self.multimetric_:
            self.best_index_ = self._select_best_index(self.refit, refit_metric, results)
            if not callable(self.refit):
                self.best_score_ = results[f"mean_test_{refit_metric}"][self.best_index_]
            self.best_params_ = results["params"][self.best_index_]
        if self.refit:
            self.best_estimator_ = clone(base).set_params(**clone(self.best_params_, safe=False))
            start = time.time()
            self.best_estimator_.fit(X, y)
            self.refit_time_ = time.time() - start
            if hasattr(self.best_estimator_, "feature_names_in_"):
                self.feature_names_in_ = self.best_estimator_.feature_names_in_
        self.scorer_ = scorers._scorers if isinstance(scorers, _MultimetricScorer) else scorers
        self.cv_results_ = results
        return self

    def _evaluate(self, member, error, scorers, X_train, y_train, X_test, y_test, fit_time, score):
        """One candidate's entry of the results, as scikit-learn's ``_fit_and_score`` makes it."""
        from traceback import format_exception

        from sklearn.metrics._scorer import _MultimetricScorer
        from sklearn.utils.validation import _num_samples

        result = {"n_test_samples": _num_samples(X_test), "fit_time": fit_time}
        if error is not None:
            if self.error_score == "raise":
                raise error
            if isinstance(scorers, _MultimetricScorer):
                scores = {name: self.error_score for name in scorers._scorers}
            else:
                scores = self.error_score
            result.update(
                fit_error="".join(format_exception(error)),
                test_scores=scores,
                score_time=0.0,
            )
            if self.return_train_score:
                result["train_scores"] = copy.copy(scores)
            return result
        import time

        start = time.time()
        with _encode_once(member):
            result["test_scores"] = score(member, X_test, y_test, scorers, None, self.error_score)
            if self.return_train_score:
                result["train_scores"] = score(
                    member, X_train, y_train, scorers, None, self.error_score
                )
        result.update(fit_error=None, score_time=time.time() - start)
        return result


class _encode_once:
    """While scoring, ``transform`` encodes each array once (every scorer reuses the codes)."""

    def __init__(self, estimator):
        self.estimator = estimator

    def __enter__(self):
        estimator, cache = self.estimator, {}
        transform = estimator.transform

        def cached(X):
            key = id(X)
            if key not in cache:
                cache[key] = (X, transform(X))
            return cache[key][1].copy()

        estimator.transform = cached
        return estimator

    def __exit__(self, *exc):
        self.estimator.__dict__.pop("transform", None)
        return False


class UDRSearch(BaseEstimator):
    """Choose hyperparameters without labels: fit seeds per setting, rank settings by UDR.

    For each setting of ``param_grid``, ``n_seeds`` models are fitted (fused where
    they can be, see `fit_fused`); each is scored by UDR
    (`~sklearn_dvae.metrics.udr_score`) against the other seeds of its setting, on a
    shared sample of ``X``. A setting whose seeds agree latent by latent (up to
    permutation and sign) scores high: the assumption of Duan et al. (ICLR 2020) is
    that disentangled solutions are alike across seeds and entangled ones are not. No
    factors are needed; when ``y`` holds them and ``scoring`` is given, the supervised
    scores of every model are reported beside UDR.

    Parameters
    ----------
    estimator : DisentangledVAE
        The model searched over.
    param_grid : dict or list of dict
        Settings, as for ``GridSearchCV`` (without the seed).
    n_seeds : int, default=5
        Models per setting (at least 2), with seeds ``0 .. n_seeds - 1`` offset by
        ``random_state``.
    seed_param : str, default="random_state"
        The parameter that holds the seed (``"vae__random_state"`` in a pipeline).
    correlation : {"lasso", "spearman"}, default="lasso"
        UDR's correlation between latents (see `~sklearn_dvae.metrics.udr_score`).
    kl_threshold : float, default=0.01
        Latents whose mean KL is at most this are inactive.
    n_samples : int or None, default=1000
        Rows of ``X`` (drawn once, shared by every model) on which codes and KLs are
        computed; None uses all of ``X``.
    scoring : callable, dict of str to callable, or None, default=None
        Supervised scorers ``scorer(estimator, X, y)``, used only when ``y`` is given.
    max_fused : int or "auto", default="auto"
        As for `fit_fused`.
    n_jobs : int or None, default=None
        Fused groups trained at once with joblib (or Dask).
    random_state : int or None, default=None
        Offsets the seeds and draws the shared sample.

    Attributes
    ----------
    cv_results_ : dict of str to ndarray
        One entry per setting: ``params``, ``param_<name>``, ``udr_seed<k>`` (the UDR
        of seed ``k``; NaN for a failed fit), ``mean_udr``, ``std_udr``,
        ``rank_udr``, ``n_failed``; with supervised scoring, ``<metric>_seed<k>``,
        ``mean_<metric>`` and ``std_<metric>``.
    best_index_ : int
        The setting with the highest mean UDR.
    best_params_ : dict
    best_score_ : float
        Its mean UDR.
    best_estimator_ : DisentangledVAE
        The seed of the best setting with the highest UDR.
    estimators_ : list of list of DisentangledVAE
        Every fitted model, ``estimators_[setting][seed]``.
    seeds_ : list of int

    See Also
    --------
    sklearn_dvae.metrics.udr_score : the score itself.

    References
    ----------
    .. [1] Duan, S. et al. "Unsupervised Model Selection for Variational Disentangled
       Representation Learning." ICLR 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_dvae import BetaVAE
    >>> from sklearn_dvae.model_selection import UDRSearch
    >>> X = np.random.default_rng(0).random((200, 8)).astype(np.float32)
    >>> search = UDRSearch(BetaVAE(latent_dim=3, hidden_units=(16,), max_epochs=3),
    ...                    {"beta": [1.0, 4.0]}, n_seeds=3, random_state=0).fit(X)
    >>> search.cv_results_["udr_seed0"].shape, sorted(search.best_params_)
    ((2,), ['beta'])
    """

    def __init__(
        self,
        estimator,
        param_grid,
        *,
        n_seeds=5,
        seed_param="random_state",
        correlation="lasso",
        kl_threshold=0.01,
        n_samples=1000,
        scoring=None,
        max_fused="auto",
        n_jobs=None,
        random_state=None,
    ):
        self.estimator = estimator
        self.param_grid = param_grid
        self.n_seeds = n_seeds
        self.seed_param = seed_param
        self.correlation = correlation
        self.kl_threshold = kl_threshold
        self.n_samples = n_samples
        self.scoring = scoring
        self.max_fused = max_fused
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X, y=None):
        """Fit every setting's seeds, then score each model by UDR within its setting.

        Parameters
        ----------
        X : array-like
            Training data (no labels needed).
        y : array-like of shape (n_samples, n_factors) or None, default=None
            Ground-truth factors, only for the supervised ``scoring``.

        Returns
        -------
        self : object
        """
        import warnings

        from sklearn.base import clone
        from sklearn.model_selection import ParameterGrid
        from sklearn.utils import check_random_state
        from sklearn.utils._indexing import _safe_indexing

        from .metrics import udr_score

        if isinstance(self.n_seeds, bool) or not isinstance(self.n_seeds, int) or self.n_seeds < 2:
            raise ValueError(
                f"n_seeds must be an integer of at least 2 (UDR compares seeds), got "
                f"{self.n_seeds!r}."
            )
        if self.correlation not in ("lasso", "spearman"):
            raise ValueError(
                f"correlation must be 'lasso' or 'spearman', got {self.correlation!r}."
            )
        if self.scoring is not None and not (
            callable(self.scoring) or isinstance(self.scoring, dict)
        ):
            raise ValueError("scoring must be a callable, a dict of callables, or None.")
        _check_max_fused(self.max_fused)
        settings = list(ParameterGrid(self.param_grid))
        if not settings:
            raise ValueError("param_grid is empty: nothing to fit.")
        offset = 0 if self.random_state is None else int(self.random_state)
        self.seeds_ = [offset + k for k in range(self.n_seeds)]
        models = [
            clone(self.estimator).set_params(**setting, **{self.seed_param: seed})
            for setting in settings
            for seed in self.seeds_
        ]
        models, errors = _fit_estimators_fused(models, X, self.max_fused, n_jobs=self.n_jobs)
        rng = check_random_state(self.random_state)
        n_rows = len(X)
        rows = (
            np.arange(n_rows)
            if self.n_samples is None or self.n_samples >= n_rows
            else np.sort(rng.choice(n_rows, size=self.n_samples, replace=False))
        )
        sample = _safe_indexing(X, rows)
        scorers = {} if y is None or self.scoring is None else self.scoring
        if callable(scorers):
            scorers = {"score": scorers}
        S = self.n_seeds
        results = {"params": settings}
        for name in settings[0] if settings else []:
            results[f"param_{name}"] = np.ma.masked_array(
                [s.get(name) for s in settings],
                mask=[name not in s for s in settings],
                dtype=object,
            )
        udr = np.full((len(settings), S), np.nan)
        supervised = {name: np.full((len(settings), S), np.nan) for name in scorers}
        self.estimators_ = []
        for index in range(len(settings)):
            block = models[index * S : (index + 1) * S]
            failed = errors[index * S : (index + 1) * S]
            self.estimators_.append(block)
            good = [k for k in range(S) if failed[k] is None]
            if len(good) >= 2:
                codes = [block[k].transform(sample) for k in good]
                kls = [block[k].latent_kl(sample) for k in good]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # a collapsed model scores 0
                    scores = udr_score(
                        codes, kls, correlation=self.correlation, kl_threshold=self.kl_threshold
                    )
                udr[index, good] = scores
            for name, scorer in scorers.items():
                for k in good:
                    supervised[name][index, k] = scorer(block[k], X, y)
        results["n_failed"] = np.array(
            [sum(e is not None for e in errors[i * S : (i + 1) * S]) for i in range(len(settings))]
        )
        for k in range(S):
            results[f"udr_seed{k}"] = udr[:, k]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN settings
            results["mean_udr"] = np.nanmean(udr, axis=1)
            results["std_udr"] = np.nanstd(udr, axis=1)
            for name, values in supervised.items():
                for k in range(S):
                    results[f"{name}_seed{k}"] = values[:, k]
                results[f"mean_{name}"] = np.nanmean(values, axis=1)
                results[f"std_{name}"] = np.nanstd(values, axis=1)
        order = np.argsort(-np.nan_to_num(results["mean_udr"], nan=-np.inf), kind="stable")
        ranks = np.empty(len(settings), dtype=int)
        ranks[order] = np.arange(1, len(settings) + 1)
        results["rank_udr"] = ranks
        self.cv_results_ = results
        if np.all(np.isnan(results["mean_udr"])):
            raise ValueError(
                "No setting could be scored: every setting has fewer than 2 fitted seeds. "
                f"First error: {next(e for e in errors if e is not None)!r}"
            )
        self.best_index_ = int(order[0])
        self.best_params_ = settings[self.best_index_]
        self.best_score_ = float(results["mean_udr"][self.best_index_])
        best_seed = int(np.nanargmax(udr[self.best_index_]))
        self.best_estimator_ = self.estimators_[self.best_index_][best_seed]
        return self
