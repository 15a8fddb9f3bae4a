"""Small seeded ground-truth data for the metric tests, and fast protocol settings."""

import numpy as np
import pytest

# Sample sizes well below the 2019 protocol's, so each metric runs in well under a second,
# yet large enough that the known answers hold with a wide margin for these seeds.
FAST = {
    "beta_vae": {"n_train": 2000, "n_eval": 1000, "batch_size": 32},
    "factor_vae": {"n_train": 1000, "n_eval": 500, "n_variance_estimate": 2000},
    "sap": {"n_train": 1500, "n_test": 500},
    "mig": {"n_samples": 3000},
    "modularity": {"n_train": 1500, "n_test": 500},
    "irs": {"n_samples": 3000},
}


@pytest.fixture(scope="session")
def identity_data():
    """3000 rows of 6 independent factors with 8 values each; observations are the factors.

    Six factors put chance level of the classification metrics (1/6) below 0.2.
    """
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 8, size=(3000, 6))
    return factors.astype(np.float64), factors


@pytest.fixture(scope="session")
def small_pool():
    """200 rows of two factors with 3 values each, and a noisy copy of them as codes."""
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 3, size=(200, 2))
    return factors + 0.1 * rng.standard_normal((200, 2)), factors
