"""Cross-check and time sklearn_dvae.metrics against disentanglement_lib 1.5 on the same codes.

The ground-truth generator is dSprites' factor grid (3 shapes x 6 scales x 40 orientations
x 32 x 32 positions, colour left out as in Locatello et al. 2019); an "observation" is a
row index of the grid and its representation is read from a precomputed table, so both
libraries see exactly the same deterministic codes and the timings measure the metrics,
not an encoder. disentanglement_lib samples factors from the grid and looks the codes up
batch by batch; sklearn_dvae gets the whole table once as its labelled pool.

The reference is not a dependency of this package. It runs in a throwaway environment,
in a subprocess of this script:

    python3 -m venv /tmp/dlib
    /tmp/dlib/bin/pip install disentanglement-lib==1.5 --no-deps
    /tmp/dlib/bin/pip install numpy scipy scikit-learn six absl-py
    export DLIB_PYTHON=/tmp/dlib/bin/python  # or pass --reference-python
    .venv/bin/python benchmarks/compare_disentanglement_lib.py

Its metric modules import ``gin.tf`` (TensorFlow) and configure themselves through gin;
the reference process replaces ``gin`` with a stub whose ``configurable`` leaves functions
unchanged, and passes every protocol setting of the 2019 study explicitly (the FactorVAE
pruning threshold of 0.05 and the 20-bin histogram discretiser, which the study binds
through gin, are patched in).

Prints a table and writes ``benchmarks/results/compare_disentanglement_lib.json`` (and the
reference's raw results, reused with ``--reuse-reference``).
"""

import argparse
import json
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np

GRID = (3, 6, 40, 32, 32)
REPRESENTATIONS = ("disentangled", "rotated", "entangled")
RESULTS = Path(__file__).resolve().parent / "results"
DATA_FILE = RESULTS / "compare_codes.npz"
REFERENCE_FILE = RESULTS / "compare_reference_raw.json"
OUTPUT_FILE = RESULTS / "compare_disentanglement_lib.json"
METRICS = ("beta_vae", "factor_vae", "mig", "sap", "dci", "modularity_explicitness", "irs",
           "unsupervised")  # fmt: skip


# --------------------------------------------------------------------------- codes


def grid_factors():
    """Every factor combination of the grid, in row-major order (last factor fastest)."""
    return np.indices(GRID).reshape(len(GRID), -1).T


def make_codes(name, factors):
    """A deterministic 10-latent code for every grid row, of the kind an encoder gives.

    Five latents follow one factor each through a monotone warp plus a fixed per-row
    perturbation (an encoder's mean is a deterministic function of the image), three are
    collapsed to the prior (std 0.02) and two are uninformative but active (std 0.5).
    "rotated" mixes the five informative latents by a fixed random rotation;
    "entangled" adds half of each neighbouring factor to every informative latent.
    """
    rng = np.random.default_rng(12345)
    unit = factors / (np.array(GRID) - 1.0)
    informative = np.tanh(2.5 * (unit - 0.5)) + 0.15 * rng.standard_normal(unit.shape)
    collapsed = 0.02 * rng.standard_normal((len(factors), 3))
    nuisance = 0.5 * rng.standard_normal((len(factors), 2))
    if name == "rotated":
        q, r = np.linalg.qr(np.random.default_rng(7).standard_normal((5, 5)))
        informative = informative @ (q * np.sign(np.diag(r)))
    elif name == "entangled":
        informative = informative + 0.5 * np.roll(informative, 1, axis=1)
    return np.hstack([informative, collapsed, nuisance])


# --------------------------------------------------------------------------- reference


def _stub_gin():
    """A ``gin`` whose decorators leave functions unchanged (no TensorFlow, no config)."""
    gin = types.ModuleType("gin")
    gin.REQUIRED = object()
    gin.configurable = lambda *args, **kwargs: lambda function: function
    gin_tf = types.ModuleType("gin.tf")
    gin.tf = gin_tf
    sys.modules["gin"] = gin
    sys.modules["gin.tf"] = gin_tf


def _runs(metric, name, seeds, dci_seeds, dci_representations):
    """Seeds to run ``metric`` with on representation ``name`` (DCI is slow: fewer)."""
    if metric != "dci":
        return range(seeds)
    return range(dci_seeds) if name in dci_representations else range(0)


class GridData:
    """The reference's ground-truth data interface over dSprites' factor grid.

    Factors are drawn uniformly from the grid. An observation is the grid row index,
    or, with ``images``, that row of ``images`` (the dSprites images in grid order).
    """

    num_factors = len(GRID)
    factors_num_values = list(GRID)

    def __init__(self, images=None):
        self.images = images
        self.observation_shape = [1] if images is None else list(images.shape[1:])

    def sample_factors(self, num, random_state):
        return np.column_stack([random_state.randint(size, size=num) for size in GRID])

    def sample_observations_from_factors(self, factors, random_state):
        rows = np.ravel_multi_index(tuple(factors.T), GRID)
        return rows if self.images is None else self.images[rows]

    def sample(self, num, random_state):
        factors = self.sample_factors(num, random_state)
        return factors, self.sample_observations_from_factors(factors, random_state)

    def sample_observations(self, num, random_state):
        return self.sample(num, random_state)[1]


def reference_calls(data):
    """metric name -> call(representation_function, random_state) of the reference.

    Runs inside the reference's environment: stubs ``gin`` and patches in what the
    2019 study binds through gin. Every sample size is that study's.
    """
    _stub_gin()
    from disentanglement_lib.evaluation.metrics import (
        beta_vae,
        dci,
        factor_vae,
        irs,
        mig,
        modularity_explicitness,
        sap_score,
        unsupervised_metrics,
        utils,
    )

    # What the 2019 study binds through gin.
    utils.make_discretizer = lambda target: utils._histogram_discretize(target, 20)
    factor_vae._prune_dims = lambda variances: np.sqrt(variances) >= 0.05

    return {
        "beta_vae": lambda rep, rs: {
            "score": beta_vae.compute_beta_vae_sklearn(data, rep, rs, None, 64, 10000, 5000)[
                "eval_accuracy"
            ]
        },
        "factor_vae": lambda rep, rs: {
            "score": factor_vae.compute_factor_vae(data, rep, rs, None, 64, 10000, 5000, 10000)[
                "eval_accuracy"
            ]
        },
        "mig": lambda rep, rs: {
            "score": mig.compute_mig(data, rep, rs, None, 10000)["discrete_mig"]
        },
        "sap": lambda rep, rs: {
            "score": sap_score.compute_sap(data, rep, rs, None, 10000, 5000, 16, False)[
                "SAP_score"
            ]
        },
        "dci": lambda rep, rs: _rename(
            dci.compute_dci(data, rep, rs, None, 10000, 5000),
            {
                "disentanglement": "score",
                "completeness": "completeness",
                "informativeness_test": "informativeness",
            },
        ),
        "modularity_explicitness": lambda rep, rs: _rename(
            modularity_explicitness.compute_modularity_explicitness(
                data, rep, rs, None, 10000, 5000
            ),
            {"modularity_score": "score", "explicitness_score_test": "explicitness"},
        ),
        "irs": lambda rep, rs: {
            "score": irs.compute_irs(data, rep, rs, None, 0.99, 10000, 16)["IRS"]
        },
        "unsupervised": lambda rep, rs: _rename(
            unsupervised_metrics.unsupervised_metrics(data, rep, rs, None, 10000),
            {
                "gaussian_total_correlation": "score",
                "gaussian_wasserstein_correlation": "wasserstein",
                "gaussian_wasserstein_correlation_norm": "wasserstein_norm",
                "mutual_info_score": "mutual_info",
            },
        ),
    }


def run_reference(
    seeds,
    dci_seeds,
    metrics,
    representations=REPRESENTATIONS,
    output=None,
    dci_representations=("rotated",),
):
    """Runs inside the reference's environment; writes ``output`` (REFERENCE_FILE)."""
    calls = reference_calls(GridData())
    codes = np.load(DATA_FILE)
    results = {}
    for name in representations:
        table = codes[name]

        def representation(observations, table=table):
            return table[np.asarray(observations).reshape(-1)]

        for metric in metrics:
            runs = []
            for seed in _runs(metric, name, seeds, dci_seeds, dci_representations):
                start = time.perf_counter()
                values = calls[metric](representation, np.random.RandomState(seed))
                runs.append({"seconds": time.perf_counter() - start, **_floats(values)})
                print(f"reference {name:12s} {metric:24s} seed {seed}: {runs[-1]}", flush=True)
            if runs:
                results[f"{name}/{metric}"] = runs
    Path(output or REFERENCE_FILE).write_text(json.dumps(results, indent=1))


def _rename(values, names):
    return {new: values[old] for old, new in names.items()}


def _floats(values):
    return {key: float(value) for key, value in values.items()}


# --------------------------------------------------------------------------- this package


def our_calls(n_jobs):
    """metric name -> call(Z, factors, seed) of this package, at the study's protocol."""
    from sklearn_dvae.metrics import (
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

    def dci_values(Z, F, seed, importance):
        d = dci_score(
            Z, F, importance=importance, n_jobs=n_jobs, random_state=seed, return_details=True
        )
        return {
            "score": d["disentanglement"],
            "completeness": d["completeness"],
            "informativeness": d["informativeness_test"],
        }

    def unsupervised(Z, F, seed):
        w = gaussian_wasserstein_correlation(Z, random_state=seed, return_details=True)
        return {
            "score": gaussian_total_correlation(Z, random_state=seed),
            "wasserstein": w["unnormalized"],
            "wasserstein_norm": w["normalized"],
            "mutual_info": latent_mutual_info_score(Z, random_state=seed),
        }

    def modularity(Z, F, seed):
        d = modularity_explicitness_score(
            Z, F, n_jobs=n_jobs, random_state=seed, return_details=True
        )
        return {"score": d["modularity"], "explicitness": d["explicitness_test"]}

    return {
        "beta_vae": lambda Z, F, s: {"score": beta_vae_score(Z, F, random_state=s)},
        "factor_vae": lambda Z, F, s: {"score": factor_vae_score(Z, F, random_state=s)},
        "mig": lambda Z, F, s: {"score": mig_score(Z, F, random_state=s)},
        "sap": lambda Z, F, s: {"score": sap_score(Z, F, random_state=s)},
        "dci": lambda Z, F, s: dci_values(Z, F, s, "gbt"),
        "dci_hist_gbt": lambda Z, F, s: dci_values(Z, F, s, "hist_gbt"),
        "dci_fast_gbt": lambda Z, F, s: dci_values(Z, F, s, "fast_gbt"),
        "modularity_explicitness": modularity,
        # continuous_factors=True bins every factor into 20 bins, as the reference does.
        "irs": lambda Z, F, s: {"score": irs_score(Z, F, continuous_factors=True, random_state=s)},
        "irs_default": lambda Z, F, s: {"score": irs_score(Z, F, random_state=s)},
        "unsupervised": unsupervised,
    }


def run_ours(
    seeds,
    dci_seeds,
    metrics,
    n_jobs,
    representations=REPRESENTATIONS,
    dci_representations=("rotated",),
):
    calls = our_calls(n_jobs)
    extra = {"dci": ["dci_fast_gbt", "dci_hist_gbt"], "irs": ["irs_default"]}
    factors = grid_factors()
    codes = np.load(DATA_FILE)
    results = {}
    for name in representations:
        Z = codes[name]
        for metric in metrics:
            for variant in [metric] + extra.get(metric, []):
                runs = []
                for seed in _runs(metric, name, seeds, dci_seeds, dci_representations):
                    start = time.perf_counter()
                    values = calls[variant](Z, factors, seed)
                    runs.append({"seconds": time.perf_counter() - start, **_floats(values)})
                    print(
                        f"ours      {name:12s} {variant:24s} seed {seed}: {runs[-1]}", flush=True
                    )
                results[f"{name}/{variant}"] = runs
    return results


# --------------------------------------------------------------------------- report


def summarise(reference, ours):
    """Rows comparing means and seed-to-seed spreads, and the time ratio at seed 0."""
    rows = []
    for key, our_runs in ours.items():
        name, variant = key.split("/")
        metric = {"dci_hist_gbt": "dci", "dci_fast_gbt": "dci", "irs_default": "irs"}.get(
            variant, variant
        )
        reference_runs = reference.get(f"{name}/{metric}")
        if reference_runs is None:
            continue
        for value in [k for k in our_runs[0] if k != "seconds"]:
            ref = np.array([run[value] for run in reference_runs])
            own = np.array([run[value] for run in our_runs])
            spread = max(ref.std(ddof=1), own.std(ddof=1)) if len(ref) > 1 else 0.0
            difference = own.mean() - ref.mean()
            rows.append(
                {
                    "representation": name,
                    "metric": variant if value == "score" else f"{variant}:{value}",
                    "reference_mean": ref.mean(),
                    "reference_std": ref.std(ddof=1),
                    "ours_mean": own.mean(),
                    "ours_std": own.std(ddof=1),
                    "difference": difference,
                    # Within the seed-to-seed spread: |difference| <= 2 standard deviations
                    # of the noisier side (or 1e-3 where both sides are deterministic).
                    "agrees": bool(abs(difference) <= max(2 * spread, 1e-3)),
                    "reference_seconds": float(np.median([r["seconds"] for r in reference_runs])),
                    "ours_seconds": float(np.median([r["seconds"] for r in our_runs])),
                }
            )
    return rows


def print_table(rows):
    header = (
        "| representation | metric | reference (mean ± sd) | sklearn_dvae (mean ± sd) | "
        "difference | agrees | reference s | ours s | speed-up |"
    )
    print(header)
    print("|" + "---|" * 9)
    for row in rows:
        print(
            f"| {row['representation']} | {row['metric']} | "
            f"{row['reference_mean']:.4f} ± {row['reference_std']:.4f} | "
            f"{row['ours_mean']:.4f} ± {row['ours_std']:.4f} | {row['difference']:+.4f} | "
            f"{'yes' if row['agrees'] else 'NO'} | {row['reference_seconds']:.2f} | "
            f"{row['ours_seconds']:.3f} | {row['reference_seconds'] / row['ours_seconds']:.1f}x |"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-python", default=os.environ.get("DLIB_PYTHON"))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--dci-seeds", type=int, default=3)
    parser.add_argument("--metrics", nargs="+", default=list(METRICS), choices=METRICS)
    parser.add_argument(
        "--n-jobs", type=int, default=-1, help="joblib workers (DCI, explicitness)"
    )
    parser.add_argument("--representations", nargs="+", default=list(REPRESENTATIONS))
    parser.add_argument("--reference-output", default=str(REFERENCE_FILE))
    parser.add_argument(
        "--dci-representations",
        nargs="+",
        default=["rotated"],
        help="DCI's boosted trees take minutes per run: only on these representations",
    )
    parser.add_argument("--reuse-reference", action="store_true")
    parser.add_argument("--role", choices=["main", "reference"], default="main")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.role == "reference":
        run_reference(
            args.seeds,
            args.dci_seeds,
            args.metrics,
            args.representations,
            args.reference_output,
            args.dci_representations,
        )
        return

    factors = grid_factors()
    np.savez(DATA_FILE, **{name: make_codes(name, factors) for name in REPRESENTATIONS})
    if not args.reuse_reference:
        if not args.reference_python:
            parser.error("give --reference-python (or DLIB_PYTHON), or --reuse-reference")
        command = [args.reference_python, __file__, "--role", "reference", "--seeds",
                   str(args.seeds), "--dci-seeds", str(args.dci_seeds), "--metrics",
                   *args.metrics, "--representations", *args.representations,
                   "--dci-representations", *args.dci_representations]  # fmt: skip
        subprocess.run(command, check=True)
    reference = json.loads(REFERENCE_FILE.read_text())
    ours = run_ours(
        args.seeds,
        args.dci_seeds,
        args.metrics,
        args.n_jobs,
        args.representations,
        args.dci_representations,
    )
    rows = summarise(reference, ours)
    OUTPUT_FILE.write_text(
        json.dumps({"rows": rows, "reference": reference, "ours": ours}, indent=1)
    )
    print_table(rows)


if __name__ == "__main__":
    main()
