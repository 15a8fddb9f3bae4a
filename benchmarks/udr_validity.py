"""Does UDR rank models as the supervised scores do? A CPU-scale check on dSprites.

The demo's dSprites subset (squares at orientation 0: 6 scales x 32 x 32 positions,
6,144 images), the demo's MLP (256, 256) with 6 latents, Adam lr 1e-3, batch 64.
A ``UDRSearch`` over beta-VAE's ``beta`` (5 settings) with 4 seeds each fits the 20
models; each model gets its UDR (within its setting, on 1,000 shared images, Lasso
and Spearman) and, from the factors, its FactorVAE score and MIG. Reported: Spearman's
rank correlation between UDR and each supervised score across the 20 models and
across the 5 settings' means, with 95% bootstrap intervals (models resampled).

    python benchmarks/udr_validity.py [--steps 1500] [--betas 1 2 4 8 16] [--seeds 4]

Writes ``benchmarks/results/udr_validity.json``. Not a test.
"""

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from sklearn_dvae import BetaVAE
from sklearn_dvae.datasets import make_dsprites
from sklearn_dvae.metrics import factor_vae_score, mig_score, udr_score
from sklearn_dvae.model_selection import UDRSearch


def bootstrap_spearman(a, b, rng, n_boot=2000):
    """Spearman's rho of (a, b) and a 95% percentile interval over resampled pairs."""
    a, b = np.asarray(a), np.asarray(b)
    rho = spearmanr(a, b).statistic
    draws = []
    for _ in range(n_boot):
        index = rng.integers(0, len(a), size=len(a))
        if np.ptp(a[index]) == 0 or np.ptp(b[index]) == 0:
            continue
        draws.append(spearmanr(a[index], b[index]).statistic)
    low, high = np.nanpercentile(draws, [2.5, 97.5])
    return float(rho), float(low), float(high)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--betas", nargs="*", type=float, default=[1, 2, 4, 8, 16])
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    data = make_dsprites(subset={"shape": [0], "orientation": [0]})
    X, y = data.X, data.y
    model = BetaVAE(
        latent_dim=6, encoder="mlp", hidden_units=(256, 256), lr=1e-3, max_steps=args.steps
    )
    start = time.perf_counter()
    search = UDRSearch(
        model, {"beta": args.betas}, n_seeds=args.seeds, n_samples=1000, random_state=0
    ).fit(X)
    fit_seconds = time.perf_counter() - start
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(len(X), size=1000, replace=False))
    models, udr_lasso, udr_spearman, factor_vae, mig, settings = [], [], [], [], [], []
    for index, block in enumerate(search.estimators_):
        codes = [m.transform(X[rows]) for m in block]
        kls = [m.latent_kl(X[rows]) for m in block]
        spearman = udr_score(codes, kls, correlation="spearman")
        for k, m in enumerate(block):
            Z = m.transform(X)
            models.append(m)
            settings.append(index)
            udr_lasso.append(search.cv_results_[f"udr_seed{k}"][index])
            udr_spearman.append(spearman[k])
            factor_vae.append(factor_vae_score(Z, y, random_state=0))
            mig.append(mig_score(Z, y))
    result = {
        "steps": args.steps,
        "betas": args.betas,
        "seeds": args.seeds,
        "fit_seconds": fit_seconds,
        "per_model": {
            "beta": [args.betas[s] for s in settings],
            "udr_lasso": udr_lasso,
            "udr_spearman": udr_spearman,
            "factor_vae": factor_vae,
            "mig": mig,
        },
        "correlations": {},
    }
    print(f"{len(models)} models, {args.steps} steps each, fitted in {fit_seconds:.0f} s")
    print(f"{'beta':>6} {'UDR lasso':>10} {'UDR spear':>10} {'FactorVAE':>10} {'MIG':>7}")
    for i in range(len(models)):
        print(
            f"{args.betas[settings[i]]:6g} {udr_lasso[i]:10.3f} {udr_spearman[i]:10.3f} "
            f"{factor_vae[i]:10.3f} {mig[i]:7.3f}"
        )
    boot = np.random.default_rng(1)
    setting_means = {
        name: [
            float(np.mean(np.asarray(v)[np.asarray(settings) == s]))
            for s in range(len(args.betas))
        ]
        for name, v in (
            ("udr_lasso", udr_lasso),
            ("udr_spearman", udr_spearman),
            ("factor_vae", factor_vae),
            ("mig", mig),
        )
    }
    for udr_name in ("udr_lasso", "udr_spearman"):
        udr = udr_lasso if udr_name == "udr_lasso" else udr_spearman
        for target_name, target in (("factor_vae", factor_vae), ("mig", mig)):
            models_rho = bootstrap_spearman(udr, target, boot)
            settings_rho = spearmanr(setting_means[udr_name], setting_means[target_name]).statistic
            key = f"{udr_name}~{target_name}"
            result["correlations"][key] = {
                "models": models_rho,
                "settings": float(settings_rho),
            }
            print(
                f"{key:<26} models rho {models_rho[0]:+.2f} "
                f"[{models_rho[1]:+.2f}, {models_rho[2]:+.2f}]; settings {settings_rho:+.2f}"
            )
    result["setting_means"] = setting_means
    result["load"] = os.getloadavg()[0]
    out = Path(__file__).resolve().parent / "results" / "udr_validity.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
