"""Peak host memory of training on the full dSprites set (737,280 images of 64x64).

Issue 8's bound: at most 1.5x the uint8 dataset (3.02 GB), i.e. no float copy of the
whole set. Each case runs in its own Python process, so its peak is its own:

- ``memory``: the set rendered into process memory (``make_dsprites(cache=False)``,
  3.02 GB of anonymous memory), then a conv BetaVAE trained on it;
- ``memmap``: the set memory-mapped from the dSprites cache file (rendered into a
  temporary folder first), then the same training. File pages count in the resident
  size but are the OS's to drop; the anonymous (private) memory is what must be free.

Training stops after ``--steps`` steps (a callback interrupts the epoch, which leaves
a usable estimator): the memory a step needs does not grow with the number of steps.

    .venv/bin/python benchmarks/bench_memory.py [--steps 30]

Writes ``benchmarks/results/bench_memory.json``. Not a test.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import StopAfter  # noqa: E402

RESULTS = HERE / "results"
DATASET_BYTES = 737_280 * 64 * 64


def _status_kb(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _anonymous_kb():
    """Private (anonymous) resident memory now, from /proc/self/status."""
    return _status_kb("RssAnon")


def run_case(case, steps, data_home):
    import numpy as np

    from sklearn_dvae import BetaVAE
    from sklearn_dvae.datasets import make_dsprites

    start = time.perf_counter()
    if case == "memory":
        dataset = make_dsprites(cache=False)
    else:
        dataset = make_dsprites(cache=True, data_home=data_home)
    X = dataset.images
    load_seconds = time.perf_counter() - start
    anonymous_after_load = _anonymous_kb()
    model = BetaVAE(
        beta=4.0,
        batch_size=64,
        max_epochs=1,
        random_state=0,
        callbacks=[("stop", StopAfter(steps))],
    )
    start = time.perf_counter()
    model.fit(X)
    train_seconds = time.perf_counter() - start
    peak_rss_kb = _status_kb("VmHWM")
    return {
        "case": case,
        "images": int(X.shape[0]),
        "dtype": str(X.dtype),
        "memory_mapped": isinstance(X, np.memmap),
        "load_seconds": load_seconds,
        "train_seconds": train_seconds,
        "steps": int(model.training_steps_),
        "anonymous_after_load_mb": anonymous_after_load / 1024,
        "anonymous_after_training_mb": _anonymous_kb() / 1024,
        "peak_resident_mb": peak_rss_kb / 1024,
        "dataset_mb": DATASET_BYTES / 2**20,
        "peak_resident_over_dataset": peak_rss_kb * 1024 / DATASET_BYTES,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--case", choices=["memory", "memmap"], help=argparse.SUPPRESS)
    parser.add_argument("--data-home", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.steps, args.data_home)))
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as data_home:
        for case in ("memory", "memmap"):
            command = [sys.executable, __file__, "--case", case, "--steps", str(args.steps),
                       "--data-home", data_home]  # fmt: skip
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            rows.append(json.loads(output.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
    print("\n| data | steps | peak resident (MB) | / uint8 set | anonymous after training (MB) |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['case']} | {row['steps']} | {row['peak_resident_mb']:,.0f} | "
            f"{row['peak_resident_over_dataset']:.2f}x | "
            f"{row['anonymous_after_training_mb']:,.0f} |"
        )
    (RESULTS / "bench_memory.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
