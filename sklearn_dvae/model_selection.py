"""Tidy tables of hyperparameter searches, with seeds aggregated into a mean and a spread.

Disentanglement scores vary as much between random seeds as between
hyperparameters (Locatello et al., 2019), so a search should put
``random_state`` in its grid and report each setting over several seeds.
"""

import math

import numpy as np

__all__ = ["format_results_table", "search_results_table"]


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
