"""Time udr_score against disentanglement_lib's UDR on 10 models x 1,000 inputs x 10 latents.

The codes are synthetic and deterministic (seed 0): six uniform factors; model ``m``
holds them permuted, with its own signs and scales, each latent mixed with
``0.05 m`` times a random combination of the others, plus noise; two more latents per
model are collapsed (codes of std 0.02, KL 0.001, inactive) and two are active noise
(KL 0.5). Every model differs, so the pair scores range from disentangled to mixed.

Both correlations (``"lasso"``, ``"spearman"``) are timed on both sides, each the
median of ``--repeats`` calls, after one untimed call. The reference is
disentanglement_lib's ``compute_udr_sklearn``, run in its own environment in a
subprocess of this script (``--role reference``): its loop over ordered pairs fits one
scikit-learn ``Lasso`` per pair, or calls ``scipy.stats.spearmanr`` once per pair of
latents. It gets the codes through representation functions that return rows of the
precomputed table (``batch_size = num_data_points = 1000``, rows in order), so it
scores the same codes and its time is the metric's, not an encoder's.

PyPI's disentanglement-lib 1.5 has no UDR module: take ``udr.py`` from the GitHub
repository (``disentanglement_lib/evaluation/udr/metrics/udr.py``) and pass its path
with ``--reference-udr``, or install disentanglement_lib from GitHub. ``gin`` is
stubbed out, as in ``compare_disentanglement_lib.py``::

    python3 -m venv /tmp/dlib
    /tmp/dlib/bin/pip install numpy scipy scikit-learn absl-py
    # udr.py from github.com/google-research/disentanglement_lib saved as /tmp/udr_ref/udr.py
    .venv/bin/python benchmarks/bench_udr.py --reference-python /tmp/dlib/bin/python \\
        --reference-udr /tmp/udr_ref/udr.py

Prints a table (times, ratio, largest difference between the two sides' per-model
scores) and writes ``benchmarks/results/bench_udr.json``.
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CODES_FILE = RESULTS / "bench_udr_codes.npz"
REFERENCE_OUTPUT = RESULTS / "bench_udr_reference.json"
OUTPUT = RESULTS / "bench_udr.json"
CORRELATIONS = ("lasso", "spearman")
N_MODELS, N_SAMPLES, N_FACTORS = 10, 1000, 6


def make_codes(seed=0):
    """Codes (M, n, 10) and mean KL (M, 10) of the benchmark's models; see the docstring."""
    rng = np.random.default_rng(seed)
    factors = rng.uniform(-1.0, 1.0, size=(N_SAMPLES, N_FACTORS))
    representations, kls = [], []
    for model in range(N_MODELS):
        signs = rng.choice([-1.0, 1.0], N_FACTORS) * rng.uniform(0.5, 2.0, N_FACTORS)
        permuted = factors[:, rng.permutation(N_FACTORS)] * signs
        mix = rng.uniform(-1.0, 1.0, size=(N_FACTORS, N_FACTORS))
        np.fill_diagonal(mix, 0.0)
        informative = permuted + 0.05 * model * permuted @ mix
        informative += 0.05 * rng.standard_normal(informative.shape)
        collapsed = 0.02 * rng.standard_normal((N_SAMPLES, 2))
        noise = rng.standard_normal((N_SAMPLES, 2))
        representations.append(np.hstack([informative, collapsed, noise]))
        kls.append(np.r_[np.ones(N_FACTORS), 0.001, 0.001, 0.5, 0.5])
    return np.stack(representations), np.stack(kls)


def _median_seconds(call, repeats):
    call()  # untimed: imports, caches
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - start)
    return float(np.median(seconds)), seconds, result


# --------------------------------------------------------------------------- reference


def _load_reference_udr(path):
    """disentanglement_lib's udr module, with ``gin`` stubbed out (no TensorFlow)."""
    gin = types.ModuleType("gin")
    gin.configurable = lambda *args, **kwargs: lambda function: function
    gin.tf = types.ModuleType("gin.tf")
    sys.modules["gin"], sys.modules["gin.tf"] = gin, gin.tf
    if path is None:
        from disentanglement_lib.evaluation.udr.metrics import udr

        return udr
    spec = importlib.util.spec_from_file_location("reference_udr", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _RowsInOrder:
    """The reference's ground-truth data: the observations are the row indices, in order."""

    def __init__(self, n_samples):
        self.n_samples = n_samples

    def sample_observations(self, num, random_state):
        return np.arange(num)


def run_reference(codes_file, udr_path, repeats, output):
    """Runs inside the reference's environment: time compute_udr_sklearn on the codes."""
    import warnings

    udr = _load_reference_udr(udr_path)
    data = np.load(codes_file)
    representations, kl = data["representations"], data["kl"]
    functions = [
        (lambda rows, codes=codes, kl=model_kl: (codes[rows], kl))
        for codes, model_kl in zip(representations, kl, strict=True)
    ]
    n_samples = representations.shape[1]
    results = {}
    for correlation in CORRELATIONS:

        def call(correlation=correlation):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # its 0/0 of empty rows, constant inputs
                return udr.compute_udr_sklearn(
                    _RowsInOrder(n_samples),
                    functions,
                    np.random.RandomState(0),
                    n_samples,
                    n_samples,
                    correlation_matrix=correlation,
                    include_raw_correlations=False,
                )

        median, seconds, result = _median_seconds(call, repeats)
        results[correlation] = {
            "seconds": median,
            "all_seconds": seconds,
            "scores": [float(score) for score in result["model_scores"]],
        }
    Path(output).write_text(json.dumps(results, indent=1))


# --------------------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=["main", "reference"], default="main")
    parser.add_argument("--reference-python", default=os.environ.get("DLIB_PYTHON"))
    parser.add_argument(
        "--reference-udr",
        default=None,
        help="path of disentanglement_lib's udr.py (default: the installed package's)",
    )
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per side (median)")
    parser.add_argument("--reuse-reference", action="store_true")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.role == "reference":
        run_reference(CODES_FILE, args.reference_udr, args.repeats, REFERENCE_OUTPUT)
        return

    from sklearn_dvae.metrics import udr_score

    representations, kl = make_codes()
    np.savez(CODES_FILE, representations=representations, kl=kl)
    if args.reference_python and not args.reuse_reference:
        command = [args.reference_python, str(Path(__file__).resolve()), "--role", "reference",
                   "--repeats", str(args.repeats)]  # fmt: skip
        if args.reference_udr:
            command += ["--reference-udr", args.reference_udr]
        subprocess.run(command, check=True)
    reference = {}
    if args.reference_python or args.reuse_reference:
        reference = json.loads(REFERENCE_OUTPUT.read_text())

    rows = []
    for correlation in CORRELATIONS:
        median, seconds, scores = _median_seconds(
            lambda correlation=correlation: udr_score(
                representations, kl, correlation=correlation
            ),
            args.repeats,
        )
        row = {"correlation": correlation, "seconds": median, "all_seconds": seconds,
               "scores": scores.tolist()}  # fmt: skip
        if correlation in reference:
            theirs = reference[correlation]
            row.update(
                reference_seconds=theirs["seconds"],
                reference_all_seconds=theirs["all_seconds"],
                speedup=theirs["seconds"] / median,
                max_abs_difference=float(np.max(np.abs(scores - np.array(theirs["scores"])))),
            )
        rows.append(row)

    print(f"UDR, {N_MODELS} models x {N_SAMPLES} inputs x {representations.shape[2]} latents, "
          f"median of {args.repeats} calls")  # fmt: skip
    print(f"{'correlation':12s} {'sklearn_dvae s':>15s} {'reference s':>12s} {'speed-up':>9s} "
          f"{'max |diff|':>11s}")  # fmt: skip
    for row in rows:
        reference_seconds = row.get("reference_seconds")
        print(
            f"{row['correlation']:12s} {row['seconds']:15.4f} "
            + (
                f"{reference_seconds:12.3f} {row['speedup']:8.1f}x "
                f"{row['max_abs_difference']:11.1e}"
                if reference_seconds is not None
                else f"{'-':>12s}"
            )
        )
    for row in rows:
        print(f"{row['correlation']} scores: {np.round(row['scores'], 4).tolist()}")
    OUTPUT.write_text(json.dumps({"rows": rows, "load_average": os.getloadavg()}, indent=1))


if __name__ == "__main__":
    main()
