"""Each speed option against the default: training speed, device memory and metric values.

For each model (BetaVAE, FactorVAE by default) and each option (``default``,
``bfloat16``, ``channels_last``, ``compile``, ``reduce-overhead`` (torch.compile with
CUDA graphs) and ``cuda-graph`` (the whole step captured)) one seeded run trains the conv 64x64
network, batch 64, on the same rows of dSprites for ``--steps`` steps (two epochs
of half as many; the second epoch's time gives the steady speed, the first
includes compilation), then encodes the whole set once and computes the
beta-VAE, FactorVAE, MIG, SAP and DCI scores at their default sizes and seed.
The table shows how far each option moves the final loss, the codes and the
scores from the default on the same seed, next to its speed; ``default-again``
(the default once more: GPU kernels add in a varying order) and ``seed-1`` (another
seed) give the spreads to judge those moves by.

    python benchmarks/bench_gpu_options.py [--device cuda] [--steps 4000]
        [--models BetaVAE FactorVAE] [--options default bfloat16 ...] [--quick]
        [--output FILE]

``--quick`` trains on a subset of dSprites for a few steps (a CPU check of the
plumbing). Writes ``benchmarks/results/bench_gpu_options_<device>.json`` or ``FILE``. Not a test.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from sklearn_dvae import BetaVAE, FactorVAE
from sklearn_dvae.datasets import make_dsprites
from sklearn_dvae.metrics import (
    beta_vae_score,
    dci_score,
    factor_vae_score,
    mig_score,
    sap_score,
)

MODELS = {
    "BetaVAE": lambda **kw: BetaVAE(beta=4.0, **kw),
    "FactorVAE": lambda **kw: FactorVAE(gamma=35.0, **kw),
}
OPTIONS = {
    "default": {},
    "default-again": {},  # the same run once more: the GPU's own run-to-run spread
    "seed-1": {"random_state": 1},  # another seed: the spread the options are judged by
    "bfloat16": {"precision": "bfloat16"},
    "channels_last": {"memory_format": "channels_last"},
    "compile": {"compile": "default"},
    "reduce-overhead": {"compile": "reduce-overhead"},
    "cuda-graph": {"compile": "cuda-graph"},
}
METRICS = {
    "beta_vae": lambda Z, y: beta_vae_score(Z, y, random_state=0),
    "factor_vae": lambda Z, y: factor_vae_score(Z, y, random_state=0),
    "mig": lambda Z, y: mig_score(Z, y, random_state=0),
    "sap": lambda Z, y: sap_score(Z, y, random_state=0),
    "dci": lambda Z, y: dci_score(Z, y, importance="fast_gbt", n_jobs=-1, random_state=0),
}


def _sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def run(name, option, X, factors, steps, device):
    half = steps // 2
    rows_per_step = 64 * (2 if name == "FactorVAE" else 1)
    rows = np.sort(np.random.default_rng(0).choice(len(X), half * rows_per_step, replace=False))
    data = X[rows]
    params = dict(latent_dim=10, lr=1e-4, batch_size=64, max_epochs=2, random_state=0)
    model = MODELS[name](device=device, **{**params, **OPTIONS[option]})
    if str(device).startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    _sync(device)
    start = time.perf_counter()
    model.fit(data)
    _sync(device)
    fit_s = time.perf_counter() - start
    peak_mb = torch.cuda.max_memory_allocated() / 2**20 if str(device).startswith("cuda") else None
    second_epoch_s = model.history_[-1]["dur"]
    start = time.perf_counter()
    Z = model.transform(X)
    encode_s = time.perf_counter() - start
    result = {
        "steps": model.training_steps_,
        "fit_s": fit_s,
        "steady_steps_per_s": (model.training_steps_ / 2) / second_epoch_s,
        "peak_device_mb": peak_mb,
        "final_train_loss": model.history_[-1]["train_loss"],
        "encode_s": encode_s,
        "n_encoded": len(X),
    }
    for metric, function in METRICS.items():
        start = time.perf_counter()
        result[metric] = float(function(Z, factors))
        result[f"{metric}_s"] = time.perf_counter() - start
    return result, Z


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--options", nargs="*", default=list(OPTIONS))
    parser.add_argument("--quick", action="store_true", help="a subset, a few steps")
    parser.add_argument("--output", default=None, help="JSON file (default: in results/)")
    args = parser.parse_args()
    if args.quick:
        subset = {"orientation": range(0, 40, 8), "posX": range(0, 32, 4), "posY": range(0, 32, 4)}
        dataset = make_dsprites(subset=subset, cache=False)
    else:
        dataset = make_dsprites(cache=False)
    X, factors = dataset.X, dataset.y
    steps = 20 if args.quick else args.steps

    results = {}
    for name in args.models:
        reference = None
        for option in args.options:
            result, Z = run(name, option, X, factors, steps, args.device)
            if reference is None:
                reference = (result, Z)
            result["max_code_difference_to_first"] = float(np.abs(Z - reference[1]).max())
            results[f"{name} {option}"] = result
            print(
                f"{name} {option}: {result['steady_steps_per_s']:.0f} steps/s, "
                + ", ".join(f"{m} {result[m]:.4f}" for m in METRICS),
                flush=True,
            )

    header = (
        f"{'model / option':<28}{'steps/s':>9}{'fit s':>8}{'peak MB':>9}{'loss':>9}"
        f"{'max |dZ|':>10}" + "".join(f"{m:>11}" for m in METRICS) + f"{'encode s':>10}"
    )
    device_name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    print(
        f"\ndevice {args.device} ({device_name})"
        f", torch {torch.__version__}; {steps} steps of batch 64 on rows of {len(X)} images, "
        f"seed 0; scores at their default sizes, seed 0"
    )
    print(header)
    for key, r in results.items():
        peak = f"{r['peak_device_mb']:.0f}" if r["peak_device_mb"] is not None else "-"
        print(
            f"{key:<28}{r['steady_steps_per_s']:>9.0f}{r['fit_s']:>8.1f}{peak:>9}"
            f"{r['final_train_loss']:>9.2f}{r['max_code_difference_to_first']:>10.4f}"
            + "".join(f"{r[m]:>11.4f}" for m in METRICS)
            + f"{r['encode_s']:>10.2f}"
        )
    out = Path(
        args.output
        or Path(__file__).resolve().parent / "results" / f"bench_gpu_options_{args.device}.json"
    )
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "results": results,
                "device": args.device,
                "device_name": device_name,
                "torch": torch.__version__,
                "steps": steps,
                "n_images": len(X),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
