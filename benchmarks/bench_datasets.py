"""Benchmark of the datasets: full dSprites render, cache reload, peak memory, sampling speed.

Run from the repository root::

    .venv/bin/python benchmarks/bench_datasets.py

Every measurement runs in a fresh Python process, so that its peak memory is its
own. Memory is sampled from /proc every 10 ms: "anonymous" is private heap memory
(what a machine must have free), "file-backed" counts pages of memory-mapped files,
which the OS can drop and re-read at will. Results go to stdout and to
benchmarks/results/datasets.json. The full render goes into a temporary cache folder
(removed at the end), never into the user's cache.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


class PeakMemory:
    """Samples the process's resident memory from /proc/self/status in a thread."""

    def __init__(self, interval=0.01):
        self.interval = interval
        self.baseline = self.read()  # after imports, before the measured work
        self.peak = dict(self.baseline)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def read():
        fields = {}
        with open("/proc/self/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "RssAnon", "RssFile"):
                    fields[key] = int(value.split()[0]) * 1024
        return {
            "rss": fields.get("VmRSS", 0),
            "anonymous": fields.get("RssAnon", 0),
            "file_backed": fields.get("RssFile", 0),
        }

    def _run(self):
        while not self._stop.is_set():
            for key, value in self.read().items():
                self.peak[key] = max(self.peak[key], value)
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()
        for key, value in self.read().items():
            self.peak[key] = max(self.peak[key], value)


def evict_from_page_cache(path):
    """Ask the kernel to drop a file's cached pages, so the next read comes from disk."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())  # dirty pages cannot be dropped until written
        os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def read_all_pages(images, chunk=32768):
    """Touch every image once (count the on pixels), as one pass of training would."""
    on = 0
    for start in range(0, len(images), chunk):
        on += int(np.count_nonzero(images[start : start + chunk]))
    return on


# ---------------------------------------------------------------------- scenarios
def scenario_render_to_cache(data_home):
    from sklearn_dvae.datasets import make_dsprites

    with PeakMemory() as memory:
        start = time.perf_counter()
        dataset = make_dsprites(data_home=data_home)
        seconds = time.perf_counter() - start
    (path,) = (Path(data_home) / "dsprites").glob("*.npy")
    return {
        "seconds": seconds,
        "n_images": len(dataset),
        "cache_file_bytes": path.stat().st_size,
        "peak_memory": memory.peak,
    }


def scenario_reload(data_home, cold):
    from sklearn_dvae.datasets import make_dsprites

    if cold:
        for path in (Path(data_home) / "dsprites").glob("*.npy"):
            evict_from_page_cache(path)
    with PeakMemory() as memory:
        start = time.perf_counter()
        dataset = make_dsprites(data_home=data_home)
        open_seconds = time.perf_counter() - start
        start = time.perf_counter()
        on = read_all_pages(dataset.images)
        read_seconds = time.perf_counter() - start
    return {
        "open_seconds": open_seconds,
        "read_all_seconds": read_seconds,
        "fraction_of_pixels_on": on / dataset.images.size,
        "peak_memory": memory.peak,
    }


def scenario_render_in_memory(data_home):
    from sklearn_dvae.datasets import make_dsprites

    with PeakMemory() as memory:
        start = time.perf_counter()
        dataset = make_dsprites(cache=False)
        seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "images_bytes": int(dataset.images.nbytes),
        "peak_memory": memory.peak,
    }


def scenario_sampling(data_home):
    from sklearn_dvae.datasets import make_dsprites

    batches, batch_size = 200, 64
    results = {}
    for label, dataset in (
        ("rendered on demand (lazy=True)", make_dsprites(lazy=True)),
        ("from the memory-mapped cache", make_dsprites(data_home=data_home)),
    ):
        rng = np.random.RandomState(0)
        dataset.sample(batch_size, rng)  # warm-up
        start = time.perf_counter()
        for _ in range(batches):
            dataset.sample(batch_size, rng)
        results[label] = {
            "milliseconds_per_batch_of_64": 1000 * (time.perf_counter() - start) / batches
        }
    return results


def scenario_ellipses(data_home):
    from sklearn_dvae.datasets import make_correlated_ellipses

    with PeakMemory() as memory:
        start = time.perf_counter()
        dataset = make_correlated_ellipses(n_samples=200_000, random_state=0)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "n_images": len(dataset), "peak_memory": memory.peak}


def scenario_shapes3d(data_home):
    import h5py

    from sklearn_dvae.datasets import load_shapes3d

    # A 3dshapes.h5-style file of 20,000 rows (246 MB of images): enough to show that
    # loading reads labels only and batches read only their rows.
    n = 20_000
    path = Path(data_home) / "3dshapes.h5"
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(480_000, size=n, replace=False))
    classes = np.stack(np.unravel_index(rows, (10, 10, 10, 8, 4, 15)), axis=1)
    hues = np.linspace(0, 1, 10, endpoint=False)
    levels = (
        hues,
        hues,
        hues,
        np.linspace(0.75, 1.25, 8),
        np.arange(4.0),
        np.linspace(-30, 30, 15),
    )
    with h5py.File(path, "w") as file:
        images = file.create_dataset("images", shape=(n, 64, 64, 3), dtype=np.uint8)
        for start in range(0, n, 2000):
            images[start : start + 2000] = rng.integers(0, 256, (min(2000, n - start), 64, 64, 3))
        file["labels"] = np.stack([levels[k][classes[:, k]] for k in range(6)], axis=1)
    evict_from_page_cache(path)
    with PeakMemory() as memory:
        start = time.perf_counter()
        dataset = load_shapes3d(path)
        load_seconds = time.perf_counter() - start
        rng = np.random.RandomState(0)
        start = time.perf_counter()
        for _ in range(100):
            dataset.sample(64, rng)
        batch_seconds = (time.perf_counter() - start) / 100
    dataset.close()
    return {
        "file_bytes": path.stat().st_size,
        "load_seconds": load_seconds,
        "milliseconds_per_random_batch_of_64": 1000 * batch_seconds,
        "peak_memory": memory.peak,
    }


SCENARIOS = {
    "render_to_cache": scenario_render_to_cache,
    "reload_warm": lambda data_home: scenario_reload(data_home, cold=False),
    "reload_cold": lambda data_home: scenario_reload(data_home, cold=True),
    "render_in_memory": scenario_render_in_memory,
    "sampling": scenario_sampling,
    "ellipses_200k": scenario_ellipses,
    "shapes3d_lazy": scenario_shapes3d,
}


def run_in_subprocess(name, data_home):
    output = subprocess.run(
        [sys.executable, __file__, "--scenario", name, "--data-home", str(data_home)],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def megabytes(value):
    return f"{value / 2**20:,.0f} MB"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--data-home")
    args = parser.parse_args()
    if args.scenario:
        from sklearn_dvae.datasets import make_dsprites  # noqa: F401 - imports in baseline

        baseline = PeakMemory.read()["anonymous"]
        result = SCENARIOS[args.scenario](args.data_home)
        result["baseline_anonymous"] = baseline
        print(json.dumps(result))
        return

    results = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "load_average_at_start": os.getloadavg(),
        }
    }
    with tempfile.TemporaryDirectory(prefix="bench_datasets_") as data_home:
        for name in SCENARIOS:
            print(f"running {name} ...", file=sys.stderr, flush=True)
            results[name] = run_in_subprocess(name, data_home)
    results["machine"]["load_average_at_end"] = os.getloadavg()

    full, warm, cold = results["render_to_cache"], results["reload_warm"], results["reload_cold"]
    memory, ellipses = results["render_in_memory"], results["ellipses_200k"]
    shapes3d = results["shapes3d_lazy"]
    lines = [
        f"dSprites, full 737,280 images, render into the cache: {full['seconds']:.1f} s "
        f"(file {megabytes(full['cache_file_bytes'])}; peak anonymous memory "
        f"{megabytes(full['peak_memory']['anonymous'])}, peak RSS "
        f"{megabytes(full['peak_memory']['rss'])}; {megabytes(full['baseline_anonymous'])} "
        "of it is the interpreter and imports)",
        f"dSprites, reload from the cache (warm page cache): open {warm['open_seconds']:.2f} s, "
        f"then read every image {warm['read_all_seconds']:.2f} s "
        f"({100 * warm['fraction_of_pixels_on']:.2f}% of pixels on)",
        f"dSprites, reload from the cache (file evicted from page cache): open "
        f"{cold['open_seconds']:.2f} s, then read every image {cold['read_all_seconds']:.2f} s "
        f"(peak anonymous memory {megabytes(cold['peak_memory']['anonymous'])})",
        f"dSprites, full render into memory (cache=False): {memory['seconds']:.1f} s "
        f"(peak anonymous memory {megabytes(memory['peak_memory']['anonymous'])})",
    ]
    for label, figures in results["sampling"].items():
        if not isinstance(figures, dict):
            continue
        lines.append(
            f"dSprites, sample 64 factors + observations, {label}: "
            f"{figures['milliseconds_per_batch_of_64']:.2f} ms per batch"
        )
    lines += [
        f"CorrelatedEllipses, 200,000 images: {ellipses['seconds']:.1f} s "
        f"(peak anonymous memory {megabytes(ellipses['peak_memory']['anonymous'])})",
        f"3D Shapes-style file of {megabytes(shapes3d['file_bytes'])}: load "
        f"{1000 * shapes3d['load_seconds']:.0f} ms, random batch of 64 "
        f"{shapes3d['milliseconds_per_random_batch_of_64']:.1f} ms (peak RSS "
        f"{megabytes(shapes3d['peak_memory']['rss'])})",
        f"machine: {os.cpu_count()} CPUs, load average "
        f"{results['machine']['load_average_at_start'][0]:.1f} at start, "
        f"{results['machine']['load_average_at_end'][0]:.1f} at end",
    ]
    results["summary"] = lines
    out = REPO / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "datasets.json").write_text(json.dumps(results, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
