"""Fused training against one model after another, and FusedGridSearchCV against GridSearchCV.

Part 1, throughput: for K = 1, 2, 4, 8, 16 members of one network, the aggregate
training steps per second of one fused run (``fit_fused(..., max_fused=K)``) and of K
standalone fits, alternated in one process. Networks: a small tabular MLP (64
features, hidden (64, 64), batch 32), the demo's MLP (64x64 images flattened, hidden
(256, 256), batch 64) and the 64x64 conv network (batch 64).

Part 2, searches: wall time of ``FusedGridSearchCV`` (``max_fused="auto"``) against
``GridSearchCV(n_jobs=1)`` and ``GridSearchCV(n_jobs=2)`` on the same grid and folds (8
beta values x 3 folds), on the small tabular MLP and on the demo's MLP, with their
``best_params_``.

    python benchmarks/bench_fused.py [--device cuda] [--ks 1 2 4 8 16] [--steps 60]
        [--parts throughput search] [--networks tabular demo conv]

Writes ``benchmarks/results/bench_fused_<device>.json``. Not a test.
"""

import argparse
import json
import os
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import GridSearchCV, KFold

from sklearn_dvae import BetaVAE
from sklearn_dvae.model_selection import FusedGridSearchCV, fit_fused

NETWORKS = {
    # name: (data maker, estimator keywords)
    "tabular": (
        lambda rng, n: rng.random((n, 64)).astype(np.float32),
        dict(hidden_units=(64, 64), batch_size=32),
    ),
    "demo": (
        lambda rng, n: (rng.random((n, 64, 64)) > 0.95).astype(np.uint8),
        dict(encoder="mlp", hidden_units=(256, 256), batch_size=64),
    ),
    "conv": (
        lambda rng, n: (rng.random((n, 64, 64)) > 0.95).astype(np.uint8),
        dict(encoder="conv", batch_size=64),
    ),
}


def _sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def throughput(name, ks, steps, device, repeats):
    make_data, kwargs = NETWORKS[name]
    X = make_data(np.random.default_rng(0), kwargs["batch_size"] * steps)
    base = BetaVAE(latent_dim=10, max_steps=steps, device=device, **kwargs)
    rows = []
    for k in ks:
        settings = [{"beta": 1.0 + i, "random_state": i} for i in range(k)]
        fused_s, alone_s = [], []
        for _ in range(repeats):
            _sync(device)
            start = time.perf_counter()
            fit_fused(base, settings, X, max_fused=k)
            _sync(device)
            fused_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            for setting in settings:
                BetaVAE(**{**base.get_params(), **setting}).fit(X)
            _sync(device)
            alone_s.append(time.perf_counter() - start)
        fused, alone = statistics.median(fused_s), statistics.median(alone_s)
        rows.append(
            {
                "network": name,
                "K": k,
                "fused_member_steps_per_s": k * steps / fused,
                "standalone_member_steps_per_s": k * steps / alone,
                "speedup": alone / fused,
            }
        )
        r = rows[-1]
        print(
            f"{name:<8} K={k:<3} fused {r['fused_member_steps_per_s']:9.1f}  standalone "
            f"{r['standalone_member_steps_per_s']:9.1f} member-steps/s  ratio {r['speedup']:.2f}",
            flush=True,
        )
    return rows


def search(name, device, epochs, repeats):
    make_data, kwargs = NETWORKS[name]
    X = make_data(np.random.default_rng(1), 960)
    model = BetaVAE(latent_dim=10, max_epochs=epochs, random_state=0, device=device, **kwargs)
    grid = {"beta": [1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0]}
    cv = KFold(3, shuffle=True, random_state=0)
    out = {"network": name}
    searches = {
        "FusedGridSearchCV": lambda: FusedGridSearchCV(model, grid, cv=cv),
        "GridSearchCV(n_jobs=1)": lambda: GridSearchCV(model, grid, cv=cv, n_jobs=1),
        "GridSearchCV(n_jobs=2)": lambda: GridSearchCV(model, grid, cv=cv, n_jobs=2),
    }
    times = {label: [] for label in searches}
    for _ in range(repeats):  # alternated, so that load from other jobs hits all alike
        for label, make in searches.items():
            start = time.perf_counter()
            fitted = make().fit(X)
            times[label].append(time.perf_counter() - start)
            out[label] = {"best_params": fitted.best_params_}
    for label in searches:
        seconds = statistics.median(times[label])
        out[label].update(seconds=seconds, all_seconds=times[label])
        print(
            f"{name:<8} {label:<24} {seconds:7.1f} s (median of {repeats}: "
            f"{', '.join(f'{t:.1f}' for t in times[label])})  best {out[label]['best_params']}",
            flush=True,
        )
    base = out["GridSearchCV(n_jobs=1)"]["seconds"]
    out["speedup_vs_n_jobs_1"] = base / out["FusedGridSearchCV"]["seconds"]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--ks", nargs="*", type=int, default=[1, 2, 4, 8, 16])
    parser.add_argument("--steps", type=int, default=60, help="steps per member (part 1)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5, help="epochs per fit (part 2)")
    parser.add_argument("--parts", nargs="*", default=["throughput", "search"])
    parser.add_argument("--networks", nargs="*", default=list(NETWORKS))
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(
        f"device {args.device}, torch {torch.__version__}, {os.cpu_count()} CPUs, threads "
        f"{torch.get_num_threads()}, load {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    results = {"device": args.device, "load_at_start": os.getloadavg()[0]}
    if "throughput" in args.parts:
        results["throughput"] = []
        for name in args.networks:
            ks = [k for k in args.ks if name != "conv" or k <= 8]
            steps = args.steps if name == "tabular" else max(5, args.steps // 6)
            results["throughput"] += throughput(name, ks, steps, args.device, args.repeats)
    if "search" in args.parts:
        results["search"] = [
            search(name, args.device, args.epochs, args.repeats)
            for name in args.networks
            if name in ("tabular", "demo")
        ]
    results["load_at_end"] = os.getloadavg()[0]
    out = Path(__file__).resolve().parent / "results" / f"bench_fused_{args.device}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
