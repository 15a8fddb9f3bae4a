"""Train every model in the published setting on dSprites and score it with every metric.

The setting of Locatello et al. (ICML 2019): the standard conv network, latent_dim 10,
Adam lr 1e-4, batch 64, 300,000 steps on the full dSprites (rendered by the package),
each model at the package's default hyperparameters (beta-VAE beta=4; AnnealedVAE
gamma=1000, c_max=25; FactorVAE gamma=35; DIP-VAE-II lambda_od=10; beta-TCVAE beta=6;
CHyVAE nu=200), then the beta-VAE, FactorVAE, MIG, SAP and DCI scores at the published
sample sizes on codes of the whole dataset, encoded once. Writes a table and JSON to
``benchmarks/results/``.

    python benchmarks/reproduce_locatello.py              # on a GPU: the published setting
    python benchmarks/reproduce_locatello.py --cuda-graph # the same, steps replayed as graphs
    python benchmarks/reproduce_locatello.py --quick      # a CPU run of minutes
    python benchmarks/reproduce_locatello.py --smoke      # seconds, checks the plumbing

``--quick`` trains on a subset (every 4th position, 10 orientations) for a few hundred
steps: the numbers then say nothing about the published ones. Not a test.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from sklearn_dvae import DIPVAE, AnnealedVAE, BetaTCVAE, BetaVAE, CHyVAE, FactorVAE
from sklearn_dvae.datasets import make_dsprites
from sklearn_dvae.metrics import (
    beta_vae_score,
    dci_score,
    factor_vae_score,
    mig_score,
    sap_score,
)

MODELS = {
    "beta-VAE (beta=4)": lambda **kw: BetaVAE(beta=4.0, **kw),
    "AnnealedVAE": lambda **kw: AnnealedVAE(**kw),
    "FactorVAE (gamma=35)": lambda **kw: FactorVAE(**kw),
    "DIP-VAE-II (lambda_od=10)": lambda **kw: DIPVAE(**kw),
    "beta-TCVAE (beta=6)": lambda **kw: BetaTCVAE(**kw),
    "CHyVAE (nu=200)": lambda **kw: CHyVAE(**kw),
}
METRICS = {
    "beta_vae": beta_vae_score,
    "factor_vae": factor_vae_score,
    "mig": mig_score,
    "sap": sap_score,
    "dci": dci_score,
}


def metric_kwargs(name, scale):
    """Published sample sizes, scaled down by ``scale`` for quick runs."""
    if name in ("beta_vae", "factor_vae"):
        kwargs = dict(n_train=int(10_000 * scale), n_eval=int(5_000 * scale))
        if name == "factor_vae":
            kwargs["n_variance_estimate"] = int(10_000 * scale)
        return kwargs
    if name == "mig":
        return dict(n_samples=int(10_000 * scale))
    return dict(n_train=int(10_000 * scale), n_test=int(5_000 * scale))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="CPU-sized run (minutes)")
    mode.add_argument("--smoke", action="store_true", help="seconds; checks the plumbing")
    parser.add_argument("--steps", type=int, default=None, help="training steps per model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument(
        "--cuda-graph",
        action="store_true",
        help="train with compile='cuda-graph' where the model supports it (GPU)",
    )
    args = parser.parse_args()

    if args.smoke or args.quick:
        step = 16 if args.smoke else 4
        subset = {
            "orientation": range(0, 40, 4),
            "posX": range(0, 32, step),
            "posY": range(0, 32, step),
        }
        dataset = make_dsprites(subset=subset, cache=False)
        steps = args.steps or (2 if args.smoke else 300)
        scale = 0.02 if args.smoke else 0.2
    else:
        dataset = make_dsprites()  # full set, cached on disk after the first render
        steps = args.steps or 300_000
        scale = 1.0
    X, factors = dataset.X, dataset.y
    print(dataset)

    rows, details = [], {}
    for name in args.models:
        model = MODELS[name](latent_dim=10, lr=1e-4, batch_size=64, random_state=args.seed)
        if args.cuda_graph and model._loss_class.cuda_graph_unsupported is None:
            # The whole step replayed as one CUDA graph: about 4x the eager steps/s on
            # an H100 (benchmarks/README.md); AnnealedVAE and CHyVAE train eagerly.
            model.set_params(compile="cuda-graph")
        model.set_params(max_steps=steps)
        start = time.perf_counter()
        model.fit(X)
        train_s = time.perf_counter() - start
        start = time.perf_counter()
        Z = model.transform(X)
        encode_s = time.perf_counter() - start
        row = {
            "model": name,
            "steps": model.training_steps_,
            "train_s": train_s,
            "encode_s": encode_s,
            "device": model.device_,
            "compile": model.compile,
        }
        for metric, function in METRICS.items():
            start = time.perf_counter()
            row[metric] = float(
                function(Z, factors, random_state=args.seed, **metric_kwargs(metric, scale))
            )
            row[f"{metric}_s"] = time.perf_counter() - start
        rows.append(row)
        details[name] = {
            "history_last_epoch": {
                k: v for k, v in model.history_[-1].items() if isinstance(v, (int, float))
            }
        }
        print(
            f"{name}: {row['steps']} steps in {train_s:.0f} s on {row['device']}; "
            + ", ".join(f"{m} {row[m]:.3f}" for m in METRICS),
            flush=True,
        )

    print(f"\n{'model':<28}{'steps':>9}{'train s':>10}" + "".join(f"{m:>12}" for m in METRICS))
    for row in rows:
        print(
            f"{row['model']:<28}{row['steps']:>9}{row['train_s']:>10.0f}"
            + "".join(f"{row[m]:>12.3f}" for m in METRICS)
        )
    tag = "smoke" if args.smoke else "quick" if args.quick else "full"
    out = Path(__file__).resolve().parent / "results" / f"reproduce_locatello_{tag}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "rows": rows,
                "details": details,
                "torch": torch.__version__,
                "n_images": len(X),
                "seed": args.seed,
            },
            indent=2,
        )
    )
    return rows


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
