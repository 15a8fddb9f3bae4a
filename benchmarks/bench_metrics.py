"""Time each metric at the default protocol sizes on precomputed codes against disentanglement_lib.

Part (b) of the metrics benchmark: no model is involved. The codes are the "rotated"
representation of ``compare_disentanglement_lib.py`` on dSprites' factor grid (737,280
rows, 10 latents), used whole as this package's labelled pool; the reference samples
factors from the same grid and looks the codes up batch by batch, as its protocol does
with a representation function. Both run one after the other in this process's machine,
with seed 0, at the sample sizes of Locatello et al. (2019).

DCI is timed with the reference's ``GradientBoostingClassifier`` in parallel across
factors (``n_jobs=-1``; serially too with ``--dci-serial``) and with the faster
``importance="hist_gbt"``, whose disentanglement, completeness and informativeness are
printed next to the exact ones.

    .venv/bin/python benchmarks/bench_metrics.py --reference-python /tmp/dlib/bin/python

(see compare_disentanglement_lib.py for the throwaway reference environment). Without
``--reference-python``, the reference times are the medians that
``compare_disentanglement_lib.py`` recorded over its seeds on the same codes, if it has
run; otherwise only this package is timed. Writes ``benchmarks/results/bench_metrics.json``.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from compare_disentanglement_lib import (  # noqa: E402
    DATA_FILE,
    REFERENCE_FILE,
    REPRESENTATIONS,
    RESULTS,
    grid_factors,
    make_codes,
)

REPRESENTATION = "rotated"
REFERENCE_TIMES = RESULTS / "bench_metrics_reference_raw.json"
OUTPUT = RESULTS / "bench_metrics.json"


def our_calls(n_jobs, dci_serial):
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

    def dci(Z, F, seed, **kwargs):
        d = dci_score(Z, F, random_state=seed, return_details=True, **kwargs)
        return {
            "disentanglement": d["disentanglement"],
            "completeness": d["completeness"],
            "informativeness": d["informativeness_test"],
        }

    def unsupervised(Z, F, seed):
        return {
            "total_correlation": gaussian_total_correlation(Z, random_state=seed),
            "wasserstein": gaussian_wasserstein_correlation(Z, random_state=seed),
            "mutual_info": latent_mutual_info_score(Z, random_state=seed),
        }

    # (name, reference metric it is timed against, call)
    return [
        ("beta_vae", "beta_vae", lambda Z, F, seed: beta_vae_score(Z, F, random_state=seed)),
        ("factor_vae", "factor_vae", lambda Z, F, seed: factor_vae_score(Z, F, random_state=seed)),
        ("mig", "mig", lambda Z, F, seed: mig_score(Z, F, random_state=seed)),
        ("sap", "sap", lambda Z, F, seed: sap_score(Z, F, random_state=seed)),
        (
            "modularity_explicitness",
            "modularity_explicitness",
            lambda Z, F, seed: modularity_explicitness_score(
                Z, F, random_state=seed, return_details=True
            ),
        ),
        (
            f"modularity_explicitness (n_jobs={n_jobs})",
            "modularity_explicitness",
            lambda Z, F, seed: modularity_explicitness_score(
                Z, F, n_jobs=n_jobs, random_state=seed, return_details=True
            ),
        ),
        (
            "irs",
            "irs",
            lambda Z, F, seed: irs_score(Z, F, continuous_factors=True, random_state=seed),
        ),
        ("unsupervised (all three)", "unsupervised", unsupervised),
        *(
            [("dci gbt (serial)", "dci", lambda Z, F, seed: dci(Z, F, seed, importance="gbt"))]
            if dci_serial
            else []
        ),
        (
            f"dci gbt (n_jobs={n_jobs})",
            "dci",
            lambda Z, F, seed: dci(Z, F, seed, importance="gbt", n_jobs=n_jobs),
        ),
        (
            f"dci fast_gbt (n_jobs={n_jobs})",
            "dci",
            lambda Z, F, seed: dci(Z, F, seed, importance="fast_gbt", n_jobs=n_jobs),
        ),
        (
            f"dci hist_gbt (n_jobs={n_jobs})",
            "dci",
            lambda Z, F, seed: dci(Z, F, seed, importance="hist_gbt", n_jobs=n_jobs),
        ),
    ]


def time_reference(python, metrics, repeats, one_thread):
    command = [python, str(HERE / "compare_disentanglement_lib.py"), "--role", "reference",
               "--seeds", str(repeats), "--dci-seeds", "1", "--representations", REPRESENTATION,
               "--dci-representations", REPRESENTATION, "--metrics", *metrics,
               "--reference-output", str(REFERENCE_TIMES)]  # fmt: skip
    env = dict(os.environ)
    if one_thread:
        env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    subprocess.run(command, check=True, env=env)
    return _reference_times(REFERENCE_TIMES)


def _reference_times(path):
    """Median time (and mean values) of each reference metric on REPRESENTATION."""
    raw = json.loads(Path(path).read_text())
    times = {}
    for key, runs in raw.items():
        name, metric = key.split("/")
        if name == REPRESENTATION:
            times[metric] = {
                field: float(np.median([run[field] for run in runs])) for field in runs[0]
            }
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-python", default=os.environ.get("DLIB_PYTHON"))
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs per metric, seeds 0.. (median)"
    )
    parser.add_argument("--n-jobs", type=int, default=-1)
    parser.add_argument(
        "--dci-serial", action="store_true", help="also time DCI's trees without parallelism"
    )
    parser.add_argument("--no-dci", action="store_true", help="skip DCI (minutes per run)")
    parser.add_argument(
        "--reference-one-thread",
        action="store_true",
        help="run the reference with one BLAS/OpenMP thread (its fastest setting here)",
    )
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    factors = grid_factors()
    if not DATA_FILE.exists():
        np.savez(DATA_FILE, **{name: make_codes(name, factors) for name in REPRESENTATIONS})
    Z = np.load(DATA_FILE)[REPRESENTATION]

    calls = our_calls(args.n_jobs, args.dci_serial)
    if args.no_dci:
        calls = [call for call in calls if call[1] != "dci"]
    if args.reference_python:
        reference = time_reference(
            args.reference_python,
            sorted({call[1] for call in calls}),
            args.repeats,
            args.reference_one_thread,
        )
    elif REFERENCE_FILE.exists():
        # Times measured by compare_disentanglement_lib.py (medians over its seeds).
        reference = _reference_times(REFERENCE_FILE)
    else:
        reference = {}
    rows = []
    for name, reference_name, call in calls:
        repeats = 1 if name.startswith("dci") else args.repeats
        seconds, value = [], None
        # A different seed per repeat: the same call twice runs faster on data the
        # CPU has just seen, which a real evaluation does not get.
        for seed in range(repeats):
            start = time.perf_counter()
            value = call(Z, factors, seed)
            seconds.append(time.perf_counter() - start)
        ours = float(np.median(seconds))
        ref = reference.get(reference_name, {}).get("seconds")
        rows.append(
            {
                "metric": name,
                "reference_seconds": ref,
                "ours_seconds": ours,
                "speed_up": ref / ours if ref else None,
                "value": value,
            }
        )
        reference_text = f"{ref:8.3f} s" if ref else "-"
        print(f"{name:34s} ours {ours:8.3f} s   reference {reference_text}", flush=True)

    print("\n| metric | disentanglement_lib (s) | sklearn_dvae (s) | speed-up |")
    print("|---|---|---|---|")
    for row in rows:
        ref = row["reference_seconds"]
        speed_up = f"{row['speed_up']:.1f}x" if row["speed_up"] else "-"
        ref_text = f"{ref:.2f}" if ref else "-"
        print(f"| {row['metric']} | {ref_text} | {row['ours_seconds']:.3f} | {speed_up} |")
    dci_rows = [row for row in rows if row["metric"].startswith("dci")]
    print("\n| DCI variant | disentanglement | completeness | informativeness |")
    print("|---|---|---|---|")
    if "dci" in reference:
        r = reference["dci"]
        print(
            f"| reference (gbt) | {r['score']:.4f} | {r['completeness']:.4f} | "
            f"{r['informativeness']:.4f} |"
        )
    for row in dci_rows:
        v = row["value"]
        print(
            f"| {row['metric']} | {v['disentanglement']:.4f} | {v['completeness']:.4f} | "
            f"{v['informativeness']:.4f} |"
        )
    OUTPUT.write_text(json.dumps({"rows": rows, "reference": reference}, indent=1, default=_plain))


def _plain(value):
    """JSON form of numpy values (details hold arrays and numpy scalars)."""
    return value.tolist() if hasattr(value, "tolist") else float(value)


if __name__ == "__main__":
    main()
