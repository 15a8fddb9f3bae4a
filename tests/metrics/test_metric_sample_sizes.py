"""Sample sizes a metric cannot honour are refused up front, by a message that names them.

Three kinds of sizes. Train and test sets (SAP, DCI, explicitness) are disjoint rows of
the pool, split in proportion when the pool is smaller than their sum. Subsamples
(MIG, IRS, the unsupervised scores) are rows drawn without replacement, all of them
when the pool is smaller. Points and votes (beta-VAE, FactorVAE) are drawn with
replacement, so the pool does not bound them: their memory does.
"""

import re
import sys
import tracemalloc

import numpy as np
import pytest

from sklearn_dvae.metrics import (
    _sampling,
    beta_vae_score,
    dci_score,
    factor_vae_score,
    gaussian_total_correlation,
    gaussian_wasserstein_correlation,
    irs_score,
    latent_mutual_info_score,
    mig_score,
    modularity_explicitness_score,
    sap_score,
)

SPLIT_METRICS = [sap_score, dci_score, modularity_explicitness_score]
SUBSAMPLE_METRICS = [
    mig_score,
    irs_score,
    gaussian_total_correlation,
    gaussian_wasserstein_correlation,
    latent_mutual_info_score,
]
SAMPLING_METRICS = [beta_vae_score, factor_vae_score]
DRAWN = {beta_vae_score: "points", factor_vae_score: "votes"}


def _name(metric):
    return metric.__name__


@pytest.mark.parametrize("metric", SPLIT_METRICS, ids=_name)
def test_a_split_asking_for_more_rows_than_the_pool_names_the_request(metric, small_pool):
    # 10**6 : 5,000 of 200 rows leaves the test set a single row.
    Z, factors = small_pool
    message = (
        rf"{metric.__name__}: n_train=1000000 and n_test=5000 ask for 1005000 rows, more "
        r"than the 200 in Z; split in that proportion, the test set would get 1 row and "
        r"each set needs at least 2\. Lower n_train or n_test, or pass more rows\."
    )
    with pytest.raises(ValueError, match=message):
        metric(Z, factors, n_train=10**6, n_test=5000)


def test_a_split_of_a_four_row_pool_at_the_defaults_names_the_request(small_pool):
    Z, factors = small_pool
    message = (
        r"n_train=10000 and n_test=5000 ask for 15000 rows, more than the 4 in Z; split "
        r"in that proportion, the test set would get 1 row"
    )
    with pytest.raises(ValueError, match=message):
        dci_score(Z[:4], factors[:4])


def test_a_split_larger_than_the_pool_in_a_workable_proportion_is_still_split(small_pool):
    Z, factors = small_pool
    # 100,000 : 100,000 of 200 rows: 100 each, as the docstring promises.
    details = sap_score(
        Z, factors, n_train=100_000, n_test=100_000, random_state=0, return_details=True
    )
    assert 0.0 <= details["score"] <= 1.0


@pytest.mark.parametrize("metric", SPLIT_METRICS, ids=_name)
@pytest.mark.parametrize("size", ["n_train", "n_test"])
@pytest.mark.parametrize("bad", [-5, 0, 1])
def test_train_or_test_sets_of_fewer_than_two_rows_are_refused(metric, size, bad, small_pool):
    Z, factors = small_pool
    message = (
        rf"The '{size}' parameter of {metric.__name__} must be an int in the range "
        rf"\[2, inf\)\. Got {bad} instead\."
    )
    with pytest.raises(ValueError, match=message):
        metric(Z, factors, **{size: bad})


@pytest.mark.parametrize("metric", SUBSAMPLE_METRICS, ids=_name)
@pytest.mark.parametrize("bad", [-5, 0, 1])
def test_a_subsample_of_fewer_than_two_rows_is_refused(metric, bad, small_pool):
    # n_samples=0 used to say "every factor takes a single value", -5 numpy's
    # "negative dimensions", and 1 either of those or a silent 0.0.
    Z, factors = small_pool
    message = (
        rf"The 'n_samples' parameter of {metric.__name__} must be an int in the range "
        rf"\[2, inf\) or None\. Got {bad} instead\."
    )
    with pytest.raises(ValueError, match=message):
        metric(Z, factors, n_samples=bad)


@pytest.mark.parametrize("metric", SUBSAMPLE_METRICS, ids=_name)
def test_a_subsample_larger_than_the_pool_takes_every_row(metric, small_pool):
    Z, factors = small_pool
    every_row = metric(Z, factors, n_samples=None, random_state=0)
    assert metric(Z, factors, n_samples=10**12, random_state=0) == every_row


def test_beta_vae_score_needs_two_training_points(small_pool):
    Z, factors = small_pool
    message = (
        r"The 'n_train' parameter of beta_vae_score must be an int in the range \[2, inf\)"
        r"\. Got 1 instead\."
    )
    with pytest.raises(ValueError, match=message):
        beta_vae_score(Z, factors, n_train=1)


def test_beta_vae_training_points_that_all_hold_one_factor_are_refused_clearly(small_pool):
    # Two training points hold the same factor for half the seeds; the classifier
    # would then see a single class (scikit-learn's own error said so in its terms).
    Z, factors = small_pool
    message = (
        r"beta_vae_score: the n_train=2 training points all hold factor \d, so the "
        r"classifier would see a single class; raise n_train\."
    )
    outcomes = set()
    for seed in range(8):
        try:
            beta_vae_score(Z, factors, n_train=2, n_eval=10, random_state=seed)
            outcomes.add("scored")
        except ValueError as error:
            assert re.search(message, str(error)), str(error)
            outcomes.add("refused")
    assert outcomes == {"scored", "refused"}


@pytest.mark.parametrize("metric", SAMPLING_METRICS, ids=_name)
@pytest.mark.parametrize("size", ["n_train", "n_eval"])
def test_points_beyond_the_memory_budget_are_refused_before_any_allocation(
    metric, size, small_pool
):
    # n_train=10**10 used to allocate until a 74 GiB MemoryError.
    Z, factors = small_pool
    message = (
        rf"{metric.__name__}: n_train=\d+, n_eval=\d+ and batch_size=64 on 2 latents would "
        rf"need about [\d,.]+ GiB for the {DRAWN[metric]} drawn, more than the 4 GiB "
        r"allowed; lower n_train, n_eval or batch_size\."
    )
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=message):
            metric(Z, factors, **{size: 10**10})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20


@pytest.mark.parametrize("metric", SAMPLING_METRICS, ids=_name)
def test_a_batch_beyond_the_memory_budget_is_refused(metric, small_pool):
    Z, factors = small_pool
    message = (
        rf"{metric.__name__}: n_train=100, n_eval=50 and batch_size=1000000000 on 2 "
        r"latents would need about [\d,.]+ GiB"
    )
    with pytest.raises(ValueError, match=message):
        metric(Z, factors, n_train=100, n_eval=50, batch_size=10**9)


class _Sampling(Exception):
    """Raised where the points or votes would start being drawn."""


@pytest.mark.parametrize("metric", SAMPLING_METRICS, ids=_name)
def test_the_published_sizes_are_not_refused_for_a_thousand_latents(metric, monkeypatch):
    # 10,000 training and 5,000 evaluation points of 64 rows: a wide code passes the
    # memory check at the defaults (its chunks shrink instead, see the next test). The
    # drawing itself is cut short: it would take a while on 1,000 latents.
    def start_sampling(*args):
        raise _Sampling

    monkeypatch.setattr(sys.modules[metric.__module__], "FactorGroups", start_sampling)
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 3, size=(100, 2))
    with pytest.raises(_Sampling):
        metric(rng.standard_normal((100, 1000)), factors, random_state=0)
    assert _sampling.draws_per_chunk(batch_size=64, n_latents=1000) < _sampling.MAX_CHUNK


def test_factor_vae_votes_do_not_depend_on_the_chunk_size(small_pool, monkeypatch):
    # Smaller chunks bound the memory of wide codes or large batches; the votes
    # draw the same random numbers in the same order whatever the chunk.
    Z, factors = small_pool
    kwargs = {"n_train": 300, "n_eval": 200, "random_state": 0, "return_details": True}
    whole = factor_vae_score(Z, factors, **kwargs)
    monkeypatch.setattr(_sampling, "CHUNK_BYTES", 64 * _sampling.bytes_per_batch_row(2))
    assert _sampling.draws_per_chunk(batch_size=64, n_latents=2) == 1
    chunked = factor_vae_score(Z, factors, **kwargs)
    np.testing.assert_array_equal(chunked["train_votes"], whole["train_votes"])
    np.testing.assert_array_equal(chunked["eval_votes"], whole["eval_votes"])
