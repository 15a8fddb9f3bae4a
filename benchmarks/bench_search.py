"""Wall time of one hyperparameter search: serial, 2 joblib processes, 2 Dask workers.

The same 4-candidate GridSearchCV (BetaVAE, conv network, a small dSprites subset,
2-fold CV, FactorVAE scorer) runs three ways in one process run; the table reports
each time and its ratio to the serial run, and the JSON goes to
``benchmarks/results/bench_search.json``. Not a test: timings depend on the machine.

    python benchmarks/bench_search.py [--epochs 3]
"""

import argparse
import json
import os
import time
from pathlib import Path

import joblib
import numpy as np
import torch
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sklearn_dvae import BetaVAE
from sklearn_dvae.datasets import make_dsprites
from sklearn_dvae.metrics import make_disentanglement_scorer


def make_search(epochs, cv, n_jobs=None):
    model = BetaVAE(latent_dim=6, lr=1e-3, max_epochs=epochs, device="cpu")
    grid = {"beta": [1.0, 4.0], "random_state": [0, 1]}
    scorer = make_disentanglement_scorer(
        "factor_vae", n_train=1000, n_eval=500, n_variance_estimate=500, random_state=0
    )
    return GridSearchCV(model, grid, scoring=scorer, cv=cv, n_jobs=n_jobs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    dataset = make_dsprites(
        subset={
            "scale": [0, 5],
            "orientation": [0, 20],
            "posX": range(0, 32, 4),
            "posY": range(0, 32, 4),
        },
        cache=False,
    )
    X, y = dataset.X, dataset.y
    cv = list(StratifiedKFold(2, shuffle=True, random_state=0).split(X, y[:, 0]))
    results = {}

    start = time.perf_counter()
    serial = make_search(args.epochs, cv, n_jobs=1).fit(X, y)
    results["n_jobs=1"] = time.perf_counter() - start

    start = time.perf_counter()
    parallel = make_search(args.epochs, cv, n_jobs=2).fit(X, y)
    results["n_jobs=2"] = time.perf_counter() - start

    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        with Client(cluster):
            start = time.perf_counter()
            with joblib.parallel_config(backend="dask", scatter=[X, y]):
                on_dask = make_search(args.epochs, cv).fit(X, y)
            results["dask LocalCluster, 2 workers"] = time.perf_counter() - start

    same = all(
        np.allclose(serial.cv_results_["mean_test_score"], other.cv_results_["mean_test_score"])
        for other in (parallel, on_dask)
    )
    print(
        f"{len(X)} images, 4 candidates x 2 folds, {args.epochs} epochs each; "
        f"{os.cpu_count()} CPUs, torch {torch.__version__}, load {os.getloadavg()[0]:.2f}"
    )
    print(f"{'run':<32}{'seconds':>10}{'ratio to serial':>18}")
    for name, seconds in results.items():
        print(f"{name:<32}{seconds:>10.1f}{seconds / results['n_jobs=1']:>18.2f}")
    print(f"identical scores across the three runs: {same}")
    out = Path(__file__).resolve().parent / "results" / "bench_search.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {"seconds": results, "same_scores": same, "n_images": len(X), "epochs": args.epochs},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
