"""Does the size of the pool encoded once change the metrics' values?

Companion of ``bench_metrics_model.py`` (issue 4, part (a)), which times this package
on pools of 20,000 and 50,000 images. Here the same trained conv model (the one
``bench_metrics_model.py --role train`` saves; trained here when it is missing)
encodes the whole dSprites grid once; then, for each pool size and seed, a pool is
drawn uniformly without replacement from the grid (as ``bench_metrics_model.py``
draws it), and every metric runs on its codes at the 2019 study's sample sizes with
that seed. The table gives each value's mean and standard deviation over the seeds
per pool size, and whether each pool size agrees with the largest one: the difference
of the means within twice the larger seed-to-seed standard deviation (the rule of
``compare_disentanglement_lib.py``). No timing: the machine may be busy.

    .venv/bin/python benchmarks/bench_pool_size.py --pool 15000 20000 50000 --seeds 5

Writes ``benchmarks/results/bench_pool_size.json``; the grid's codes are cached in
``benchmarks/results/bench_model_codes.npy`` (delete it after retraining).
"""

import argparse
import json
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_metrics_model import MIN_POOL, MODEL_FILE  # noqa: E402
from compare_disentanglement_lib import GRID, METRICS, RESULTS, our_calls  # noqa: E402

CODES_FILE = RESULTS / "bench_model_codes.npy"
OUTPUT = RESULTS / "bench_pool_size.json"


def grid_codes():
    """The trained model's codes of every dSprites image, in grid order (cached)."""
    if CODES_FILE.exists():
        return np.load(CODES_FILE)
    if not MODEL_FILE.exists():
        command = [sys.executable, str(HERE / "bench_metrics_model.py"), "--role", "train"]
        subprocess.run(command, check=True)
    from sklearn_dvae.datasets import make_dsprites

    images = make_dsprites(cache=True).images
    with open(MODEL_FILE, "rb") as file:
        model = pickle.load(file)
    start = time.perf_counter()
    chunk = 20_000
    codes = np.concatenate(
        [
            model.transform(np.asarray(images[i : i + chunk]))
            for i in range(0, images.shape[0], chunk)
        ]
    )
    print(f"encoded the {codes.shape[0]:,} images in {time.perf_counter() - start:.0f} s")
    np.save(CODES_FILE, codes)
    return codes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, nargs="+", default=[15_000, 20_000, 50_000])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0 .. seeds-1")
    parser.add_argument("--n-jobs", type=int, default=-1)
    args = parser.parse_args()
    pools = sorted(set(args.pool))
    if pools[0] < MIN_POOL:
        parser.error(f"--pool {pools[0]}: every pool needs at least {MIN_POOL:,} rows")
    if args.seeds < 2:
        parser.error("--seeds: at least 2, for a standard deviation")
    RESULTS.mkdir(parents=True, exist_ok=True)
    codes = grid_codes()
    calls = our_calls(args.n_jobs)
    calls["dci"] = calls["dci_fast_gbt"]

    values = {}  # (metric:key) -> pool -> list over seeds
    for pool in pools:
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            rows = np.sort(rng.choice(codes.shape[0], size=pool, replace=False))
            factors = np.column_stack(np.unravel_index(rows, GRID))
            for metric in METRICS:
                for key, value in calls[metric](codes[rows], factors, seed).items():
                    name = metric if key == "score" else f"{metric}:{key}"
                    values.setdefault(name, {}).setdefault(pool, []).append(float(value))
            print(f"pool {pool:,} seed {seed} done", flush=True)

    largest = pools[-1]
    head = " | ".join(f"pool {p:,} (mean ± sd)" for p in pools)
    print(f"\n| metric | {head} | agrees with {largest:,} |")
    print("|---|" + "---|" * len(pools) + "---|")
    for name, per_pool in values.items():
        stats = {p: (np.mean(v), np.std(v, ddof=1)) for p, v in per_pool.items()}
        cells = " | ".join(f"{stats[p][0]:.4f} ± {stats[p][1]:.4f}" for p in pools)
        agrees = [
            "yes"
            if abs(stats[p][0] - stats[largest][0]) <= 2 * max(stats[p][1], stats[largest][1])
            else "NO"
            for p in pools[:-1]
        ]
        print(f"| {name} | {cells} | {' / '.join(agrees)} |")
    OUTPUT.write_text(json.dumps({"pools": pools, "seeds": args.seeds, "values": values}))


if __name__ == "__main__":
    main()
