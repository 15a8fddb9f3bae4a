"""The metrics change nothing outside their result."""

import subprocess
import sys
import textwrap


def test_the_metrics_leave_the_process_allocator_alone():
    # glibc's allocator tuning (sklearn_dvae._memory) is process-wide: the estimators'
    # fit and transform apply it, validating a metric's input must not. A fresh
    # process runs every metric and scorer; the tuning module is never even imported.
    code = textwrap.dedent(
        """
        import sys

        import numpy as np

        from sklearn_dvae import metrics

        rng = np.random.default_rng(0)
        factors = rng.integers(0, 3, size=(300, 2))
        Z = factors + 0.1 * rng.standard_normal((300, 2))
        small = {"n_train": 100, "n_test": 50}
        metrics.beta_vae_score(Z, factors, n_train=100, n_eval=50)
        metrics.factor_vae_score(Z, factors, n_train=100, n_eval=50)
        metrics.sap_score(Z, factors, **small)
        metrics.mig_score(Z, factors)
        metrics.dci_score(Z, factors, **small)
        metrics.modularity_explicitness_score(Z, factors, return_details=True, **small)
        metrics.irs_score(Z, factors)
        metrics.gaussian_total_correlation(Z)
        metrics.gaussian_wasserstein_correlation(Z)
        metrics.latent_mutual_info_score(Z)
        metrics.make_disentanglement_scorer("mig").score_representation(Z, factors)
        print("sklearn_dvae._memory" in sys.modules)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
